"""Pitch template geometry: the 32 keypoints, the 1050 x 680 template image, homographies.

Everything here lives in *template pixels*: the validator's pitch template is a 1050 x 680
image (x to the right along the touchline, y down from the far touchline), and the 32
keypoints of DESIGN.md are points of that image. A miner's keypoints are frame pixels; the
homography that maps the visible template keypoints onto them is what the validator uses to
warp the template onto the frame and score how well its lines land on the pitch markings.

The template is drawn here from geometry (lines, centre circle, penalty arcs and spots) so
the kit never ships the validator's image; `tests/test_pitch.py` checks the two agree.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

TEMPLATE_W, TEMPLATE_H = 1050, 680
N_KEYPOINTS = 32

GROUND_BGR = (0, 128, 0)
LINE_BGR = (255, 255, 255)

#: The 32 template keypoints, index = id - 1 (DESIGN.md).
KEYPOINTS = np.array(
    [
        (5, 5), (5, 140), (5, 250), (5, 430), (5, 540), (5, 675),
        (55, 250), (55, 430), (110, 340), (165, 140), (165, 270), (165, 410),
        (165, 540), (527, 5), (527, 253), (527, 433), (527, 675), (888, 140),
        (888, 270), (888, 410), (888, 540), (940, 340), (998, 250), (998, 430),
        (1045, 5), (1045, 140), (1045, 250), (1045, 430), (1045, 540), (1045, 675),
        (435, 340), (615, 340),
    ],
    dtype=np.float64,
)
KEYPOINTS.setflags(write=False)

#: What each keypoint is, by id (1-based), for drawings and error messages.
KEYPOINT_NAMES = {
    1: "top-left corner", 2: "left penalty box, top touch of goal line",
    3: "left goal area, top touch of goal line", 4: "left goal area, bottom touch of goal line",
    5: "left penalty box, bottom touch of goal line", 6: "bottom-left corner",
    7: "left goal area, top-right corner", 8: "left goal area, bottom-right corner",
    9: "left penalty spot", 10: "left penalty box, top-right corner",
    11: "left penalty arc meets box (top)", 12: "left penalty arc meets box (bottom)",
    13: "left penalty box, bottom-right corner", 14: "halfway line, top touchline",
    15: "centre circle meets halfway line (top)", 16: "centre circle meets halfway line (bottom)",
    17: "halfway line, bottom touchline", 18: "right penalty box, top-left corner",
    19: "right penalty arc meets box (top)", 20: "right penalty arc meets box (bottom)",
    21: "right penalty box, bottom-left corner", 22: "right penalty spot",
    23: "right goal area, top-left corner", 24: "right goal area, bottom-left corner",
    25: "top-right corner", 26: "right penalty box, top touch of goal line",
    27: "right goal area, top touch of goal line", 28: "right goal area, bottom touch of goal line",
    29: "right penalty box, bottom touch of goal line", 30: "bottom-right corner",
    31: "centre circle, left end", 32: "centre circle, right end",
}


# --- line geometry ---------------------------------------------------------------------
# Centres of the painted lines, measured on the validator's template image: its lines are
# 3 px wide (the touchlines a 9 px band cut by the image edge), so a line whose keypoints say
# x = 165 is painted on columns 163..165. Keypoints are what the validator fits; these
# primitives are what it paints.

@dataclass(frozen=True)
class Segment:
    a: tuple[float, float]
    b: tuple[float, float]


@dataclass(frozen=True)
class Arc:
    """A circle arc; angles in degrees, OpenCV's convention (clockwise on screen, 0 = +x)."""

    center: tuple[float, float]
    radius: float
    start: float = 0.0
    end: float = 360.0


@dataclass(frozen=True)
class Spot:
    center: tuple[float, float]
    radius: float


# OpenCV thickness values that paint those widths; circles are drawn at half-pixel precision.
LINE_THICKNESS = 2
BORDER_THICKNESS = 7
_SHIFT = 1

_BOX_TOP, _BOX_BOTTOM = 139, 540
_AREA_TOP, _AREA_BOTTOM = 249, 430
_HALF_X = 525
_CENTRE = (524.5, 339.5)
_CIRCLE_R = 90.5
_ARC_R = 90.0
_LEFT_SPOT, _RIGHT_SPOT = (110.0, 340.0), (940.0, 340.0)
# The reference paints both arcs half a pixel up, and the right one a pixel left of its spot.
_LEFT_ARC_C, _RIGHT_ARC_C = (110.0, 339.5), (939.0, 339.5)
# Where a penalty arc leaves the box: angle of the box edge seen from the arc's centre.
_ARC_HALF_ANGLE = float(np.degrees(np.arccos((164 - _LEFT_ARC_C[0]) / _ARC_R)))

