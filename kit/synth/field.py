"""The pitch: a top-down grass texture and the markings, painted through the frame's homography.

The grass is built once per clip in template coordinates and warped with one
`cv2.warpPerspective`; the markings are the template's line bands, projected as exact polygons
(a straight band stays a straight band under a homography, so widths are perspective-correct)
and filled anti-aliased on a supersampled mask. `blend_colour` lays a mask's colour onto a frame
(the markings here, the goal nets in `stadium`).

Usage: from kit.synth.field import fill_shapes, line_bands; fill_shapes(mask, line_bands(2.4), cam, LINE_SS)
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .. import pitch
from .camera import Camera, clip_polygon

_GRASS_SCALE = 2          # texture pixels per template pixel
_GRASS_MARGIN = 130       # grass beyond the touchlines, template px: past the boards
LINE_SS = 3              # supersampling of the line mask


def _value_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth noise in [-1, 1]: a coarse random grid upsampled with bicubic interpolation."""
    grid = rng.uniform(-1, 1, (cells[1] + 1, cells[0] + 1)).astype(np.float32)
    return np.clip(cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC), -1, 1)


def grass_texture(rng: np.random.Generator, night: bool) -> tuple[np.ndarray, np.ndarray]:
    """Top-down grass (BGR) at `_GRASS_SCALE` x template resolution with the template -> texture map.

    Mowing stripes run parallel to the goal lines (sometimes crossed), with a boundary on
    the halfway line; blotches and grain break up the flat colour; the goal mouths, the
    penalty spots and the centre are worn towards dry earth. The slowly varying parts are
    computed at 1/8 resolution and upsampled: the texture is built once per clip and must
    not cost more than a few frames. No markings: those are painted per frame
    (see `line_bands`).
    """
    g, m = _GRASS_SCALE, _GRASS_MARGIN
    h, w = (pitch.TEMPLATE_H + 2 * m) * g, (pitch.TEMPLATE_W + 2 * m) * g
    base = np.array([rng.uniform(35, 70), rng.uniform(105, 150), rng.uniform(25, 70)], np.float32)
    if night:
        base *= np.float32([0.9, 1.05, 0.85])
    # coarse layer: light blotches and wear, on a grid of 4 template px
    lo_h, lo_w = h // 8, w // 8
    ty = (np.arange(lo_h, dtype=np.float32) + 0.5) * 8 / g - m
    tx = (np.arange(lo_w, dtype=np.float32) + 0.5) * 8 / g - m
    light = 1 + 0.06 * _value_noise(rng, (lo_h, lo_w), (12, 8)) + 0.03 * _value_noise(rng, (lo_h, lo_w), (80, 52))
    wear = np.zeros((lo_h, lo_w), np.float32)
    for cx, cy, r in ((0, 340, 70), (1050, 340, 70), (110, 340, 45), (940, 340, 45), (525, 340, 90)):
        wear += rng.uniform(0.2, 0.6) * np.exp(-((tx[None, :] - cx) ** 2 + (ty[:, None] - cy) ** 2) / (2 * r * r))
    coarse = base * light[:, :, None]
    coarse += (0.35 * wear[:, :, None]) * (np.float32([95, 140, 150]) - coarse)
    tex = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    # mowing stripes, sharp-edged, at full resolution
    fx = (np.arange(w, dtype=np.float32) - (g - 1) / 2) / g - m
    fy = (np.arange(h, dtype=np.float32) - (g - 1) / 2) / g - m
    stripe_w, contrast = rng.uniform(45, 62), rng.uniform(0.05, 0.11)
    sx = np.where(np.floor((fx - 525) / stripe_w) % 2 == 0, 1.0, -1.0).astype(np.float32)
    if rng.random() < 0.25:  # a chequered cut
        sy = np.where(np.floor((fy - 340) / stripe_w) % 2 == 0, 1.0, -1.0).astype(np.float32)
        shade = 1 + contrast * np.outer(sy, sx)
    else:
        shade = np.broadcast_to(1 + contrast * sx[None, :], (h, w))
    tex *= shade[:, :, None]
    tex += rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(5.0)  # grain
    to_tex = np.array([[g, 0, g * m + (g - 1) / 2], [0, g, g * m + (g - 1) / 2], [0, 0, 1]], np.float64)
    return np.clip(tex, 0, 255).astype(np.uint8), to_tex


def shade_texture(texture: np.ndarray, to_texture: np.ndarray, polygon: np.ndarray, gain: float) -> None:
    """Darken the texture inside a template polygon (a static shadow) by `gain`, in place."""
    mask = np.zeros(texture.shape[:2], np.uint8)
    pts = pitch.project(to_texture, polygon)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, cv2.LINE_AA, 4)
    dark = cv2.convertScaleAbs(texture, alpha=gain)
    np.copyto(texture, dark, where=mask[:, :, None].astype(bool))


