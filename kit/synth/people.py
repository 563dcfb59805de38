"""People and ball as sprites: kits, looks, and the cached sprites drawn from them.

Two team kits far apart in colour, goalkeeper and referee kits unlike them; each person a look
(skin, hair, boots, build). A person's sprite is a side view of a running stride, premultiplied
BGRA with its feet anchor, drawn once per (look, pose, facing) and kept for the clip.

Usage: from kit.synth.people import SpriteBank; sprite, anchor = SpriteBank(looks).get(0, STANDING, False)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

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


def team_kits(rng: np.random.Generator) -> dict[str, Kit]:
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


def random_look(rng: np.random.Generator, kit: Kit, keeper: bool) -> Look:
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


class _Canvas:
    """The drawing of one sprite at `_SPRITE_DRAW` x its size: colour and alpha painted together.

    Points are in body units: x from the body's axis, y up from the soles, 1 = the body height.
    """

    def __init__(self, build: float):
        self.hb = hb = REF_BODY_PX * _SPRITE_DRAW
        self.w, self.h = int(0.72 * hb), int(1.06 * hb)
        self.top = 0.02 * hb
        self.build = build
        self.col = np.zeros((self.h, self.w, 3), np.uint8)
        self.alpha = np.zeros((self.h, self.w), np.uint8)

    def pt(self, p) -> tuple[int, int]:
        return (int(round((self.w / 2 + p[0] * self.hb) * 16)),
                int(round((self.top + (1 - p[1]) * self.hb) * 16)))

    def line(self, a, b, thick: float, colour) -> None:
        t = max(1, int(round(thick * self.build * self.hb)))
        cv2.line(self.col, self.pt(a), self.pt(b), colour, t, cv2.LINE_AA, 4)
        cv2.line(self.alpha, self.pt(a), self.pt(b), 255, t, cv2.LINE_AA, 4)

    def poly(self, points, colour) -> None:
        p = np.array([self.pt(q) for q in points], np.int32)
        cv2.fillPoly(self.col, [p], colour, cv2.LINE_AA, 4)
        cv2.fillPoly(self.alpha, [p], 255, cv2.LINE_AA, 4)

    def circle(self, c, r: float, colour) -> None:
        cv2.circle(self.col, self.pt(c), int(r * self.hb * 16), colour, -1, cv2.LINE_AA, 4)
        cv2.circle(self.alpha, self.pt(c), int(r * self.hb * 16), 255, -1, cv2.LINE_AA, 4)

    def ellipse(self, canvas: np.ndarray, c, axes: tuple[float, float], start: int, end: int, colour) -> None:
        size = (int(axes[0] * self.hb * 16), int(axes[1] * self.hb * 16))
        cv2.ellipse(canvas, self.pt(c), size, 0, start, end, colour, -1, cv2.LINE_AA, 4)

    def sprite(self) -> tuple[np.ndarray, tuple[float, float]]:
        """Area-downsampled to the sprite size, premultiplied BGRA, and the feet anchor in sprite pixels."""
        size = (self.w // _SPRITE_DRAW, self.h // _SPRITE_DRAW)
        out = np.dstack([cv2.resize(self.col, size, interpolation=cv2.INTER_AREA),
                         cv2.resize(self.alpha, size, interpolation=cv2.INTER_AREA)])
        out[out[:, :, 3] < 8] = 0  # no invisible fringe: the drawn extent is exactly the box
        # drawing coordinate d is sprite coordinate (d - (S - 1) / 2) / S after the area downsampling
        s = _SPRITE_DRAW
        return out, ((self.w / 2 - (s - 1) / 2) / s, (self.top + self.hb - (s - 1) / 2) / s)


def _along(p, length: float, angle: float) -> tuple[float, float]:
    """The point `length` from p at `angle` from the downward vertical, positive forward."""
    return (p[0] + length * np.sin(angle), p[1] - length * np.cos(angle))


def _shade(c, k: float) -> tuple[int, ...]:
    return tuple(int(v * k) for v in c)


def _leg(cv: _Canvas, look: Look, hip, phase: float, far: bool, running: bool) -> None:
    """Thigh, shin, sock and boot of one leg; the far one a shade darker."""
    k = 0.85 if far else 1.0
    if running:
        thigh = 0.5 * np.sin(phase)
        flex = 0.15 + 1.1 * max(0.0, np.cos(phase))
    else:
        thigh, flex = 0.06 * (1 if far else -1), 0.05
    knee = _along(hip, 0.245, thigh)
    ankle = _along(knee, 0.235, thigh - flex)
    sock = _along(knee, 0.08, thigh - flex)
    toe = (ankle[0] + 0.065 * np.cos(thigh - flex), ankle[1] + 0.065 * np.sin(thigh - flex) - 0.01)
    cv.line(hip, knee, 0.075, _shade(look.skin, k))
    cv.line(knee, sock, 0.058, _shade(look.skin, k))
    cv.line(sock, ankle, 0.058, _shade(look.kit.socks, k))
    cv.line(ankle, toe, 0.045, _shade(look.boots, k))


def _arm(cv: _Canvas, look: Look, neck, phase: float, far: bool, running: bool) -> None:
    """Sleeve, forearm and hand (a keeper's glove) of one arm; the far one a shade darker."""
    k = 0.85 if far else 1.0
    kit = look.kit
    swing = -0.55 * np.sin(phase) if running else 0.1 * (1 if far else -1)
    shoulder = (neck[0] - 0.005, neck[1] - 0.03)
    elbow = _along(shoulder, 0.16, swing)
    hand = _along(elbow, 0.15, swing + (1.3 if running else 0.25))
    sleeve = kit.second if kit.pattern == "sleeves" else kit.shirt
    cv.line(shoulder, _along(shoulder, 0.1, swing), 0.058, _shade(sleeve, k))
    cv.line(_along(shoulder, 0.1, swing), elbow, 0.045, _shade(look.skin, k))
    cv.line(elbow, hand, 0.04, _shade(look.skin, k))
    if look.gloves is not None:
        cv.circle(hand, 0.028, _shade(look.gloves, k))


def _trunk(cv: _Canvas, look: Look, neck, lean: float) -> None:
    """Shorts, shirt with its pattern, neck, head and hair."""
    kit = look.kit
    cv.poly([(-0.1, 0.54), (0.1 + lean, 0.54), (0.105, 0.41), (-0.105, 0.41)], kit.shorts)
    cv.poly([(-0.095, 0.52), (0.095, 0.52), (0.115 + lean, 0.81), (-0.115 + lean, 0.81)], kit.shirt)
    if kit.pattern == "stripes":
        for x in (-0.06, 0.0, 0.06):
            cv.line((x, 0.53), (x + lean * 1.2, 0.8), 0.022, kit.second)
    elif kit.pattern == "hoops":
        for y in (0.58, 0.67, 0.76):
            cv.line((-0.1 + lean * (y - 0.52) / 0.29, y), (0.1 + lean * (y - 0.52) / 0.29, y), 0.035, kit.second)
    cv.line((neck[0] - 0.01, neck[1] - 0.02), (neck[0] + 0.005, neck[1] + 0.035), 0.05, look.skin)
    head = (neck[0] + 0.012, 0.925)
    cv.circle(head, 0.062, look.skin)
    for canvas, colour in ((cv.col, look.hair), (cv.alpha, 255)):
        cv.ellipse(canvas, (head[0] - 0.008, head[1] + 0.012), (0.063, 0.055), 160, 380, colour)


def person_sprite(look: Look, pose: int) -> tuple[np.ndarray, tuple[float, float]]:
    """A person facing right, premultiplied BGRA, body `REF_BODY_PX` tall; and the feet anchor.

    A side view of the stride (legs and arms swinging, knees flexing in the swing phase)
    over a torso seen three-quarters on, which reads as a footballer at broadcast sizes.
    A soft contact shadow under the feet is part of the sprite, and so of its box. Painted
    back to front: far arm and leg, near leg, trunk and head, near arm.
    """
    cv = _Canvas(look.build)
    running = pose != STANDING
    psi = 2 * np.pi * pose / (N_POSES - 1)
    lean = 0.035 if running else 0.0
    cv.ellipse(cv.alpha, (0, 0.0), (0.17, 0.022), 0, 360, 85)  # the contact shadow
    hip, neck = (0.0, 0.5), (lean, 0.82)
    _arm(cv, look, neck, psi + np.pi, True, running)
    _leg(cv, look, hip, psi + np.pi, True, running)
    _leg(cv, look, hip, psi, False, running)
    _trunk(cv, look, neck, lean)
    _arm(cv, look, neck, psi, False, running)
    return cv.sprite()


class SpriteBank:
    """Pre-rendered sprites by (look, pose, facing), drawn on first use and kept for the clip."""

    def __init__(self, looks: list[Look]):
        self.looks = looks
        self._cache: dict[tuple[int, int, bool], tuple[np.ndarray, tuple[float, float]]] = {}

    def get(self, look: int, pose: int, facing_left: bool) -> tuple[np.ndarray, tuple[float, float]]:
        key = (look, pose, facing_left)
        if key not in self._cache:
            spr, (ax, ay) = person_sprite(self.looks[look], pose)
            if facing_left:
                spr, ax = np.ascontiguousarray(spr[:, ::-1]), spr.shape[1] - 1 - ax
            self._cache[key] = (spr, (ax, ay))
        return self._cache[key]


def ball_sprite(radius: float, frac: tuple[float, float]) -> tuple[np.ndarray, int]:
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
