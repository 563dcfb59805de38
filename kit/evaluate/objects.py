"""The box and polygon pillars of today's validator, per frame where the validator averages per frame.

Usage: `rows = frame_rows(refs, answered, pillars)`; `det = detection_metrics(refs, answered)`

Each function follows one upstream function at ea7412f (scorevision/vlm_pipeline/
non_vlm_scoring/), and so do the corner cases:

- `iou` (polygons.py:630 `compare_polygon_placement`): label-agnostic F1 of an optimal
  (Hungarian) assignment, averaged over IoU thresholds 0.3 and 0.5, then over reference frames.
  `count` (polygons.py:693) is the same F1 at 0.3. Both use polygon IoU: per label, the
  reference is reduced to its box when the miner sent only boxes of that label in the frame, to
  a polygon (a box becomes its 4 corners) when only polygons, and kept as it is when both or
  when the miner sent nothing of that label but something else (`_project_pgt_boxes_for_
  predictions`); two plain boxes compare by box IoU, anything with a polygon by filled-mask IoU
  (cv2.fillPoly; a box's corners are filled inclusively). Labels that are empty are skipped.
- `role` (objects.py:557) = (class-strict F1 at {0.3, 0.5} + `palette`) / 2; `palette`
  (objects.py:548) = players only (label exactly "player"), team-strict F1 at {0.3, 0.5} with
  the miner's team 1/2 mapped onto the two most common reference teams, best of the two
  mappings, "other" filling a missing second colour. Both use box IoU only (polygons count
  through their box) and every miner object, empty labels included.
- F1 with nothing on both sides is 1, with nothing on one side 0. The assignment minimises
  -IoU in float32 as upstream does, so ties and thresholds fall the same way.
- `map50`, `precision`, `recall`, `false_positive` (polygons.py:481): per class (labels
  lower-cased), predictions in descending confidence (ties in frame and answer order) are
  matched greedily to the unmatched reference of their frame with the highest IoU (first on
  ties, IoU > 0); a match counts when that IoU reaches the reference's adaptive threshold
  (`adaptive_iou_threshold`); AP is VOC all-point over classes with references; precision,
  recall over all classes; false_positive = max(0, 1 - FP per reference frame / 10).
- `smoothness` (smoothness.py:116): per label+team group over all answered frames in frame
  order (boxes only, not polygons), the IoU of the union masks of consecutive appearances on a
  fixed 540 x 960 canvas (numpy slicing: negative corners wrap as Python slices do), mean /
  (1 + mean absolute change); a group seen fewer than 3 times scores 0; mean over groups.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from .answer import OTHER, TEAM1, TEAM2, Det, ReadFrame, RefFrame

AUC_THRESHOLDS = (0.3, 0.5)
COUNT_THRESHOLD = 0.3
CANVAS_H, CANVAS_W = 540, 960   # upstream settings SCOREVISION_IMAGE_HEIGHT / _WIDTH defaults
ADAPTIVE_IOU_ANCHORS = ((0.0005, 0.30), (0.01, 0.50), (0.05, 0.50), (0.25, 0.70))
FRAME_PILLARS = ("iou", "count", "palette", "role")            # averaged over reference frames
DETECTION_PILLARS = ("map50", "precision", "recall", "false_positive")


# --- IoU ------------------------------------------------------------------------------------------

def box_iou_matrix(a: Sequence[Det], b: Sequence[Det]) -> np.ndarray:
    """N x M box IoU (upstream `_iou_box`: sides clamp at 0, 0 when there is no intersection)."""
    A = np.array([d.box for d in a], dtype=np.float64).reshape(-1, 4)
    B = np.array([d.box for d in b], dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(A[:, None, 2], B[None, :, 2]) - np.maximum(A[:, None, 0], B[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(A[:, None, 3], B[None, :, 3]) - np.maximum(A[:, None, 1], B[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = np.clip(A[:, 2] - A[:, 0], 0, None) * np.clip(A[:, 3] - A[:, 1], 0, None)
    area_b = np.clip(B[:, 2] - B[:, 0], 0, None) * np.clip(B[:, 3] - B[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((inter > 0) & (union > 0), inter / np.where(union > 0, union, 1), 0.0)


def _points(d: Det) -> tuple[tuple[int, int], ...]:
    return d.polygon if d.polygon else ((d.x1, d.y1), (d.x2, d.y1), (d.x2, d.y2), (d.x1, d.y2))


def polygon_iou(a: Det, b: Det) -> float:
    """IoU of two objects: box IoU for two plain boxes, else filled-mask IoU (upstream
    polygons.py:211). The masks are drawn on the window that holds both shapes: upstream's
    canvas is at least as large and only ever clips negative coordinates, which the window
    clips the same way."""
    if not a.polygon and not b.polygon:
        return float(box_iou_matrix([a], [b])[0, 0])
    pa, pb = np.array(_points(a), np.int32), np.array(_points(b), np.int32)
    both = np.concatenate([pa, pb])
    x0, y0 = max(0, int(both[:, 0].min())), max(0, int(both[:, 1].min()))
    w = max(1, int(both[:, 0].max()) + 1 - x0)
    h = max(1, int(both[:, 1].max()) + 1 - y0)
    ma, mb = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    cv2.fillPoly(ma, [pa - [x0, y0]], 1)
    cv2.fillPoly(mb, [pb - [x0, y0]], 1)
    inter = int(np.count_nonzero(ma & mb))
    union = int(np.count_nonzero(ma | mb))
    if union == 0:
        return 1.0 if inter == 0 else 0.0
    return inter / union


def polygon_iou_matrix(a: Sequence[Det], b: Sequence[Det]) -> np.ndarray:
    M = box_iou_matrix(a, b)
    if any(d.polygon for d in a) or any(d.polygon for d in b):
        for i, da in enumerate(a):
            for j, db in enumerate(b):
                if da.polygon or db.polygon:
                    M[i, j] = polygon_iou(da, db)
    return M


# --- F1 of an optimal assignment -------------------------------------------------------------------

def f1_at(iou: np.ndarray | None, n_ref: int, n_pred: int, thresholds: Iterable[float],
          same: np.ndarray | None = None) -> list[float]:
    """F1 at each threshold from one Hungarian assignment on float32 -IoU (upstream `_hungarian_f1`).
    `same` (bool N x M) zeroes pairs whose labels differ (the label-strict variant)."""
    ts = list(thresholds)
    if n_ref == 0 and n_pred == 0:
        return [1.0] * len(ts)
    if n_ref == 0 or n_pred == 0:
        return [0.0] * len(ts)
    cost = -(iou if same is None else np.where(same, iou, 0.0)).astype(np.float32)
    rows, cols = linear_sum_assignment(cost)
    sim = -cost[rows, cols]
    out = []
    for t in ts:
        tp = int(np.count_nonzero(sim >= np.float32(t)))
        fp, fn = n_pred - tp, n_ref - tp
        denom = 2 * tp + fp + fn
        out.append((2 * tp) / denom if denom > 0 else 1.0)
    return out


def _project_reference(refs: list[Det], frame: ReadFrame | None) -> list[Det]:
    """Each reference as the miner's geometry for its label asks (upstream polygons.py:112)."""
    modes: dict[str, set[str]] = {}
    for d in frame.bboxes if frame else []:
        if d.label.strip().lower():
            modes.setdefault(d.label.strip().lower(), set()).add("bboxes")
    for d in frame.polygons if frame else []:
        if d.label.strip().lower():
            modes.setdefault(d.label.strip().lower(), set()).add("polygons")
    out = []
    for r in refs:
        m = modes.get(r.label.strip().lower())
        mode = ("mixed" if len(m) == 2 else next(iter(m))) if m else ("mixed" if modes else "bboxes")
        if mode == "bboxes":
            out.append(Det(r.x1, r.y1, r.x2, r.y2, r.label, r.score, r.team, None))
        elif mode == "polygons":
            out.append(Det(r.x1, r.y1, r.x2, r.y2, r.label, r.score, r.team, _points(r)))
        else:
            out.append(r)
    return out


