"""Evaluation speed on a 750-frame 960 x 540 clip with ground truth on every frame, every football pillar.

Run: .venv/bin/python bench/bench_evaluate.py [--frames 750] [--repeat 3]

Scores one answer on a manifest whose PlayerDetect element carries all ten football pillars
(iou, count, palette, smoothness, role, map50, precision, recall, false_positive,
keypoints_iou), plus the example's DetectBall and PitchCalib elements. Prints the full-mode
wall time and frames/s of `kit.evaluate.evaluate` (two threads, one thread) and of a plain
per-frame loop (decode, keypoints with the frame's edges always computed, the box pillars frame
by frame, full-canvas smoothness masks, one thread: the obvious implementation), checks that all
three give the same pillar values, and prints ratios. The clip is generated once with kit.synth
into data/bench/ and reused.
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import yaml

from kit.contract import load_ground_truth
from kit.evaluate import KEYPOINT_PILLARS, evaluate
from kit.evaluate.answer import read_frames, reference_frames
from kit.evaluate.keypoints import score_frame
from kit.evaluate.objects import CANVAS_H, CANVAS_W, detection_metrics, frame_detections, frame_row
from kit.evaluate.perturb import perturbed_answer
from kit.manifest import EXAMPLE_MANIFEST_YAML, parse_manifest
from kit.runs import REPO_ROOT

ALL_FOOTBALL = {"iou": 0.125, "count": 0.125, "palette": 0.125, "smoothness": 0.125, "role": 0.125, "map50": 0.125,
                "precision": 0.0625, "recall": 0.0625, "false_positive": 0.0625, "keypoints_iou": 0.0625}


def bench_manifest():
    doc = yaml.safe_load(EXAMPLE_MANIFEST_YAML)
    doc["window_id"] = "bench"
    pd = doc["elements"][0]
    pd["metrics"] = {"pillars": ALL_FOOTBALL}
    pd["keypoint_template"] = "football"
    return parse_manifest(doc, "bench manifest")


def plain(answer, gt, video, manifest):
    """The straightforward implementation: one pass, one thread, edges on every frame, full masks."""
    kp_in = {fid: fr.keypoints for fid, fr in read_frames(answer, None).items()}
    cap = cv2.VideoCapture(str(video))
    kp, fid, size = {}, 0, (gt.width, gt.height)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        size = frame.shape[1], frame.shape[0]
        if fid in kp_in:
            kp[fid] = score_frame(frame, kp_in[fid]).score
        fid += 1
    cap.release()
    kp_mean = sum(kp[f] if f in kp else 0.0 for f in kp_in) / len(kp_in)
    ids = sorted(gt.by_frame())
    out = {}
    for e in manifest.elements:
        answered = read_frames(answer, e.objects)
        refs = reference_frames(gt, e.objects, ids, fid, size)
        rows = [frame_row(r, answered.get(r.frame_id), e.pillars) for r in refs]
        det = detection_metrics([frame_detections(r, answered.get(r.frame_id)) for r in refs])
        for p in e.pillars:
            if (e.category, p) in KEYPOINT_PILLARS:
                v = kp_mean
            elif p == "role":
                v = (sum(r.values["role_class"] for r in rows) / len(rows) + sum(r.values["palette"] for r in rows)
                     / len(rows)) / 2
            elif p in ("iou", "count", "palette"):
                v = sum(r.values[p] for r in rows) / len(rows)
            elif p == "smoothness":
                v = full_canvas_smoothness(answered)
            else:
                v = det[p]
            out[f"{e.id}/{p}"] = float(v)
    return out


def full_canvas_smoothness(answered):
    groups: dict = {}
    for i in sorted(answered):
        seen = {}
        for d in answered[i].bboxes:
            m = seen.setdefault(f"{d.label}_{d.team or 'null'}", np.zeros((CANVAS_H, CANVAS_W), bool))
            m[d.y1:d.y2, d.x1:d.x2] = True
        for k, m in seen.items():
            groups.setdefault(k, []).append(m)
    scores = []
    for seq in groups.values():
        ious = [np.count_nonzero(a & b) / np.count_nonzero(a | b) if (a | b).any() else 1.0
                for a, b in zip(seq, seq[1:])]
        if len(ious) < 2:
            scores.append(0.0)
            continue
        jerk = sum(abs(ious[i + 1] - ious[i]) for i in range(len(ious) - 1)) / (len(ious) - 1)
        scores.append((sum(ious) / len(ious)) / (1 + jerk))
    return sum(scores) / len(scores) if scores else 0.0


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
    m = bench_manifest()
    n = len(gt.frames)

    t2, ev2 = best_of(lambda: evaluate(answer, gt, video, manifest=m, threads=2, spread=False), args.repeat)
    t1, ev1 = best_of(lambda: evaluate(answer, gt, video, manifest=m, threads=1, spread=False), args.repeat)
    ts, _ = best_of(lambda: evaluate(answer, gt, video, manifest=m, threads=2, spread=True), 1)
    tp, bp = best_of(lambda: plain(answer, gt, video, m), 1)
    for k, v in bp.items():
        assert abs(ev2.breakdown[k] - v) < 1e-12, (k, ev2.breakdown[k], v)
    assert ev1.breakdown == ev2.breakdown
    print(f"clip: {n} frames {gt.width}x{gt.height}, ground truth on every frame; {len(bp)} pillars over "
          f"{len(m.elements)} elements; final {ev2.final:.4f}")
    print(f"evaluate, 2 threads        : {t2:6.2f} s  {n / t2:6.0f} frames/s")
    print(f"evaluate, 1 thread         : {t1:6.2f} s  {n / t1:6.0f} frames/s")
    print(f"evaluate, 2 threads+spread : {ts:6.2f} s  (every 3-frame validator window as well)")
    print(f"plain per-frame loop       : {tp:6.2f} s  {n / tp:6.0f} frames/s")
    print(f"speed-up vs plain: {tp / t2:.2f}x (2 threads), {tp / t1:.2f}x (1 thread); identical pillar values")


if __name__ == "__main__":
    main()
