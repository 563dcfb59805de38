"""Real labelled exports in: YOLO (detect, pose) and COCO JSON boxes, restored, remapped, checked, split by group.

Usage: `r = import_export("../shared/data/real/soccer-field-localization-v9", "data/real/pose", task="pose",
test_groups=["worldcup2"])`, then `r.groups`, `r.notes`, `r.order`; `tvkit dataset import --src DIR --out DIR`.

What a miner downloads (a Roboflow export, say) is rarely ready to train on; this module makes
it so, and says what it did:

- **Restored aspect.** Exporters often stretch 16:9 frames to a square ("Resize to 640x640
  (Stretch)" in their README). YOLO labels are normalised, so resizing the image back to 16:9
  keeps them right. `size="auto"` reads the README and restores a stretched square of side S to
  1.5 S x 0.84 S (640 -> 960 x 540, 1280 -> 1920 x 1080: the broadcast sizes those came from);
  a given (W, H) resizes every image to it; None keeps the images as they are.
- **Classes** are mapped by the user's `mapping`, then by the alias table (`football` is the
  ball ...); `strict` refuses classes that map nowhere.
- **Keypoints**: `v = 0` means not labelled and its x, y are stale: it is written `0 0 0`. The
  export's `flip_idx` is replaced by the pitch's left-right mirror (`kit.pitch.FLIP_IDX`), with a
  note when they differ. The order is checked against the pitch's geometry
  (`kit.datasets.order`); a wrong order stops the import, naming the likely swap, unless
  `swap_keypoints` / `mirror_keypoints` fix it or `check_order=False`.
- **Splits by group, never by frame.** Frames of one clip are near-duplicates, and exporters
  split at random over frames. The group of an image comes from its file name (`group_of`):
  Roboflow names are `<source name>_<frame>.rf.<hash>.jpg` with the source's extension folded
  in (`08fd33_0_10_png.rf.<hash>.jpg` is frame 10 of clip `08fd33_0` of match `08fd33`). With
  `split="group"` whole groups go to train, val and test (seeded, filled by image count;
  `test_groups` pins groups, e.g. a whole held-out match); `split="keep"` keeps the export's.
"""

from __future__ import annotations

import fnmatch
import os
import random
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from .. import KitError, cache_dir
from ..contract import N_KEYPOINTS
from ..pitch import FLIP_IDX
from .core import (
    DETECT_WIRE_IDS,
    POSE_NAMES,
    SPLITS,
    TASKS,
    TEAM_WIRE_IDS,
    ImportResult,
    LabeledImage,
    detect_names,
    move_into_place,
    parse_mapping,
    resolve_mapping,
    staged_dir,
    write_data_yaml,
)
from .order import OrderReport, apply_order, check_keypoint_order
from .sources import Source, detect_format, read_coco_source, read_yolo_source

#: The real labelled exports kept beside the repo (`../shared/data/real`, Roboflow Universe, CC BY
#: 4.0), per task: what the reference model trained on and the notebooks score by default.
SHARED_REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
SHARED_EXPORTS = {"pose": SHARED_REAL / "soccer-field-localization-v9",
                  "detect": SHARED_REAL / "football-players-detection-v1"}

SplitMode = Literal["group", "keep"]
SPLIT_MODES = ("group", "keep")
GroupLevel = Literal["clip", "match"]
GROUP_LEVELS = ("clip", "match")
ExportFormat = Literal["auto", "yolo", "coco"]
FORMATS = ("auto", "yolo", "coco")

_RF_HASH = re.compile(r"\.rf\.[0-9a-f]{8,}$", re.I)
_EXT_TOKEN = re.compile(r"_(png|jpe?g|bmp|webp|tiff?)$", re.I)
_FRAME = re.compile(r"_f?\d+$")
_RESIZE = re.compile(r"Resize to (\d+)x(\d+) \(([^)]*)\)", re.I)


