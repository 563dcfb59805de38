"""Synthetic football broadcast clips with exact ground truth.

A miner needs labelled frames before it has real ones, and the validator's keypoint metric
(SCORING.md, "floor markings alignment") rewards keypoints only when the homography they
define lays the template's white lines onto lines that are really in the picture. So this
generator paints the pitch from the template geometry of `kit.pitch` itself and projects
it through one known homography per frame: the keypoints of the ground truth are
`kit.pitch.project_keypoints` of that homography, and the painted lines are where the
metric expects them, by construction.

One clip is built in layers, each a section below:

- camera model: a pinhole camera high behind the near touchline, looking across the pitch;
  pan, tilt and zoom follow the ball like a broadcast operator, with lag and inertia;
- pitch: a top-down grass texture (mowing stripes, wear, grain) in template coordinates,
  warped with one `cv2.warpPerspective`; the markings are the template's line bands,
  projected as exact polygons (a straight band stays a straight band under a homography,
  so widths are perspective-correct) and filled anti-aliased on a supersampled mask;
- stadium: advertising boards, stands, goals and corner flags, all textured planes in 3D
  projected by the same camera;
- people: 20 players in two kits, 2 goalkeepers, 1-3 referees and a ball, moved by a small
  match simulation (formations that shift with the ball, passes on the ground and in the
  air, pressing), drawn from a cache of pre-rendered sprites in painter's order;
- degradation: motion blur from the camera motion, softness, light, sensor noise, JPEG;
- ground truth: boxes of each object's drawn extent, keypoints from the homography.

Ground truth, as DESIGN.md defines it, with these decisions:

- a box is the drawn extent of the object's sprite (a player's contact shadow included),
  clipped to the frame, widened by half the motion-blur smear of a degraded frame;
- partial occlusion keeps the whole (amodal) box; an object with less than
  `MIN_VISIBLE_SHARE` of its pixels visible (hidden behind others, or mostly out of the
  frame) gets no box: a detector should not be taught to find what cannot be seen;
- players carry team 1 or 2; goalkeepers, referees and the ball carry no team (the
  validator's team metric reads players only, and the wire format has no team for cls 1);
- track ids are stable over the clip: 0 the ball, 1-10 and 11-20 the two teams' players,
  21 and 22 the goalkeepers, 23-25 the referees;
- keypoints are `kit.pitch.project_keypoints(H)` of the frame's homography H.

Everything random flows from one seed through `numpy.random.SeedSequence`, so the same
seed gives the same frames and a bit-identical JSON:

    from kit.synth import generate_clip, render_frames
    video, truth = generate_clip("data/synth", index=0, n_frames=250, seed=7)
    for frame_bgr, gt_frame in render_frames(10, seed=7): ...

Units: the world is measured in template pixels (1 px = 10 cm, the template being the
105 x 68 m pitch at 1050 x 680); X runs along the far touchline, Y from the far touchline
towards the camera (template y), Z up. Frame pixels follow OpenCV's convention: integer
coordinates are pixel centres, as in `warpPerspective` and the keypoints.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import KitError, pitch
from .contract import BALL, GOALKEEPER, PLAYER, REFEREE, GroundTruth, GTBox, GTFrame, save_ground_truth

__all__ = ["DIFFICULTIES", "Difficulty", "ClipRenderer", "clip_seed", "render_frames", "generate_clip",
           "generate_clips"]

MIN_WIDTH, MIN_HEIGHT = 160, 90
MAX_SIDE = 4096

#: An object keeps its box while at least this share of its drawn pixels is in the frame and
#: not hidden behind something drawn over it: a box for a player nobody can see would teach a
#: detector to hallucinate, while a half-hidden player is still a player (its box stays whole).
MIN_VISIBLE_SHARE = 0.25


# --- difficulty presets ---------------------------------------------------------------------

@dataclass(frozen=True)
class Difficulty:
    """How hard a clip is: the ranges each clip draws its camera, people and degradation from."""

    name: str
    hfov_deg: tuple[float, float]       # horizontal field of view: closer shots .. wide shots
    far_line_row: tuple[float, float]   # where the far touchline sits, as a share of frame height
    follow_share: float                 # share of time the operator frames the ball, not the far side
    zoom_hold_s: tuple[float, float]    # how long one framing is held before the next
    shake_deg: float                    # camera shake amplitude
    shutter: float                      # motion blur length as a share of the image motion per frame
    max_blur_px: int
    soften: tuple[float, float]         # optical softness (Gaussian sigma, px)
    noise_sigma: tuple[float, float]    # sensor noise (grey levels)
    jpeg_quality: tuple[int, int] | None
    exposure: float                     # +- share of brightness variation, per clip and over time
    shadow_prob: float                  # chance of a stand's shadow across the pitch
    crowding: float                     # how hard players converge on the ball (occlusion)
    loft_share: float                   # share of passes in the air


PRESETS: dict[str, Difficulty] = {
    # wide, clean shots of the far side: the most keypoints and the sharpest lines
    "easy": Difficulty("easy", hfov_deg=(36.0, 60.0), far_line_row=(0.18, 0.32), follow_share=0.0,
                       zoom_hold_s=(4.0, 9.0), shake_deg=0.0, shutter=0.3, max_blur_px=3, soften=(0.0, 0.3),
                       noise_sigma=(0.0, 1.5), jpeg_quality=None, exposure=0.05, shadow_prob=0.0, crowding=0.10,
                       loft_share=0.15),
    # the main broadcast camera: mid-wide to wide shots that keep the far touchline and stands in view
    "default": Difficulty("default", hfov_deg=(24.0, 50.0), far_line_row=(0.15, 0.34), follow_share=0.0,
                          zoom_hold_s=(3.0, 8.0), shake_deg=0.02, shutter=0.5, max_blur_px=6, soften=(0.0, 0.6),
                          noise_sigma=(1.0, 3.5), jpeg_quality=(75, 95), exposure=0.10, shadow_prob=0.3,
                          crowding=0.20, loft_share=0.2),
    # closer shots that sometimes lose the far side, more blur, noise, compression and bunching
    "hard": Difficulty("hard", hfov_deg=(16.0, 55.0), far_line_row=(0.10, 0.38), follow_share=0.35,
                       zoom_hold_s=(2.0, 6.0), shake_deg=0.06, shutter=0.8, max_blur_px=10, soften=(0.3, 1.0),
                       noise_sigma=(2.5, 7.0), jpeg_quality=(35, 75), exposure=0.18, shadow_prob=0.6, crowding=0.35,
                       loft_share=0.3),
}
DIFFICULTIES = tuple(PRESETS)


# --- small geometry helpers ---------------------------------------------------------------------

def _clip_polygon(poly: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Sutherland-Hodgman: the part of a closed polygon (N x D points) where p . normal + offset >= 0."""
    if len(poly) == 0:
        return poly
    d = poly @ normal + offset
    if d.min() >= 0:
        return poly
    out = []
    n = len(poly)
    for i in range(n):
        j = (i + 1) % n
        if d[i] >= 0:
            out.append(poly[i])
        if (d[i] >= 0) != (d[j] >= 0):
            t = d[i] / (d[i] - d[j])
            out.append(poly[i] + t * (poly[j] - poly[i]))
    return np.array(out, dtype=np.float64).reshape(-1, poly.shape[1])


def _smooth(x: np.ndarray, tau_frames: float, passes: int = 2) -> np.ndarray:
    """Causal exponential smoothing along axis 0, run `passes` times (an operator's inertia)."""
    if tau_frames <= 0:
        return x
    a = 1.0 - np.exp(-1.0 / tau_frames)
    y = np.array(x, dtype=np.float64)
    for _ in range(passes):
        for i in range(1, len(y)):
            y[i] = y[i - 1] + a * (y[i] - y[i - 1])
    return y


def _segments(rng: np.random.Generator, n: int, hold: tuple[float, float], fps: float, draw) -> np.ndarray:
    """A piecewise-constant sequence of n values: draw() for each hold of `hold` seconds."""
    out = np.empty(n)
    i = 0
    while i < n:
        k = max(1, int(rng.uniform(*hold) * fps))
        out[i:i + k] = draw()
        i += k
    return out


# --- camera model ---------------------------------------------------------------------------------

