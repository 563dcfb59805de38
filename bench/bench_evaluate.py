"""Evaluation speed on a 750-frame 960 x 540 clip with ground truth on every frame.

Run: .venv/bin/python bench/bench_evaluate.py [--frames 750] [--repeat 3]

Prints the full-mode wall time and frames/s of `kit.evaluate.evaluate` (two threads, one
thread) and of a plain per-frame loop (decode, score, full-canvas smoothness masks; the
obvious implementation), checks that all three give the same breakdown, and prints ratios.
The clip is generated once with kit.synth into data/bench/ and reused.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from kit.contract import load_ground_truth
from kit.evaluate import OBJECT_KEYS, evaluate
from kit.evaluate.keypoints import score_frame
from kit.evaluate.objects import CANVAS_H, CANVAS_W, frame_objects, gt_boxes, read_boxes
from kit.evaluate.perturb import perturbed_answer
from kit.runs import REPO_ROOT


def plain(answer, gt, video):
    """The straightforward implementation: one pass, one thread, full 540 x 960 masks."""
    frames = {f["frame_id"]: f for f in answer["predictions"]["frames"]}
    cap = cv2.VideoCapture(str(video))
    kp = []
    fid = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if fid in frames:
            kp.append(score_frame(frame, frames[fid]["keypoints"]).score)
        fid += 1
    cap.release()
    gt_by = gt.by_frame()
    boxes = {i: read_boxes(f["boxes"]) for i, f in frames.items()}
    rows = [frame_objects(i, gt_boxes(gt_by[i].boxes), boxes.get(i, [])) for i in sorted(gt_by)]
    groups: dict = {}
    for i in sorted(boxes):
        seen = {}
        for b in boxes[i]:
            m = seen.setdefault((b.otype, b.team), np.zeros((CANVAS_H, CANVAS_W), bool))
            m[b.y1:b.y2, b.x1:b.x2] = True
        for k, m in seen.items():
            groups.setdefault(k, []).append(m)
    scores = []
    for seq in groups.values():
        ious = [np.count_nonzero(a & b) / max(1, np.count_nonzero(a | b)) if (a | b).any() else 1.0
                for a, b in zip(seq, seq[1:])]
        scores.append(0.0 if len(ious) < 2 else np.mean(ious) / (1 + np.mean(np.abs(np.diff(ious)))))
    b = {k: float(np.mean([getattr(r, k) for r in rows])) for k in OBJECT_KEYS}
    b["tracking_stability"] = float(np.mean(scores)) if scores else 0.0
    b["keypoints"] = float(np.mean(kp)) if kp else 0.0
    return b


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=750)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from kit.synth import generate_clip

    d = REPO_ROOT / "data" / "bench" / f"eval_{args.frames}"
    video, gt_path = d / "clip_000.mp4", d / "clip_000.json"
    if not (video.is_file() and gt_path.is_file()):
        print(f"generating a {args.frames}-frame clip into {d} ...")
        video, gt_path = generate_clip(d, index=0, n_frames=args.frames, seed=1234)
    gt = load_ground_truth(gt_path)
    answer = perturbed_answer(gt, seed=1, box_jitter_px=2, miss_rate=0.05, false_positives=0.5, keypoint_jitter_px=2)
    n = len(gt.frames)

    t2, ev2 = best_of(lambda: evaluate(answer, gt, video, threads=2), args.repeat)
    t1, ev1 = best_of(lambda: evaluate(answer, gt, video, threads=1), args.repeat)
    tp, bp = best_of(lambda: plain(answer, gt, video), 1)
    for k, v in bp.items():
        assert abs(ev2.breakdown[k] - v) < 1e-12, (k, ev2.breakdown[k], v)
    assert ev1.breakdown == ev2.breakdown
    print(f"clip: {n} frames {gt.width}x{gt.height}, ground truth on every frame; final {ev2.breakdown['final']:.4f}")
    print(f"evaluate, 2 threads : {t2:6.2f} s  {n / t2:6.0f} frames/s")
    print(f"evaluate, 1 thread  : {t1:6.2f} s  {n / t1:6.0f} frames/s")
    print(f"plain per-frame loop: {tp:6.2f} s  {n / tp:6.0f} frames/s")
    print(f"speed-up vs plain: {tp / t2:.2f}x (2 threads), {tp / t1:.2f}x (1 thread); identical breakdowns")


if __name__ == "__main__":
    main()
