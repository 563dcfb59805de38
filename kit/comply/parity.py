"""Output parity as the compliance runner judges it: the local answers against the chute's.

Usage:
    ok, info = compare_frames(chute_frames, local_frames)      # upstream's rule, one challenge
    soft = is_soft_drift(info)                                   # the tolerated kind of miss

Upstream `scorevision/validator/audit/open_source/compliance.py` at ea7412f:

- detections are a frame's `boxes` and `polygons` (a polygon's box is its points' extent;
  coordinates truncated to int), each with an int `cls_id` (compliance.py:389-455);
- frames are matched by `frame_id`; only the ids both sides have count, none in common fails
  with `no_common_frames` (compliance.py:496-500);
- per frame, each expected detection takes the unused local detection of the same class with
  the highest IoU (greedy, in expected order; polygon IoU on rasterised masks when either side
  is a polygon); the frame's score is the sum of those IoUs over the expected count (1.0 when
  both sides are empty, 0.0 when only the local side has detections); the challenge passes
  when the mean over frames is >= `CHECKER_IOU_MATCH_THRESHOLD` 0.95 (compliance.py:458-561);
- a failing challenge is *soft drift* when something matched, at most 2 detections are
  missing and at most 2 extra (summed over its frames), and the matched IoUs average >= 0.95
  (compliance.py:564-576, settings CHECKER_OUTPUT_DRIFT_*); up to 2 such challenges per
  target are forgiven (compliance.py:1241-1268).

Keypoints are not compared (upstream compares only boxes and polygons). The kit adds one
thing: `info["frames"]`, each compared frame's own score, so the frames where the two runs
disagree (non-determinism, a different runtime) can be named one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IOU_MATCH_THRESHOLD = 0.95        # settings.py CHECKER_IOU_MATCH_THRESHOLD
DRIFT_MAX_MISSING = 2             # CHECKER_OUTPUT_DRIFT_MAX_MISSING
DRIFT_MAX_EXTRA = 2               # CHECKER_OUTPUT_DRIFT_MAX_EXTRA
DRIFT_MIN_MATCHED_IOU = 0.95      # CHECKER_OUTPUT_DRIFT_MIN_MATCHED_IOU
DRIFT_MAX_PER_TARGET = 2          # CHECKER_OUTPUT_DRIFT_MAX_PER_TARGET


def box_iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    ax1, ay1, ax2, ay2 = (float(a[k]) for k in ("x1", "y1", "x2", "y2"))
    bx1, by1, bx2, by2 = (float(b[k]) for k in ("x1", "y1", "x2", "y2"))
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    if inter <= 0:
        return 0.0
    union = max(0.0, ax2 - ax1) * max(0.0, ay2 - ay1) + max(0.0, bx2 - bx1) * max(0.0, by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def _points(raw: Any) -> list[tuple[int, int]]:
    if not raw or not isinstance(raw, list):
        return []
    try:
        pts = [(int(p[0]), int(p[1])) for p in raw if isinstance(p, (list, tuple)) and len(p) == 2]
    except (TypeError, ValueError):
        return []
    return pts if len(pts) == len(raw) else []


def _detection(raw: Any, kind: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    try:
        cls_id = int(raw.get("cls_id"))
    except (TypeError, ValueError):
        return None
    pts = _points(raw.get("points") or raw.get("polygon") or raw.get("masks"))
    if kind == "polygon" and not pts:
        return None
    if pts:
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        box = {"x1": min(xs), "y1": min(ys), "x2": max(xs), "y2": max(ys)}
    else:
        try:
            box = {k: int(raw[k]) for k in ("x1", "y1", "x2", "y2")}
        except (KeyError, TypeError, ValueError):
            return None
    return {"cls_id": cls_id, **box, "polygon": pts, "kind": kind}


def detections(frame: dict[str, Any]) -> list[dict[str, Any]]:
    out = [_detection(b, "box") for b in frame.get("boxes") or []]
    out += [_detection(p, "polygon") for p in frame.get("polygons") or []]
    return [d for d in out if d is not None]


def _corners(d: dict[str, Any]) -> list[tuple[int, int]]:
    return d["polygon"] or [(d["x1"], d["y1"]), (d["x2"], d["y1"]), (d["x2"], d["y2"]), (d["x1"], d["y2"])]


def detection_iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Box IoU, or mask IoU when either side is a polygon (compliance.py:458-488)."""
    import cv2

    if not a["polygon"] and not b["polygon"]:
        return box_iou(a, b)
    pa, pb = _corners(a), _corners(b)
    w = max(1, max([p[0] for p in pa + pb] + [0]) + 2)
    h = max(1, max([p[1] for p in pa + pb] + [0]) + 2)
    ma, mb = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    cv2.fillPoly(ma, [np.array(pa, np.int32)], 1)
    cv2.fillPoly(mb, [np.array(pb, np.int32)], 1)
    union = int(np.logical_or(ma, mb).sum())
    return float(np.logical_and(ma, mb).sum() / union) if union else 0.0