# --- what the exporter says --------------------------------------------------------------------

@dataclass(frozen=True)
class ExportNotes:
    """The exporter's preprocessing notes (Roboflow's README.*.txt): the resize it applied."""

    readme: Path | None = None
    resize: tuple[int, int] | None = None
    resize_mode: str | None = None  # "Stretch", "Fit (black edges) in" ...

    @property
    def stretched_square(self) -> bool:
        return bool(self.resize and self.resize[0] == self.resize[1] and self.resize_mode
                    and self.resize_mode.lower().startswith("stretch"))


def read_export_notes(root: str | os.PathLike) -> ExportNotes:
    """The first "Resize to WxH (MODE)" line of a README*.txt in the export's folder."""
    root = Path(root)
    for readme in sorted(root.glob("README*.txt")):
        m = _RESIZE.search(readme.read_text(errors="replace"))
        if m:
            return ExportNotes(readme, (int(m.group(1)), int(m.group(2))), m.group(3).strip())
    return ExportNotes()


def restore_size(notes: ExportNotes) -> tuple[int, int] | None:
    """The 16:9 size a stretched square export is restored to: 1.5 S x 0.84 S (640 -> 960 x 540)."""
    if not notes.stretched_square:
        return None
    s = notes.resize[0]
    w = int(round(1.5 * s / 16)) * 16
    return w, w * 9 // 16


def parse_size(text: str | None) -> tuple[int, int] | str | None:
    """`WxH`, `auto` or `keep` (the CLI's --size) to (W, H), "auto" or None."""
    if text is None or text == "auto":
        return "auto"
    if text == "keep":
        return None
    m = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not m or int(m.group(1)) < 16 or int(m.group(2)) < 16:
        raise KitError(f"--size {text!r}: expected WIDTHxHEIGHT (e.g. 960x540), auto or keep")
    return int(m.group(1)), int(m.group(2))


# --- groups ------------------------------------------------------------------------------------

def source_name(image: str | os.PathLike) -> str:
    """An image's name before the exporter renamed it: `08fd33_0_10_png.rf.<hash>.jpg` -> `08fd33_0_10`."""
    name = _RF_HASH.sub("", Path(image).stem)
    while _EXT_TOKEN.search(name):
        name = _EXT_TOKEN.sub("", name)
    return name


def group_of(image: str | os.PathLike, level: GroupLevel = "clip", pattern: str | None = None) -> str:
    """The clip (or match) an image belongs to, from its file name.

    The frame number at the end (`_10`, `_f000010`) is dropped for the clip; one more trailing
    number for the match (`08fd33_0` -> `08fd33`, `video_1` -> `video`). `pattern` (a regex
    searched in the source name; its first group, else the whole match) overrides both.

    >>> group_of("08fd33_0_10_png.rf.0a1b2c3d4e5f.jpg"), group_of("worldcup2_400_jpg.rf.70de0d741a.jpg")
    ('08fd33_0', 'worldcup2')
    >>> group_of("08fd33_0_10_png.rf.0a1b2c3d4e5f.jpg", "match")
    '08fd33'
    """
    name = source_name(image)
    if pattern:
        m = re.search(pattern, name)
        if not m:
            raise KitError(f"{image}: --group-pattern {pattern!r} does not match its name {name!r}; "
                           "write a pattern every image name matches")
        return m.group(1) if m.groups() else m.group(0)
    if level not in GROUP_LEVELS:
        raise KitError(f"group level {level!r}: choose {' or '.join(GROUP_LEVELS)}")
    clip = _FRAME.sub("", name) or name
    return (re.sub(r"_\d+$", "", clip) or clip) if level == "match" else clip


