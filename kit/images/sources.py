"""Where an image element's labelled photos come from when the user names none.

Usage: `src = default_source(element)` -> `Source(path=.../fire-smoke, mapping={}, drop=["default"])`,
then `import_images(src.path, out, element.objects, mapping=src.mapping, drop=src.drop)`.

The real labelled sets beside the repo (`../shared/data/detect/<set>/`, Roboflow exports, CC
BY 4.0; read from there, never copied) each need a word on import that their PROVENANCE.md
gives: fire-smoke's class `default` is a whole-frame placeholder on frames without fire (drop
it), vehicles' `bike` is a motorcycle with its rider. This table says so once; the set that
shares the most classes with the element's objects, by name, is the default. Online, a miner's
own data comes from `tvkit dataset pull --element ID` (the element's starter pack).

A set a committed reference model was trained on is split as that model's record says
(`chute_template/reference/*/run.json`: val/test fractions and seed of the scene split), so the
test photos a notebook scores the reference on are scenes it never saw.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError
from .labels import name_key

#: Labelled photo sets kept beside the repo.
SHARED_DETECT = Path(__file__).resolve().parents[3] / "shared" / "data" / "detect"
#: Training records of the committed reference models (their `data` says which set and split).
REFERENCE_RECORDS = sorted((Path(__file__).resolve().parents[2] / "chute_template" / "reference").glob("*/run.json"))

#: What importing each shared set needs (from its PROVENANCE.md): class renames and drops.
KNOWN_SETS: dict[str, dict[str, Any]] = {
    "fire-smoke": {"mapping": {}, "drop": ["default"]},
    "vehicles": {"mapping": {"bike": "motorcycle"}, "drop": []},
}


@dataclass(frozen=True)
class Source:
    """A labelled set and how its classes go onto an element's objects."""

    path: Path
    mapping: dict[str, str] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    matched: tuple[str, ...] = ()  # the element's objects this set labels
    split: dict[str, Any] = field(default_factory=dict)  # import_images' split arguments (a reference's)


def reference_split(folder: Path) -> dict[str, Any]:
    """The scene split a committed reference model used on the shared set `folder` ({} if none did)."""
    for rec in REFERENCE_RECORDS:
        data = (json.loads(rec.read_text()).get("data") or {})
        if f"/{folder.name})" in str(data.get("source", "")):
            return {k: data[k] for k in ("val_fraction", "test_fraction", "seed") if k in data}
    return {}

def _names(data_yaml: Path) -> list[str]:
    import yaml

    names = (yaml.safe_load(data_yaml.read_text()) or {}).get("names") or []
    return [str(n) for n in (names.values() if isinstance(names, dict) else names)]


def default_source(element: Any, root: str | os.PathLike | None = None) -> Source:
    """The shared set that labels most of `element`'s objects (after its renames); KitError when none does."""
    root = Path(root) if root else SHARED_DETECT
    wanted = {name_key(o): o for o in (getattr(element, "objects", None) or [])}
    best: Source | None = None
    for yml in sorted(root.glob("*/data.yaml")) if root.is_dir() else []:
        known = KNOWN_SETS.get(yml.parent.name, {"mapping": {}, "drop": []})
        renamed = {name_key(known["mapping"].get(n, n)) for n in _names(yml)}
        matched = tuple(sorted(wanted[k] for k in renamed & set(wanted)))
        if matched and (best is None or len(matched) > len(best.matched)):
            best = Source(yml.parent, dict(known["mapping"]), list(known["drop"]), matched,
                          reference_split(yml.parent))
    if best is None:
        eid = getattr(element, "id", element)
        raise KitError(f"no labelled set for {eid} ({sorted(wanted.values())}) in {root}: pull the element's "
                       "starter pack (`tvkit dataset pull --element ID --out DIR`) or give your own export")
    return best


__all__ = ["KNOWN_SETS", "SHARED_DETECT", "Source", "default_source"]
