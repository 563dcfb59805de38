"""Synthetic clip generation speed at 960 x 540: frames per second with and without encoding,
and where the time goes (clip setup, rendering, mp4v encoding). Target: >= 25 frames/s with
encoding on a 2-core machine.

Run: .venv/bin/python bench/bench_synth.py [--frames 150] [--repeats 3] [--difficulty default]

The machine may be shared, so every figure is the best of --repeats runs.
"""
import argparse
import tempfile
import time
from pathlib import Path

import cv2

from kit.synth import ClipRenderer, generate_clip, render_frames


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def split(n: int, seed: int, difficulty: str, out: Path) -> tuple[float, float, float]:
    """Seconds spent on clip setup, on rendering and on encoding, timed step by step."""
    t0 = time.perf_counter()
    renderer = ClipRenderer(seed, n, difficulty=difficulty)
    setup = time.perf_counter() - t0
    writer = cv2.VideoWriter(str(out / "split.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (960, 540))
    render = encode = 0.0
    for i in range(n):
        t0 = time.perf_counter()
        img, _ = renderer.render(i)
        t1 = time.perf_counter()
        writer.write(img)
        render += t1 - t0
        encode += time.perf_counter() - t1
    writer.release()
    return setup, render, encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--difficulty", default="default")
    args = ap.parse_args()
    n, reps = args.frames, args.repeats

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        list(render_frames(5, 99))  # warm up imports and OpenCV
        print(f"{n}-frame clips at 960 x 540, difficulty {args.difficulty}, best of {reps}, "
              f"OpenCV threads {cv2.getNumThreads()}")
        with_encoding = {}
        default_threads = cv2.getNumThreads()
        for threads in (default_threads, 1):
            cv2.setNumThreads(threads)
            mem = best(lambda: sum(1 for _ in render_frames(n, 1, difficulty=args.difficulty)), reps)
            enc = best(lambda: generate_clip(out, 0, n, 1, difficulty=args.difficulty), reps)
            with_encoding[threads] = n / enc
            print(f"  OpenCV threads {threads}: in memory {n / mem:6.1f} frames/s   "
                  f"with encoding {n / enc:6.1f} frames/s   (clip setup included)")
        cv2.setNumThreads(default_threads)
        runs = [split(n, 1, args.difficulty, out) for _ in range(reps)]
        setup, render, encode = (min(r[k] for r in runs) for k in range(3))
        total = setup + render + encode
        print(f"  split: setup {setup * 1e3:6.0f} ms per clip ({setup / n * 1e3:.1f} ms per frame), "
              f"render {render / n * 1e3:.1f} ms per frame, encode {encode / n * 1e3:.1f} ms per frame")
        print(f"  shares: setup {setup / total:.0%}, render {render / total:.0%}, encode {encode / total:.0%}; "
              f"with encoding at {default_threads} OpenCV threads: {with_encoding[default_threads] / 25:.1f}x "
              "the 25 frames/s target")


if __name__ == "__main__":
    main()
