"""Rendering a clip: the layers painted in order into one frame, degraded, with its ground truth.

`ClipRenderer` draws a clip's look, simulates its play and plans its camera once; `render(i)` paints
frame i: grass, markings, sky, stadium, goals, people and ball in painter's order (an id buffer tells
how much of each stays visible), then the broadcast chain's degradation (`_Degrader`). Boxes follow
the ground-truth decisions of `kit.synth`.

Usage: from kit.synth.render import ClipRenderer; frame, gt = ClipRenderer(seed=7, n_frames=10).render(0)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .. import KitError, pitch
from ..contract import BALL, GTBox, GTFrame
from .camera import Camera, camera_centre, camera_path
from .field import LINE_SS, blend_colour, fill_shapes, grass_texture, line_bands, shade_texture
from .match import BALL_RADIUS, BALL_TRACK_ID, Person, roster, simulate
from .people import N_POSES, REF_BODY_PX, STANDING, SpriteBank, ball_sprite
from .presets import MIN_VISIBLE_SHARE, PRESETS, Difficulty, check_args
from .stadium import build_stadium, draw_corner_flags, draw_goal


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
        check_args(n_frames, width, height, fps, difficulty, seed)
        self.width, self.height, self.fps, self.n_frames = int(width), int(height), float(fps), int(n_frames)
        self.difficulty = diff = PRESETS[difficulty]
        r_look, r_tex, r_match, r_cam, r_deg = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
        self.night = bool(r_look.random() < 0.35)
        self.people, looks, kits = roster(r_look)
        self.sprites = SpriteBank(looks)
        self.line_width = float(r_look.uniform(2.0, 2.8))
        self.line_paint = tuple(int(c) for c in r_look.uniform(232, 252, 3))
        self.line_opacity = float(r_look.uniform(0.86, 0.97))
        self.sky = (18, 16, 14) if self.night else tuple(int(c) for c in r_look.uniform(150, 200, 3))
        self.grass, self.to_texture = grass_texture(r_tex, self.night)
        self.surfaces = build_stadium(r_tex, self.night, kits["team1"].shirt)
        self.shadow, self.shadow_gain = None, 1.0
        if not self.night and r_tex.random() < diff.shadow_prob:
            # the far stand's shadow on a sunny day: a band along the far side with a slanted edge
            ya, yb = r_tex.uniform(-40, 330, 2)
            self.shadow = np.array([(-300, -400), (1350, -400), (1350, yb), (-300, ya)], np.float64)
            self.shadow_gain = float(r_tex.uniform(0.55, 0.78))
            shade_texture(self.grass, self.to_texture, self.shadow, self.shadow_gain)
        self.track = simulate(r_match, self.people, self.n_frames, self.fps, diff)
        self.cameras = camera_path(r_cam, camera_centre(r_cam), self.track.ball, self.fps, self.width,
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
        lines = np.zeros((h * LINE_SS, w * LINE_SS), np.uint8)
        fill_shapes(lines, line_bands(self.line_width), cam, LINE_SS)
        lines = cv2.resize(lines, (w, h), interpolation=cv2.INTER_AREA)
        shade = None
        if self.shadow is not None:  # the grass has it baked in; the markings get it here
            shade = np.zeros((h, w), np.uint8)
            fill_shapes(shade, ((self.shadow,),), cam, 1)
        blend_colour(frame, lines, self.line_paint, self.line_opacity, shade, self.shadow_gain)
        sky = cam.horizon_sky()
        if len(sky) >= 3:
            cv2.fillPoly(frame, [np.round(sky).astype(np.int32)], self.sky)
        for surface in self.surfaces:
            surface.render(frame, cam)
        draw_goal(frame, cam, 2.0, -1.0)
        draw_goal(frame, cam, 1047.5, 1.0)
        draw_corner_flags(frame, cam, (40, 40, 220))
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
                    spr, k = ball_sprite(radius, (u - np.floor(u), v - np.floor(v)))
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
