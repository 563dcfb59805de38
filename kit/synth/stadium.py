"""The stadium: advertising boards, stands, goals and corner flags, textured planes in 3D.

All are projected by the same camera as the pitch; a `Surface` is warped into the frame only where
it is in front of the camera. The textures are made once per clip from its random stream.

Usage: from kit.synth.stadium import build_stadium; surfaces = build_stadium(rng, night=False, home=(40, 40, 200))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .. import pitch
from .camera import Camera
from .field import blend_colour


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


def build_stadium(rng: np.random.Generator, night: bool, home: tuple[int, int, int]) -> list[Surface]:
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


def draw_goal(frame: np.ndarray, cam: Camera, x_line: float, outward: float) -> None:
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
    blend_colour(frame, net, (225, 225, 225), 0.45)
    posts_and_bar = [((x_line, y0, 0), (x_line, y0, hgt)), ((x_line, y1, 0), (x_line, y1, hgt)),
                     ((x_line, y0, hgt), (x_line, y1, hgt))]
    for a, b in posts_and_bar:
        d = cam.depth(np.array([a]))[0]
        thick = max(1, int(round(cam.focal * 1.2 / d)))
        pa, pb = np.round(cam.project(np.array([a, b])) * 16).astype(np.int64)
        cv2.line(frame, tuple(map(int, pa)), tuple(map(int, pb)), (245, 245, 245), thick, cv2.LINE_AA, 4)


def draw_corner_flags(frame: np.ndarray, cam: Camera, colour) -> None:
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
