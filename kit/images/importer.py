"""A labelled photo set in, a YOLO dataset of exactly an element's objects out.

Usage: `r = import_images("../shared/data/detect/fire-smoke", "data/fire", objects=el.objects,
drop=["default"])`, then `print(r)` (counts per class before and after, what was dropped and
why, images and scenes per split) and `r.data_yaml` for `tvkit train`; CLI: `tvkit dataset
import --element ID --src DIR --out DIR [--map A=B] [--drop NAME]`.

- **Any format** (`kit.images.labels.read_labelled`): YOLO, COCO JSON, Pascal VOC XML (a
  Roboflow export of any of them) and the ScoreVision API's ground truth; `fmt="auto"` detects
  it. A YOLO source is read and written exactly as before the other formats came in.

- **Classes by name** (`kit.images.labels.match_names`): the dataset's names are the element's
  objects in the element's order (a box's `cls_id` indexes them, as the validator reads it), all
  of them, labelled or not; a source class that matches none is refused with a did-you-mean
  unless mapped (`mapping`) or dropped (`drop`).
- **Aspect restored**: an export the exporter stretched to a square (its README says "Resize to
  608x608 (Stretch)") is resized back to 16:9 (`kit.datasets.exports.restore_size`); challenge
  photos are about 1408 x 768, and YOLO labels, being normalised, stay right.
- **Splits by scene, never by image**: frames of one video or one camera are near-copies. The
  group of an image is, in this order, its entry in a `scenes.json` beside the export (images
  linked by `near_dup_cluster` or `video` fall in one group, union-find), else its clip from the
  file name: Roboflow's video frames `<video>_mp4-<n>_jpg.rf.<hash>` are video `<video>_mp4` (the
  name `scenes.json` uses), any other name goes to `kit.datasets.exports.group_of`. Whole groups
  go to train / val / test, seeded (`kit.datasets.exports.split_by_group`); `split="keep"` keeps
  the source's own splits.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from .. import KitError
from ..datasets import move_into_place, staged_dir, write_data_yaml
from ..datasets.exports import group_of, read_export_notes, restore_size, source_name, split_by_group
from .labels import LabelledImage, match_names, name_key, read_labelled

SPLITS = ("train", "val", "test")
_VIDEO_FRAME = re.compile(r"(.+_(?:mp4|avi|mov|mkv|webm|m4v))-\d+", re.I)


@dataclass
class ImageImport:
    """What an import wrote and what it did to get there."""

    data_yaml: Path
    objects: list[str]
    mapping: dict[str, str | None]
    before: dict[str, int]  # source class -> boxes in the source
    after: dict[str, dict[str, int]]  # split -> object -> boxes written
    images: dict[str, int]  # split -> images
    negatives: dict[str, int]  # split -> images with no object left
    groups: dict[str, list[str]] = field(default_factory=dict)  # split -> groups
    dropped: dict[str, int] = field(default_factory=dict)  # source class -> boxes dropped
    size: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)
    fmt: str = "yolo"
    mapped_by_user: list[str] = field(default_factory=list)  # source classes --map sent somewhere

    def to_dict(self) -> dict[str, Any]:
        return {"data_yaml": str(self.data_yaml), "objects": self.objects, "mapping": self.mapping,
                "before": self.before, "after": self.after, "images": self.images, "negatives": self.negatives,
                "groups": self.groups, "dropped": self.dropped, "size": list(self.size) if self.size else None,
                "notes": self.notes, "format": self.fmt, "after_total": self.after_total()}

    def after_total(self) -> dict[str, int]:
        """Object -> boxes written, all splits together (every object, 0 when none)."""
        return {o: sum(self.after[s].get(o, 0) for s in self.after) for o in self.objects}

    def __str__(self) -> str:
        lines = [f"{self.data_yaml}  objects {self.objects}  (from {self.fmt})",
                 "  before: " + (", ".join(f"{s} {self.before.get(s, 0)}" for s in self.mapping) or "no classes"),
                 "  after:  " + ", ".join(f"{o} {n}" for o, n in self.after_total().items())]
        for s, t in self.mapping.items():
            how = "--map" if s in self.mapped_by_user else "by name"
            lines.append(f"  {s!r:>24} -> {t!r}" + (f"  ({self.dropped.get(s, 0)} boxes dropped: --drop)" if t is None
                                                   else f"  ({self.before.get(s, 0)} boxes, {how})"))
        for reason, n in self.dropped.items():
            if reason not in self.mapping:
                lines.append(f"  dropped {n} box(es) of {reason}")
        for split in SPLITS:
            if split in self.images:
                counts = ", ".join(f"{o} {self.after[split].get(o, 0)}" for o in self.objects)
                lines.append(f"  {split:>5}: {self.images[split]} images ({self.negatives[split]} without objects), "
                             f"{len(self.groups.get(split, []))} scenes; {counts}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def clip_of(image: Path) -> str:
    """The clip a photo comes from, by name: `fire1_mp4-23_jpg.rf.<hash>.jpg` -> `fire1_mp4`."""
    m = _VIDEO_FRAME.fullmatch(source_name(image))
    return m.group(1) if m else group_of(image)


def scene_groups(src: Path, images: list[LabelledImage]) -> dict[Path, str]:
    """Image -> group: `scenes.json` (near-duplicate cluster and video joined) or the clip name."""
    scenes = src / "scenes.json"
    if not scenes.is_file():
        return {li.image: clip_of(li.image) for li in images}
    doc = json.loads(scenes.read_text())
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for name, entry in doc.items():
        keys = [f"img:{name}"]
        if isinstance(entry, dict):
            keys += [f"{k}:{entry[k]}" for k in ("near_dup_cluster", "video") if entry.get(k) is not None]
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
    out = {}
    for li in images:
        key = f"img:{li.image.name}"
        out[li.image] = f"scene-{find(key)[4:]}" if key in parent else clip_of(li.image)
    # name each group by its smallest member, so names do not depend on the file's order
    members: dict[str, list[str]] = {}
    for img, g in out.items():
        members.setdefault(g, []).append(img.stem)
    rename = {g: "scene-" + min(m).split(".rf.")[0] for g, m in members.items() if g.startswith("scene-")}
    return {img: rename.get(g, g) for img, g in out.items()}


def import_images(src: str | os.PathLike, out_dir: str | os.PathLike, objects: list[str], *,
                  mapping: dict[str, str] | None = None, drop: Iterable[str] = (), size: str | tuple[int, int] | None
                  = "auto", split: str = "group", val_fraction: float = 0.15, test_fraction: float = 0.15,
                  seed: int = 0, test_groups: Iterable[str] = (), quality: int = 92, fmt: str = "auto",
                  progress: bool = True) -> ImageImport:
    """Import a labelled photo set onto `objects` (see the module docstring); nothing is
    written when a class is unmatched, a label is broken or an image is unreadable.

    Args:
        src: the export's folder (or a COCO JSON file); out_dir: the new dataset's folder.
        objects: the element's objects, in its order (a box's cls_id indexes them).
        mapping / drop: `{"flame": "fire"}` / `["default"]` (source class names).
        size: "auto" (restore a stretched square export), (W, H), or None (keep).
        split: "group" (whole scenes, seeded) or "keep" (the source's own splits).
        fmt: "auto", "yolo", "coco", "voc" or "api".
    Returns:
        ImageImport: counts before and after, what was dropped, splits and scenes.
    Raises:
        KitError: an unmatched class (with a did-you-mean), a broken label or image.

    >>> r = import_images("../shared/data/detect/vehicles", "data/veh",  # doctest: +SKIP
    ...                   ["car", "bus", "truck", "motorcycle"], mapping={"bike": "motorcycle"})
    >>> r.after_total()["motorcycle"]  # doctest: +SKIP
    57
    """
    src = Path(src)
    if not objects:
        raise KitError("the element has no objects to import onto; pick a Detect element (tvkit elements list)")
    images, names, fmt = read_labelled(src, fmt)
    if not images:
        raise KitError(f"{src}: no images found")
    root = src if src.is_dir() else src.parent
    cmap = match_names(names, objects, mapping, drop, where=str(src))
    _check_stems(images, split)
    before = Counter(o.name for li in images for o in li.objects)
    notes: list[str] = []
    wh = _target_size(size, root, notes)
    groups = scene_groups(root, images)
    assign = _assign_splits(images, groups, split, val_fraction, test_fraction, seed, test_groups)
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as tmp:
        after, n_img, n_neg, grp, dropped = _write_photos(tmp, images, assign, groups, cmap, objects, wh, quality,
                                                          progress)
        used = [s for s in SPLITS if n_img[s]]
        missing = [o for o in objects if not sum(after[s][o] for s in SPLITS)]
        if missing:
            notes.append(f"no box of {missing} in this source: a model trained on it cannot find them")
        info = {"source": str(src.resolve()), "objects": list(objects), "mapping": cmap, "split": split,
                "seed": seed, "groups": {s: sorted(grp[s]) for s in used}, "size": list(wh) if wh else None}
        write_data_yaml(tmp, out_dir, dict(enumerate(objects)), used, kit_info=info)
        move_into_place(tmp, out_dir)
    user = {name_key(k) for k in (mapping or {})}
    return ImageImport(out_dir.resolve() / "data.yaml", list(objects), cmap, dict(before),
                       {s: dict(after[s]) for s in used}, {s: n_img[s] for s in used}, {s: n_neg[s] for s in used},
                       {s: sorted(grp[s]) for s in used}, dict(dropped), wh, notes, fmt,
                       [s for s in cmap if name_key(s) in user])


def _write_photos(tmp: Path, images: list[LabelledImage], assign: dict[Path, str], groups: dict[Path, str],
                  cmap: dict[str, str | None], objects: list[str], wh: tuple[int, int] | None, quality: int,
                  progress: bool) -> tuple[dict[str, Counter], Counter, Counter, dict[str, set[str]], Counter]:
    """Every photo (as JPEG) and its label rows into the staged dataset; per split: the boxes kept by
    object, the photos, the photos without a box, the scenes; and the boxes dropped, by class."""
    after = {s: Counter() for s in SPLITS}
    n_img, n_neg = Counter(), Counter()
    grp: dict[str, set[str]] = {s: set() for s in SPLITS}
    dropped = Counter()
    for li in tqdm(images, desc="import", unit="img", disable=not progress):
        s = assign[li.image]
        (tmp / "images" / s).mkdir(parents=True, exist_ok=True)
        (tmp / "labels" / s).mkdir(parents=True, exist_ok=True)
        rows = _yolo_rows(li, cmap, objects, dropped, after[s])
        stem = li.image.stem
        _write(li.image, tmp / "images" / s / f"{stem}.jpg", wh, quality)
        (tmp / "labels" / s / f"{stem}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
        n_img[s] += 1
        n_neg[s] += not rows
        grp[s].add(groups[li.image])
    return after, n_img, n_neg, grp, dropped


def _target_size(size: str | tuple[int, int] | None, root: Path, notes: list[str]) -> tuple[int, int] | None:
    """The size to write the photos at: "auto" restores an export stretched to a square (noted), a
    (W, H) is taken as it is, None keeps each photo's own size."""
    if size == "auto":
        ex = read_export_notes(root)
        wh = restore_size(ex)
        if wh:
            notes.append(f"the exporter stretched every image to {ex.resize[0]}x{ex.resize[1]} ({ex.readme.name}); "
                         f"restored to 16:9 at {wh[0]}x{wh[1]}")
        return wh
    return size if isinstance(size, tuple) else None


def _assign_splits(images: list[LabelledImage], groups: dict[Path, str], split: str, val_fraction: float,
                   test_fraction: float, seed: int, test_groups: Iterable[str]) -> dict[Path, str]:
    """Each photo's split: its source's own ("keep"), or its whole scene's, drawn with `seed` ("group")."""
    if split == "keep":
        return {li.image: li.split or "train" for li in images}
    if split == "group":
        sizes = Counter(groups.values())
        by_group = split_by_group(dict(sizes), val_fraction, test_fraction, seed, test_groups)
        return {li.image: by_group[groups[li.image]] for li in images}
    raise KitError(f"split {split!r}: expected 'group' or 'keep'")


def _yolo_rows(li: LabelledImage, cmap: dict[str, str | None], objects: list[str], dropped: Counter,
               after: Counter) -> list[str]:
    """One photo's YOLO label rows on the element's objects: boxes clipped to the photo, a dropped class
    or a box empty after clipping counted in `dropped`, the kept ones in `after`."""
    rows = []
    for o in li.objects:
        target = cmap[o.name]
        if target is None:
            dropped[o.name] += 1
            continue
        x1, y1, x2, y2 = o.box
        x1, x2 = max(0.0, min(x1, x2)), min(float(li.width), max(x1, x2))
        y1, y2 = max(0.0, min(y1, y2)), min(float(li.height), max(y1, y2))
        if x2 - x1 < 1 or y2 - y1 < 1:
            dropped[f"{o.name} (empty after clipping)"] += 1
            continue
        cx, cy = (x1 + x2) / 2 / li.width, (y1 + y2) / 2 / li.height
        rows.append(f"{objects.index(target)} {cx:.6f} {cy:.6f} {(x2 - x1) / li.width:.6f} "
                    f"{(y2 - y1) / li.height:.6f}")
        after[target] += 1
    return rows


def _check_stems(images: list[LabelledImage], split: str) -> None:
    """Two photos of one name would overwrite each other in images/<split>/<stem>.jpg."""
    seen: dict[tuple[str | None, str], Path] = {}
    for li in images:
        key = (li.split if split == "keep" else None, li.image.stem)
        if key in seen:
            raise KitError(f"{li.image} and {seen[key]}: two photos named {li.image.stem!r}; the dataset keeps one "
                           "file per name: rename one")
        seen[key] = li.image


def _write(src: Path, dest: Path, wh: tuple[int, int] | None, quality: int) -> None:
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None:
        raise KitError(f"{src}: not a readable image; delete it or replace it")
    if wh is not None and (img.shape[1], img.shape[0]) != tuple(wh):
        img = cv2.resize(img, tuple(wh), interpolation=cv2.INTER_LINEAR)
    if not cv2.imwrite(str(dest), img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
        raise KitError(f"{dest}: could not write the image")


__all__ = ["ImageImport", "import_images", "scene_groups"]
