"""What a synthetic clip may be asked for: frame-size limits, the difficulty presets, the argument check.

Every public entry (`ClipRenderer`, `render_frames`, `generate_clip(s)`) calls `check_args` first, so a
bad argument fails before any work with a message that names it and what to pass instead. The presets
are ranges a clip draws its camera, people and degradation from (see `kit.synth` for the layers).

Usage: from kit.synth.presets import PRESETS, check_args; check_args(100, 960, 540, 25, "default", 7)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import KitError

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



def check_args(n_frames, width, height, fps, difficulty, seed) -> None:
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

