"""The notebooks' two fallbacks, decided once: "the bundle, or the reference one" and "the clip, or a synthetic one".

Usage: `bundle = bundle_or_reference(bundle, el, out_dir)`; `video, truth = clip_or_synthetic(video, truth,
out_dir / "clip", n_frames=60, seed=0)`.

Decisions (issue 26: the fallbacks live in the kit, once):
- **A bundle given is checked, not trusted**: it must hold a `miner.py` (the image wing's
  `bundle_for` says so the same way). None given: the committed reference model for the
  element is packaged into `out_dir/name` (football's for a clip element, the element's
  Detect model for an image element).
- **A clip given is used as it is, with its truth** (which may be empty: the answer is then
  checked, not scored). None given: a synthetic clip with exact ground truth is generated
  (`kit.synth.generate_clip`), its seed and size chosen by the caller so every notebook keeps
  the clip it made before.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["bundle_or_reference", "clip_or_synthetic", "real_sets"]


def bundle_or_reference(bundle: str | os.PathLike | None, element: Any, out_dir: str | os.PathLike,
                        name: str = "bundle", run_self_test: bool = True) -> Path:
    """`bundle` when given (it must hold miner.py), else the element's committed reference model packaged
    into `out_dir/name`.

    >>> bundle_or_reference("", el, "runs/x").name  # doctest: +SKIP
    'bundle'
    """
    if element is not None and element.kind == "image":
        from ..images.journey import bundle_for

        return bundle_for(bundle or None, element, out_dir, name=name)
    if bundle:
        from ..images.journey import bundle_for

        return bundle_for(bundle, element, out_dir)  # the same check: miner.py must be there
    from ..bundle import package

    return Path(package(Path(out_dir) / name, run_self_test=run_self_test))


def clip_or_synthetic(video: str | os.PathLike | None, truth: str | os.PathLike | None, folder: str | os.PathLike,
                      n_frames: int, seed: int, **kw: Any) -> tuple[Path, Path | None]:
    """(video, truth): the clip given (its truth may be empty), else a synthetic clip generated into `folder`
    (`kit.synth.generate_clip`; `kw`: width, height, index, progress).

    >>> clip_or_synthetic("", "", "runs/x/clip", n_frames=60, seed=0)  # doctest: +SKIP
    (PosixPath('runs/x/clip/clip_000.mp4'), PosixPath('runs/x/clip/clip_000.json'))
    """
    if video:
        return Path(video), (Path(truth) if truth else None)
    from ..synth import generate_clip

    return generate_clip(folder, n_frames=n_frames, seed=seed, **kw)


def real_sets(real_detect: str = "", real_pose: str = "") -> dict[str, Path]:
    """The real labelled sets to use, by task: a path given, else the shared export beside the repo when it
    is there; "none" (or a default that is absent) leaves the task out. A path given that is not there is
    kept: the importer then says so."""
    from ..datasets.exports import SHARED_EXPORTS

    out: dict[str, Path] = {}
    for task, given in (("detect", real_detect), ("pose", real_pose)):
        src = Path(given) if given else SHARED_EXPORTS[task]
        if given == "none" or (not given and not src.exists()):
            continue
        out[task] = src
    return out
