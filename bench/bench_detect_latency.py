"""A Detect bundle's p95 per predict_batch call at 1408 x 768, on 2 pinned cores, against its element's budget.

Run: .venv/bin/python bench/bench_detect_latency.py [--bundle DIR] [--calls 60] [--manifest M --element ID]

The compliance loop times one `predict_batch` call per replayed Detect challenge (one photo,
about 1408 x 768) on a 2-vCPU box and bans a miner whose p95 is over the element's
`latency_p95_ms` + 10 ms (compliance.py:900-945). This measures that figure here the way
`kit.latency` measures the football miner: the process pinned to 2 cores
(`kit.latency.pinned`), the bundle's miner loaded as the compliance worker loads it (warm-up
in its own __init__, not timed), then `calls` calls of one photo each: the fire-smoke test
photos resized to 1408 x 768 (cycled), or random noise when they are missing. The p95 is the
compliance loop's (index int(0.95 (n - 1)) of the sorted times). Without --bundle it packages
the element's bundle (the reference model) into data/bench/detect-bundle.

Prints p50, p95, max and the ratio p95 / (latency_p95_ms + 10). The machine must be idle for
the figure to mean anything: on a shared 2-core box, training in the background multiplies it.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from kit.bundle import package
from kit.comply import load_miner
from kit.comply.core import LATENCY_TOLERANCE_MS, p95
from kit.images.predict import SHARED_DETECT
from kit.latency import pinned
from kit.manifest import load_manifest
from kit.runs import REPO_ROOT

DEFAULT_MANIFEST = REPO_ROOT.parent / "shared" / "reference" / "validator-ea7412f" / "full_private_tcg_manifest.json"
W, H = 1408, 768


def photos(n: int) -> list[np.ndarray]:
    paths = sorted((SHARED_DETECT / "fire-smoke" / "test" / "images").glob("*.jpg"))
    if not paths:
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(min(n, 8))]
    return [cv2.resize(cv2.imread(str(p)), (W, H), interpolation=cv2.INTER_LINEAR) for p in paths[:n]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", help="a Detect bundle (default: package the element's reference bundle)")
    ap.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    ap.add_argument("--element", default="manak0/Detect-fire")
    ap.add_argument("--calls", type=int, default=60)
    args = ap.parse_args()
    element = load_manifest(args.manifest).element(args.element)
    bundle = Path(args.bundle) if args.bundle else package(REPO_ROOT / "data" / "bench" / "detect-bundle",
                                                           element=element)
    imgs = photos(args.calls)
    with pinned(2, 2) as cores:
        miner = load_miner(bundle)
        times = []
        for i in range(args.calls):
            t0 = time.perf_counter()
            miner.predict_batch([imgs[i % len(imgs)]], 0, 32)
            times.append(1000 * (time.perf_counter() - t0))
    budget = float(element.latency_p95_ms or 100) + LATENCY_TOLERANCE_MS
    q95 = p95(times)
    print(f"{bundle} for {element.id}: {args.calls} predict_batch calls of one {W} x {H} photo on cores {cores}")
    print(f"p50 {float(np.median(times)):.1f} ms, p95 {q95:.1f} ms, max {max(times):.1f} ms; budget {budget:g} ms "
          f"(latency_p95_ms {element.latency_p95_ms} + {LATENCY_TOLERANCE_MS:g}); p95 / budget = {q95 / budget:.2f} "
          f"({'ok' if q95 <= budget else 'OVER'})")


if __name__ == "__main__":
    main()
