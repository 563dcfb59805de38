"""The keypoint metric of today's validator: floor-markings alignment, one frame at a time.

Usage: `score_frame(frame_bgr, keypoints)` -> KeypointScore(score, rule, detail, n_visible)

The validator (upstream scorevision/vlm_pipeline/non_vlm_scoring/keypoints.py at ea7412f,
`evaluate_keypoints_for_frame`) fits a homography from the template keypoints to the miner's,
warps the pitch template onto the frame and asks how much of the expected white lines it
*sees* there (top-hat + Canny of the frame, inside the projected ground). It is the
PitchCalib element's `iou` pillar and the PlayerDetect element's `keypoints_iou` pillar
(registered under both names). Several steps zero the frame outright; miners lose points to
those rules without seeing why, so every zero here carries the rule that caused it.

Checked against ea7412f: the earlier "degenerate subset near an edge" rule (its blacklist is
still defined upstream but no longer called) and the "ground is a rectangle" rule (computed,
unused) are gone; the twist test is upstream's `is_bowtie` (ccw comparisons on the float32
corners BL, BR, TR, TL), applied after the warp; the line-width test refuses any projected
line blob whose bounding box is square (`has_a_wide_line`, aspect ratio >= 1).

Exactness (checked by bench/parity_upstream.py against upstream's own functions): the same
number as the validator needs the validator's OpenCV, 4.12.0.88 (upstream uv.lock at ea7412f).
`findHomography` and `warpPerspective` changed in OpenCV 5 (a warped template differs in
thousands of pixels by up to 7 grey levels), which moves an element's keypoint score by up to
0.17 on random answers (a zeroing rule flips); the kit pins 4.12.0.88 (pyproject.toml) and
`tests/test_evaluate_keypoints.py` fails when another OpenCV is installed. With the same OpenCV
the kit and upstream agree exactly (max difference 0 over 600 random answers).
Keypoint values are used as sent: a string or None where a number belongs makes upstream's
comparisons raise inside its try, so the frame scores 0 (rule "error"), never float("12").

The frame's seen-line edges depend on the frame alone, so `seen_edges` is split out, and it is
the costly part: `score_keypoints` takes the edges or a function that makes them, and calls it
only for frames that no earlier rule zeroed (a zero is a zero, whichever rule comes first).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..pitch import KEYPOINTS, N_KEYPOINTS, render_template

TWIST_CORNERS = (6, 30, 25, 1)  # bottom-left, bottom-right, top-right, top-left (upstream KEYPOINT_TEMPLATES)

_TOPHAT_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (31, 31))
_DILATE_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))

# Rule names, in the order the validator applies them.
RULES = (
    "no_frame", "keypoint_count", "too_few_points", "no_homography", "twisted", "ground_empty", "ground_split",
    "ground_too_large", "lines_empty_or_full", "wide_line", "lines_too_small", "spread_too_wide",
    "mostly_unexpected_lines", "error",
)
UPSTREAM_OPENCV = "4.12.0"  # the OpenCV validators score with (opencv-python 4.12.0.88, upstream uv.lock)


@dataclass(frozen=True)
class KeypointScore:
    score: float
    rule: str | None = None     # which rule zeroed the frame (None: scored normally)
    detail: str = ""            # the rule in words, with the numbers that tripped it
    n_visible: int = 0

    @property
    def zeroed(self) -> bool:
        return self.rule is not None


def _zero(rule: str, detail: str, n_visible: int = 0) -> KeypointScore:
    return KeypointScore(0.0, rule, detail, n_visible)


def seen_edges(frame_bgr: np.ndarray) -> np.ndarray:
    """Step 7 up to the ground mask: top-hat 31x31, Gaussian 5x5, Canny 30/100 (uint8 0/255)."""
    grey = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    tophat = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, _TOPHAT_KERNEL)
    blur = cv2.GaussianBlur(tophat, (5, 5), 0)
    return cv2.Canny(blur, 30, 100)


def _ccw(a, b, c) -> bool:
    return (c[1] - a[1]) * (b[0] - a[0]) > (b[1] - a[1]) * (c[0] - a[0])


def _intersect(p1, p2, q1, q2) -> bool:
    return (_ccw(p1, q1, q2) != _ccw(p2, q1, q2)) and (_ccw(p1, p2, q1) != _ccw(p1, p2, q2))


def is_bowtie(corners: np.ndarray) -> bool:
    """Upstream `is_bowtie`: edges BL-BR and TR-TL, or BR-TR and TL-BL, intersect."""
    p = corners.reshape(-1, 2)
    return _intersect(p[0], p[1], p[2], p[3]) or _intersect(p[1], p[2], p[3], p[0])


EdgesArg = np.ndarray | Callable[[], np.ndarray] | None


def score_keypoints(keypoints, width: int, height: int, edges: EdgesArg,
                    template: np.ndarray | None = None) -> KeypointScore:
    """Score one frame's keypoints given the frame's `seen_edges`, or a function returning them
    (called only when needed); None means the video has no such frame."""
    try:
        return _score(keypoints, width, height, edges, template)
    except Exception as e:  # any exception inside a frame makes that frame 0, not the clip
        return _zero("error", f"{type(e).__name__}: {e}")


def score_frame(frame_bgr: np.ndarray | None, keypoints, template: np.ndarray | None = None) -> KeypointScore:
    """Steps 1-11 on one decoded frame (None when the video has no such frame)."""
    if frame_bgr is None:
        return _zero("no_frame", "the video has no frame with this id")
    h, w = frame_bgr.shape[:2]
    return score_keypoints(keypoints, w, h, lambda: seen_edges(frame_bgr), template)


def _homography(pts: np.ndarray, visible: np.ndarray) -> np.ndarray | None:
    Hm, _ = cv2.findHomography(KEYPOINTS[visible].astype(np.float32), pts[visible].astype(np.float32))
    return Hm


def _warp_masks(Hm: np.ndarray, W: int, H: int, template: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(ground, lines) of the template warped onto the frame: grey > 10 and grey > 200, uint8 0/1."""
    tpl = render_template() if template is None else template
    grey = cv2.cvtColor(cv2.warpPerspective(tpl, Hm, (W, H)), cv2.COLOR_BGR2GRAY)
    _, ground = cv2.threshold(grey, 10, 1, cv2.THRESH_BINARY)   # 1 where grey > 10
    _, lines = cv2.threshold(grey, 200, 1, cv2.THRESH_BINARY)   # 1 where grey > 200
    return ground, lines


