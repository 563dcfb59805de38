"""The camera model: a pinhole camera high behind the near touchline, and the operator who moves it.

Pan, tilt and zoom follow the ball like a broadcast operator, with lag and inertia; the frame's
template -> frame homography `Camera.H` is what the ground truth's keypoints are projected with.
The small geometry helpers (polygon clipping, smoothing, held segments) live here because the
camera is their first user; `clip_polygon` is shared with the pitch painter.

Usage: from kit.synth.camera import Camera; cam = Camera((525, 2000, 250), 0.0, 0.5, 0.0, 900.0, 960, 540)
"""

from __future__ import annotations

import numpy as np

from .. import pitch
from .presets import Difficulty

# --- small geometry helpers ---------------------------------------------------------------------

def clip_polygon(poly: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
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
        return clip_polygon(poly3d, self.R[2], -(self.center @ self.R[2]) - near)

    def horizon_sky(self) -> np.ndarray:
        """The frame polygon above the horizon (where no ground can be), possibly empty."""
        w, h = self.width, self.height
        frame = np.array([[-1, -1], [w, -1], [w, h], [-1, h]], np.float64)
        # (H^-1 x)_3 changes sign on the horizon; its sign on the ground side is read off a
        # ground point surely in front of the camera, the pitch centre.
        line = np.linalg.inv(self.H)[2]
        sign = np.sign(line @ np.append(pitch.project(self.H, [[525, 340]])[0], 1.0))
        return clip_polygon(frame, -sign * line[:2], -sign * line[2])


def camera_centre(rng: np.random.Generator) -> np.ndarray:
    """Where the main camera stands: near the halfway line, 20-32 m behind the near touchline and
    20-30 m up, like a gantry on the main stand's roof. Lower or farther cameras see the far
    lines at grazing angles, where the metric's warped template breaks into square specks and
    zeroes the frame (its "square blob" rule), for real broadcasts as for these."""
    return np.array([rng.uniform(470, 580), 680 + rng.uniform(200, 320), rng.uniform(200, 300)])


def _look_angles(center: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Pan and depression angle (radians) from the camera centre to a ground point."""
    dx, dy = target[0] - center[0], center[1] - target[1]
    return float(np.arctan2(dx, dy)), float(np.arctan2(center[2], np.hypot(dx, dy)))


def camera_path(rng: np.random.Generator, center: np.ndarray, ball: np.ndarray, fps: float, width: int,
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

