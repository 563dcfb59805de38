"""The sweep: settings scored by the validator's exact score, the best one chosen, guarded.

Usage: `sweep = search(objective, space)`; then `sweep.best`, `sweep.curves`, `sweep.trials`.

An *objective* answers one question, fast: for a setting (a flat dict of the miner's knobs), the
validator's final score of every counted image or clip (`objective.finals(setting)`, an array in
a fixed order), and a proxy (`objective.proxy(setting)`). The image and clip objectives
(`kit.tune.images`, `kit.tune.clips`) get there without re-running the model per setting.

Decisions:
- **Two stages**: the `joint` knobs (a global threshold, NMS IoU, max detections) on their full
  grid, then each `each` knob (a class's own threshold) one at a time from that best point,
  `rounds` times over (coordinate ascent). A full grid over per-class thresholds grows as the
  grid size to the number of classes; the ascent costs their sum and finds the same point when
  classes barely interact (they interact only through max_det).
- **The bundle's own setting is tried first and kept on ties**: a sweep never changes a miner
  for a score it cannot tell apart.
- **Curves at the chosen point**: each knob's score over its grid with the others held at the
  chosen values, the picture a researcher reads the choice from.
- **Too small to decide** (`check_size`): fewer counted images than `min_images` is refused
  before any work; the gain over the default gets a bootstrap interval over the tune images
  (`gain_interval`), which the result reports beside the held-out score.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .. import KitError

__all__ = ["Objective", "Space", "Sweep", "search", "gain_interval", "check_size", "setting_key", "compare",
           "proxy_choice"]


class Objective(Protocol):
    n: int                                          # counted images or clips

    def finals(self, setting: dict[str, Any]) -> np.ndarray: ...
    def proxy(self, setting: dict[str, Any]) -> float: ...


@dataclass
class Space:
    """What a sweep may change: `joint` knobs on a full grid, `each` knobs one at a time, and
    `default`, the setting the bundle has now (every knob of `joint` and `each` appears in it)."""

    joint: dict[str, list[Any]]
    each: dict[str, list[Any]]
    default: dict[str, Any]

    @property
    def size(self) -> int:
        return int(np.prod([len(v) for v in self.joint.values()])) + sum(len(v) for v in self.each.values())


@dataclass
class Sweep:
    best: dict[str, Any]
    default: dict[str, Any]
    best_score: float
    default_score: float
    curves: dict[str, list[tuple[Any, float]]] = field(default_factory=dict)
    trials: int = 0
    seconds: float = 0.0


def setting_key(setting: dict[str, Any]) -> tuple:
    return tuple(sorted(setting.items()))


def check_size(n: int, min_images: int, what: str = "images") -> None:
    if n < min_images:
        raise KitError(f"only {n} scored {what} to tune on (at least {min_images} needed): a threshold chosen on so "
                       f"few follows their noise, not the element. Give more labelled {what} (the dataset's val "
                       f"split), or lower --min-images if you accept that")


def search(objective: Objective, space: Space, rounds: int = 2) -> Sweep:
    """Best setting of `space` by the mean of `objective.finals` (ties keep the earlier point,
    the bundle's own setting first)."""
    t0 = time.perf_counter()
    memo: dict[tuple, float] = {}

    def score(s: dict[str, Any]) -> float:
        k = setting_key(s)
        if k not in memo:
            f = objective.finals(s)
            memo[k] = float(f.mean()) if len(f) else 0.0
        return memo[k]

    best = dict(space.default)
    best_score = default_score = score(best)
    names = list(space.joint)
    for values in itertools.product(*(space.joint[n] for n in names)):
        s = dict(space.default, **dict(zip(names, values)))
        v = score(s)
        if v > best_score:
            best, best_score = s, v
    for _ in range(rounds):
        moved = False
        for knob, grid in space.each.items():
            for value in grid:
                s = dict(best, **{knob: value})
                v = score(s)
                if v > best_score:
                    best, best_score, moved = s, v, True
        if not moved:
            break
    curves = {knob: [(value, score(dict(best, **{knob: value}))) for value in grid]
              for knob, grid in {**space.joint, **space.each}.items()}
    return Sweep(best, dict(space.default), best_score, default_score, curves, len(memo), time.perf_counter() - t0)


def gain_interval(chosen: np.ndarray, default: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """90% bootstrap interval of mean(chosen - default) over the same images or clips."""
    d = np.asarray(chosen, float) - np.asarray(default, float)
    if len(d) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(axis=1)
    return float(np.quantile(means, 0.05)), float(np.quantile(means, 0.95))


def proxy_choice(objective: Any, sweep: Sweep, knob: str, grid: list[Any]) -> dict[str, Any]:
    """The proxy's pick: `knob` (the global threshold) where the proxy peaks, the rest at the
    bundle's setting, as a miner without the exact scorer would choose."""
    best, best_v = dict(sweep.default), -1.0
    for value in grid:
        s = dict(sweep.default, **{knob: value})
        v = objective.proxy(s)
        if v > best_v:
            best, best_v = s, v
    return best


def compare(objective: Any, holdout: Any, sweep: Sweep, proxy_knob: str, proxy_grid: list[Any]) -> dict[str, Any]:
    """The proxy's choice, the gain interval, and the bundle / chosen / proxy settings' mean final
    on the tune objective and (when given) the held-out one."""
    proxy = proxy_choice(objective, sweep, proxy_knob, proxy_grid)
    chosen, default = objective.finals(sweep.best), objective.finals(sweep.default)
    out = {"proxy": proxy, "interval": gain_interval(chosen, default),
           "tune": {"default": sweep.default_score, "chosen": sweep.best_score,
                    "proxy": float(objective.finals(proxy).mean()) if objective.n else 0.0}}
    if holdout is not None:
        out["holdout"] = {k: float(holdout.finals(s).mean()) if holdout.n else 0.0
                          for k, s in (("default", sweep.default), ("chosen", sweep.best), ("proxy", proxy))}
    return out