def _band(a, b, width: float) -> np.ndarray:
    """The quadrilateral of a straight line of `width` between a and b, square caps."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = (b - a) / np.linalg.norm(b - a)
    n = np.array([-d[1], d[0]]) * width / 2
    a, b = a - d * width / 2, b + d * width / 2
    return np.array([a + n, b + n, b - n, a - n])


def _arc_points(center, radius: float, start: float, end: float, step: float = 2.0) -> np.ndarray:
    k = max(8, int(np.radians(end - start) * radius / step))
    t = np.radians(np.linspace(start, end, k + 1))
    return np.stack([center[0] + radius * np.cos(t), center[1] + radius * np.sin(t)], 1)


@functools.lru_cache(maxsize=8)
def line_bands(width: float) -> tuple[tuple[np.ndarray, ...], ...]:
    """The pitch markings as filled shapes in template pixels, each a tuple of contours.

    They follow what the validator's template paints (`kit.pitch.LINES` and its border),
    since that is what the keypoint metric warps and looks for: lines of `width` centred on
    the template's line centres. The touchlines and goal lines sit on the template's border
    band, which is painted inside the image (columns 0-4 and 1046-1049, rows 0-4 and
    676-679). A centre spot and corner arcs, which real pitches have and the template does
    not, are added: they cost the metric nothing and a detector should see them.
    """
    shapes: list[tuple[np.ndarray, ...]] = []
    left, top, right, bottom = 2.0, 2.0, 1047.5, 677.5
    corners = [(left, top), (right, top), (right, bottom), (left, bottom)]
    for i in range(4):
        shapes.append((_band(corners[i], corners[(i + 1) % 4], width),))
    for s in pitch.LINES:
        if isinstance(s, pitch.Segment):
            shapes.append((_band(s.a, s.b, width),))
        elif isinstance(s, pitch.Arc):
            outer = _arc_points(s.center, s.radius + width / 2, s.start, s.end)
            inner = _arc_points(s.center, s.radius - width / 2, s.start, s.end)
            if s.end - s.start >= 360:
                shapes.append((outer, inner))  # a ring: filled even-odd
            else:
                shapes.append((np.vstack([outer, inner[::-1]]),))
        else:
            shapes.append((_arc_points(s.center, s.radius, 0, 360, 1.0),))
    shapes.append((_arc_points((524.5, 339.5), 3.5, 0, 360, 1.0),))  # centre spot
    for (cx, cy), a0 in (((left, top), 0), ((right, top), 90), ((right, bottom), 180), ((left, bottom), 270)):
        outer = _arc_points((cx, cy), 10 + width / 2, a0, a0 + 90, 1.0)
        inner = _arc_points((cx, cy), 10 - width / 2, a0, a0 + 90, 1.0)
        shapes.append((np.vstack([outer, inner[::-1]]),))
    return tuple(shapes)


def fill_shapes(mask: np.ndarray, shapes, cam: Camera, ss: int, value: int = 255) -> None:
    """Fill ground shapes (template px) projected by `cam` into a mask `ss` times the frame size."""
    r2, c = cam.R[2], cam.center
    normal, offset = r2[:2], -(r2 @ c) - 5.0
    for contours in shapes:
        pts = []
        for contour in contours:
            clipped = clip_polygon(contour, normal, offset)
            if len(clipped) >= 3:
                uv = pitch.project(cam.H, clipped) * ss + (ss - 1) / 2
                pts.append(np.round(uv * 16).astype(np.int32))
        if pts:
            cv2.fillPoly(mask, pts, value, cv2.LINE_8, 4)



def blend_colour(frame: np.ndarray, mask: np.ndarray, colour, opacity: float = 1.0,
                  shade: np.ndarray | None = None, shade_gain: float = 1.0) -> None:
    """frame += (colour - frame) * mask/255 * opacity, touching only the masked pixels.

    `shade` (0-255 per pixel) darkens the colour by up to `shade_gain` where it is set: the
    pitch markings under a stand's shadow.
    """
    flat = mask.reshape(-1)
    idx = np.flatnonzero(flat)
    if not len(idx):
        return
    pix = frame.reshape(-1, 3)
    src = pix[idx].astype(np.int32)
    col = np.array(colour, np.int32)[None, :]
    if shade is not None:
        k = 256 - ((shade.reshape(-1)[idx].astype(np.int32) * int(round((1 - shade_gain) * 256))) >> 8)
        col = (col * k[:, None]) >> 8
    a = (flat[idx].astype(np.int32) * int(round(opacity * 256)))[:, None]
    pix[idx] = (src + (((col - src) * a + (1 << 15)) >> 16)).astype(np.uint8)

