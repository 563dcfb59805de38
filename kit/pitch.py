"""Pitch template geometry: the 32 keypoints, the 1050 x 680 template image, homographies.

Everything here lives in *template pixels*: the validator's pitch template is a 1050 x 680
image (x to the right along the touchline, y down from the far touchline), and the 32
keypoints of DESIGN.md are points of that image. A miner's keypoints are frame pixels; the
homography that maps the visible template keypoints onto them is what the validator uses to
warp the template onto the frame and score how well its lines land on the pitch markings.

The template is drawn here from geometry (lines, centre circle, penalty arcs and spots) so
the kit never ships the validator's image; it comes out pixel for pixel the same, which
`tests/test_pitch.py` checks against the reference copy beside the repo.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

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
# Centres of the painted lines, measured on the validator's template image, which is
# reproduced pixel for pixel: straight lines 3 px wide (a line whose keypoints say x = 165 is
# painted on columns 163..165), a 5 px border band cut by the image edge, and the circle and
# arcs as Pillow paints a 3 px arc inside its bounding box. Pixel-exact matters: the
# validator's square-blob rule zeroes a frame when any separate line blob (the arcs and
# spots are separate blobs) has an exactly square bounding box, so one pixel flips a frame.
# Keypoints are what the validator fits; these primitives are what it paints.

@dataclass(frozen=True)
class Segment:
    a: tuple[float, float]
    b: tuple[float, float]


@dataclass(frozen=True)
class Arc:
    """A circle arc: centre and radius of the painted line's centre; angles in degrees,
    clockwise on screen from +x (OpenCV's and Pillow's convention)."""

    center: tuple[float, float]
    radius: float
    start: float = 0.0
    end: float = 360.0


@dataclass(frozen=True)
class Spot:
    center: tuple[float, float]
    radius: float


LINE_WIDTH = 3
_CV_BORDER_THICKNESS = 7  # a rectangle on the image's outer edge: 5 px visible top/left, 4 px bottom/right

_BOX_TOP, _BOX_BOTTOM = 139, 540
_AREA_TOP, _AREA_BOTTOM = 249, 430
_HALF_X = 525
_CIRCLE_R = 90.5
_LEFT_SPOT, _RIGHT_SPOT = (110.0, 340.0), (940.0, 340.0)
# The arcs stop a pixel short of the box lines, so they are separate blobs: +-50 degrees.
_ARC_HALF_ANGLE = 50.0

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
    # centre circle, penalty arcs (centred half a pixel off the spots, as painted), spots
    Arc((524.5, 339.5), _CIRCLE_R),
    Arc((109.5, 339.5), _CIRCLE_R, -_ARC_HALF_ANGLE, _ARC_HALF_ANGLE),
    Arc((939.5, 339.5), _CIRCLE_R, 180 - _ARC_HALF_ANGLE, 180 + _ARC_HALF_ANGLE),
    Spot(_LEFT_SPOT, 3.5),
    Spot(_RIGHT_SPOT, 3.5),
)


def _paint_disc(img: np.ndarray, spot: Spot, color) -> None:
    """Every pixel whose centre lies within the radius."""
    (cx, cy), r = spot.center, spot.radius
    x0, y0 = int(np.floor(cx - r)), int(np.floor(cy - r))
    yy, xx = np.mgrid[y0:int(np.ceil(cy + r)) + 1, x0:int(np.ceil(cx + r)) + 1]
    inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    img[yy[inside], xx[inside]] = color


def _paint_segment(img: np.ndarray, seg: Segment, color) -> None:
    """A 3 px line with square ends (the template's lines are all axis-aligned)."""
    (xa, ya), (xb, yb) = seg.a, seg.b
    if xa != xb and ya != yb:
        raise ValueError(f"only axis-aligned segments are painted, got {seg}")
    h = LINE_WIDTH // 2
    x0, x1 = int(min(xa, xb)) - h, int(max(xa, xb)) + h
    y0, y1 = int(min(ya, yb)) - h, int(max(ya, yb)) + h
    img[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = color


def _paint_arcs(img: np.ndarray, arcs: list[Arc], color) -> None:
    """Pillow paints a width-w arc inward from its bounding box: box = centre +- (radius + 1)."""
    canvas = Image.new("L", (img.shape[1], img.shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for a in arcs:
        r = a.radius + (LINE_WIDTH - 1) / 2
        box = [a.center[0] - r, a.center[1] - r, a.center[0] + r, a.center[1] + r]
        draw.arc(box, a.start, a.end, fill=255, width=LINE_WIDTH)
    img[np.asarray(canvas) > 0] = color


@functools.lru_cache(maxsize=1)
def _template() -> np.ndarray:
    img = np.empty((TEMPLATE_H, TEMPLATE_W, 3), np.uint8)
    img[:] = GROUND_BGR
    cv2.rectangle(img, (0, 0), (TEMPLATE_W, TEMPLATE_H), LINE_BGR, _CV_BORDER_THICKNESS, cv2.LINE_8)
    for shape in LINES:
        if isinstance(shape, Segment):
            _paint_segment(img, shape, LINE_BGR)
        elif isinstance(shape, Spot):
            _paint_disc(img, shape, LINE_BGR)
    _paint_arcs(img, [s for s in LINES if isinstance(s, Arc)], LINE_BGR)
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
