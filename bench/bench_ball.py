"""What the ball model costs the football miner: the reference bundle without a ball model
(`--ball-model none`), with the shipped `ball.onnx`, and with any other ball models given, timed the
way the compliance loop times a call (2 pinned cores, one frame per predict_batch, 960 x 540)
against the ball element's budget, in interleaved rounds (this machine is shared: compare within
a round); then each ball model alone, side by side.

Run: .venv/bin/python bench/bench_ball.py [--per-frame 100] [--rounds 2] [--ball-model data/ball/x/ball.onnx ...]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from kit.bundle import package
from kit.comply import load_miner
from kit.latency import measure, pinned


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-frame", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--element", default="DetectBall_v1@1.0")
    ap.add_argument("--ball-model", action="append", default=[], help="another ball.onnx to time (repeatable)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bundles = {"no ball model": package(f"{tmp}/none", ball_model="none"), "shipped": package(f"{tmp}/shipped")}
        for i, m in enumerate(a.ball_model):
            bundles[str(Path(m).parent.name or m)] = package(f"{tmp}/other{i}", ball_model=m)
        p50 = {name: [] for name in bundles}
        for rnd in range(a.rounds):
            for name, b in bundles.items():
                r = measure(b, frames=a.per_frame, per_frame=a.per_frame, element=a.element, baseline=False)
                p50[name].append(r.p50_ms)
                print(f"round {rnd + 1} {name:>14}: per frame p50 {r.p50_ms:.1f} ms  p95 {r.p95_ms:.1f} ms  "
                      f"(limit {r.limit_ms:.0f} ms: {'OK' if r.p95_ok else 'OVER'})", flush=True)
        alone = {}
        with pinned(2, 2):
            miners = {name: load_miner(b) for name, b in bundles.items() if name != "no ball model"}
            frame = np.random.default_rng(0).integers(0, 256, (540, 960, 3), dtype=np.uint8)
            for m in miners.values():
                m.balls([frame])
            for _ in range(5):
                for name, m in miners.items():
                    for _ in range(10):
                        t0 = time.perf_counter()
                        m.balls([frame])
                        alone.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
    none = np.median(p50["no ball model"])
    for name, times in alone.items():
        print(f"{name:>14}: the ball model alone p50 {np.median(times):.1f} ms a frame "
              f"({np.median(times) / np.median(alone['shipped']):.2f}x the shipped one); the miner's p50 "
              f"{np.median(p50[name]) / none:.2f}x the miner's without a ball model")


if __name__ == "__main__":
    main()