def _named(dets: Iterable[Det]) -> list[Det]:
    return [d for d in dets if d.label.strip().lower()]


def palette_f1(ref: Sequence[Det], pred: Sequence[Det]) -> float:
    """Team F1 on players, best of the two team-to-colour mappings (upstream objects.py:373)."""
    rp = [d for d in ref if d.label == "player"]
    pp = [d for d in pred if d.label == "player"]
    if not rp and not pp:
        return 1.0
    if not rp or not pp:
        return 0.0
    top2 = [c for c, _ in Counter(d.team for d in rp).most_common(2)]
    if len(top2) == 1:
        top2.append(OTHER)
    ca, cb = top2
    iou = box_iou_matrix(rp, pp)
    ref_team = [d.team for d in rp]
    best = 0.0
    for one, two in ((ca, cb), (cb, ca)):
        mapped = [one if d.team == TEAM1 else two if d.team == TEAM2 else OTHER for d in pp]
        same = np.array([[r == m for m in mapped] for r in ref_team], dtype=bool)
        v = f1_at(iou, len(rp), len(pp), AUC_THRESHOLDS, same)
        best = max(best, sum(v) / len(v))
    return best


@dataclass
class FrameRow:
    """Per-frame pillar values on one reference frame, with the object counts behind them."""

    frame_id: int
    values: dict[str, float]
    n_ref: int
    n_pred: int


