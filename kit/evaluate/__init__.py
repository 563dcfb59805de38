"""The validator-faithful scorer (`../shared/SCORING.md`, every rule and corner case).

    ev = evaluate(answer, ground_truth, "clip.mp4", mode="full")
    ev.breakdown   # placement, categorisation, team, enumeration, tracking_stability, objects,
                   # floor_markings_alignment, keypoints, final (+ latency_score)

Modes: `full` scores the object metrics on every ground-truth frame; `validator` on 3
consecutive ground-truth frames picked with a seeded random choice, like a validator, and
`ev.spread` shows how the score moves over every such 3-frame window of the clip. Tracking
stability runs over all predicted frames and the keypoint metric over every predicted frame,
in both modes, as SCORING.md defines them.

Speed: frames are scored on two threads (OpenCV releases the GIL, and its own thread pool is
paused meanwhile) while the main thread decodes, with a bounded queue; a frame's edges are
computed only when no earlier rule zeroed it; the object metrics run beside all that.
Results do not depend on the thread count (tested).
"""

from __future__ import annotations

import os
import random
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import KitError
from ..contract import CHALLENGE_TYPE, GroundTruth, load_ground_truth, read_json
from ..datasets import VideoReader
from .keypoints import RULES, KeypointScore, score_keypoints, seen_edges
from .objects import Box, FrameObjects, frame_objects, gt_boxes, read_boxes, tracking_stability

__all__ = ["evaluate", "Evaluation", "BREAKDOWN_KEYS", "read_answer", "load_answer", "latency_score",
           "KeypointScore", "FrameObjects", "RULES"]

OBJECT_KEYS = ("placement", "categorisation", "team", "enumeration")
BREAKDOWN_KEYS = (*OBJECT_KEYS, "tracking_stability", "objects", "floor_markings_alignment", "keypoints", "final")
OBJECTS_WEIGHT, KEYPOINTS_WEIGHT = 0.85, 0.15
WINDOW = 3


def latency_score(seconds: float) -> float:
    """1 / 2^(seconds the /predict call took)."""
    return 1.0 / (2.0 ** seconds)


@dataclass
class ReadAnswer:
    """An answer after the gate's reading: frames by id (later duplicates win), readable boxes."""

    success: bool
    frames: dict[int, dict[str, Any]]
    boxes: dict[int, list[Box]]
    n_entries: int


def read_answer(answer: Any) -> ReadAnswer:
    success = isinstance(answer, dict) and answer.get("success") is True
    preds = answer.get("predictions") if isinstance(answer, dict) else None
    entries = preds.get("frames") if isinstance(preds, dict) else None
    frames: dict[int, dict[str, Any]] = {}
    if isinstance(entries, list):
        for fr in entries:
            if not isinstance(fr, dict):
                fr = {}
            try:
                fid = int(fr["frame_id"])
            except (KeyError, TypeError, ValueError, OverflowError):
                fid = -1
            frames[fid] = fr  # later entries with the same id replace earlier ones
    boxes = {fid: read_boxes(fr.get("boxes")) for fid, fr in frames.items()}
    return ReadAnswer(success, frames, boxes, len(entries) if isinstance(entries, list) else 0)


def load_answer(path: str | os.PathLike) -> dict[str, Any]:
    return read_json(path, "no such predictions file (save the chute's /predict answer, or run `tvkit predict`)")


@dataclass
class Spread:
    """Validator-mode scores over every 3-frame window of the clip."""

    n_windows: int
    final: dict[str, float]
    objects: dict[str, float]

    @staticmethod
    def _stats(values: np.ndarray) -> dict[str, float]:
        return {"min": float(values.min()), "p10": float(np.percentile(values, 10)),
                "median": float(np.median(values)), "mean": float(values.mean()),
                "p90": float(np.percentile(values, 90)), "max": float(values.max()), "std": float(values.std())}