def split_by_group(sizes: dict[str, int], val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0,
                   test_groups: Iterable[str] = ()) -> dict[str, str]:
    """Group -> "train" | "val" | "test": whole groups, seeded, filled by image count.

    Groups matching a `test_groups` pattern (fnmatch, e.g. `worldcup2*`) go to test; then, in
    a seeded shuffle, groups fill test up to `test_fraction` of the images (when no group was
    pinned), val up to `val_fraction`, and the rest is train. Train and val get a group each.
    """
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise KitError(f"val fraction {val_fraction} and test fraction {test_fraction}: need 0 < val < 1, "
                       "0 <= test < 1 and val + test < 1")
    patterns = list(test_groups)
    for p in patterns:
        if not any(fnmatch.fnmatchcase(g, p) for g in sizes):
            raise KitError(f"--test-groups {p!r} matches no group; the groups are {', '.join(sorted(sizes))}")
    pinned = {g for g in sizes if any(fnmatch.fnmatchcase(g, p) for p in patterns)}
    rest = sorted(set(sizes) - pinned)
    random.Random(seed).shuffle(rest)
    if len(rest) < 2:
        raise KitError(f"{len(sizes)} group(s) ({', '.join(sorted(sizes))}) cannot be split into train and val by "
                       "group; frames of one clip are near-duplicates, so a split inside a group would leak. Add "
                       "data from more clips, use --group-pattern for finer groups, or --split keep")
    total = sum(sizes.values())
    out = dict.fromkeys(pinned, "test")
    n_test, n_val = sum(sizes[g] for g in pinned), 0
    for idx, g in enumerate(rest):
        after = len(rest) - idx - 1  # groups still to place: keep one for val and one for train
        if not pinned and test_fraction > 0 and n_test < test_fraction * total and after >= 2:
            out[g], n_test = "test", n_test + sizes[g]
        elif (n_val == 0 or n_val < val_fraction * total) and after >= 1:
            out[g], n_val = "val", n_val + sizes[g]
        else:
            out[g] = "train"
    return dict(sorted(out.items()))


# --- import ------------------------------------------------------------------------------------

def _target_size(size: tuple[int, int] | str | None, notes: ExportNotes) -> tuple[int, int] | None:
    if size == "auto":
        return restore_size(notes)
    if size is None or isinstance(size, tuple):
        return size
    raise KitError(f"size {size!r}: give (width, height), 'auto' or None")


def _pose_rows(li: LabeledImage, swaps, mirror: bool) -> np.ndarray | None:
    if li.keypoints is None:
        return None
    k = apply_order(li.keypoints, swaps, mirror) if (swaps or mirror) else li.keypoints.copy()
    k[k[..., 2] <= 0] = 0.0  # v = 0: not labelled, stale x, y dropped
    return k


def _check_order(source: Source, wh: tuple[int, int] | None, swaps, mirror: bool) -> OrderReport:
    from PIL import Image

    inst, names = [], []
    for _, li in source.samples:
        if li.keypoints is None or not len(li.keypoints):
            continue
        if wh is None:
            with Image.open(li.image) as im:
                w, h = im.size
        else:
            w, h = wh
        k = _pose_rows(li, swaps, mirror)[0]
        k[:, 0] *= w
        k[:, 1] *= h
        inst.append(k)
        names.append(li.image.name)
    return check_keypoint_order(inst, names)


def _notes_for(source: Source, notes: ExportNotes, wh: tuple[int, int] | None, task: str) -> list[str]:
    out = []
    if notes.resize:
        how = f"restored to {wh[0]} x {wh[1]}" if wh else "kept as exported"
        out.append(f"{notes.readme.name}: the exporter resized to {notes.resize[0]}x{notes.resize[1]} "
                   f"({notes.resize_mode}); images {how} (labels are normalised, so they still apply)")
    elif wh:
        out.append(f"images resized to {wh[0]} x {wh[1]} (labels are normalised, so they still apply)")
    if task == "pose" and source.flip_idx is not None and list(source.flip_idx) != list(FLIP_IDX):
        out.append(f"{Path(source.where).name}: the export's flip_idx is not the pitch's left-right mirror; "
                   "replaced with kit.pitch.FLIP_IDX")
    return out


