"""Labelled exports read into one shape, `Source`: YOLO (detect or pose) and COCO JSON boxes.

`kit.datasets.exports` imports a `Source` into a kit dataset (restored, remapped, checked, split by
group); reading is kept apart so that a new format is one reader here that returns a `Source`.
COCO files are Roboflow's `<split>/_annotations.coco.json` or one JSON file; boxes only.

Usage: from kit.datasets.sources import detect_format, read_yolo_source; src = read_yolo_source(Path("export/"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import KitError
from .core import SPLITS, LabeledImage, label_path, read_data_yaml, read_labels

COCO_SPLIT_DIRS = {"train": "train", "valid": "val", "val": "val", "validation": "val", "test": "test"}


@dataclass
class Source:
    """A labelled export, read: class names, its kpt_shape and flip_idx, and every image with its labels."""

    root: Path
    fmt: str
    names: dict[int, str]
    samples: list[tuple[str, LabeledImage]]  # (the export's split, labels)
    kpt_shape: tuple[int, int] | None = None
    flip_idx: list[int] | None = None
    where: str = ""


def detect_format(src: Path) -> str:
    if src.is_file():
        return "coco" if src.suffix.lower() == ".json" else "yolo"
    if (src / "data.yaml").is_file() or (src / "data.yml").is_file():
        return "yolo"
    if list(src.glob("*.json")) or list(src.glob("*/_annotations.coco.json")) or list(src.glob("*/*.json")):
        return "coco"
    raise KitError(f"{src}: neither a YOLO export (data.yaml) nor a COCO one (*.json); pass the export's folder")


def read_yolo_source(src: Path) -> Source:
    ds = read_data_yaml(src)
    samples = []
    for split in (s for s in SPLITS if s in ds.splits):
        for img in ds.images(split):
            samples.append((split, read_labels(label_path(img), img, len(ds.names), ds.kpt_shape)))
    flip = ds.raw.get("flip_idx")
    return Source(ds.yaml_path.parent, "yolo", ds.names, samples, ds.kpt_shape,
                  list(flip) if isinstance(flip, list) else None, str(ds.yaml_path))


def _coco_files(src: Path) -> list[tuple[str, Path]]:
    """(split, json) pairs: a JSON file given directly (split train), or Roboflow's split folders."""
    if src.is_file():
        return [("train", src)]
    found = []
    for d in sorted(p for p in src.iterdir() if p.is_dir()):
        split = COCO_SPLIT_DIRS.get(d.name.lower())
        js = sorted(d.glob("*.json"))
        if split and js:
            if len(js) > 1:
                raise KitError(f"{d}: {len(js)} JSON files; a COCO split folder holds one annotation file")
            found.append((split, js[0]))
    if not found:
        js = sorted(src.glob("*.json"))
        if len(js) != 1:
            raise KitError(f"{src}: expected train/valid/test folders with a COCO JSON each, or one JSON here "
                           f"(found {len(js)})")
        found = [("train", js[0])]
    return found


def _coco_samples(path: Path, split: str, cat_index: dict[int, int]) -> list[tuple[str, LabeledImage]]:
    from ..contract import read_json

    data = read_json(path, "no such COCO file")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise KitError(f"{path}: not a COCO file (no `images` list)")
    images: dict[Any, dict[str, Any]] = {}
    for i, im in enumerate(data["images"]):
        try:
            images[im["id"]] = {"file": path.parent / im["file_name"], "w": float(im["width"]),
                                "h": float(im["height"]), "cls": [], "box": []}
        except (KeyError, TypeError, ValueError):
            raise KitError(f"{path}: images[{i}]: needs id, file_name, width and height") from None
    for i, a in enumerate(data.get("annotations") or []):
        where = f"{path}: annotations[{i}] (id {a.get('id') if isinstance(a, dict) else '?'})"
        if not isinstance(a, dict) or a.get("image_id") not in images:
            raise KitError(f"{where}: image_id {a.get('image_id') if isinstance(a, dict) else a!r} is not in images")
        if a.get("category_id") not in cat_index:
            raise KitError(f"{where}: category_id {a.get('category_id')} is not in categories")
        im = images[a["image_id"]]
        try:
            x, y, w, h = (float(v) for v in a["bbox"])
        except (KeyError, TypeError, ValueError):
            raise KitError(f"{where}: bbox must be [x, y, width, height] in pixels") from None
        x1, y1 = max(0.0, x), max(0.0, y)
        x2, y2 = min(im["w"], x + w), min(im["h"], y + h)
        if not (np.isfinite([x, y, w, h]).all() and x2 - x1 > 0 and y2 - y1 > 0):
            raise KitError(f"{where}: bbox {a['bbox']} is empty or outside the {im['w']:g} x {im['h']:g} image")
        im["cls"].append(cat_index[a["category_id"]])
        im["box"].append([(x1 + x2) / 2 / im["w"], (y1 + y2) / 2 / im["h"], (x2 - x1) / im["w"],
                          (y2 - y1) / im["h"]])
    out = []
    for im in images.values():
        if not im["file"].is_file():
            raise KitError(f"{path}: image {im['file'].name} is listed but not beside the JSON ({im['file']})")
        out.append((split, LabeledImage(im["file"], path, np.asarray(im["cls"], np.int64),
                                        np.asarray(im["box"], np.float64).reshape(-1, 4), None)))
    return sorted(out, key=lambda t: t[1].image.name)


def read_coco_source(src: Path) -> Source:
    """COCO detection JSON (Roboflow's `<split>/_annotations.coco.json`, or one file): boxes only."""
    from ..contract import read_json

    files = _coco_files(src)
    cats: dict[int, str] = {}
    parents, used = set(), set()
    for _, path in files:
        doc = read_json(path, "no such COCO file")
        for c in doc.get("categories") or []:
            cats.setdefault(int(c["id"]), str(c["name"]))
            parents.add(str(c.get("supercategory")))
        used.update(a.get("category_id") for a in doc.get("annotations") or [] if isinstance(a, dict))
    # Roboflow lists the project itself as category 0, the others' supercategory, never used: not a class
    cats = {i: n for i, n in cats.items() if i in used or n not in parents}
    if not cats:
        raise KitError(f"{files[0][1]}: no categories; a COCO file lists its classes under `categories`")
    cat_index = {cid: i for i, cid in enumerate(sorted(cats))}
    samples = [s for split, path in files for s in _coco_samples(path, split, cat_index)]
    return Source(src if src.is_dir() else src.parent, "coco", {i: cats[c] for c, i in cat_index.items()}, samples,
                  where=", ".join(str(p) for _, p in files))