@dataclass
class Evaluation:
    breakdown: dict[str, float]
    mode: str
    seed: int | None
    gate_passed: bool
    gate_reason: str
    n_frames_total: int
    scored_frames: list[int]
    objects_frames: list[FrameObjects] = field(default_factory=list)
    keypoint_frames: dict[int, KeypointScore] = field(default_factory=dict)
    tracking_groups: dict[str, float] = field(default_factory=dict)
    spread: Spread | None = None
    width: int = 0
    height: int = 0

    def zero_reasons(self) -> Counter:
        """How many predicted frames each keypoint rule zeroed."""
        return Counter(k.rule for k in self.keypoint_frames.values() if k.rule)

    def frame_table(self) -> list[dict[str, Any]]:
        """One row per frame id seen anywhere: object metrics where there is ground truth, keypoint score."""
        obj = {f.frame_id: f for f in self.objects_frames}
        rows = []
        for fid in sorted(set(obj) | set(self.keypoint_frames)):
            row: dict[str, Any] = {"frame_id": fid}
            if fid in obj:
                row.update({k: v for k, v in asdict(obj[fid]).items() if k != "frame_id"})
            if fid in self.keypoint_frames:
                k = self.keypoint_frames[fid]
                row.update(keypoints=k.score, keypoint_rule=k.rule, keypoint_detail=k.detail, n_visible=k.n_visible)
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "breakdown": self.breakdown, "mode": self.mode, "seed": self.seed,
            "gate": {"passed": self.gate_passed, "reason": self.gate_reason},
            "n_frames_total": self.n_frames_total, "scored_frames": self.scored_frames,
            "tracking_groups": self.tracking_groups, "keypoint_zero_rules": dict(self.zero_reasons()),
            "spread": asdict(self.spread) if self.spread else None, "frames": self.frame_table(),
        }


@contextmanager
def _opencv_threads(n: int | None):
    """OpenCV's own thread pool off while our threads run frames in parallel (they would fight
    over the same cores); restored afterwards."""
    if n is None:
        yield
        return
    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _pick_window(gt_ids: list[int], seed: int | None) -> list[int]:
    if len(gt_ids) <= WINDOW:
        return gt_ids
    start = random.Random(seed).randrange(len(gt_ids) - WINDOW + 1)
    return gt_ids[start:start + WINDOW]


def score_keypoint_frames(video: str | os.PathLike, keypoints_by_frame: dict[int, Any],
                          template: np.ndarray | None = None, threads: int = 2) -> tuple[dict[int, KeypointScore], int, int, int]:
    """The keypoint metric for every predicted frame: decode once, score on `threads` threads.

    Returns (scores by frame id, OpenCV frame count, width, height).
    """
    out: dict[int, KeypointScore] = {}
    pending: deque[tuple[int, Future]] = deque()
    limit = 4 * max(1, threads)  # frames in flight: keeps the workers busy, bounds the memory held

    def work(frame: np.ndarray, kps: Any) -> KeypointScore:
        fh, fw = frame.shape[:2]
        return score_keypoints(kps, fw, fh, lambda: seen_edges(frame), template)

    with VideoReader(video) as reader, ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        info = reader.info()
        n_total, w, h = info.n_frames, info.width, info.height
        last = max(keypoints_by_frame, default=-1)
        for fid, frame in reader.frames(max_frames=last + 1):
            if fid in keypoints_by_frame:
                pending.append((fid, pool.submit(work, frame, keypoints_by_frame[fid])))
            while len(pending) >= limit:  # wait for the oldest only, so decoding never stalls on a batch
                pfid, fut = pending.popleft()
                out[pfid] = fut.result()
        for pfid, fut in pending:
            out[pfid] = fut.result()
    for fid in keypoints_by_frame:
        if fid not in out:
            out[fid] = score_keypoints(keypoints_by_frame[fid], w, h, None)  # no such frame: rule 1
    return out, n_total, w, h