class Camera:
    """A pinhole camera: centre C (world), pan/tilt/roll (radians), focal length f (px).

    Pan 0 looks at the far touchline (towards -Y), positive pan turns right (towards +X);
    positive tilt looks down. x_cam = R (X - C); the frame point is K x_cam.
    """

    def __init__(self, center, pan: float, tilt: float, roll: float, focal: float, width: int, height: int):
        self.center = np.asarray(center, np.float64)
        self.focal, self.width, self.height = float(focal), int(width), int(height)
        sp, cp, st, ct = np.sin(pan), np.cos(pan), np.sin(tilt), np.cos(tilt)
        forward = np.array([sp * ct, -cp * ct, -st])
        right = np.array([cp, sp, 0.0])
        down = -np.array([sp * st, -cp * st, ct])
        sr, cr = np.sin(roll), np.cos(roll)
        self.R = np.stack([cr * right + sr * down, -sr * right + cr * down, forward])
        self.K = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1.0]])
        self.P = self.K @ np.hstack([self.R, -(self.R @ self.center)[:, None]])
        #: template (ground, Z = 0) -> frame homography: the ground truth of the keypoints.
        self.H = self.P[:, [0, 1, 3]] / self.P[2, 3]

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Distance along the optical axis of world points (N x 3)."""
        return (np.asarray(points, np.float64) - self.center) @ self.R[2]

    def project(self, points: np.ndarray) -> np.ndarray:
        """Frame pixels of world points (N x 3); only meaningful for points in front of the camera."""
        p = np.asarray(points, np.float64) @ self.P[:, :3].T + self.P[:, 3]
        return p[:, :2] / p[:, 2:3]

    def clip_front(self, poly3d: np.ndarray, near: float = 5.0) -> np.ndarray:
        """The part of a planar 3D polygon at least `near` in front of the camera."""
        return _clip_polygon(poly3d, self.R[2], -(self.center @ self.R[2]) - near)

    def horizon_sky(self) -> np.ndarray:
        """The frame polygon above the horizon (where no ground can be), possibly empty."""
        w, h = self.width, self.height
        frame = np.array([[-1, -1], [w, -1], [w, h], [-1, h]], np.float64)
        # (H^-1 x)_3 changes sign on the horizon; its sign on the ground side is read off a
        # ground point surely in front of the camera, the pitch centre.
        line = np.linalg.inv(self.H)[2]
        sign = np.sign(line @ np.append(pitch.project(self.H, [[525, 340]])[0], 1.0))
        return _clip_polygon(frame, -sign * line[:2], -sign * line[2])


def _camera_centre(rng: np.random.Generator) -> np.ndarray:
    """Where the main camera stands: near the halfway line, 20-32 m behind the near touchline and
    20-30 m up, like a gantry on the main stand's roof. Lower or farther cameras see the far
    lines at grazing angles, where the metric's warped template breaks into square specks and
    zeroes the frame (its "square blob" rule), for real broadcasts as for these."""
    return np.array([rng.uniform(470, 580), 680 + rng.uniform(200, 320), rng.uniform(200, 300)])


def _look_angles(center: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Pan and depression angle (radians) from the camera centre to a ground point."""
    dx, dy = target[0] - center[0], center[1] - target[1]
    return float(np.arctan2(dx, dy)), float(np.arctan2(center[2], np.hypot(dx, dy)))


def _camera_path(rng: np.random.Generator, center: np.ndarray, ball: np.ndarray, fps: float, width: int,
                 height: int, diff: Difficulty) -> list[Camera]:
    """One camera per frame: an operator who follows the ball and mostly keeps the far side in view.

    The camera stands still (a gantry behind the near touchline) and only pans, tilts and
    zooms. Each framing (zoom, where the far touchline sits) is held a few seconds, then
    eased into the next; the tilt puts the far touchline at the chosen row, as broadcasts
    do, unless the ball would leave the frame, in which case the operator zooms out; in
    "follow" spells (hard clips) the tilt frames the ball instead.
    """
    n = len(ball)
    hfov = _segments(rng, n, diff.zoom_hold_s, fps, lambda: rng.uniform(*diff.hfov_deg))
    row = _segments(rng, n, diff.zoom_hold_s, fps, lambda: rng.uniform(*diff.far_line_row))
    follow = _segments(rng, n, (2.0, 6.0), fps, lambda: float(rng.random() < diff.follow_share))
    look = _smooth(ball[:, :2], 0.5 * fps)
    lead = np.gradient(_smooth(ball[:, :2], 0.3 * fps), axis=0) * fps * 0.4 if n > 1 else 0.0
    look = np.clip(look + lead, [70, 60], [980, 620])
    hfov, row, follow = _smooth(hfov, 0.6 * fps), _smooth(row, 0.6 * fps), _smooth(follow, 0.5 * fps)
    cy = (height - 1) / 2

    pans, tilts, focals = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        pan, ball_dep = _look_angles(center, look[i])
        far_dep = np.arctan2(center[2], center[1] / max(np.cos(pan), 0.2))
        f = (width / 2) / np.tan(np.radians(hfov[i]) / 2)
        # keep the far touchline at `row` and the ball above 85% of the height: zoom out if needed
        span = ball_dep - far_dep
        if span > 0:
            f = min(f, (0.85 - row[i]) * height / np.tan(span))
        tilt_far = far_dep - np.arctan((row[i] * height - cy) / f)
        tilt_ball = ball_dep - np.arctan((0.55 * height - cy) / f)
        pans[i], focals[i] = pan, f
        tilts[i] = (1 - follow[i]) * tilt_far + follow[i] * tilt_ball
    pans, tilts, focals = _smooth(pans, 0.25 * fps), _smooth(tilts, 0.25 * fps), _smooth(focals, 0.3 * fps)
    if diff.shake_deg > 0:
        t = np.arange(n) / fps
        for arr in (pans, tilts):
            f1, f2, p1, p2 = rng.uniform(0.7, 1.6), rng.uniform(2.0, 4.5), rng.uniform(0, 6.3), rng.uniform(0, 6.3)
            arr += np.radians(diff.shake_deg) * (np.sin(2 * np.pi * f1 * t + p1)
                                                 + 0.5 * np.sin(2 * np.pi * f2 * t + p2))
    # No real camera is perfectly level; a perfectly level one at pan 0 would show the far
    # touchline as an exact pixel row, and the metric zeroes a pitch that projects to an exact
    # rectangle.
    roll = np.radians(rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.5 + 5 * diff.shake_deg))
    return [Camera(center, pans[i], tilts[i], roll, focals[i], width, height) for i in range(n)]


# --- pitch: grass texture and line bands -------------------------------------------------------------

_GRASS_SCALE = 2          # texture pixels per template pixel
_GRASS_MARGIN = 130       # grass beyond the touchlines, template px: past the boards
_LINE_SS = 3              # supersampling of the line mask


def _value_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth noise in [-1, 1]: a coarse random grid upsampled with bicubic interpolation."""
    grid = rng.uniform(-1, 1, (cells[1] + 1, cells[0] + 1)).astype(np.float32)
    return np.clip(cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC), -1, 1)


def _grass_texture(rng: np.random.Generator, night: bool) -> tuple[np.ndarray, np.ndarray]:
    """Top-down grass (BGR) at `_GRASS_SCALE` x template resolution with the template -> texture map.

    Mowing stripes run parallel to the goal lines (sometimes crossed), with a boundary on
    the halfway line; blotches and grain break up the flat colour; the goal mouths, the
    penalty spots and the centre are worn towards dry earth. The slowly varying parts are
    computed at 1/8 resolution and upsampled: the texture is built once per clip and must
    not cost more than a few frames. No markings: those are painted per frame
    (see `_line_bands`).
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


def _shade_texture(texture: np.ndarray, to_texture: np.ndarray, polygon: np.ndarray, gain: float) -> None:
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
def _line_bands(width: float) -> tuple[tuple[np.ndarray, ...], ...]:
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


def _fill_shapes(mask: np.ndarray, shapes, cam: Camera, ss: int, value: int = 255) -> None:
    """Fill ground shapes (template px) projected by `cam` into a mask `ss` times the frame size."""
    r2, c = cam.R[2], cam.center
    normal, offset = r2[:2], -(r2 @ c) - 5.0
    for contours in shapes:
        pts = []
        for contour in contours:
            clipped = _clip_polygon(contour, normal, offset)
            if len(clipped) >= 3:
                uv = pitch.project(cam.H, clipped) * ss + (ss - 1) / 2
                pts.append(np.round(uv * 16).astype(np.int32))
        if pts:
            cv2.fillPoly(mask, pts, value, cv2.LINE_8, 4)


# --- stadium: boards, stands, goals ---------------------------------------------------------------