LINES: tuple[Segment | Arc | Spot, ...] = (
    # halfway line
    Segment((_HALF_X, 0), (_HALF_X, TEMPLATE_H - 1)),
    # left penalty box and goal area
    Segment((0, _BOX_TOP), (164, _BOX_TOP)),
    Segment((0, _BOX_BOTTOM), (164, _BOX_BOTTOM)),
    Segment((164, _BOX_TOP), (164, _BOX_BOTTOM)),
    Segment((0, _AREA_TOP), (54, _AREA_TOP)),
    Segment((0, _AREA_BOTTOM), (54, _AREA_BOTTOM)),
    Segment((54, _AREA_TOP), (54, _AREA_BOTTOM)),
    # right penalty box and goal area
    Segment((886, _BOX_TOP), (TEMPLATE_W - 1, _BOX_TOP)),
    Segment((886, _BOX_BOTTOM), (TEMPLATE_W - 1, _BOX_BOTTOM)),
    Segment((886, _BOX_TOP), (886, _BOX_BOTTOM)),
    Segment((996, _AREA_TOP), (TEMPLATE_W - 1, _AREA_TOP)),
    Segment((996, _AREA_BOTTOM), (TEMPLATE_W - 1, _AREA_BOTTOM)),
    Segment((996, _AREA_TOP), (996, _AREA_BOTTOM)),
    # centre circle, penalty arcs, penalty spots
    Arc(_CENTRE, _CIRCLE_R),
    Arc(_LEFT_ARC_C, _ARC_R, -_ARC_HALF_ANGLE, _ARC_HALF_ANGLE),
    Arc(_RIGHT_ARC_C, _ARC_R, 180 - _ARC_HALF_ANGLE, 180 + _ARC_HALF_ANGLE),
    Spot(_LEFT_SPOT, 3),
    Spot(_RIGHT_SPOT, 3),
)


def _draw(img: np.ndarray, shape: Segment | Arc | Spot, color, thickness: int) -> None:
    if isinstance(shape, Segment):
        cv2.line(img, _pt(shape.a), _pt(shape.b), color, thickness, cv2.LINE_8)
    elif isinstance(shape, Arc):
        r = _fixed(shape.radius)
        cv2.ellipse(img, _pt(shape.center, _SHIFT), (r, r), 0, shape.start, shape.end, color, thickness,
                    cv2.LINE_8, _SHIFT)
    else:
        cv2.circle(img, _pt(shape.center, _SHIFT), _fixed(shape.radius), color, -1, cv2.LINE_8, _SHIFT)


def _fixed(v: float, shift: int = _SHIFT) -> int:
    return int(round(v * (1 << shift)))


def _pt(p: tuple[float, float], shift: int = 0) -> tuple[int, int]:
    return _fixed(p[0], shift), _fixed(p[1], shift)


@functools.lru_cache(maxsize=1)
def _template() -> np.ndarray:
    img = np.empty((TEMPLATE_H, TEMPLATE_W, 3), np.uint8)
    img[:] = GROUND_BGR
    cv2.rectangle(img, (0, 0), (TEMPLATE_W, TEMPLATE_H), LINE_BGR, BORDER_THICKNESS, cv2.LINE_8)
    for shape in LINES:
        _draw(img, shape, LINE_BGR, LINE_THICKNESS)
    img.setflags(write=False)
    return img


def render_template() -> np.ndarray:
    """The 1050 x 680 BGR pitch template: green ground, white lines (read-only, cached)."""
    return _template()


def line_mask(template: np.ndarray | None = None) -> np.ndarray:
    """The template's white-line mask as the validator thresholds it (grey > 200)."""
    img = render_template() if template is None else template
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) > 200


def outline_polylines(step_px: float = 4.0) -> list[np.ndarray]:
    """The pitch markings as polylines of template points, for projecting onto a frame.

    Unlike `LINES` (what the template paints), these follow the keypoint geometry: the
    touchlines and goal lines run through the corner keypoints.
    """
    polylines: list[np.ndarray] = []
    x0, y0 = KEYPOINTS[0]
    x1, y1 = KEYPOINTS[29]
    polylines.append(np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], float))
    for shape in LINES:
        if isinstance(shape, Segment):
            polylines.append(np.array([shape.a, shape.b], float))
        elif isinstance(shape, Arc):
            n = max(8, int(np.radians(shape.end - shape.start) * shape.radius / step_px))
            t = np.radians(np.linspace(shape.start, shape.end, n + 1))
            cx, cy = shape.center
            polylines.append(np.stack([cx + shape.radius * np.cos(t), cy + shape.radius * np.sin(t)], 1))
    return polylines