def evaluate(answer: Any, ground_truth: GroundTruth | str | os.PathLike, video: str | os.PathLike,
             mode: str = "full", seed: int | None = 0, latency_ms: float | None = None,
             challenge_type: str = CHALLENGE_TYPE, template: np.ndarray | None = None,
             threads: int = 2, spread: bool = True) -> Evaluation:
    """Score a /predict answer against ground truth and the decoded video, as a validator does."""
    if mode not in ("full", "validator"):
        raise KitError(f"mode {mode!r}: choose 'full' (every ground-truth frame) or 'validator' (3 at random)")
    gt = ground_truth if isinstance(ground_truth, GroundTruth) else load_ground_truth(ground_truth)
    ans = read_answer(answer)
    gt_by_id = gt.by_frame()
    gt_ids = sorted(gt_by_id)

    with VideoReader(video) as reader:
        info = reader.info()
    n_total, w, h = info.n_frames, info.width, info.height
    gate_reason = ""
    if not ans.success:
        gate_reason = "the answer does not have success: true"
    elif len(ans.frames) != n_total:
        gate_reason = f"{len(ans.frames)} distinct frame ids for a video of {n_total} frames"
    elif challenge_type != CHALLENGE_TYPE:
        gate_reason = f"unknown challenge type {challenge_type!r}"
    passed = not gate_reason

    scored = gt_ids if mode == "full" else _pick_window(gt_ids, seed)
    ev = Evaluation({}, mode, seed if mode == "validator" else None, passed, gate_reason, n_total, scored,
                    width=w, height=h)
    if not passed:
        ev.breakdown = {k: 0.0 for k in BREAKDOWN_KEYS}
        if latency_ms is not None:
            ev.breakdown["latency_score"] = latency_score(latency_ms / 1000.0)
        return ev

    def object_metrics():
        # every ground-truth frame (validator windows reuse them), and smoothness over all frames
        rows = [frame_objects(fid, gt_boxes(gt_by_id[fid].boxes), ans.boxes.get(fid, [])) for fid in gt_ids]
        return rows, tracking_stability(ans.boxes)

    keypoints_by_frame = {fid: fr.get("keypoints") for fid, fr in ans.frames.items()}
    # the object metrics run beside the keypoint pipeline (decoding and OpenCV release the GIL)
    with ThreadPoolExecutor(max_workers=1) as side, _opencv_threads(1 if threads > 1 else None):
        objects = side.submit(object_metrics)
        kp, _, _, _ = score_keypoint_frames(video, keypoints_by_frame, template, threads)
        ev.objects_frames, (track, groups) = objects.result()
    ev.tracking_groups = {f"{otype}:{'none' if team is None else team}": s for (otype, team), s in groups.items()}
    ev.keypoint_frames = kp
    fma = float(np.mean([k.score for k in kp.values()])) if kp else 0.0

    per = {k: np.array([getattr(f, k) for f in ev.objects_frames], dtype=np.float64) for k in OBJECT_KEYS}
    position = {fid: i for i, fid in enumerate(gt_ids)}
    idx = [position[f] for f in scored]
    b = {k: (float(per[k][idx].mean()) if idx else 0.0) for k in OBJECT_KEYS}
    b["tracking_stability"] = track
    b["objects"] = float(np.mean([b[k] for k in (*OBJECT_KEYS, "tracking_stability")]))
    b["floor_markings_alignment"] = fma
    b["keypoints"] = fma
    b["final"] = OBJECTS_WEIGHT * b["objects"] + KEYPOINTS_WEIGHT * b["keypoints"]
    if latency_ms is not None:
        b["latency_score"] = latency_score(latency_ms / 1000.0)
    ev.breakdown = b

    if spread and len(gt_ids) >= WINDOW:
        # mean of each object metric over every window of 3 consecutive ground-truth frames
        kernel = np.ones(WINDOW) / WINDOW
        win = {k: np.convolve(per[k], kernel, mode="valid") for k in OBJECT_KEYS}
        objects_w = (sum(win[k] for k in OBJECT_KEYS) + track) / 5.0
        final_w = OBJECTS_WEIGHT * objects_w + KEYPOINTS_WEIGHT * fma
        ev.spread = Spread(len(objects_w), Spread._stats(final_w), Spread._stats(objects_w))
    return ev


def format_breakdown(ev: Evaluation) -> str:
    lines = []
    if not ev.gate_passed:
        lines.append(f"GATE FAILED: {ev.gate_reason}; every component scores 0")
    for k, v in ev.breakdown.items():
        lines.append(f"  {k:<26} {v:.4f}")
    where = "every ground-truth frame" if ev.mode == "full" else f"ground-truth frames {ev.scored_frames} (seed {ev.seed})"
    lines.append(f"mode {ev.mode}: objects on {where}; keypoints on {len(ev.keypoint_frames)} predicted frames")
    zr = ev.zero_reasons()
    if zr:
        total = len(ev.keypoint_frames)
        lines.append("keypoint frames zeroed by rule: " + ", ".join(f"{r} {n} ({n / total:.0%})" for r, n in zr.most_common()))
    if ev.spread:
        s = ev.spread.final
        lines.append(f"validator-mode final over {ev.spread.n_windows} windows: min {s['min']:.4f}, median {s['median']:.4f}, "
                     f"max {s['max']:.4f}, std {s['std']:.4f}")
    return "\n".join(lines)
