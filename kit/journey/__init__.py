"""The notebooks' steps, for both kinds of element: one object per notebook, one method per cell.

Usage: in a notebook, after its `parameters` cell: `from kit import journey` and
`nb = journey.start("02_train", globals())`; then one call per cell (`nb.train("detect")`), each
returning a result that shows itself (`Shown`: text, one picture, its metrics); `metrics =
nb.record()` writes what `tvkit run` reads, and the last cell asserts the notebook's outcome.

Decisions (issue 26: thin notebooks, result objects that show themselves, fallbacks once):
- **One module per notebook** (`onboarding` 00, `data` 01, `train` 02, `evaluate` 03, `dryrun` 04,
  `deploy` 05, `maintain` 06), each a `Steps` subclass whose `PARAMETERS` are its notebook's
  parameters cell (tests/test_journey.py keeps them equal). The image wing's own steps stay in
  `kit.images.journey`; these classes call them for an image element and the football modules for
  a clip element, so a notebook cell is the same call for either kind, and a step of the other
  kind answers with one line saying it was skipped.
- **The two fallbacks are decided once** (`fallbacks.py`): "the bundle, or the reference one"
  (`bundle_or_reference`) and "the clip, or a synthetic one" (`clip_or_synthetic`).
- **The recorded metrics are the notebooks' former ones**, key for key: later notebooks take
  them by name and the suite tests read them.
"""

from __future__ import annotations

from typing import Any

from .. import KitError
from .base import Shown, Steps
from .data import DataPrep
from .deploy import Deploy
from .dryrun import DryRunSteps
from .evaluate import Evaluate
from .fallbacks import bundle_or_reference, clip_or_synthetic
from .maintain import Maintain
from .onboarding import Onboarding
from .train import Train

__all__ = ["STEPS", "Shown", "Steps", "start", "bundle_or_reference", "clip_or_synthetic"]

#: Each notebook's steps, by the notebook's name.
STEPS: dict[str, type[Steps]] = {cls.NAME: cls for cls in (Onboarding, DataPrep, Train, Evaluate, DryRunSteps,
                                                           Deploy, Maintain)}


def start(notebook: str, namespace: dict[str, Any]) -> Steps:
    """The steps of `notebook` ("02_train"), given the parameters defined in `namespace` (the notebook's
    `globals()`); says which element and where the outputs go.

    >>> nb = start("00_onboarding", {"profile": "smoke", "deploy_checks": False, "element": "", "manifest": "",
    ...                              "run_dir": "/tmp/x", "metrics_path": ""})  # doctest: +SKIP
    PlayerDetect_v1@1.0 (clip) - outputs go to /tmp/x
    """
    if notebook not in STEPS:
        import difflib

        near = difflib.get_close_matches(notebook, list(STEPS), n=1)
        raise KitError(f"journey.start({notebook!r}): no such notebook" + (f"; did you mean {near[0]!r}?" if near
                                                                             else f" (known: {', '.join(STEPS)})"))
    nb = STEPS[notebook].from_namespace(namespace)
    print(f"{nb.el.id} ({nb.el.kind}) - outputs go to {nb.out_dir}" if nb.el is not None
          else f"outputs go to {nb.out_dir}")
    return nb
