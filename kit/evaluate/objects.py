"""Object metrics of SCORING.md: reading the miner's boxes, F1 by optimal matching, teams,
tracking stability. Every rule here is part of the validator's contract; the tests pin them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..contract import BALL, GOALKEEPER, PLAYER, PLAYER_TEAM1, PLAYER_TEAM2, REFEREE, GTBox

CANVAS_H, CANVAS_W = 540, 960  # the smoothness canvas is always this size, whatever the frame
NO_TEAM = None                 # the "no team" label, for ground truth and miner alike

_KNOWN_CLS = {BALL, GOALKEEPER, PLAYER, REFEREE, PLAYER_TEAM1, PLAYER_TEAM2}


@dataclass(frozen=True)
class Box:
    """A box as the scorer sees it: corners (ints for the miner's), object type 0-3, team 1, 2 or None."""

    x1: float
    y1: float
    x2: float
    y2: float
    otype: int
    team: int | None = None


class UnreadableBox(ValueError):
    pass


def _team_from_field(box: dict[str, Any]) -> int | None:
    raw = box.get("team")
    if raw is None or raw == "":
        raw = box.get("team_id")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise UnreadableBox(f"team {raw!r} is not a string")
    label = raw.strip().lower()
    if label in ("1", "team1"):
        return 1
    if label in ("2", "team2"):
        return 2
    return None


def read_box(box: Any) -> Box:
    """One miner box under the reading rules; raises UnreadableBox when the validator drops it."""
    if not isinstance(box, dict):
        raise UnreadableBox(f"not an object: {box!r}")
    try:
        cls = int(box["cls_id"])
    except (KeyError, TypeError, ValueError, OverflowError):
        cls = -1
    if cls == PLAYER_TEAM1:
        otype, team = PLAYER, 1
    elif cls == PLAYER_TEAM2:
        otype, team = PLAYER, 2
    elif cls in _KNOWN_CLS:
        otype, team = cls, _team_from_field(box)
    else:  # unreadable, missing or unknown: a player with no team
        otype, team = PLAYER, None
    try:
        x1, y1, x2, y2 = (int(box[k]) for k in ("x1", "y1", "x2", "y2"))
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise UnreadableBox(f"coordinates: {e}") from None
    return Box(x1, y1, x2, y2, otype, team)


def read_boxes(boxes: Any) -> list[Box]:
    """The readable boxes of one predicted frame (unreadable ones are dropped, not fatal)."""
    if not isinstance(boxes, list):
        return []
    out = []
    for b in boxes:
        try:
            out.append(read_box(b))
        except UnreadableBox:
            continue
    return out


def gt_boxes(boxes: Iterable[GTBox]) -> list[Box]:
    """Ground-truth boxes in the scorer's terms: corners as stored, type 0-3, team or None."""
    return [Box(b.x1, b.y1, b.x2, b.y2, b.cls_id, b.team) for b in boxes]


# --- IoU and F1 ---------------------------------------------------------------------------------

def _coords(boxes: Sequence[Box]) -> np.ndarray:
    return np.array([(b.x1, b.y1, b.x2, b.y2) for b in boxes], dtype=np.float64).reshape(-1, 4)


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """N x M IoU: intersection sides clamp at 0, areas use max(0, w) * max(0, h), 0 when the
    intersection is 0 or the union is not positive."""
    A, B = _coords(a), _coords(b)
    iw = np.clip(np.minimum(A[:, None, 2], B[None, :, 2]) - np.maximum(A[:, None, 0], B[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(A[:, None, 3], B[None, :, 3]) - np.maximum(A[:, None, 1], B[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = np.clip(A[:, 2] - A[:, 0], 0, None) * np.clip(A[:, 3] - A[:, 1], 0, None)
    area_b = np.clip(B[:, 2] - B[:, 0], 0, None) * np.clip(B[:, 3] - B[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where((inter > 0) & (union > 0), inter / np.where(union > 0, union, 1), 0.0)
    return iou


def f1_scores(gt: Sequence[Box], pred: Sequence[Box], thresholds: Sequence[float],
              gt_labels: Sequence[Any] | None = None, pred_labels: Sequence[Any] | None = None,
              iou: np.ndarray | None = None) -> list[float]:
    """F1 at each threshold from one optimal assignment (Hungarian, maximising total IoU).

    With labels, pairs whose labels differ have IoU 0 (the label-strict variant).
    """
    n, m = len(gt), len(pred)
    if n == 0 and m == 0:
        return [1.0] * len(thresholds)
    if n == 0 or m == 0:
        return [0.0] * len(thresholds)
    M = iou_matrix(gt, pred) if iou is None else iou
    if gt_labels is not None:
        same = np.array([[g == p for p in pred_labels] for g in gt_labels], dtype=bool)
        M = np.where(same, M, 0.0)
    rows, cols = linear_sum_assignment(M, maximize=True)
    matched = M[rows, cols]
    out = []
    for t in thresholds:
        tp = int((matched >= t).sum())
        fp, fn = m - tp, n - tp
        out.append(2 * tp / (2 * tp + fp + fn))
    return out


@dataclass
class FrameObjects:
    frame_id: int
    placement: float
    categorisation: float
    team: float
    enumeration: float
    n_gt: int
    n_pred: int


def team_labels(gt_players: Sequence[Box]) -> tuple[Any, Any]:
    """The two most frequent ground-truth team labels, in order (ties: first seen); 'no team' fills."""
    counts = Counter(b.team for b in gt_players)  # Counter keeps first-seen order among ties
    ranked = [label for label, _ in sorted(counts.items(), key=lambda kv: -kv[1])]
    first = ranked[0]
    second = ranked[1] if len(ranked) > 1 else NO_TEAM
    return first, second


def team_score(gt: Sequence[Box], pred: Sequence[Box]) -> float:
    gt_p = [b for b in gt if b.otype == PLAYER]
    pr_p = [b for b in pred if b.otype == PLAYER]
    if not gt_p and not pr_p:
        return 1.0
    if not gt_p or not pr_p:
        return 0.0
    first, second = team_labels(gt_p)
    iou = iou_matrix(gt_p, pr_p)
    gt_lab = [b.team for b in gt_p]
    best = 0.0
    for one, two in ((first, second), (second, first)):
        mapping = {1: one, 2: two, None: NO_TEAM}
        pr_lab = [mapping[b.team] for b in pr_p]
        s = f1_scores(gt_p, pr_p, (0.3, 0.5), gt_lab, pr_lab, iou=iou)
        best = max(best, sum(s) / 2)
    return best


def frame_objects(frame_id: int, gt: Sequence[Box], pred: Sequence[Box]) -> FrameObjects:
    iou = iou_matrix(gt, pred) if gt and pred else None
    f03, f05 = f1_scores(gt, pred, (0.3, 0.5), iou=iou)
    c03, c05 = f1_scores(gt, pred, (0.3, 0.5), [b.otype for b in gt], [b.otype for b in pred], iou=iou)
    return FrameObjects(frame_id, (f03 + f05) / 2, (c03 + c05) / 2, team_score(gt, pred), f03, len(gt), len(pred))


# --- tracking stability -------------------------------------------------------------------------

def _canvas_rect(b: Box) -> tuple[int, int, int, int] | None:
    """The absolute pixel rectangle `mask[y1:y2, x1:x2]` paints on the 540 x 960 canvas."""
    ys, ye, _ = slice(b.y1, b.y2).indices(CANVAS_H)
    xs, xe, _ = slice(b.x1, b.x2).indices(CANVAS_W)
    if ye <= ys or xe <= xs:
        return None
    return ys, ye, xs, xe


def _paint(rects: list[tuple[int, int, int, int]], y0: int, x0: int, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    for ys, ye, xs, xe in rects:
        m[ys - y0:ye - y0, xs - x0:xe - x0] = True
    return m


def _mask_iou(ra: list, rb: list) -> float:
    """IoU of the two painted masks, computed on the bounding window of their rectangles
    (pixels outside it are empty on both sides, so the result equals the full-canvas one)."""
    rects = ra + rb
    if not rects:
        return 1.0
    y0 = min(r[0] for r in rects)
    y1 = max(r[1] for r in rects)
    x0 = min(r[2] for r in rects)
    x1 = max(r[3] for r in rects)
    a = _paint(ra, y0, x0, y1 - y0, x1 - x0)
    b = _paint(rb, y0, x0, y1 - y0, x1 - x0)
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def tracking_stability(frames: dict[int, list[Box]]) -> tuple[float, dict[tuple[int, Any], float]]:
    """Mean over (object type, team) groups of mean(IoU) / (1 + jerkiness) between consecutive
    appearances of the group; returns the metric and the per-group scores."""
    groups: dict[tuple[int, Any], list[list]] = {}
    for fid in sorted(frames):
        by_group: dict[tuple[int, Any], list] = {}
        for b in frames[fid]:
            rect = _canvas_rect(b)
            by_group.setdefault((b.otype, b.team), [])
            if rect is not None:
                by_group[(b.otype, b.team)].append(rect)
        for key, rects in by_group.items():
            groups.setdefault(key, []).append(rects)
    scores: dict[tuple[int, Any], float] = {}
    for key, seq in groups.items():
        ious = [_mask_iou(seq[i], seq[i + 1]) for i in range(len(seq) - 1)]
        if len(ious) < 2:
            scores[key] = 0.0
            continue
        jerk = float(np.mean(np.abs(np.diff(ious))))
        scores[key] = float(np.mean(ious)) / (1.0 + jerk)
    metric = float(np.mean(list(scores.values()))) if scores else 0.0
    return metric, scores
