"""Is a pitch keypoint dataset in the template's order? The pitch's own geometry says so.

Usage: `rep = check_keypoint_order(instances)` with one (32, 3) array per labelled frame, in
pixels (x, y, v); then `rep.verdict` ("ok", "swapped", "mirrored", "wrong", "unchecked") and
`rep.message`. `apply_order(kpts, swaps=[(13, 14)], mirror=False)` fixes a known permutation.

Decisions a reader should know about:

- **One plane, one homography.** Every labelled point of a frame lies on the pitch plane, so a
  single homography maps them onto the template keypoints (`kit.pitch.KEYPOINTS`) up to label
  noise. Residuals are measured in template pixels (1 px = 10 cm on the 105 m pitch), so wide
  and zoomed views count alike. Labels in the template's order reproject within a few pixels;
  a permuted order cannot be fitted and leaves tens of pixels.
- **The fit** goes frame -> template with RANSAC (`RANSAC_PX`), and a frame's error is the mean
  residual of all its labelled points under that fit: RANSAC ignores the wrong points, so they
  stand out. Frames with fewer than `MIN_POINTS` labelled points are not judged (four points
  always fit exactly; five hardly constrain).
- **Naming the swap.** Keypoint ids whose median residual over the frames is large are
  suspects; every exchange of two suspects (or of a lone suspect with any other id) is tried
  and the one that brings the dataset's median error lowest is named.
- **Mirrors.** A camera never sees a mirror image, and a left-right mirrored order (ids
  exchanged by `kit.pitch.FLIP_IDX`) fits perfectly, but only with a homography that reverses
  orientation: most fits reversing orientation means a mirrored order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ..pitch import FLIP_IDX, KEYPOINT_NAMES, KEYPOINTS

Verdict = str  # one of VERDICTS
VERDICTS = ("ok", "swapped", "mirrored", "wrong", "unchecked")
MIN_POINTS = 6          # labelled points a frame needs to be judged
MIN_FRAMES = 5          # judged frames the dataset needs for a verdict
RANSAC_PX = 15.0        # template px (1.5 m)
OK_PX = 8.0             # dataset median error at or below this: the order is right (template px)
SUSPECT_PX = 25.0       # a keypoint id whose median residual exceeds this is a suspect


@dataclass
class OrderReport:
    """What the geometry says about the keypoint order of a dataset."""

    verdict: Verdict
    message: str
    frames_checked: int
    median_error: float | None = None          # template px, median over judged frames
    mirrored_share: float | None = None        # share of judged frames whose fit reverses orientation
    swap: tuple[int, int] | None = None        # 1-based ids, for "swapped"
    error_after_swap: float | None = None
    per_keypoint: dict[int, float] = field(default_factory=dict)  # id -> median residual (template px)
    worst_frames: list[tuple[str, float]] = field(default_factory=list)  # (name, mean residual) of the worst

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "message": self.message, "frames_checked": self.frames_checked,
                "median_error_template_px": _round(self.median_error),
                "mirrored_share": _round(self.mirrored_share), "swap": list(self.swap) if self.swap else None,
                "error_after_swap_template_px": _round(self.error_after_swap),
                "worst_frames": [[n, _round(e)] for n, e in self.worst_frames]}


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 2)


def apply_order(kpts: np.ndarray, swaps: Iterable[tuple[int, int]] = (), mirror: bool = False) -> np.ndarray:
    """Keypoints (..., K, D) with ids exchanged: each (a, b) of `swaps` (1-based), then the
    left-right mirror (`FLIP_IDX`) when `mirror`. Both are their own inverse."""
    out = np.array(kpts, copy=True)
    for a, b in swaps:
        out[..., [a - 1, b - 1], :] = out[..., [b - 1, a - 1], :]
    if mirror:
        out = out[..., list(FLIP_IDX), :]
    return out


@dataclass
class _Fit:
    residuals: np.ndarray   # per labelled point, template px
    ids: np.ndarray         # 0-based ids of those points
    reversed: bool

    @property
    def error(self) -> float:
        return float(self.residuals.mean())


def _fit(kpts: np.ndarray) -> _Fit | None:
    vis = kpts[:, 2] > 0
    if vis.sum() < MIN_POINTS:
        return None
    src = kpts[vis, :2].astype(np.float64)
    dst = KEYPOINTS[vis]
    H, _ = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX)
    if H is None or not np.isfinite(H).all() or abs(np.linalg.det(H)) < 1e-12:
        return None
    proj = cv2.perspectiveTransform(src[None], H)[0]
    res = np.linalg.norm(proj - dst, axis=1)
    c = src.mean(axis=0)
    tri = cv2.perspectiveTransform(np.array([[c, c + (10, 0), c + (0, 10)]], np.float64), H)[0]
    (ax, ay), (bx, by) = tri[1] - tri[0], tri[2] - tri[0]
    return _Fit(res, np.flatnonzero(vis), bool(ax * by - ay * bx < 0))


def _median_error(instances: Sequence[np.ndarray]) -> tuple[float | None, list[_Fit | None]]:
    fits = [_fit(k) for k in instances]
    errs = [f.error for f in fits if f is not None]
    return (float(np.median(errs)) if errs else None), fits


def _per_keypoint(fits: Iterable[_Fit | None]) -> dict[int, float]:
    """1-based id -> median residual over the judged frames where it is labelled."""
    per: dict[int, list[float]] = {}
    for f in fits:
        if f is not None:
            for i, r in zip(f.ids, f.residuals):
                per.setdefault(int(i) + 1, []).append(float(r))
    return {i: float(np.median(v)) for i, v in sorted(per.items())}


def _name(i: int) -> str:
    return f"{i} ({KEYPOINT_NAMES[i]})"


def check_keypoint_order(instances: Sequence[np.ndarray], names: Sequence[str] | None = None) -> OrderReport:
    """Judge the keypoint order of labelled frames from the pitch's geometry.

    Args:
        instances: one (32, 3) array per labelled frame: x, y in pixels of the (restored) frame,
            v > 0 for labelled points (v = 0 points are ignored).
        names: a name per instance (its image file) for the list of worst frames.
    Returns:
        An `OrderReport`; `verdict` "ok" when the order fits, "swapped" with `swap` the two ids
        (1-based) that fit once exchanged, "mirrored" for a left-right mirror image, "wrong"
        when no single exchange explains it, "unchecked" with too few judged frames.

    Example:
        >>> rep = check_keypoint_order(kpts_per_frame)          # doctest: +SKIP
        >>> rep.verdict, rep.swap                                # doctest: +SKIP
        ('swapped', (13, 14))
    """
    inst = [np.asarray(k, dtype=np.float64) for k in instances]
    names = list(names) if names is not None else [f"#{i}" for i in range(len(inst))]
    median, fits = _median_error(inst)
    judged = [(n, f) for n, f in zip(names, fits) if f is not None]
    if len(judged) < MIN_FRAMES:
        return OrderReport("unchecked", f"keypoint order not checked: only {len(judged)} frame(s) have "
                           f"{MIN_POINTS}+ labelled points (need {MIN_FRAMES})", len(judged))
    per_med = _per_keypoint(fits)
    mirrored = float(np.mean([f.reversed for _, f in judged]))
    worst = sorted(((n, f.error) for n, f in judged), key=lambda t: -t[1])[:5]
    rep = OrderReport("ok", "", len(judged), median, mirrored, per_keypoint=per_med, worst_frames=worst)
    if mirrored > 0.5:
        rep.verdict = "mirrored"
        rep.message = (f"keypoint order is a mirror image of the template's: {mirrored:.0%} of {len(judged)} frames "
                       "fit only with a mirrored pitch, which no camera sees; the ids are likely exchanged left "
                       "for right (kit.pitch.FLIP_IDX): import with --mirror-keypoints")
        return rep
    if median <= OK_PX and max(per_med.values()) <= SUSPECT_PX:
        rep.message = (f"keypoint order fits the pitch: median reprojection error {median:.1f} template px "
                       f"({median / 10:.2f} m) over {len(judged)} frames")
        return rep
    return _name_swap(rep, inst, fits, per_med)


def _name_swap(rep: OrderReport, inst: list[np.ndarray], fits: list[_Fit | None],
               per_med: dict[int, float]) -> OrderReport:
    """Try exchanging two ids; the exchange that leaves the worst id fitting best is named."""
    suspects = [i for i, m in sorted(per_med.items(), key=lambda t: -t[1]) if m > SUSPECT_PX][:6]
    if not suspects:
        suspects = [max(per_med, key=per_med.get)]
    if len(suspects) >= 2:
        pairs = {tuple(sorted((a, b))) for a in suspects for b in suspects if a != b}
    else:
        pairs = {tuple(sorted((a, b))) for a in suspects for b in range(1, len(KEYPOINTS) + 1) if a != b}
    best: tuple[float, float, tuple[int, int]] | None = None
    for a, b in sorted(pairs):
        touched = [k[a - 1, 2] > 0 or k[b - 1, 2] > 0 for k in inst]  # only these frames change
        new = [_fit(apply_order(k, [(a, b)])) if t else f for k, f, t in zip(inst, fits, touched)]
        per = _per_keypoint(new)
        errs = [f.error for f in new if f is not None]
        if not per or not errs:
            continue
        cand = (max(per.values()), float(np.median(errs)), (a, b))
        if best is None or cand[:2] < best[:2]:
            best = cand
    worst_id = max(per_med, key=per_med.get)
    base = (f"keypoint order does not fit the pitch: median reprojection error {rep.median_error:.1f} template px "
            f"({rep.median_error / 10:.1f} m) over {rep.frames_checked} frames, keypoint {worst_id} off by "
            f"{per_med[worst_id]:.0f} px in the median")
    if best is not None and best[0] <= SUSPECT_PX:
        a, b = best[2]
        rep.verdict, rep.swap, rep.error_after_swap = "swapped", (a, b), best[1]
        rep.message = (f"{base}; keypoints {_name(a)} and {_name(b)} look swapped: exchanged, the median error is "
                       f"{best[1]:.1f} px and every id fits (worst id {best[0]:.1f} px); "
                       f"import with --swap-keypoints {a},{b}")
    else:
        rep.verdict = "wrong"
        worst = ", ".join(f"{i} ({m:.0f} px)" for i, m in sorted(per_med.items(), key=lambda t: -t[1])[:4])
        rep.message = (f"{base}, and no single exchange of two ids explains it; the worst-fitting ids: {worst}. "
                       "Check the order against `tvkit template --numbered`")
    return rep


__all__ = ["OrderReport", "VERDICTS", "apply_order", "check_keypoint_order"]