def import_export(src: str | os.PathLike, out_dir: str | os.PathLike, task: str = "detect", *,
                  fmt: ExportFormat = "auto", mapping: list[str] | dict[str, int | str] | None = None,
                  strict: bool = False, teams: bool = False, split: SplitMode = "group",
                  group_by: GroupLevel = "clip", group_pattern: str | None = None, val_fraction: float = 0.15,
                  test_fraction: float = 0.15, test_groups: Iterable[str] = (), seed: int = 0,
                  size: tuple[int, int] | str | None = "auto", swap_keypoints: Iterable[tuple[int, int]] = (),
                  mirror_keypoints: bool = False, check_order: bool = True, jpeg_quality: int = 95,
                  progress: bool = True) -> ImportResult:
    """Import a labelled export (YOLO or COCO) into a kit dataset at `out_dir` (OUT/data.yaml).

    Args:
        src: the export's folder (data.yaml, or split folders with COCO JSON), or a file.
        task: "detect" or "pose" (pose needs a YOLO export with kpt_shape [32, 2 or 3]).
        fmt: "yolo", "coco" or "auto" (from what the folder holds).
        mapping, strict, teams: class remapping, as `import_yolo`.
        split: "group" re-splits by `group_of` (clip or match, or `group_pattern`), "keep" keeps
            the export's splits. `test_groups` (fnmatch patterns) pins groups to test.
        size: "auto" restores a stretched square (from the README), (W, H) resizes, None keeps.
        swap_keypoints, mirror_keypoints: fix a known keypoint order (1-based id pairs; FLIP_IDX).
        check_order: judge the keypoint order by the pitch's geometry and refuse a wrong one.
    Returns:
        An `ImportResult`: data.yaml, class mapping, images and instances per split, groups per
        split, notes (what was restored, replaced, ignored), the keypoint-order report.
    Raises:
        KitError: a broken label (file and line), an unknown class with `strict`, a wrong
        keypoint order (naming the likely swap), too few groups to split.

    Example:
        >>> r = import_export("../shared/data/real/football-players-detection-v1", "data/real/detect")  # doctest: +SKIP
        >>> r.groups["test"][:2], r.notes[0]                                                         # doctest: +SKIP
    """
    src, fmt, source = _open_export(src, task, split, fmt)
    swaps = _swap_pairs(swap_keypoints)
    class_map = _class_map(source, task, teams, mapping, strict)
    notes = read_export_notes(source.root)
    wh = _target_size(size, notes)
    note_lines = _notes_for(source, notes, wh, task)
    order = _checked_order(source, wh, swaps, mirror_keypoints, check_order, note_lines) if task == "pose" else None
    assign = _assign_splits(source, split, group_by, group_pattern, val_fraction, test_fraction, test_groups, seed)
    names = POSE_NAMES if task == "pose" else detect_names(teams)
    used = [s for s in SPLITS if any(sp == s for sp, _ in assign.values())]
    instances = {s: dict.fromkeys(names.values(), 0) for s in used}
    dropped: Counter[str] = Counter()
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as tmp:
        images = _write_samples(tmp, source, assign, used, (class_map, names, swaps, mirror_keypoints),
                                (dropped, instances), wh, jpeg_quality, progress)
        groups = {s: sorted({g for sp, g in assign.values() if sp == s}) for s in used}
        kit_info: dict[str, Any] = {
            "task": task, "source": source.where, "format": fmt,
            "mapping": {source.names[i]: (names[t] if t is not None else None) for i, t in class_map.items()},
            "split": split, "groups": groups, "size": list(wh) if wh else None, "notes": note_lines,
            **({"group_by": group_pattern or group_by, "seed": seed} if split == "group" else {}),
            **_task_info(task, teams, order, swaps, mirror_keypoints)}
        write_data_yaml(tmp, out_dir, names, used, kpt_shape=[N_KEYPOINTS, 3] if task == "pose" else None,
                        kit_info=kit_info)
        move_into_place(tmp, out_dir)
    return ImportResult((out_dir / "data.yaml").resolve(), kit_info["mapping"], images, instances, dict(dropped),
                        groups=groups, notes=note_lines, order=order.to_dict() if order else None,
                        size=wh)