def _match_frame(exp: list[dict], act: list[dict]) -> tuple[float, list[float], int]:
    """(frame score, matched IoUs, matched count): greedy same-class matching in expected order."""
    if not exp and not act:
        return 1.0, [], 0
    used: set[int] = set()
    ious, matched = [], []
    for e in exp:
        best, best_i = 0.0, None
        for i, a in enumerate(act):
            if i in used or a["cls_id"] != e["cls_id"]:
                continue
            v = detection_iou(e, a)
            if v > best:
                best, best_i = v, i
        if best_i is not None:
            used.add(best_i)
            matched.append(best)
        ious.append(best)
    return (sum(ious) / len(exp) if exp else 0.0), matched, len(used)


def compare_frames(expected: list[dict[str, Any]], actual: list[dict[str, Any]],
                   threshold: float = IOU_MATCH_THRESHOLD) -> tuple[bool, dict[str, Any]]:
    """Upstream's `_compare_predictions_iou` on two lists of frames; `info["frames"]` adds per-frame scores."""
    exp = {int(f.get("frame_id", -1)): f for f in expected}
    act = {int(f.get("frame_id", -1)): f for f in actual}
    common = sorted(set(exp) & set(act))
    if not common:
        return False, {"reason": "no_common_frames", "threshold": threshold, "frames": {}}
    scores: dict[int, float] = {}
    matched_ious: list[float] = []
    n_exp = n_act = n_matched = missing = extra = 0
    for fid in common:
        e, a = detections(exp[fid]), detections(act[fid])
        n_exp, n_act = n_exp + len(e), n_act + len(a)
        score, matched, m = _match_frame(e, a)
        scores[fid] = score
        matched_ious += matched
        n_matched += m
        missing += max(0, len(e) - m)
        extra += max(0, len(a) - m)
    mean = sum(scores.values()) / len(scores)
    return mean >= threshold, {
        "mean_iou": mean, "threshold": threshold, "missing_boxes": missing, "extra_boxes": extra,
        "expected_detections": n_exp, "actual_detections": n_act, "matched_detections": n_matched,
        "matched_mean_iou": sum(matched_ious) / len(matched_ious) if matched_ious else 0.0,
        "frames_compared": len(common), "frames": scores,
    }


def is_soft_drift(info: dict[str, Any]) -> bool:
    """compliance.py:564-576: a small, well-matched difference, forgiven twice per target."""
    if info.get("reason") or int(info.get("matched_detections", 0)) <= 0:
        return False
    return (int(info.get("missing_boxes", 0)) <= DRIFT_MAX_MISSING
            and int(info.get("extra_boxes", 0)) <= DRIFT_MAX_EXTRA
            and float(info.get("matched_mean_iou", 0.0)) >= DRIFT_MIN_MATCHED_IOU)