def frame_row(ref: RefFrame, frame: ReadFrame | None, pillars: Iterable[str]) -> FrameRow:
    """iou, count, palette, role (those asked for) on one reference frame."""
    want = set(pillars)
    vals: dict[str, float] = {}
    preds_all = frame.all if frame else []
    if want & {"iou", "count"}:
        r = _named(_project_reference(ref.dets, frame))
        p = _named(preds_all)
        iou = polygon_iou_matrix(r, p) if r and p else None
        f03, f05 = f1_at(iou, len(r), len(p), AUC_THRESHOLDS)
        if "iou" in want:
            vals["iou"] = (f03 + f05) / 2
        if "count" in want:
            vals["count"] = f03
    if want & {"palette", "role"}:
        pal = palette_f1(ref.dets, preds_all)
        vals["palette"] = pal
        if "role" in want:
            iou = box_iou_matrix(ref.dets, preds_all) if ref.dets and preds_all else None
            same = np.array([[r.label == p.label for p in preds_all] for r in ref.dets], dtype=bool) \
                if iou is not None else None
            c = f1_at(iou, len(ref.dets), len(preds_all), AUC_THRESHOLDS, same)
            vals["role_class"] = sum(c) / len(c)   # role = (mean of these + mean palette) / 2, in that order
            vals["role"] = (vals["role_class"] + pal) / 2
    return FrameRow(ref.frame_id, vals, len(ref.dets), len(preds_all))


# --- detection metrics: greedy matching with the adaptive threshold ---------------------------------

def adaptive_iou_threshold(box: tuple[float, float, float, float], width: int | None, height: int | None) -> float:
    """The IoU a match with this reference box needs (upstream polygons.py:461): interpolated on
    log10(box area / image area) between the anchors, flat from 1% to 5%, clamped at the ends.

    >>> round(adaptive_iou_threshold((0, 0, 32, 32), 1000, 1000), 4)
    0.3479
    """
    w, h = width or CANVAS_W, height or CANVAS_H
    x1, y1, x2, y2 = box
    ratio = (max(0.0, x2 - x1) * max(0.0, y2 - y1)) / max(1, h * w)
    r_min, _ = ADAPTIVE_IOU_ANCHORS[0]
    r_max, t_max = ADAPTIVE_IOU_ANCHORS[-1]
    ratio = max(r_min, min(r_max, ratio))
    for (r0, t0), (r1, t1) in zip(ADAPTIVE_IOU_ANCHORS, ADAPTIVE_IOU_ANCHORS[1:]):
        if r0 <= ratio <= r1:
            if t0 == t1:
                return t0
            frac = (math.log10(ratio) - math.log10(r0)) / (math.log10(r1) - math.log10(r0))
            return t0 + (t1 - t0) * frac
    return t_max