def _swap_pairs(swap_keypoints: Iterable[tuple[int, int]]) -> list[tuple[int, ...]]:
    """The keypoint swaps asked for, as pairs of 1-based ids; KitError for an id out of range or a pair of one."""
    swaps = [tuple(int(v) for v in s) for s in swap_keypoints]
    for a, b in swaps:
        if not (1 <= a <= N_KEYPOINTS and 1 <= b <= N_KEYPOINTS) or a == b:
            raise KitError(f"--swap-keypoints {a},{b}: two different ids in 1..{N_KEYPOINTS}")
    return swaps


def _class_map(source: Source, task: str, teams: bool, mapping: Any, strict: bool) -> dict[int, int | None]:
    """The export's class ids mapped onto the kit's (None: dropped); with `strict`, KitError for any dropped."""
    class_map = resolve_mapping(source.names, task, teams, parse_mapping(mapping))
    unmapped = [source.names[i] for i, t in class_map.items() if t is None]
    if strict and unmapped:
        raise KitError(f"{source.where}: classes {unmapped} map to none of ours; add --map NAME=ID for each "
                       "or drop --strict to skip them")
    return class_map


def _task_info(task: str, teams: bool, order: Any, swaps: list, mirror_keypoints: bool) -> dict[str, Any]:
    """The task's part of data.yaml's `kit` entry: teams and wire classes (detect), or the keypoint order
    found and the fix applied (pose)."""
    if task == "detect":
        return {"teams": teams, "wire_cls": dict(enumerate(TEAM_WIRE_IDS if teams else DETECT_WIRE_IDS))}
    info = {"keypoint_order": order.to_dict()}
    if swaps or mirror_keypoints:
        info["keypoint_fix"] = {"swaps": [list(s) for s in swaps], "mirror": mirror_keypoints}
    return info


def _checked_order(source: Any, wh: tuple[int, int] | None, swaps: list, mirror_keypoints: bool,
                   check_order: bool, note_lines: list[str]) -> Any:
    """A pose export's keypoint order judged by the pitch's geometry (after the given fix), noted in
    `note_lines`; KitError for a swapped, mirrored or wrong order unless `check_order` is off."""
    order = _check_order(source, wh, swaps, mirror_keypoints)
    note_lines.append(order.message)
    if check_order and order.verdict in ("swapped", "mirrored", "wrong"):
        raise KitError(f"{source.where}: {order.message} (or pass --no-order-check to import as it is)")
    return order


def _open_export(src: str | os.PathLike, task: str, split: str, fmt: str) -> tuple[Path, str, Any]:
    """The export's folder, its format and its samples, read; KitError for a bad task, split or format,
    a missing folder, or an export that does not fit the task (boxes for pose, keypoints for detect)."""
    if task not in TASKS:
        raise KitError(f"task {task!r}: choose detect or pose")
    if split not in SPLIT_MODES:
        raise KitError(f"split {split!r}: choose {' or '.join(SPLIT_MODES)}")
    src = Path(src)
    if not src.exists():
        raise KitError(f"{src}: no such export (pass the folder you downloaded, with data.yaml or COCO JSON)")
    fmt = detect_format(src) if fmt == "auto" else fmt
    if fmt not in ("yolo", "coco"):
        raise KitError(f"format {fmt!r}: choose {', '.join(FORMATS)}")
    if fmt == "coco" and task == "pose":
        raise KitError(f"{src}: COCO import reads boxes only; pitch keypoints come as a YOLO pose export")
    source = read_yolo_source(src) if fmt == "yolo" else read_coco_source(src)
    if task == "pose" and (source.kpt_shape is None or source.kpt_shape[0] != N_KEYPOINTS):
        raise KitError(f"{source.where}: kpt_shape is {list(source.kpt_shape) if source.kpt_shape else 'missing'}; "
                       f"a pitch keypoint dataset needs [{N_KEYPOINTS}, 2] or [{N_KEYPOINTS}, 3] in template order")
    if task == "detect" and source.kpt_shape is not None:
        raise KitError(f"{source.where}: has kpt_shape, so it is a keypoint (pose) export; import it with --task pose")
    return src, fmt, source