@dataclass
class Surface:
    """A textured planar rectangle in 3D: `origin` is the top-left texel's corner, `u` and `v`
    unit world vectors along the texture's columns and rows, `texels` texture pixels per
    template pixel."""

    texture: np.ndarray
    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    texels: float

    def corners(self) -> np.ndarray:
        h, w = self.texture.shape[:2]
        su, sv = w / self.texels * self.u, h / self.texels * self.v
        return np.array([self.origin, self.origin + su, self.origin + su + sv, self.origin + sv])

    def render(self, frame: np.ndarray, cam: Camera) -> None:
        """Warp the texture into the frame, only where the surface is in front of the camera."""
        corners = self.corners()
        poly = cam.clip_front(corners)
        if len(poly) < 3:
            return
        uv = cam.project(poly)
        hgt, wid = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(uv.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(uv.max(0)).astype(int) + 1, [wid, hgt])
        if x1 <= x0 or y1 <= y0:
            return
        # texel (i, j) centre -> world origin + (i + .5)/texels u + (j + .5)/texels v -> frame - (x0, y0)
        s = 1.0 / self.texels
        to_world = np.column_stack([s * self.u, s * self.v, self.origin + 0.5 * s * (self.u + self.v)])
        A = cam.P[:, :3] @ to_world
        A[:, 2] += cam.P[:, 3]
        A = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1.0]]) @ A
        roi = frame[y0:y1, x0:x1]
        if poly is corners:
            # wholly in front: the texture's own edges are the outline, pixels outside stay as they are
            cv2.warpPerspective(self.texture, A, (x1 - x0, y1 - y0), dst=roi, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_TRANSPARENT)
            return
        # partly behind the camera: the homography also maps points behind it, so mask by the outline
        warped = cv2.warpPerspective(self.texture, A, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
        mask = np.zeros(roi.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round((uv - [x0, y0]) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        np.copyto(roi, warped, where=mask[:, :, None].astype(bool))


_BRAND_SYLLABLES = ("ka", "lo", "ven", "tri", "ax", "zo", "mar", "ion", "tek", "ra", "bo", "nex", "sol", "ul",
                    "fin", "dra", "qu", "ix", "pel", "ost", "vi", "go", "lux", "em")
_AD_COLOURS = ((30, 30, 200), (200, 90, 20), (20, 20, 20), (240, 240, 240), (20, 200, 240), (160, 40, 120),
               (40, 140, 240), (120, 60, 10), (30, 160, 30), (200, 200, 40))


def _brand(rng: np.random.Generator) -> str:
    word = "".join(rng.choice(_BRAND_SYLLABLES) for _ in range(int(rng.integers(2, 4))))
    return word.upper() if rng.random() < 0.7 else word.capitalize()


def _board_texture(rng: np.random.Generator, length: float, height: float, texels: float) -> np.ndarray:
    """A run of advertising panels: saturated backgrounds, a brand name in a Hershey font."""
    h, w = int(round(height * texels)), int(round(length * texels))
    tex = np.zeros((h, w, 3), np.uint8)
    x = 0
    while x < w:
        pw = int(rng.uniform(55, 110) * texels)
        bg = _AD_COLOURS[rng.integers(len(_AD_COLOURS))]
        fg = (255, 255, 255) if sum(bg) < 380 else (25, 25, 25)
        if rng.random() < 0.3:
            bg, fg = (15, 15, 15), _AD_COLOURS[rng.integers(len(_AD_COLOURS))]  # LED board, dark
        tex[:, x:x + pw] = bg
        text = _brand(rng)
        font = cv2.FONT_HERSHEY_DUPLEX if rng.random() < 0.5 else cv2.FONT_HERSHEY_SIMPLEX
        (tw, th), _ = cv2.getTextSize(text, font, 1.0, 2)
        scale = min(0.62 * h / th, 0.8 * pw / tw)
        thick = max(1, int(scale * 2.2))
        (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
        cv2.putText(tex, text, (x + (pw - tw) // 2, (h + th) // 2), font, scale, fg, thick, cv2.LINE_AA)
        tex[:, x:x + max(1, int(0.3 * texels))] = (10, 10, 10)
        x += pw
    tex[-max(1, h // 12):] = (20, 20, 20)
    return tex


def _crowd_texture(rng: np.random.Generator, length: float, depth: float, texels: float, night: bool,
                   home: tuple[int, int, int]) -> np.ndarray:
    """Terraces of spectators seen from afar: rows of seats, heads and shirts, aisles, tiers, a roof.

    Built per seat cell (one random shirt, skin and occupancy per cell) and expanded with
    nearest-neighbour resizing and tiled masks, all in uint8: it is made once per clip.
    """
    cw, ch = 6, 10  # texels per seat (0.5 m) and per row (0.8 m) at 1.2 texels per template px
    rows, cols = int(depth * texels) // ch, int(length * texels) // cw
    h, w = rows * ch, cols * cw
    seat = tuple(int(c * 0.6 + 30) for c in _AD_COLOURS[rng.integers(len(_AD_COLOURS))])
    palette = np.array([home, (235, 235, 235), (30, 30, 30), (40, 40, 180), (160, 90, 30), (50, 190, 220),
                        (90, 90, 90), (120, 60, 130)], np.float32)
    p_home = rng.uniform(0.2, 0.5)
    probs = np.r_[p_home, np.full(len(palette) - 1, (1 - p_home) / (len(palette) - 1))]
    shirts = palette[rng.choice(len(palette), (rows, cols), p=probs)] * rng.uniform(0.7, 1.1, (rows, cols, 1))
    skin = np.array([150, 175, 215], np.float32) * rng.uniform(0.4, 1.05, (rows, cols, 1))
    occupied = (rng.random((rows, cols)) < rng.uniform(0.75, 0.97)).astype(np.uint8)

    def expand(cells: np.ndarray) -> np.ndarray:
        return cv2.resize(np.clip(cells, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)

    cell_torso = np.zeros((ch, cw), bool)
    cell_torso[5:10, 1:5] = True
    cell_head = np.zeros((ch, cw), bool)
    cell_head[2:5, 2:4] = True
    occ = expand(occupied).astype(bool)
    tex = np.empty((h, w, 3), np.uint8)
    tex[:] = seat
    np.copyto(tex, expand(shirts), where=(np.tile(cell_torso, (rows, cols)) & occ)[:, :, None])
    np.copyto(tex, expand(skin), where=(np.tile(cell_head, (rows, cols)) & occ)[:, :, None])
    blocks = tex.reshape(rows, ch, w, 3)
    blocks[1::2] = np.roll(blocks[1::2], cw // 2, axis=2)  # staggered seats read less like a grid
    aisle = int(rng.integers(28, 44)) * cw
    for x in range(0, w, aisle):
        tex[:, x:x + 2 * cw] = (120, 125, 130)
    tier = int(rng.integers(12, 22)) * ch
    for y in range(tier, h, tier):
        tex[y:y + ch] = (70, 75, 80)
        tex[y + ch:y + 2 * ch] = _AD_COLOURS[rng.integers(len(_AD_COLOURS))]
    roof = max(ch, h // 9)
    tex[:roof] = (35, 35, 38)
    if night:
        tex[:roof // 3] = (210, 230, 240)  # floodlights along the roof
    tex = cv2.convertScaleAbs(tex, alpha=rng.uniform(0.35, 0.55) if night else rng.uniform(0.6, 0.9))
    return cv2.GaussianBlur(tex, (3, 3), 0.7)


def _stadium(rng: np.random.Generator, night: bool, home: tuple[int, int, int]) -> list[Surface]:
    """Boards and stands around the pitch, in the order to paint them (farthest first).

    The far stand rises steeply enough to fill the top of the frame at any tilt the camera
    uses; the end stands appear when the camera pans towards a goal; the near boards are
    seen from behind (their dark backs) on the rare shots that reach the near touchline.
    """
    bf, be, bn = rng.uniform(35, 55), rng.uniform(50, 70), rng.uniform(30, 45)  # board setbacks
    slope = np.radians(rng.uniform(28, 36))
    rise = np.array([0, -np.cos(slope), np.sin(slope)])  # up the far terrace
    X, Y, Z = np.eye(3)
    t_crowd, t_board = 1.2, 6.0
    wall_h = rng.uniform(10, 18)
    wall_bgr = tuple(int(c) for c in rng.uniform(45, 95) * rng.uniform(0.85, 1.15, 3))
    out = []
    # far stand: a front wall, then terraces up to a roof 35+ m high
    x_lo, x_hi = -be - 500, pitch.TEMPLATE_W + be + 500
    depth = 650.0
    top = np.array([x_lo, -bf - 30, wall_h]) + depth * rise
    out.append(Surface(_crowd_texture(rng, x_hi - x_lo, depth, t_crowd, night, home), top, X, -rise, t_crowd))
    wall = np.full((int(wall_h * 2), int((x_hi - x_lo) * 2), 3), wall_bgr, np.uint8)
    out.append(Surface(wall, np.array([x_lo, -bf - 30, wall_h]), X, -Z, 2.0))
    # end stands, behind each goal line
    for side in (-1, 1):
        x_front = -be - 30 if side < 0 else pitch.TEMPLATE_W + be + 30
        end_rise = np.array([side * np.cos(slope), 0, np.sin(slope)])
        length = 680 + bf + 30 + 260
        tex = _crowd_texture(rng, length, 600.0, t_crowd, night, home)
        y0 = -bf - 30 if side > 0 else -bf - 30 + length
        u = Y if side > 0 else -Y
        origin = np.array([x_front, y0, wall_h]) + 600.0 * end_rise
        out.append(Surface(tex, origin, u, -end_rise, t_crowd))
        wall = np.full((int(wall_h * 2), int(length * 2), 3), wall_bgr, np.uint8)
        out.append(Surface(wall, np.array([x_front, y0, wall_h]), u, -Z, 2.0))
    # boards: far, ends, near (backs)
    out.append(Surface(_board_texture(rng, x_hi - x_lo - 800, 9, t_board), np.array([x_lo + 400, -bf, 9.0]),
                       X, -Z, t_board))
    for side in (-1, 1):
        x = -be if side < 0 else pitch.TEMPLATE_W + be
        y0 = -bf if side > 0 else 680 + bn
        out.append(Surface(_board_texture(rng, 680 + bf + bn, 9, t_board), np.array([x, y0, 9.0]),
                           Y if side > 0 else -Y, -Z, t_board))
    back = np.full((18, int((pitch.TEMPLATE_W + 2 * be) * 2), 3), (28, 30, 32), np.uint8)
    out.append(Surface(back, np.array([-be, 680 + bn, 9.0]), X, -Z, 2.0))
    return out


_GOAL_Y0, _GOAL_Y1, _GOAL_H, _GOAL_DEPTH = 340 - 36.6, 340 + 36.6, 24.4, 20.0  # 7.32 x 2.44 m, 2 m deep


@functools.lru_cache(maxsize=2)
def _goal_net(x_line: float, outward: float) -> np.ndarray:
    """The strands of a goal's net as 3D segments (N x 2 x 3): back, roof and side nets."""
    y0, y1, hgt, depth = _GOAL_Y0, _GOAL_Y1, _GOAL_H, _GOAL_DEPTH
    xb = x_line + outward * depth
    segs = []
    for y in np.arange(y0, y1 + 0.1, 4.0):  # back and roof strands across
        segs += [((xb, y, 0), (xb, y, hgt * 0.8)), ((x_line, y, hgt), (xb, y, hgt * 0.8))]
    for z in np.arange(0, hgt * 0.8 + 0.1, 4.0):
        segs.append(((xb, y0, z), (xb, y1, z)))
    for y in (y0, y1):  # side nets
        for k in np.arange(0, 1.01, 0.2):
            segs.append(((x_line + outward * depth * k, y, 0), (x_line + outward * depth * k, y, hgt * (1 - 0.2 * k))))
        for z in np.arange(0, hgt, 4.0):
            segs.append(((x_line, y, z), (xb, y, min(z, hgt * 0.8))))
    return np.array(segs, np.float64)


def _draw_goal(frame: np.ndarray, cam: Camera, x_line: float, outward: float) -> None:
    """Posts, crossbar and a see-through net of one goal standing on the goal line."""
    y0, y1, hgt = _GOAL_Y0, _GOAL_Y1, _GOAL_H
    ends = _goal_net(x_line, outward).reshape(-1, 3)
    if cam.depth(ends).min() < 20:
        return
    uv = cam.project(ends).reshape(-1, 2, 2)
    hh, ww = frame.shape[:2]
    lo, hi = uv.reshape(-1, 2).min(0), uv.reshape(-1, 2).max(0)
    if hi[0] < 0 or hi[1] < 0 or lo[0] >= ww or lo[1] >= hh:
        return
    net = np.zeros((hh, ww), np.uint8)
    for a, b in np.round(uv * 16).astype(np.int64):
        cv2.line(net, tuple(map(int, a)), tuple(map(int, b)), 255, 1, cv2.LINE_AA, 4)
    _blend_colour(frame, net, (225, 225, 225), 0.45)
    posts_and_bar = [((x_line, y0, 0), (x_line, y0, hgt)), ((x_line, y1, 0), (x_line, y1, hgt)),
                     ((x_line, y0, hgt), (x_line, y1, hgt))]
    for a, b in posts_and_bar:
        d = cam.depth(np.array([a]))[0]
        thick = max(1, int(round(cam.focal * 1.2 / d)))
        pa, pb = np.round(cam.project(np.array([a, b])) * 16).astype(np.int64)
        cv2.line(frame, tuple(map(int, pa)), tuple(map(int, pb)), (245, 245, 245), thick, cv2.LINE_AA, 4)


def _draw_corner_flags(frame: np.ndarray, cam: Camera, colour) -> None:
    for x, y in ((2, 2), (1047.5, 2), (1047.5, 677.5), (2, 677.5)):
        pts = np.array([(x, y, 0), (x, y, 15), (x + 4, y, 13.5), (x, y, 12)], np.float64)
        if cam.depth(pts).min() < 20:
            continue
        uv = cam.project(pts)
        if not (-20 < uv[0, 0] < frame.shape[1] + 20 and -20 < uv[0, 1] < frame.shape[0] + 40):
            continue
        p = np.round(uv * 16).astype(np.int32)
        cv2.line(frame, tuple(map(int, p[0])), tuple(map(int, p[1])), (40, 200, 230), 1, cv2.LINE_AA, 4)
        cv2.fillConvexPoly(frame, p[1:], colour, cv2.LINE_AA, 4)


def _blend_colour(frame: np.ndarray, mask: np.ndarray, colour, opacity: float = 1.0,
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


# --- people: kits, looks, sprites ---------------------------------------------------------------------

_KIT_COLOURS = ((38, 32, 200), (45, 25, 115), (238, 238, 238), (32, 32, 32), (95, 45, 22), (185, 85, 30),
                (235, 185, 120), (40, 215, 245), (30, 125, 245), (125, 40, 105), (150, 150, 150),
                (185, 120, 240), (150, 140, 25), (60, 175, 215))
_KEEPER_COLOURS = ((40, 240, 230), (60, 235, 170), (30, 140, 250), (200, 110, 250), (230, 220, 60),
                   (32, 32, 32), (130, 130, 130), (140, 40, 130), (40, 40, 220))
_REFEREE_COLOURS = ((25, 25, 25), (40, 225, 245), (40, 40, 210), (190, 90, 30), (190, 110, 245), (60, 230, 160))
_SKIN = ((165, 190, 230), (125, 155, 205), (95, 125, 175), (65, 90, 135), (45, 62, 95))
_HAIR = ((20, 20, 25), (25, 40, 70), (40, 70, 120), (90, 150, 200), (60, 80, 160), (150, 150, 150))


@functools.lru_cache(maxsize=256)
def _lab(bgr: tuple[int, int, int]) -> np.ndarray:
    return cv2.cvtColor(np.uint8([[bgr]]), cv2.COLOR_BGR2LAB)[0, 0].astype(np.float64)


def _distinct(rng: np.random.Generator, palette, taken, min_dist: float) -> tuple[int, int, int]:
    """A palette colour at least `min_dist` (Lab, OpenCV's 0-255 scale) from every taken one."""
    order = rng.permutation(len(palette))
    best, best_d = palette[order[0]], -1.0
    for k in order:
        d = min((np.linalg.norm(_lab(tuple(palette[k])) - _lab(tuple(t))) for t in taken), default=1e9)
        if d >= min_dist:
            return tuple(int(c) for c in palette[k])
        if d > best_d:
            best, best_d = palette[k], d
    return tuple(int(c) for c in best)


@dataclass(frozen=True)
class Kit:
    shirt: tuple[int, int, int]
    second: tuple[int, int, int]      # stripes, hoops or sleeves
    shorts: tuple[int, int, int]
    socks: tuple[int, int, int]
    pattern: str                      # plain | stripes | hoops | sleeves


@dataclass(frozen=True)
class Look:
    kit: Kit
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    boots: tuple[int, int, int]
    gloves: tuple[int, int, int] | None
    build: float                      # limb thickness factor


def _kits(rng: np.random.Generator) -> dict[str, Kit]:
    """Two team kits far apart in colour, two goalkeeper kits and a referee kit unlike them all."""
    taken: list = []
    kits = {}
    for name, palette, dist in (("team1", _KIT_COLOURS, 0), ("team2", _KIT_COLOURS, 70),
                                ("keeper1", _KEEPER_COLOURS, 45), ("keeper2", _KEEPER_COLOURS, 45),
                                ("referee", _REFEREE_COLOURS, 40)):
        shirt = _distinct(rng, palette, taken, dist)
        taken.append(shirt)
        second = _distinct(rng, _KIT_COLOURS, [shirt], 60)
        if name == "referee":
            shorts = socks = (25, 25, 25)
            pattern = "plain"
        else:
            shorts = [shirt, (240, 240, 240), (30, 30, 30), second][int(rng.integers(4))]
            socks = shirt if rng.random() < 0.6 else shorts
            pattern = "plain" if name.startswith("keeper") else str(rng.choice(
                ["plain", "plain", "stripes", "hoops", "sleeves"]))
        kits[name] = Kit(shirt, second, tuple(shorts), tuple(socks), pattern)
    return kits


def _random_look(rng: np.random.Generator, kit: Kit, keeper: bool) -> Look:
    t = rng.uniform(0, len(_SKIN) - 1)
    lo = int(t)
    skin = tuple(int(a + (b - a) * (t - lo)) for a, b in zip(_SKIN[lo], _SKIN[min(lo + 1, len(_SKIN) - 1)]))
    hair = _HAIR[int(rng.integers(len(_HAIR)))]
    boots = [(20, 20, 20), (240, 240, 240), (30, 90, 240), (60, 220, 240), (200, 60, 30)][int(rng.integers(5))]
    gloves = _KEEPER_COLOURS[int(rng.integers(len(_KEEPER_COLOURS)))] if keeper else None
    return Look(kit, skin, hair, boots, gloves, float(rng.uniform(0.9, 1.12)))


REF_BODY_PX = 100            # body height of the cached sprites
_SPRITE_DRAW = 2             # drawn at this multiple, then area-downsampled (anti-aliasing)
N_POSES = 9                  # 8 phases of a running stride, then standing
STANDING = N_POSES - 1


def _person_sprite(look: Look, pose: int) -> tuple[np.ndarray, tuple[float, float]]:
    """A person facing right, premultiplied BGRA, body `REF_BODY_PX` tall; and the feet anchor.

    A side view of the stride (legs and arms swinging, knees flexing in the swing phase)
    over a torso seen three-quarters on, which reads as a footballer at broadcast sizes.
    A soft contact shadow under the feet is part of the sprite, and so of its box.
    """
    hb = REF_BODY_PX * _SPRITE_DRAW
    w, h = int(0.72 * hb), int(1.06 * hb)
    top = 0.02 * hb
    col = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)

    def pt(p):
        return int(round((w / 2 + p[0] * hb) * 16)), int(round((top + (1 - p[1]) * hb) * 16))

    def line(a, b, thick, colour):
        t = max(1, int(round(thick * look.build * hb)))
        cv2.line(col, pt(a), pt(b), colour, t, cv2.LINE_AA, 4)
        cv2.line(alpha, pt(a), pt(b), 255, t, cv2.LINE_AA, 4)

    def poly(points, colour):
        p = np.array([pt(q) for q in points], np.int32)
        cv2.fillPoly(col, [p], colour, cv2.LINE_AA, 4)
        cv2.fillPoly(alpha, [p], 255, cv2.LINE_AA, 4)

    def circle(c, r, colour):
        cv2.circle(col, pt(c), int(r * hb * 16), colour, -1, cv2.LINE_AA, 4)
        cv2.circle(alpha, pt(c), int(r * hb * 16), 255, -1, cv2.LINE_AA, 4)

    def along(p, length, angle):  # angle from the downward vertical, positive forward
        return (p[0] + length * np.sin(angle), p[1] - length * np.cos(angle))

    def shade(c, k):
        return tuple(int(v * k) for v in c)

    kit = look.kit
    running = pose != STANDING
    psi = 2 * np.pi * pose / (N_POSES - 1)
    lean = 0.035 if running else 0.0
    # the contact shadow
    cv2.ellipse(alpha, pt((0, 0.0)), (int(0.17 * hb * 16), int(0.022 * hb * 16)), 0, 0, 360, 85, -1, cv2.LINE_AA, 4)
    hip, neck = (0.0, 0.5), (lean, 0.82)

    def leg(phase, far):
        k = 0.85 if far else 1.0
        if running:
            thigh = 0.5 * np.sin(phase)
            flex = 0.15 + 1.1 * max(0.0, np.cos(phase))
        else:
            thigh, flex = 0.06 * (1 if far else -1), 0.05
        knee = along(hip, 0.245, thigh)
        ankle = along(knee, 0.235, thigh - flex)
        sock = along(knee, 0.08, thigh - flex)
        toe = (ankle[0] + 0.065 * np.cos(thigh - flex), ankle[1] + 0.065 * np.sin(thigh - flex) - 0.01)
        line(hip, knee, 0.075, shade(look.skin, k))
        line(knee, sock, 0.058, shade(look.skin, k))
        line(sock, ankle, 0.058, shade(kit.socks, k))
        line(ankle, toe, 0.045, shade(look.boots, k))

    def arm(phase, far):
        k = 0.85 if far else 1.0
        swing = -0.55 * np.sin(phase) if running else 0.1 * (1 if far else -1)
        shoulder = (neck[0] - 0.005, neck[1] - 0.03)
        elbow = along(shoulder, 0.16, swing)
        hand = along(elbow, 0.15, swing + (1.3 if running else 0.25))
        sleeve = kit.second if kit.pattern == "sleeves" else kit.shirt
        line(shoulder, along(shoulder, 0.1, swing), 0.058, shade(sleeve, k))
        line(along(shoulder, 0.1, swing), elbow, 0.045, shade(look.skin, k))
        line(elbow, hand, 0.04, shade(look.skin, k))
        if look.gloves is not None:
            circle(hand, 0.028, shade(look.gloves, k))

    arm(psi + np.pi, True)
    leg(psi + np.pi, True)
    leg(psi, False)
    poly([(-0.1, 0.54), (0.1 + lean, 0.54), (0.105, 0.41), (-0.105, 0.41)], kit.shorts)
    torso = [(-0.095, 0.52), (0.095, 0.52), (0.115 + lean, 0.81), (-0.115 + lean, 0.81)]
    poly(torso, kit.shirt)
    if kit.pattern == "stripes":
        for x in (-0.06, 0.0, 0.06):
            line((x, 0.53), (x + lean * 1.2, 0.8), 0.022, kit.second)
    elif kit.pattern == "hoops":
        for y in (0.58, 0.67, 0.76):
            line((-0.1 + lean * (y - 0.52) / 0.29, y), (0.1 + lean * (y - 0.52) / 0.29, y), 0.035, kit.second)
    line((neck[0] - 0.01, neck[1] - 0.02), (neck[0] + 0.005, neck[1] + 0.035), 0.05, look.skin)
    head = (neck[0] + 0.012, 0.925)
    circle(head, 0.062, look.skin)
    for canvas, colour in ((col, look.hair), (alpha, 255)):
        cv2.ellipse(canvas, pt((head[0] - 0.008, head[1] + 0.012)), (int(0.063 * hb * 16), int(0.055 * hb * 16)),
                    0, 160, 380, colour, -1, cv2.LINE_AA, 4)
    arm(psi, False)

    size = (w // _SPRITE_DRAW, h // _SPRITE_DRAW)
    out = np.dstack([cv2.resize(col, size, interpolation=cv2.INTER_AREA),
                     cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)])
    out[out[:, :, 3] < 8] = 0  # no invisible fringe: the drawn extent is exactly the box
    # drawing coordinate d is sprite coordinate (d - (S - 1) / 2) / S after the area downsampling
    anchor = ((w / 2 - (_SPRITE_DRAW - 1) / 2) / _SPRITE_DRAW, (top + hb - (_SPRITE_DRAW - 1) / 2) / _SPRITE_DRAW)
    return out, anchor


class SpriteBank:
    """Pre-rendered sprites by (look, pose, facing), drawn on first use and kept for the clip."""

    def __init__(self, looks: list[Look]):
        self.looks = looks
        self._cache: dict[tuple[int, int, bool], tuple[np.ndarray, tuple[float, float]]] = {}

    def get(self, look: int, pose: int, facing_left: bool) -> tuple[np.ndarray, tuple[float, float]]:
        key = (look, pose, facing_left)
        if key not in self._cache:
            spr, (ax, ay) = _person_sprite(self.looks[look], pose)
            if facing_left:
                spr, ax = np.ascontiguousarray(spr[:, ::-1]), spr.shape[1] - 1 - ax
            self._cache[key] = (spr, (ax, ay))
        return self._cache[key]


def _ball_sprite(radius: float, frac: tuple[float, float]) -> tuple[np.ndarray, int]:
    """A shaded ball of `radius` px, premultiplied BGRA, and the integer offset K of its centre.

    The centre falls at (K + frac) in sprite pixels, so placing the sprite's top-left at
    (floor(u) - K, floor(v) - K) puts the ball at the sub-pixel frame point (u, v).
    """
    s = 4  # supersampling
    k = int(np.ceil(radius)) + 1
    n = 2 * k + 2
    col = np.zeros((n * s, n * s, 3), np.uint8)
    alpha = np.zeros((n * s, n * s), np.uint8)
    c = [s * (k + f) + (s - 1) / 2 for f in frac]
    ci = (int(round(c[0] * 16)), int(round(c[1] * 16)))
    r = int(radius * s * 16)
    cv2.circle(alpha, ci, r, 255, -1, cv2.LINE_AA, 4)
    col[:] = (170, 172, 175)  # the shaded side, lower right
    cv2.circle(col, (ci[0] - r // 5, ci[1] - r // 5), int(r * 0.8), (238, 240, 242), -1, cv2.LINE_AA, 4)
    if radius >= 3:
        cv2.circle(col, (ci[0] - r // 4, ci[1] + r // 5), max(16, r // 4), (50, 50, 50), -1, cv2.LINE_AA, 4)
    col = (col.astype(np.uint16) * alpha[:, :, None] // 255).astype(np.uint8)  # premultiply
    out = np.dstack([cv2.resize(col, (n, n), interpolation=cv2.INTER_AREA),
                     cv2.resize(alpha, (n, n), interpolation=cv2.INTER_AREA)])
    out[out[:, :, 3] < 8] = 0
    return out, k


# --- people and ball: roster and a simple match ---------------------------------------------------------

BALL_RADIUS = 1.1  # template px: 11 cm


@dataclass(frozen=True)
class Person:
    track_id: int
    cls_id: int
    team: int | None   # ground-truth team: players only
    squad: int         # 1 or 2 for players and keepers (who they play for), 0 for officials
    role: str          # player | keeper | referee | assistant
    look: int          # index into the clip's looks
    height: float      # template px
    vmax: float        # template px per second


BALL_TRACK_ID = 0


def _roster(rng: np.random.Generator) -> tuple[list[Person], list[Look], dict[str, Kit]]:
    """10 outfield players a side (track ids 1-20), two keepers (21, 22), 1-3 referees (23-25).

    Keepers play for a squad but carry no ground-truth team: the validator's team metric
    reads players only and the wire format has no team for a goalkeeper class.
    """
    kits = _kits(rng)
    looks: list[Look] = []
    people: list[Person] = []

    def add(kit: Kit, keeper: bool, **kw) -> None:
        looks.append(_random_look(rng, kit, keeper))
        people.append(Person(look=len(looks) - 1, height=float(rng.uniform(17.0, 19.3)), **kw))

    for squad in (1, 2):
        for k in range(10):
            add(kits[f"team{squad}"], False, track_id=(squad - 1) * 10 + k + 1, cls_id=PLAYER, team=squad,
                squad=squad, role="player", vmax=float(rng.uniform(62, 80)))
    for squad in (1, 2):
        add(kits[f"keeper{squad}"], True, track_id=20 + squad, cls_id=GOALKEEPER, team=None, squad=squad,
            role="keeper", vmax=55.0)
    n_refs = int(rng.choice([1, 2, 3], p=[0.2, 0.3, 0.5]))
    for k in range(n_refs):
        add(kits["referee"], False, track_id=23 + k, cls_id=REFEREE, team=None, squad=0,
            role="referee" if k == 0 else "assistant", vmax=65.0)
    return people, looks, kits


_FORMATIONS = (  # (share of the pitch length from own goal, share of its width) per outfield player
    ((.18, .12), (.16, .37), (.16, .63), (.18, .88), (.42, .12), (.38, .38), (.38, .62), (.42, .88), (.62, .4),
     (.62, .6)),
    ((.18, .12), (.16, .37), (.16, .63), (.18, .88), (.38, .3), (.35, .5), (.38, .7), (.62, .15), (.66, .5),
     (.62, .85)),
    ((.16, .25), (.15, .5), (.16, .75), (.38, .08), (.36, .32), (.33, .5), (.36, .68), (.38, .92), (.62, .4),
     (.62, .6)),
)


@dataclass
class Track:
    """The simulated clip: per frame, every person's ground position, velocity, gait phase; the ball."""

    pos: np.ndarray    # (n, people, 2)
    vel: np.ndarray    # (n, people, 2)
    phase: np.ndarray  # (n, people)
    ball: np.ndarray   # (n, 3): X, Y, Z of the ball's centre


def _simulate(rng: np.random.Generator, people: list[Person], n_frames: int, fps: float,
              diff: Difficulty) -> Track:
    """A few seconds of plausible play, stepped at the frame rate.

    Each team holds a formation that slides with the ball and pushes up when it has it;
    every player wanders a little around the formation spot. The ball holder dribbles
    forward, then passes, mostly to a teammate, on the ground or lofted (the flight time
    gives the height, as a thrown ball's would); the receiver runs to meet it, the nearest
    opponent presses, the next one covers. Keepers guard their goal, the referee keeps a
    diagonal off the ball, assistants run their touchline. Velocities change with bounded
    acceleration, so positions and gait are smooth.
    """
    dt = 1.0 / fps
    L, Wd = float(pitch.TEMPLATE_W), float(pitch.TEMPLATE_H)
    n = len(people)
    squad = np.array([p.squad for p in people])
    role = np.array([p.role for p in people])
    vmax = np.array([p.vmax for p in people])
    outfield = role == "player"
    attack1 = 1.0 if rng.random() < 0.5 else -1.0
    direction = np.where(squad == 1, attack1, -attack1)            # +1: attacks towards +X
    own_goal = np.where(direction > 0, 0.0, L)
    form = np.zeros((n, 2))
    for s in (1, 2):
        f = np.array(_FORMATIONS[rng.integers(len(_FORMATIONS))])
        form[(squad == s) & outfield] = f
    amp = rng.uniform(12, 40, (n, 2))
    freq = rng.uniform(0.04, 0.2, (n, 2, 2))
    phase0 = rng.uniform(0, 2 * np.pi, (n, 2, 2))
    far_assistant_half = rng.random() < 0.5
    crowd = diff.crowding

    ball = np.array([rng.uniform(300, 750), rng.uniform(150, 530), BALL_RADIUS])
    holder = int(rng.choice(np.flatnonzero(outfield)))
    mode, release_t, flight = "held", rng.uniform(0.5, 1.5), None
    pos = np.zeros((n, 2))
    vel = np.zeros((n, 2))
    gait = rng.uniform(0, 2 * np.pi, n)

    def anchors(t: float) -> np.ndarray:
        owner = squad[holder] if mode == "held" else squad[flight["receiver"]]
        a_ball = (ball[0] - own_goal) * direction
        a = form[:, 0] * 0.72 * L + 0.42 * (a_ball - 0.5 * L) + np.where(squad == owner, 35.0, -25.0)
        x = own_goal + direction * a
        y = 340 + (form[:, 1] - 0.5) * 0.82 * Wd + 0.3 * (ball[1] - 340)
        x += crowd * (ball[0] - x)
        y += crowd * (ball[1] - y)
        tt = 2 * np.pi * freq * t + phase0
        wander = amp * (0.6 * np.sin(tt[:, :, 0]) + 0.4 * np.sin(tt[:, :, 1]))
        return np.stack([x, y], 1) + wander

    warmup = int(2 * fps)
    out_pos, out_vel, out_phase, out_ball = (np.zeros((n_frames, n, 2)), np.zeros((n_frames, n, 2)),
                                             np.zeros((n_frames, n)), np.zeros((n_frames, 3)))
    for step in range(-warmup, n_frames):
        t = (step + warmup) * dt
        if step == -warmup:  # a first guess, so that "nearest to the ball" means something
            pos = anchors(0.0)
        # the ball
        if mode == "held" and t >= release_t:
            flight = _start_pass(rng, holder, pos, vel, squad, role, direction, ball, diff, t)
            mode = "flight"
        if mode == "flight":
            u = (t - flight["t0"]) / flight["T"]
            if u >= 1:
                holder, mode = flight["receiver"], "held"
                release_t = t + (rng.uniform(1.2, 2.5) if role[holder] == "keeper" else rng.uniform(0.4, 1.8))
            elif flight["lofted"]:
                ball[:2] = flight["start"] + (flight["end"] - flight["start"]) * u
                ball[2] = BALL_RADIUS + 4 * flight["peak"] * u * (1 - u)
            else:
                ball[:2] = flight["start"] + (flight["end"] - flight["start"]) * (1 - (1 - u) ** 1.6)
                ball[2] = BALL_RADIUS
        if mode == "held":
            sp = np.linalg.norm(vel[holder])
            ahead = vel[holder] / sp * 5 if sp > 5 else np.array([direction[holder] * 4, 0.0])
            ball[:2] += (pos[holder] + ahead - ball[:2]) * min(1.0, 14 * dt)
            ball[2] = BALL_RADIUS
        # where everyone wants to be
        target = anchors(t)
        cap = vmax.copy()
        owner = squad[holder] if mode == "held" else squad[flight["receiver"]]
        chasers = np.flatnonzero(outfield & (squad != owner))
        d_ball = np.linalg.norm(pos[chasers] - ball[:2], axis=1)
        order = chasers[np.argsort(d_ball)]
        target[order[0]] = ball[:2]
        target[order[1]] = ball[:2] + 45 * _unit(np.array([own_goal[order[1]], 340.0]) - ball[:2])
        if mode == "held" and role[holder] == "player":
            target[holder] = (pos[holder] + np.array([direction[holder] * 110, 0.0])
                              + (target[holder] - pos[holder]) * 0.3)
            cap[holder] = 55.0
        elif mode == "held":
            target[holder] = pos[holder]
        else:
            target[flight["receiver"]] = flight["end"]
        for k in np.flatnonzero(role == "keeper"):
            gx = own_goal[k] + direction[k] * min(22 + 0.06 * abs(ball[0] - own_goal[k]), 110)
            if not (mode == "held" and holder == k):
                target[k] = [gx, np.clip(340 + 0.25 * (ball[1] - 340), 300, 380)]
        for k in np.flatnonzero(role == "referee"):
            target[k] = [ball[0] - np.sign(ball[0] - 525 + 1e-6) * 100, ball[1] + (100 if ball[1] < 340 else -100)]
        for j, k in enumerate(np.flatnonzero(role == "assistant")):
            far = j == 0
            right_half = far == far_assistant_half
            lo, hi = (525.0, L - 20) if right_half else (20.0, 525.0)
            target[k] = [np.clip(ball[0], lo, hi), -20.0 if far else Wd + 20]
        inside = role != "assistant"
        target[inside] = np.clip(target[inside], [15, 12], [L - 15, Wd - 12])
        if step == -warmup:  # everyone starts near where they want to be
            pos = target + rng.normal(0, 8, (n, 2))
            pos[holder] = ball[:2]
        # move: bounded acceleration towards a capped desired velocity, teammates keep apart
        desired = (target - pos) * 1.6
        speed = np.linalg.norm(desired, axis=1, keepdims=True)
        desired *= np.minimum(1.0, cap[:, None] / np.maximum(speed, 1e-9))
        diff_ij = pos[:, None, :] - pos[None, :, :]
        dist = np.linalg.norm(diff_ij, axis=2) + np.eye(n) * 1e9
        same = (squad[:, None] == squad[None, :]) | (squad[:, None] == 0) | (squad[None, :] == 0)
        push = np.where(same & (dist < 16), (16 - dist) / 16 * 45, 0.0)
        desired += (diff_ij / dist[:, :, None] * push[:, :, None]).sum(1)
        dv = desired - vel
        dv_n = np.linalg.norm(dv, axis=1, keepdims=True)
        vel = vel + dv * np.minimum(1.0, 55 * dt / np.maximum(dv_n, 1e-9))
        pos = pos + vel * dt
        sp = np.linalg.norm(vel, axis=1)
        gait = (gait + 2 * np.pi * sp / (22 + 0.25 * sp) * dt) % (2 * np.pi)
        if step >= 0:
            out_pos[step], out_vel[step], out_phase[step], out_ball[step] = pos, vel, gait, ball
    return Track(out_pos, out_vel, out_phase, out_ball)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _start_pass(rng, holder, pos, vel, squad, role, direction, ball, diff: Difficulty, t: float) -> dict:
    """Pick a receiver (mostly a teammate ahead and not too far; sometimes a turnover) and a flight."""
    L, Wd = float(pitch.TEMPLATE_W), float(pitch.TEMPLATE_H)
    turnover = rng.random() < 0.12
    own = squad == squad[holder]
    cand = np.flatnonzero((own if not turnover else (squad != squad[holder]) & (squad > 0)) & (role != "assistant"))
    cand = cand[cand != holder]
    d = np.linalg.norm(pos[cand] - pos[holder], axis=1)
    if role[holder] == "keeper":
        w = np.exp(-np.abs(d - 450) / 200)
    else:
        fwd = (pos[cand, 0] - pos[holder, 0]) * direction[holder]
        w = np.exp(-d / 300) * (d > 60) * (1 + 0.6 * (fwd > 0))
    w = w * np.where(role[cand] == "keeper", 0.2, 1.0) + 1e-9
    receiver = int(cand[rng.choice(len(cand), p=w / w.sum())])
    dist = float(np.linalg.norm(pos[receiver] - ball[:2]))
    loft_p = diff.loft_share * (2.0 if dist > 300 else 0.4)
    lofted = rng.random() < (0.7 if role[holder] == "keeper" else loft_p)
    T = float(np.clip(0.9 + dist / 260, 1.2, 3.0) if lofted else np.clip(dist / rng.uniform(140, 220), 0.35, 2.5))
    end = np.clip(pos[receiver] + vel[receiver] * T * 0.6, [20, 15], [L - 20, Wd - 15])
    return {"receiver": receiver, "start": ball[:2].copy(), "end": end, "t0": t, "T": T, "lofted": lofted,
            "peak": 9.81 * T * T / 8 * 10}


# --- degradation -------------------------------------------------------------------------------

class _Degrader:
    """What a broadcast chain does to a clean render: blur, softness, light, noise, compression.

    Per clip: a colour grade (gamma, contrast, white balance), optical softness, a sensor
    noise level and a JPEG quality; per frame: motion blur along the camera's image motion,
    a slow exposure drift, and a fresh crop of a pre-drawn noise field (drawing noise for
    every frame would cost more than the rest of the render).
    """

    _NOISE_MARGIN = 32

    def __init__(self, rng: np.random.Generator, diff: Difficulty, width: int, height: int, n_frames: int,
                 fps: float):
        self.diff = diff
        self.soften = float(rng.uniform(*diff.soften))
        self.jpeg = int(rng.integers(diff.jpeg_quality[0], diff.jpeg_quality[1] + 1)) if diff.jpeg_quality else None
        self.gamma = rng.uniform(0.88, 1.12)
        self.contrast = rng.uniform(0.92, 1.1)
        self.lift = rng.uniform(-0.02, 0.03)
        warm = rng.uniform(-0.05, 0.05)
        self.balance = np.array([1 - warm, 1.0, 1 + warm])
        t = np.arange(n_frames) / fps
        drift = np.sin(2 * np.pi * t / rng.uniform(6, 15) + rng.uniform(0, 6.3))
        self.exposure = 1 + diff.exposure * (rng.uniform(-0.6, 0.6) + 0.4 * drift)
        m = self._NOISE_MARGIN
        sigma = rng.uniform(*diff.noise_sigma)
        noise = rng.standard_normal((height + m, width + m, 3), dtype=np.float32) * np.float32(sigma)
        noise += rng.standard_normal((height + m, width + m, 1), dtype=np.float32) * np.float32(sigma * 0.5)
        noise = np.round(noise)
        self.noise_up = np.clip(noise, 0, 255).astype(np.uint8)
        self.noise_down = np.clip(-noise, 0, 255).astype(np.uint8)
        self.offsets = rng.integers(0, m, (n_frames, 2))

    def lut(self, i: int) -> np.ndarray:
        x = np.linspace(0, 1, 256)[:, None]
        y = ((x ** self.gamma - 0.5) * self.contrast + 0.5 + self.lift) * self.balance[None, :] * self.exposure[i]
        return np.clip(np.round(y * 255), 0, 255).astype(np.uint8).reshape(256, 1, 3)

    def apply(self, frame: np.ndarray, i: int, motion: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The degraded frame and how far (x, y px) motion blur smears an object past its drawn extent."""
        pad = np.zeros(2)
        length = min(self.diff.shutter * float(np.hypot(*motion)), self.diff.max_blur_px)
        if length >= 1.0:
            d = motion / np.hypot(*motion) * length
            k = int(np.ceil(length)) | 1
            kernel = np.zeros((k, k), np.float32)
            c = (k - 1) / 2
            a, b = np.round((c - d / 2) * 16).astype(int), np.round((c + d / 2) * 16).astype(int)
            cv2.line(kernel, tuple(map(int, a)), tuple(map(int, b)), 1.0, 1, cv2.LINE_AA, 4)
            frame = cv2.filter2D(frame, -1, kernel / kernel.sum())
            pad += np.round(np.abs(d) / 2)
        if self.soften > 0.2:  # its tails stay under a grey level or two: no pad
            frame = cv2.GaussianBlur(frame, (0, 0), self.soften)
        frame = cv2.LUT(frame, self.lut(i))
        ox, oy = self.offsets[i]
        h, w = frame.shape[:2]
        frame = cv2.subtract(cv2.add(frame, self.noise_up[oy:oy + h, ox:ox + w]), self.noise_down[oy:oy + h, ox:ox + w])
        if self.jpeg is not None:
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return frame, (int(pad[0]), int(pad[1]))


# --- rendering a clip ------------------------------------------------------------------------------

@dataclass
class _Drawn:
    """One object composited into a frame: its clipped drawn extent and pixel counts."""

    person: Person | None   # None: the ball
    box: tuple[int, int, int, int] | None
    opaque: int             # its opaque pixels, in the frame or not
    visible: int = 0        # of those, the ones still on top at the end


class ClipRenderer:
    """One clip, fixed by its seed: any frame of it, with its ground truth, on demand.

    Construction draws the clip's look (kits, stadium, grass, light), simulates the play and
    plans the camera; `render(i)` then paints frame i. `render(i, degrade=False)` gives the
    clean picture and `hide={track_id}` leaves objects out, which is what the tests use to
    check that boxes enclose what is drawn.
    """

    def __init__(self, seed: int, n_frames: int, width: int = 960, height: int = 540, fps: float = 25,
                 difficulty: str = "default"):
        _check_args(n_frames, width, height, fps, difficulty, seed)
        self.width, self.height, self.fps, self.n_frames = int(width), int(height), float(fps), int(n_frames)
        self.difficulty = diff = PRESETS[difficulty]
        r_look, r_tex, r_match, r_cam, r_deg = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
        self.night = bool(r_look.random() < 0.35)
        self.people, looks, kits = _roster(r_look)
        self.sprites = SpriteBank(looks)
        self.line_width = float(r_look.uniform(2.0, 2.8))
        self.line_paint = tuple(int(c) for c in r_look.uniform(232, 252, 3))
        self.line_opacity = float(r_look.uniform(0.86, 0.97))
        self.sky = (18, 16, 14) if self.night else tuple(int(c) for c in r_look.uniform(150, 200, 3))
        self.grass, self.to_texture = _grass_texture(r_tex, self.night)
        self.surfaces = _stadium(r_tex, self.night, kits["team1"].shirt)
        self.shadow, self.shadow_gain = None, 1.0
        if not self.night and r_tex.random() < diff.shadow_prob:
            # the far stand's shadow on a sunny day: a band along the far side with a slanted edge
            ya, yb = r_tex.uniform(-40, 330, 2)
            self.shadow = np.array([(-300, -400), (1350, -400), (1350, yb), (-300, ya)], np.float64)
            self.shadow_gain = float(r_tex.uniform(0.55, 0.78))
            _shade_texture(self.grass, self.to_texture, self.shadow, self.shadow_gain)
        self.track = _simulate(r_match, self.people, self.n_frames, self.fps, diff)
        self.cameras = _camera_path(r_cam, _camera_centre(r_cam), self.track.ball, self.fps, self.width,
                                    self.height, diff)
        self.facing_left = self._facing()
        self.degrader = _Degrader(r_deg, diff, self.width, self.height, self.n_frames, self.fps)

    def homography(self, i: int) -> np.ndarray:
        """Template -> frame homography of frame i (what the keypoints are projected with)."""
        return self.cameras[i].H

    def _facing(self) -> np.ndarray:
        """Whether each person faces left in the picture, with hysteresis so sprites don't flicker."""
        out = np.zeros(self.track.phase.shape, bool)
        state = np.zeros(len(self.people), bool)
        for i, cam in enumerate(self.cameras):
            sideways = self.track.vel[i] @ cam.R[0, :2]
            state = np.where(sideways < -6, True, np.where(sideways > 6, False, state))
            out[i] = state
        return out

    def _motion(self, i: int) -> np.ndarray:
        """Image motion (px per frame) at the frame centre, from the previous frame's camera."""
        if self.n_frames < 2:
            return np.zeros(2)
        j = i - 1 if i > 0 else 1
        c = np.array([(self.width - 1) / 2, (self.height - 1) / 2])
        ground = pitch.unproject(self.cameras[i].H, [c])
        prev = pitch.project(self.cameras[j].H, ground)[0]
        m = c - prev if i > 0 else prev - c
        return m if np.all(np.isfinite(m)) else np.zeros(2)

    def render(self, i: int, degrade: bool = True, hide=()) -> tuple[np.ndarray, GTFrame]:
        """Frame i (BGR) and its ground truth."""
        if not 0 <= i < self.n_frames:
            raise KitError(f"frame {i} is outside this clip's 0..{self.n_frames - 1}")
        cam = self.cameras[i]
        w, h = self.width, self.height
        frame = cv2.warpPerspective(self.grass, cam.H @ np.linalg.inv(self.to_texture), (w, h),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        lines = np.zeros((h * _LINE_SS, w * _LINE_SS), np.uint8)
        _fill_shapes(lines, _line_bands(self.line_width), cam, _LINE_SS)
        lines = cv2.resize(lines, (w, h), interpolation=cv2.INTER_AREA)
        shade = None
        if self.shadow is not None:  # the grass has it baked in; the markings get it here
            shade = np.zeros((h, w), np.uint8)
            _fill_shapes(shade, ((self.shadow,),), cam, 1)
        _blend_colour(frame, lines, self.line_paint, self.line_opacity, shade, self.shadow_gain)
        sky = cam.horizon_sky()
        if len(sky) >= 3:
            cv2.fillPoly(frame, [np.round(sky).astype(np.int32)], self.sky)
        for surface in self.surfaces:
            surface.render(frame, cam)
        _draw_goal(frame, cam, 2.0, -1.0)
        _draw_goal(frame, cam, 1047.5, 1.0)
        _draw_corner_flags(frame, cam, (40, 40, 220))
        drawn = self._draw_objects(frame, i, cam, set(hide))
        pad = (0, 0)
        if degrade:
            frame, pad = self.degrader.apply(frame, i, self._motion(i))
        boxes = []
        for d in drawn:
            if d.box is None or d.visible < MIN_VISIBLE_SHARE * d.opaque:
                continue
            x1, y1, x2, y2 = d.box
            x1, y1 = max(0, x1 - pad[0]), max(0, y1 - pad[1])
            x2, y2 = min(w, x2 + pad[0]), min(h, y2 + pad[1])
            p = d.person
            if p is None:
                boxes.append(GTBox(x1, y1, x2, y2, BALL, None, BALL_TRACK_ID))
            else:
                boxes.append(GTBox(x1, y1, x2, y2, p.cls_id, p.team, p.track_id))
        boxes.sort(key=lambda b: b.track_id)
        return frame, GTFrame(i, boxes, pitch.project_keypoints(cam.H, w, h))

    def _draw_objects(self, frame: np.ndarray, i: int, cam: Camera, hide: set) -> list[_Drawn]:
        """People and ball in painter's order; an id buffer tells how much of each stays visible."""
        tr = self.track
        items = []  # (depth, person or None, sprite, x0, y0)
        for k, p in enumerate(self.people):
            if p.track_id in hide:
                continue
            x, y = tr.pos[i, k]
            feet, head = np.array([[x, y, 0.0]]), np.array([[x, y, p.height]])
            depth = cam.depth(feet)[0]
            if depth < 30:
                continue
            (fu, fv), (_, hv) = cam.project(np.vstack([feet, head]))
            body = fv - hv
            if body < 3:
                continue
            speed = np.hypot(*tr.vel[i, k])
            pose = STANDING if speed < 8 else int(tr.phase[i, k] / (2 * np.pi) * (N_POSES - 1)) % (N_POSES - 1)
            spr, (ax, ay) = self.sprites.get(p.look, pose, bool(self.facing_left[i, k]))
            scale = body / REF_BODY_PX
            size = (max(1, round(spr.shape[1] * scale)), max(1, round(spr.shape[0] * scale)))
            if fu + size[0] < 0 or fu - size[0] > self.width or fv - size[1] > self.height or fv + size[1] < 0:
                continue  # well outside the frame
            sx, sy = size[0] / spr.shape[1], size[1] / spr.shape[0]
            spr = cv2.resize(spr, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            x0 = int(round(fu - ((ax + 0.5) * sx - 0.5)))
            y0 = int(round(fv - ((ay + 0.5) * sy - 0.5)))
            if self.shadow is not None and cv2.pointPolygonTest(self.shadow.astype(np.float32), (float(x), float(y)),
                                                                False) > 0:
                spr = spr.copy()
                spr[:, :, :3] = (spr[:, :, :3] * self.shadow_gain).astype(np.uint8)
            items.append((depth, p, spr, x0, y0))
        if BALL_TRACK_ID not in hide:
            centre = tr.ball[i][None, :]
            depth = cam.depth(centre)[0]
            if depth > 30:
                (u, v), = cam.project(centre)
                radius = max(1.5, cam.focal * BALL_RADIUS / depth)
                if -10 < u < self.width + 10 and -10 < v < self.height + 10:
                    spr, k = _ball_sprite(radius, (u - np.floor(u), v - np.floor(v)))
                    # ordered by the point under it, like the people (sprites stand on their feet);
                    # a tie goes to the ball, which is at the feet in front of the player's centre
                    ground = cam.depth(centre * [1, 1, 0])[0]
                    items.append((ground - 1.0, None, spr, int(np.floor(u)) - k, int(np.floor(v)) - k))
        items.sort(key=lambda it: -it[0])
        label = np.full((self.height, self.width), -1, np.int16)
        drawn = []
        for j, (_, p, spr, x0, y0) in enumerate(items):
            drawn.append(_composite(frame, label, spr, x0, y0, j, p))
        for j, d in enumerate(drawn):
            if d.box is not None:
                x1, y1, x2, y2 = d.box
                d.visible = int(np.count_nonzero(label[y1:y2, x1:x2] == j))
        return drawn


def _composite(frame: np.ndarray, label: np.ndarray, spr: np.ndarray, x0: int, y0: int, j: int,
               person: Person | None) -> _Drawn:
    """Blend a premultiplied BGRA sprite at (x0, y0); mark its opaque pixels as object j."""
    h, w = frame.shape[:2]
    alpha = spr[:, :, 3]
    opaque = int(np.count_nonzero(alpha >= 128))
    sx0, sy0 = max(0, -x0), max(0, -y0)
    sx1, sy1 = min(spr.shape[1], w - x0), min(spr.shape[0], h - y0)
    if sx1 <= sx0 or sy1 <= sy0:
        return _Drawn(person, None, opaque)
    part = spr[sy0:sy1, sx0:sx1]
    a = part[:, :, 3]
    cols, rows = np.flatnonzero(a.any(0)), np.flatnonzero(a.any(1))
    if not len(cols):
        return _Drawn(person, None, opaque)
    fx0, fy0 = x0 + sx0, y0 + sy0
    roi = frame[fy0:fy0 + part.shape[0], fx0:fx0 + part.shape[1]]
    a16 = a[:, :, None].astype(np.uint16)
    roi[:] = ((roi * (255 - a16) + 127) // 255 + part[:, :, :3]).clip(0, 255).astype(np.uint8)
    lab = label[fy0:fy0 + part.shape[0], fx0:fx0 + part.shape[1]]
    lab[a >= 128] = j
    box = (fx0 + int(cols[0]), fy0 + int(rows[0]), fx0 + int(cols[-1]) + 1, fy0 + int(rows[-1]) + 1)
    return _Drawn(person, box, opaque)


# --- ground truth and files --------------------------------------------------------------------------

def _check_args(n_frames, width, height, fps, difficulty, seed) -> None:
    """Raise KitError naming the first bad argument and what to pass instead."""
    def is_int(v) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(n_frames) or n_frames < 1:
        raise KitError(f"frames per clip (n_frames) must be an integer >= 1, got {n_frames!r}")
    for name, v, lo in (("width", width, MIN_WIDTH), ("height", height, MIN_HEIGHT)):
        if not is_int(v) or not lo <= v <= MAX_SIDE:
            raise KitError(f"{name} must be an integer from {lo} to {MAX_SIDE} pixels, got {v!r} "
                           "(the validator's clips are 960 x 540)")
        if v % 2:
            raise KitError(f"{name} must be even, got {v} (the mp4v encoder silently crops odd sizes; "
                           f"use {v - 1} or {v + 1})")
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not 1 <= fps <= 240:
        raise KitError(f"fps must be a number from 1 to 240, got {fps!r}")
    if difficulty not in PRESETS:
        raise KitError(f"unknown difficulty {difficulty!r}: use one of {', '.join(DIFFICULTIES)}")
    if not is_int(seed) or seed < 0:
        raise KitError(f"seed must be a non-negative integer, got {seed!r}")


def clip_seed(seed: int, index: int) -> int:
    """The seed of clip `index` in a batch generated from `seed` (independent streams per clip)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise KitError(f"seed must be a non-negative integer, got {seed!r}")
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def render_frames(n_frames: int, seed: int, width: int = 960, height: int = 540, difficulty: str = "default",
                  fps: float = 25) -> Iterator[tuple[np.ndarray, GTFrame]]:
    """Frames (BGR uint8) and their ground truth, in order, in memory: no encoding, no files.

    Arguments are checked when called, not at the first `next()`.
    """
    renderer = ClipRenderer(seed, n_frames, width, height, fps, difficulty)
    return (renderer.render(i) for i in range(n_frames))


def _prepare_out_dir(out_dir) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise KitError(f"{out}: exists and is not a folder; pass a folder for the clips")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise KitError(f"{out}: cannot write clips there ({e.strerror or e}); pass a writable folder "
                       "with --out") from e
    return out


def generate_clip(out_dir, index: int = 0, n_frames: int = 100, seed: int = 0, width: int = 960,
                  height: int = 540, fps: float = 25, difficulty: str = "default",
                  progress: bool = False) -> tuple[Path, Path]:
    """Write `clip_{index:03d}.mp4` and its ground truth `clip_{index:03d}.json` into out_dir.

    The video goes to a temporary name first and is checked (OpenCV must count exactly
    n_frames in it, as the validator's reader does); only then does it replace any old clip
    of that name, and the JSON is written last, atomically. So a clip whose JSON exists is
    complete, and a failure or an interrupt leaves no partial clip and no other clip touched.
    """
    from tqdm.auto import tqdm

    if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index <= 999_999:
        raise KitError(f"index must be an integer from 0 to 999999, got {index!r}")
    _check_args(n_frames, width, height, fps, difficulty, seed)
    out = _prepare_out_dir(out_dir)
    renderer = ClipRenderer(seed, n_frames, width, height, fps, difficulty)
    name = f"clip_{index:03d}"
    video, truth = out / f"{name}.mp4", out / f"{name}.json"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial.mp4", dir=out)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not writer.isOpened():
            raise KitError(f"{tmp}: OpenCV could not open an mp4v video writer (is FFmpeg support missing "
                           "from this OpenCV build? `tvkit doctor` checks it)")
        frames = []
        try:
            for i in tqdm(range(n_frames), desc=name, unit="frame", disable=not progress, leave=False):
                img, gt_frame = renderer.render(i)
                writer.write(img)
                frames.append(gt_frame)
        finally:
            writer.release()
        counted = _frame_count(tmp)
        if counted != n_frames:
            raise KitError(f"{tmp}: wrote {n_frames} frames but OpenCV counts {counted}; the clip would not "
                           "match its ground truth, so it was not kept")
        gt = GroundTruth(video.name, width, height, float(fps), frames)
        truth.unlink(missing_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the clip from other users
        os.replace(tmp, video)
        save_ground_truth(gt, truth)
    except OSError as e:
        raise KitError(f"{out}: writing {name} failed ({e}); earlier clips there are untouched") from e
    finally:
        tmp.unlink(missing_ok=True)
    return video, truth


def _frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else -1
    finally:
        cap.release()


def generate_clips(out_dir, n_clips: int, n_frames: int, seed: int, width: int = 960, height: int = 540,
                   fps: float = 25, difficulty: str = "default", progress: bool = True) -> list[tuple[Path, Path]]:
    """Clips 0..n_clips-1 into out_dir; clip i is `generate_clip` with seed `clip_seed(seed, i)`."""
    from tqdm.auto import tqdm

    if not isinstance(n_clips, (int, np.integer)) or isinstance(n_clips, bool) or n_clips < 1:
        raise KitError(f"n_clips must be an integer >= 1, got {n_clips!r}")
    _check_args(n_frames, width, height, fps, difficulty, seed)
    _prepare_out_dir(out_dir)
    out = []
    for i in tqdm(range(n_clips), desc="clips", unit="clip", disable=not progress):
        out.append(generate_clip(out_dir, i, n_frames, clip_seed(seed, i), width, height, fps, difficulty,
                                 progress=progress))
    return out