def _safe_score(d: Det) -> float:
    s = d.score
    if s is None or not math.isfinite(s):
        return 1.0
    return float(s)


@dataclass
class FrameDetections:
    """One reference frame's greedy matching: per class, (confidence, matched) in ranking order,
    and the number of references. Matching is per frame, so windows reuse these."""

    frame_id: int
    preds: dict[str, list[tuple[float, bool]]] = field(default_factory=dict)
    n_ref: dict[str, int] = field(default_factory=dict)
    #: per class, in ranking order: (prediction, the reference it matched or None); and the
    #: references as compared (reports draw false positives and misses from these)
    pairs: dict[str, list[tuple[Det, Det | None]]] = field(default_factory=dict)
    refs: dict[str, list[Det]] = field(default_factory=dict)

    @property
    def tp(self) -> int:
        return sum(m for v in self.preds.values() for _, m in v)

    @property
    def fp(self) -> int:
        return sum(not m for v in self.preds.values() for _, m in v)

    @property
    def n_refs(self) -> int:
        return sum(self.n_ref.values())


def frame_detections(ref: RefFrame, frame: ReadFrame | None) -> FrameDetections:
    out = FrameDetections(ref.frame_id)
    refs = [d for d in _project_reference(ref.dets, frame) if d.label.strip().lower()]
    preds = [d for d in (frame.all if frame else []) if d.label.strip().lower()]
    by_cls_ref: dict[str, list[Det]] = {}
    for d in refs:
        by_cls_ref.setdefault(d.label.strip().lower(), []).append(d)
    by_cls_pred: dict[str, list[Det]] = {}
    for d in preds:
        by_cls_pred.setdefault(d.label.strip().lower(), []).append(d)
    for cls in set(by_cls_ref) | set(by_cls_pred):
        rs = by_cls_ref.get(cls, [])
        out.n_ref[cls] = len(rs)
        ps = sorted(by_cls_pred.get(cls, []), key=_safe_score, reverse=True)
        iou = polygon_iou_matrix(ps, rs) if ps and rs else np.zeros((len(ps), len(rs)))
        need = [adaptive_iou_threshold(r.box, ref.width, ref.height) for r in rs]
        matched = [False] * len(rs)
        flags, pairs = [], []
        for i, p in enumerate(ps):
            best, best_iou = -1, 0.0
            for j in range(len(rs)):
                if not matched[j] and iou[i, j] > best_iou:
                    best, best_iou = j, iou[i, j]
            ok = bool(best >= 0 and best_iou >= need[best])
            if ok:
                matched[best] = True
            flags.append((_safe_score(p), ok))
            pairs.append((p, rs[best] if ok else None))
        out.preds[cls] = flags
        out.pairs[cls] = pairs
        out.refs[cls] = rs
    return out


def average_precision(flags: Sequence[bool], n_ref: int) -> float:
    """VOC all-point AP of ranked match flags (upstream polygons.py:135, same float arithmetic)."""
    if not flags:
        return 0.0
    recalls, precisions = [], []
    tp = fp = 0
    for f in flags:
        tp += f
        fp += not f
        recalls.append(tp / n_ref)
        precisions.append(tp / (tp + fp))
    mrec = [0.0] + recalls + [1.0]
    mpre = [0.0] + precisions + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    area = 0.0
    for i in range(len(mrec) - 1):
        delta = mrec[i + 1] - mrec[i]
        if delta > 0:
            area += delta * mpre[i + 1]
    return float(area)