def _write_samples(tmp: Path, source: Any, assign: dict, used: list[str], labelling: tuple, counts: tuple,
                   wh: tuple[int, int] | None, jpeg_quality: int, progress: bool) -> dict[str, int]:
    """Every sample's image and relabelled rows into the staged folder's split folders; the images per split.

    `labelling` is (class map, names, swaps, mirror) as `_label_rows` applies them; `counts` is
    (dropped classes, instances per split), counted as the rows are written. KitError for two images of
    one split with the same name, or a train or val split left empty.
    """
    from tqdm.auto import tqdm

    class_map, names, swaps, mirror_keypoints = labelling
    dropped, instances = counts
    images = dict.fromkeys(used, 0)
    for s in used:
        (tmp / "images" / s).mkdir(parents=True)
        (tmp / "labels" / s).mkdir(parents=True)
    for _, li in tqdm(source.samples, desc="importing", unit="img", disable=not progress):
        s, _group = assign[li.image]
        rows = _label_rows(li, class_map, names, swaps, mirror_keypoints, dropped, source, instances[s])
        dest = tmp / "images" / s / (li.image.stem + ".jpg" if wh else li.image.name)
        if dest.exists():
            raise KitError(f"{li.image}: another {s} image is also named {dest.name}; rename one")
        _write_image(li.image, dest, wh, jpeg_quality)
        (tmp / "labels" / s / (dest.stem + ".txt")).write_text("".join(r + "\n" for r in rows))
        images[s] += 1
    for s in ("train", "val"):
        if not images.get(s):
            raise KitError(f"{source.where}: the {s} split would be empty; lower the test share or --split keep")
    return images


def as_kit_dataset(src: str | os.PathLike, out_dir: str | os.PathLike | None, task: str, *,
                   held_out_from: str | os.PathLike | dict | None = None, progress: bool = False) -> Path:
    """A kit data.yaml of `task` from `src`, importing it first if it is a raw export.

    A dataset the kit wrote (`tvkit dataset import` or `build`: its data.yaml has a `kit:`
    block) is used as it is. A raw export (a folder or its data.yaml) is imported into
    `out_dir` (`import_export`, split by clip), with the groups a training record held out
    pinned to test: `held_out_from` is a run.json (or its dict) whose `real[task].groups.test`
    lists them, such as the reference model's (`chute_template/reference/run.json`), so that
    the test split holds no frame that model trained on. Groups the export does not have are
    left out; with none in common, the split is the usual seeded one.

    `out_dir` None: the import is kept in the kit's cache (`cached_import`) and made once per
    export, task and held-out groups, so every run after the first starts at once.

    Example:
        >>> as_kit_dataset("../shared/data/real/soccer-field-localization-v9", None, "pose",
        ...                held_out_from="chute_template/reference/run.json")  # doctest: +SKIP
    """
    import json

    import yaml

    src = Path(src)
    yaml_file = src if src.is_file() else src / "data.yaml"
    if yaml_file.is_file() and "kit" in (yaml.safe_load(yaml_file.read_text()) or {}):
        return yaml_file.resolve()
    root = src.parent if src.is_file() else src
    record = held_out_from
    if record is not None and not isinstance(record, dict):
        record = json.loads(Path(record).read_text()) if Path(record).is_file() else {}
    held = ((record or {}).get("real", {}).get(task, {}).get("groups", {}).get("test", []))
    if held:
        fmt = detect_format(root)
        source = read_yolo_source(root) if fmt == "yolo" else read_coco_source(root)
        present = {group_of(li.image) for _, li in source.samples}
        held = [g for g in held if g in present]
    if out_dir is None:
        return cached_import(root, task, held, progress=progress)
    return import_export(root, out_dir, task, test_groups=held, progress=progress).data_yaml


