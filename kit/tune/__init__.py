"""Tune a bundle's thresholds by the validator's exact element score, and guard the choice.

Usage: `r = tune_bundle("build/fire", "kit-example/Detect-fire", data="data.yaml")`, then
`print(r)`, `r.figure()`, `r.metrics()`, `r.write()` (the chosen setting into the bundle's
miner.json); on the command line `tvkit tune --bundle build/fire --element kit-example/Detect-fire
--data data.yaml`.

What decides a miner's reward is the element's score (pillars weighted, gated, averaged per
challenge), not mAP, and its pillars pull against each other: a lower threshold raises recall
and map50 and costs false_positive. The sweep (`kit.tune.search`) runs the model ONCE per photo
or clip and scores every setting through the kit's exact scorer (`kit.tune.images` for Detect
elements, `kit.tune.clips` for football clips):

- **Choose on one split, report on another.** The setting is chosen on `split` (val by
  default) and scored on `holdout` (test) at the bundle's own setting, at the choice and at the
  proxy's choice (the global threshold that maximises 0.6 mAP50 + 0.4 precision, pooled: what
  miners without the scorer optimise). The result says how much each gained there.
- **Too small to decide is refused**: fewer than `min_images` scored photos (clips: `min_clips`)
  raises before the model runs on anything; the gain on the tune split comes with a 90%
  bootstrap interval, and `write` refuses a choice whose interval does not clear 0 unless forced.
- **What is written** (`write`): the knobs into miner.json and a `tuned` record (element, data,
  split, the figures above, date), so a bundle says where its thresholds came from.
- **The model pass on Ray** (`workers`, `ray_address`): the one costly step, the model on every
  photo or clip, runs in chunks as Ray tasks (each loads the bundle's miner), its results joined in
  the photos' order; the settings are then scored here. Identical figures to the one-process pass
  (the miner's ONNX session has a fixed thread count), tests/test_sweep_ray.py checks it.
- **Image size is not swept**: the kit's ONNX exports have a static input; an input size is a
  re-export (`tvkit train --imgsz`), after which the sweep runs again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import KitError
from .result import TuneResult
from .search import Space, Sweep, search

__all__ = ["TuneResult", "tune_bundle", "search", "Space", "Sweep"]


def tune_bundle(bundle: str | os.PathLike, element: Any = None, data: str | os.PathLike | None = None,
                split: str = "val", holdout: str | None = "test", manifest: Any = None, min_images: int = 30,
                clips: str | os.PathLike | None = None, min_clips: int = 3, log: Any = print, workers: int = 1,
                ray_address: str | None = None) -> TuneResult:
    """Sweep a bundle's thresholds on labelled data by the validator's exact score.

    Args:
        bundle: the bundle folder (`tvkit package`).
        element: the element id or Element (default: the bundle's miner.json `element_id`).
        data: Detect: a YOLO dataset (data.yaml) with the element's objects and a `split` (and
            `holdout`) split. Football: a folder of clips (`<name>.mp4` + `<name>.json` truth),
            split by name order into tune and held-out halves when `holdout` is given.
        split, holdout: the split chosen on and the one reported (None: no held-out report).
        min_images, min_clips: fewer scored photos / clips than this is refused.
        workers, ray_address: the model pass in `workers` chunks as Ray tasks (or on the cluster at
            `ray_address` / $RAY_ADDRESS); the same figures as in one process (kit.runs_ray.map_chunks).
    Returns:
        A TuneResult (`print` it, `.figure()`, `.write()`).
    """
    from ..images.predict import bundle_element
    from ..manifest import load_manifest

    bundle = Path(bundle)
    if not (bundle / "miner.py").is_file():
        raise KitError(f"{bundle}: no miner.py there; `tvkit package --out DIR` writes a bundle")
    if hasattr(element, "kind"):
        el = element
    else:
        eid = element or bundle_element(bundle)
        if not eid:
            raise KitError(f"{bundle}/miner.json names no element; pass --element ID (`tvkit elements list`)")
        el = load_manifest(manifest).element(eid)
    if el.kind == "image":
        from .images import tune_images
        return tune_images(bundle, el, data, split, holdout, min_images, log, workers, ray_address)
    from .clips import tune_clips
    return tune_clips(bundle, el, clips or data, holdout is not None, min_clips, log, manifest, workers, ray_address)
