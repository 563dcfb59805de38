"""Latency of the reference bundle as the compliance loop measures it (2 pinned cores, 2 threads,
960 x 540): per-frame p50/p95/max, the whole-clip predict path, and the ratio against a naive
two-model ultralytics baseline, all in one run.

Run: .venv/bin/python bench/bench_latency.py [--frames 750] [--bundle DIR]
"""
import argparse
import json
import tempfile

from kit.bundle import package
from kit.latency import format_report, measure


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=750)
    ap.add_argument("--per-frame", type=int, default=200)
    ap.add_argument("--bundle", help="default: the committed reference models, packaged")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = a.bundle or package(f"{tmp}/bundle")
        r = measure(bundle, frames=a.frames, per_frame=a.per_frame)
    print(json.dumps(r.to_dict(), indent=2) if a.json else format_report(r))


if __name__ == "__main__":
    main()