def cached_import(root: Path, task: str, test_groups: list[str], progress: bool = False) -> Path:
    """`import_export(root, ..., task, test_groups=...)` kept in `cache_dir()/imports`: its data.yaml.

    The cache entry is named by a hash of what decides the result: the export's files (path,
    size, modification time), the task, the pinned groups and the importer's own code
    (kit/datasets/*.py), so an edited export or a changed importer is imported afresh. The
    import is written beside the entry and renamed into place, so two runs importing the same
    export at once (a sweep's points) both end with one whole entry.
    """
    import hashlib
    import tempfile


    h = hashlib.sha256(f"{root.resolve()}|{task}|{sorted(test_groups)}".encode())
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    entry = cache_dir() / "imports" / f"{root.name}-{task}-{h.hexdigest()[:16]}"
    if (entry / "data.yaml").is_file():
        return entry / "data.yaml"
    entry.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        made = import_export(root, work / "data", task, test_groups=test_groups, progress=progress)
        text = made.data_yaml.read_text()
        made.data_yaml.write_text(text.replace(str(work / "data"), str(entry)))
        try:
            (work / "data").rename(entry)
        except OSError:   # another run put it there first: theirs is the same import
            if not (entry / "data.yaml").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return entry / "data.yaml"


def _assign_splits(source: Source, split: str, group_by: str, pattern: str | None, val_fraction: float,
                   test_fraction: float, test_groups: Iterable[str], seed: int) -> dict[Path, tuple[str, str]]:
    """Image -> (split, group)."""
    group = {li.image: group_of(li.image, group_by, pattern) for _, li in source.samples}
    if split == "keep":
        return {li.image: (sp, group[li.image]) for sp, li in source.samples}
    sizes = Counter(group.values())
    by_group = split_by_group(dict(sizes), val_fraction, test_fraction, seed, test_groups)
    return {img: (by_group[g], g) for img, g in group.items()}


def _label_rows(li: LabeledImage, class_map, names, swaps, mirror, dropped, source: Source,
                counts: dict[str, int]) -> list[str]:
    kpts = _pose_rows(li, swaps, mirror)
    rows = []
    for j, cls in enumerate(li.classes):
        target = class_map[int(cls)]
        if target is None:
            dropped[source.names[int(cls)]] += 1
            continue
        row = f"{target} " + " ".join(f"{v:.6f}" for v in li.boxes[j])
        if kpts is not None:
            row += " " + " ".join(f"{x:.6f} {y:.6f} {int(v)}" if v > 0 else "0 0 0" for x, y, v in kpts[j])
        rows.append(row)
        counts[names[target]] += 1
    return rows


def _write_image(src: Path, dest: Path, wh: tuple[int, int] | None, quality: int) -> None:
    if wh is None:
        shutil.copyfile(src, dest)
        return
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None:
        raise KitError(f"{src}: not a readable image; delete it or replace it")
    if (img.shape[1], img.shape[0]) != wh:
        shrink = wh[0] * wh[1] < img.shape[0] * img.shape[1]
        img = cv2.resize(img, wh, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if not cv2.imwrite(str(dest), img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
        raise KitError(f"{dest}: could not write the image")


__all__ = ["ExportNotes", "FORMATS", "GROUP_LEVELS", "SPLIT_MODES", "Source", "group_of", "import_export",
           "parse_size", "read_coco_source", "read_export_notes", "read_yolo_source", "restore_size",
           "source_name", "split_by_group"]