def _seen_lines(edges: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """Edges inside the ground, dilated 3 x 3 three times (uint8 0/255)."""
    seen = cv2.bitwise_and(edges, edges, mask=ground)
    return cv2.dilate(seen, _DILATE_KERNEL, iterations=3)


def line_masks(frame_bgr: np.ndarray, keypoints, template: np.ndarray | None = None) -> dict[str, np.ndarray] | None:
    """The metric's masks on one frame, for pictures: `expected` lines, `seen` lines, `ground`
    (booleans, frame-sized). None when the keypoints give no homography (fewer than 4 visible)."""
    h, w = frame_bgr.shape[:2]
    pts = np.array([[float(p[0]), float(p[1])] for p in keypoints], dtype=np.float64).reshape(-1, 2)
    if len(pts) != N_KEYPOINTS:
        return None
    inside = (pts[:, 0] >= 0) & (pts[:, 1] >= 0) & (pts[:, 0] < w) & (pts[:, 1] < h)
    visible = inside & ~((pts[:, 0] == 0) & (pts[:, 1] == 0))
    Hm = _homography(pts, visible) if visible.sum() >= 4 else None
    if Hm is None:
        return None
    ground, lines = _warp_masks(Hm, w, h, template)
    return {"expected": lines > 0, "seen": _seen_lines(seen_edges(frame_bgr), ground) > 0, "ground": ground > 0}


def _visible_points(keypoints, W: int, H: int) -> tuple[np.ndarray, np.ndarray] | KeypointScore:
    """Rules 1-2: exactly 32 pairs of numbers; out-of-frame points become (0, 0); visible = not (0, 0).
    The points and the visible mask, or the zero score of a wrong count."""
    if not isinstance(keypoints, (list, tuple, np.ndarray)) or len(keypoints) != N_KEYPOINTS:
        n = len(keypoints) if hasattr(keypoints, "__len__") else "no"
        return _zero("keypoint_count", f"{n} keypoints instead of {N_KEYPOINTS}")
    pairs = [(x, y) for x, y in keypoints]  # upstream unpacks (x, y) (keypoints.py:258)
    bad = next(((x, y) for x, y in pairs if not all(isinstance(v, numbers.Real) for v in (x, y))), None)
    if bad is not None:  # upstream compares x < 0 on the value as sent: a string or None raises, the frame is 0
        raise TypeError(f"keypoint {list(bad)!r} is not a pair of numbers")
    pts = np.array(pairs, dtype=np.float64)
    zero = (pts[:, 0] == 0) & (pts[:, 1] == 0)
    outside = ~zero & ((pts[:, 0] < 0) | (pts[:, 1] < 0) | (pts[:, 0] >= W) | (pts[:, 1] >= H))
    pts[outside] = 0.0
    return pts, ~(zero | outside)


def _projection_zero(ground: np.ndarray, lines: np.ndarray, W: int, H: int, n_vis: int) -> KeypointScore | None:
    """Rules 6 and 8 on the warped template: the projected ground and lines must be sane and the expected
    lines span enough of the frame. The zero score of the first rule broken, else None."""
    n_ground = cv2.countNonZero(ground)
    if n_ground == 0:
        return _zero("ground_empty", "the projected pitch does not reach the frame", n_vis)
    n_cc, _ = cv2.connectedComponents(ground, connectivity=8)
    if n_cc - 1 > 1:
        return _zero("ground_split", f"the projected ground falls apart into {n_cc - 1} pieces", n_vis)
    cover = n_ground / float(W * H)
    if cover >= 0.9:
        return _zero("ground_too_large", f"the projected ground covers {cover:.0%} of the frame (limit 90%)", n_vis)
    n_lines = cv2.countNonZero(lines)
    if n_lines == 0 or n_lines == W * H:
        return _zero("lines_empty_or_full", f"the projected line mask is {'empty' if n_lines == 0 else 'full'}", n_vis)
    contours, _ = cv2.findContours(lines, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for cnt in contours:
        _, _, cw, ch = cv2.boundingRect(cnt)
        if min(cw, ch) / max(cw, ch) >= 1:
            return _zero("wide_line", f"a projected line blob has a square {cw} x {ch} bounding box (a line "
                         "seen too wide)", n_vis)
    # 8. the expected lines must span enough of the frame ((max - min) on each axis)
    _, _, lw, lh = cv2.boundingRect(lines)
    span = (lw - 1) * (lh - 1) / float(W * H)
    if span < 0.2:
        return _zero("lines_too_small", f"the expected lines span {span:.0%} of the frame (minimum 20%)", n_vis)
    return None


def _score(keypoints, W: int, H: int, edges: EdgesArg, template: np.ndarray | None) -> KeypointScore:
    # 1-2. the frame, exactly 32 points, the visible ones
    if edges is None:
        return _zero("no_frame", "the video has no frame with this id")
    got = _visible_points(keypoints, W, H)
    if isinstance(got, KeypointScore):
        return got
    pts, visible = got
    n_vis = int(np.count_nonzero(visible))

    # 3. at least 4 visible points for a homography (upstream raises, the frame scores 0)
    if n_vis < 4:
        return _zero("too_few_points", f"{n_vis} visible keypoints, at least 4 are needed", n_vis)

    # 4. homography over the visible points, template warped onto the frame
    Hm = _homography(pts, visible)
    if Hm is None:
        return _zero("no_homography", "OpenCV found no homography for these points", n_vis)

    # 5. twist: the projected pitch corners must not fold over
    corners = KEYPOINTS[[i - 1 for i in TWIST_CORNERS]].astype(np.float32)[None, :, :]
    c = cv2.perspectiveTransform(corners, Hm)[0]
    if is_bowtie(c):
        return _zero("twisted", "the projected pitch is twisted (opposite sides of the corner quadrilateral cross)",
                     n_vis)

    # 6 and 8. sanity of the projected ground and lines, and their span
    ground, lines = _warp_masks(Hm, W, H, template)
    zeroed = _projection_zero(ground, lines, W, H, n_vis)
    if zeroed is not None:
        return zeroed
    n_lines = cv2.countNonZero(lines)

    # 9. visible points must not spread absurdly
    vx, vy = pts[visible, 0], pts[visible, 1]
    if vx.max() - vx.min() > 2 * W or vy.max() - vy.min() > 2 * H:
        return _zero("spread_too_wide", "the visible keypoints spread over more than twice the frame", n_vis)

    # 7. lines seen in the frame, inside the projected ground (computed only now: rules 8 and 9
    # do not need them, and the frame's edges are the costly part)
    if callable(edges):
        edges = edges()
    seen = _seen_lines(edges, ground)
    n_seen = cv2.countNonZero(seen)
    hit = cv2.countNonZero(cv2.bitwise_and(seen, seen, mask=lines))

    # 10. most of what is seen must not be off the expected lines
    n_union = n_seen + n_lines - hit
    rest = n_seen - hit
    if n_union == 0 or rest / n_union > 0.9:
        share = rest / n_union if n_union else 0.0
        return _zero("mostly_unexpected_lines",
                     f"{share:.0%} of the seen and expected line pixels are seen lines off the expected ones "
                     "(limit 90%)",
                     n_vis)

    # 11. the share of expected line pixels that are seen
    return KeypointScore(hit / (n_lines + 1e-8), None, "", n_vis)