# --- left-right flip -------------------------------------------------------------------

def _flip_index() -> tuple[int, ...]:
    mirrored = KEYPOINTS.copy()
    mirrored[:, 0] = TEMPLATE_W - mirrored[:, 0]
    d = np.linalg.norm(mirrored[:, None, :] - KEYPOINTS[None, :, :], axis=2)
    idx = d.argmin(axis=1)
    if d[np.arange(N_KEYPOINTS), idx].max() > 8 or not np.array_equal(idx[idx], np.arange(N_KEYPOINTS)):
        raise AssertionError("keypoint table is not left-right symmetric")
    return tuple(int(i) for i in idx)


#: `FLIP_IDX[i]` is the keypoint that index i becomes when the image is mirrored left-right
#: (ultralytics' `flip_idx` for pose datasets).
FLIP_IDX: tuple[int, ...] = _flip_index()


# --- homographies ------------------------------------------------------------------------

def visible_mask(keypoints) -> np.ndarray:
    """True for keypoints other than (0, 0), the wire format's "not visible"."""
    pts = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    return ~((pts[:, 0] == 0) & (pts[:, 1] == 0))


def fit_homography(frame_keypoints) -> np.ndarray | None:
    """Template -> frame homography from a 32-point keypoint list ((0, 0) = not visible).

    Uses OpenCV's `findHomography` with its default least-squares method, like the
    validator. Returns None with fewer than 4 visible points or when OpenCV finds none.
    """
    pts = np.asarray(frame_keypoints, dtype=np.float64).reshape(-1, 2)
    if len(pts) != N_KEYPOINTS:
        raise ValueError(f"expected {N_KEYPOINTS} keypoints, got {len(pts)}")
    vis = visible_mask(pts)
    if vis.sum() < 4:
        return None
    H, _ = cv2.findHomography(KEYPOINTS[vis].astype(np.float32), pts[vis].astype(np.float32))
    return H


def project(H: np.ndarray, points) -> np.ndarray:
    """Map points through a homography (template -> frame for a fitted H)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
    if len(pts) == 0:
        return np.zeros((0, 2))
    return cv2.perspectiveTransform(pts, np.asarray(H, np.float64)).reshape(-1, 2)


def unproject(H: np.ndarray, points) -> np.ndarray:
    """Map frame points back to template pixels through the inverse of H."""
    return project(np.linalg.inv(H), points)


def project_keypoints(H: np.ndarray, width: int, height: int) -> list[list[int]]:
    """The 32 template keypoints seen through H, as wire-format ints; (0, 0) outside the frame."""
    out: list[list[int]] = []
    for x, y in project(H, KEYPOINTS):
        xi, yi = int(round(x)), int(round(y))
        inside = np.isfinite(x) and np.isfinite(y) and 0 <= xi < width and 0 <= yi < height
        out.append([xi, yi] if inside and (xi, yi) != (0, 0) else [0, 0])
    return out


def warp_template(H: np.ndarray, width: int, height: int, template: np.ndarray | None = None) -> np.ndarray:
    """The template warped onto a width x height frame through H (what the validator scores)."""
    img = render_template() if template is None else template
    return cv2.warpPerspective(img, np.asarray(H, np.float64), (int(width), int(height)))


# --- drawing ----------------------------------------------------------------------------

def draw_numbered_template(scale: float = 1.0, margin: int = 30) -> np.ndarray:
    """The template with every keypoint marked and numbered by id (BGR)."""
    base = np.array(render_template())
    canvas = cv2.copyMakeBorder(base, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(40, 40, 40))
    if scale != 1.0:
        canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for kid, (x, y) in enumerate(KEYPOINTS, start=1):
        c = (int(round((x + margin) * scale)), int(round((y + margin) * scale)))
        r = max(6, int(11 * scale))
        cv2.circle(canvas, c, r, (30, 30, 220), -1, cv2.LINE_AA)
        cv2.circle(canvas, c, r, (255, 255, 255), 1, cv2.LINE_AA)
        label = str(kid)
        fs = 0.42 * max(scale, 0.6)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
        cv2.putText(canvas, label, (c[0] - tw // 2, c[1] + th // 2), cv2.FONT_HERSHEY_SIMPLEX, fs,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return canvas