def detection_metrics(frames: Sequence[FrameDetections]) -> dict[str, float]:
    """map50, precision, recall, false_positive over these frames, plus per-class AP and counts."""
    if not frames:
        return {"map50": 0.0, "precision": 0.0, "recall": 0.0, "false_positive": 0.0}
    classes = sorted({c for f in frames for c in (*f.preds, *f.n_ref)})
    aps, per_class = [], {}
    tp = fp = n_gt = 0
    for cls in classes:
        ranked = [pair for f in frames for pair in f.preds.get(cls, [])]
        ranked.sort(key=lambda pr: pr[0], reverse=True)   # stable: frame order, then confidence order
        flags = [m for _, m in ranked]
        n = sum(f.n_ref.get(cls, 0) for f in frames)
        tp += sum(flags)
        fp += len(flags) - sum(flags)
        n_gt += n
        if n > 0:
            per_class[cls] = average_precision(flags, n)
            aps.append(per_class[cls])
        else:
            per_class[cls] = 0.0
    ffpi = fp / len(frames)
    return {"map50": float(sum(aps) / len(aps)) if aps else 0.0,
            "precision": tp / (tp + fp) if tp + fp > 0 else 0.0,
            "recall": tp / n_gt if n_gt > 0 else 0.0,
            "false_positive": max(0.0, 1.0 - ffpi / 10.0),
            "per_class_ap": per_class, "tp": tp, "fp": fp, "n_ref": n_gt}


# --- smoothness -----------------------------------------------------------------------------------

def _canvas_rect(d: Det) -> tuple[int, int, int, int] | None:
    """The rectangle `mask[y1:y2, x1:x2] = 1` paints on the 540 x 960 canvas (None: nothing)."""
    ys, ye, _ = slice(d.y1, d.y2).indices(CANVAS_H)
    xs, xe, _ = slice(d.x1, d.x2).indices(CANVAS_W)
    if ye <= ys or xe <= xs:
        return None
    return ys, ye, xs, xe


def _union_iou(ra: list, rb: list) -> float:
    """IoU of two painted unions of rectangles, on the window that holds them all."""
    rects = ra + rb
    if not rects:
        return 1.0
    y0, y1 = min(r[0] for r in rects), max(r[1] for r in rects)
    x0, x1 = min(r[2] for r in rects), max(r[3] for r in rects)
    a = np.zeros((y1 - y0, x1 - x0), bool)
    b = np.zeros_like(a)
    for m, rs in ((a, ra), (b, rb)):
        for ys, ye, xs, xe in rs:
            m[ys - y0:ye - y0, xs - x0:xe - x0] = True
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def smoothness(frames: dict[int, ReadFrame]) -> tuple[float, dict[str, float]]:
    """The smoothness pillar and its per-group scores (groups named `label_team`)."""
    groups: dict[str, list[list]] = {}
    for fid in sorted(frames):
        by: dict[str, list] = {}
        for d in frames[fid].bboxes:
            key = f"{d.label}_{d.team if d.team else 'null'}"
            rect = _canvas_rect(d)
            by.setdefault(key, [])
            if rect is not None:
                by[key].append(rect)
        for key, rects in by.items():
            groups.setdefault(key, []).append(rects)
    scores: dict[str, float] = {}
    for key, seq in groups.items():
        ious = [_union_iou(seq[i], seq[i + 1]) for i in range(len(seq) - 1)]
        if len(ious) < 2:
            scores[key] = 0.0
            continue
        mean = sum(ious) / len(ious)
        jerk = sum(abs(ious[i + 1] - ious[i]) for i in range(len(ious) - 1)) / (len(ious) - 1)
        scores[key] = mean / (1 + jerk)
    return (sum(scores.values()) / len(scores) if scores else 0.0), scores
