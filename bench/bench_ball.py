"""What the ball model costs the football miner: the reference bundle with `ball.onnx` and without
it (`--ball-model none`), timed the way the compliance loop times a call (2 pinned cores, one frame
per predict_batch, 960 x 540), against the ball element's budget; and the ball model alone.

Run: .venv/bin/python bench/bench_ball.py [--per-frame 100]
"""
import argparse
import tempfile
import time

import numpy as np

from kit.bundle import package
from kit.comply import load_miner
from kit.latency import measure, pinned


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-frame", type=int, default=100)
    ap.add_argument("--element", default="DetectBall_v1@1.0")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bundles = {"with ball.onnx": package(f"{tmp}/ball"),
                   "detector's ball": package(f"{tmp}/none", ball_model="none")}
        rows = {}
        for name, b in bundles.items():
            r = measure(b, frames=a.per_frame, per_frame=a.per_frame, element=a.element, baseline=False)
            rows[name] = r
            print(f"{name:>16}: per frame p50 {r.p50_ms:.1f} ms  p95 {r.p95_ms:.1f} ms  (limit {r.limit_ms:.0f} ms: "
                  f"{'OK' if r.p95_ok else 'OVER'})")
        with pinned(2, 2):
            miner = load_miner(bundles["with ball.onnx"])
            frame = np.random.default_rng(0).integers(0, 256, (540, 960, 3), dtype=np.uint8)
            miner.balls([frame])
            times = []
            for _ in range(50):
                t0 = time.perf_counter()
                miner.balls([frame])
                times.append((time.perf_counter() - t0) * 1000)
    with_b, without = rows["with ball.onnx"], rows["detector's ball"]
    print(f"ball model alone: p50 {np.median(times):.1f} ms, p95 {np.percentile(times, 95):.1f} ms a frame")
    print(f"ratio p95 with / without the ball model: {with_b.p95_ms / without.p95_ms:.2f}; "
          f"share of the element's limit used: {with_b.p95_ms / with_b.limit_ms:.2f}")


if __name__ == "__main__":
    main()
