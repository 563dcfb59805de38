"""The YOLO dataset core every dataset module builds on: classes, staged writes, data.yaml, labels, mapping.

Usage: `ds = read_data_yaml("data/fire/data.yaml"); for li in iter_labeled(ds, "val"): li.classes, li.boxes`

Why its own module: `kit.datasets` (clips -> datasets, checks), `kit.datasets.exports` (real
exports in), `kit.datasets.labelled` and `kit.images.importer` all write and read YOLO datasets
the same way. When this lived in `kit/datasets/__init__.py`, `exports` imported the package that
imports `exports`: an import circle that only worked because the package imported `exports`
last. Now every one of them imports this module, and `kit.datasets` re-exports all of it, so
`from kit.datasets import read_data_yaml` (and every other name) keeps working.

- **Nothing is lost on failure.** `staged_dir` gives a hidden sibling to build in and removes it
  if the build fails; `move_into_place` renames the finished build over the old dataset, which
  is removed only once replaced.
- **Reading is ultralytics' reading** (`read_data_yaml`: also Roboflow's `../train/images`
  paths), and every label is checked (`read_labels`): a broken one raises `kit.KitError` naming
  the file and line.
- **Class mapping** (`resolve_mapping`): the user's `--map` first, then the football aliases of
  public datasets (`DEFAULT_ALIASES`). The image wing maps by the element's object names instead
  (`kit.images.labels.match_names`).
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import KitError
from ..contract import BALL, GOALKEEPER, PLAYER, PLAYER_TEAM1, PLAYER_TEAM2, REFEREE
from ..pitch import FLIP_IDX

TASKS = ("detect", "pose")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SPLITS = ("train", "val", "test")

#: Wire (contract) class ids of the detection classes, in YOLO class order.
DETECT_WIRE_IDS = (BALL, GOALKEEPER, PLAYER, REFEREE)
TEAM_WIRE_IDS = DETECT_WIRE_IDS + (PLAYER_TEAM1, PLAYER_TEAM2)
POSE_NAMES = {0: "pitch"}
#: Minimum visible keypoints for a pose label by default: the validator needs 4 for a homography.
MIN_VISIBLE_KEYPOINTS = 4

#: The name of every wire class id, as datasets, plots and drawings label them.
WIRE_CLASS_NAMES = {BALL: "ball", GOALKEEPER: "goalkeeper", PLAYER: "player", REFEREE: "referee",
               PLAYER_TEAM1: "player team 1", PLAYER_TEAM2: "player team 2"}

#: Class names seen in public football datasets (Roboflow exports and the like), normalised
#: by `_norm_name`, and the contract class id they mean. Team names fold into "player" when
#: the target dataset has no team classes.
DEFAULT_ALIASES: dict[str, int] = {
    **dict.fromkeys(("ball", "football", "soccer ball", "sports ball", "sportsball"), BALL),
    **dict.fromkeys(("goalkeeper", "goalkeepers", "goalie", "keeper", "gk"), GOALKEEPER),
    **dict.fromkeys(("player", "players", "footballer", "field player"), PLAYER),
    **dict.fromkeys(("referee", "referees", "ref", "main referee", "assistant referee", "linesman"), REFEREE),
    **dict.fromkeys(("player team 1", "team 1", "team1", "player 1 team", "team a"), PLAYER_TEAM1),
    **dict.fromkeys(("player team 2", "team 2", "team2", "player 2 team", "team b"), PLAYER_TEAM2),
}
#: Names of the one pose class; a pose source with a single class is taken as the pitch whatever its name.
PITCH_ALIASES = ("pitch", "field", "football field", "soccer field", "football pitch", "soccer pitch", "keypoints")


def detect_names(teams: bool = False) -> dict[int, str]:
    """YOLO class names of a detection dataset: ids 0-3 are the contract's object types."""
    return {i: WIRE_CLASS_NAMES[w] for i, w in enumerate(TEAM_WIRE_IDS if teams else DETECT_WIRE_IDS)}


def _norm_name(name: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(name).lower()).split())


# --- writing datasets ---------------------------------------------------------------------------

@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """A hidden sibling of `final` to build in; removed if the build fails, else moved into place."""
    final = final.resolve()
    if final.exists() and not (final.is_dir() and ((final / "data.yaml").is_file() or not any(final.iterdir()))):
        raise KitError(f"{final}: exists and is not a dataset (no data.yaml); choose another output folder")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the dataset should get ordinary permissions
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def move_into_place(tmp: Path, final: Path) -> None:
    """Rename a finished build over `final`; the previous dataset is removed only once replaced."""
    final = final.resolve()
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{secrets.token_hex(3)}")
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_data_yaml(root: Path, final_root: Path, names: dict[int, str], splits: list[str],
                    kpt_shape: list[int] | None = None, kit_info: dict[str, Any] | None = None) -> Path:
    """The ultralytics data YAML; `path` is the dataset's final absolute location."""
    import yaml

    data: dict[str, Any] = {"path": str(final_root.resolve())}
    for s in splits:
        data[s] = f"images/{s}"
    data["names"] = dict(names)
    if kpt_shape is not None:
        data["kpt_shape"] = list(kpt_shape)
        data["flip_idx"] = list(FLIP_IDX)
        data["kpt_names"] = {i: [str(k + 1) for k in range(kpt_shape[0])] for i in names}
    if kit_info:
        data["kit"] = kit_info
    path = root / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120))
    return path



# --- reading YOLO datasets ----------------------------------------------------------------------

@dataclass
class YoloDataset:
    """A YOLO data YAML, read and resolved: image folders per split, classes, keypoint shape."""

    yaml_path: Path
    root: Path
    names: dict[int, str]
    splits: dict[str, list[Path]]  # split -> image folders
    kpt_shape: tuple[int, int] | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return "pose" if self.kpt_shape else "detect"

    def images(self, split: str) -> list[Path]:
        out: list[Path] = []
        for d in self.splits.get(split, []):
            out.extend(sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file()))
        return out


@dataclass
class LabeledImage:
    """One image's labels: YOLO class ids, boxes (cx, cy, w, h normalised), keypoints (n, K, 3) with v."""

    image: Path
    label: Path
    classes: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray | None


def label_path(image: Path) -> Path:
    """Where ultralytics looks for an image's labels: the last `images` folder becomes `labels`."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def read_data_yaml(path: str | os.PathLike) -> YoloDataset:
    """Read a data YAML the way ultralytics resolves it (also Roboflow's `../train/images` paths)."""
    import yaml

    p = Path(path)
    if p.is_dir():
        p = p / "data.yaml"
    if not p.is_file():
        raise KitError(f"{p}: no such data YAML (pass a dataset's data.yaml or its folder)")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise KitError(f"{p}: {where}not valid YAML ({getattr(e, 'problem', e)})") from e
    if not isinstance(data, dict):
        raise KitError(f"{p}: expected a mapping with train, val and names")
    names_in = data.get("names")
    if isinstance(names_in, list):
        names = dict(enumerate(str(n) for n in names_in))
    elif isinstance(names_in, dict):
        try:
            names = {int(k): str(v) for k, v in names_in.items()}
        except ValueError:
            raise KitError(f"{p}: names: keys must be class ids 0..n-1") from None
        if sorted(names) != list(range(len(names))):
            raise KitError(f"{p}: names: class ids must be 0..{len(names) - 1}, got {sorted(names)}")
    else:
        raise KitError(f"{p}: names: missing; list the class names (e.g. names: [ball, player])")
    kpt = data.get("kpt_shape")
    kpt_shape = None
    if kpt is not None:
        if not (isinstance(kpt, list) and len(kpt) == 2 and all(isinstance(v, int) for v in kpt) and kpt[1] in (2, 3)):
            raise KitError(f"{p}: kpt_shape: expected [K, 2] or [K, 3], got {kpt!r}")
        kpt_shape = (kpt[0], kpt[1])
    base = p.parent
    root = Path(data["path"]) if data.get("path") else base
    if not root.is_absolute():
        root = base / root
    splits: dict[str, list[Path]] = {}
    for key, split in (("train", "train"), ("val", "val"), ("validation", "val"), ("test", "test")):
        entry = data.get(key)
        if not entry or split in splits:
            continue
        dirs = []
        for e in entry if isinstance(entry, list) else [entry]:
            dirs.append(_resolve_split_dir(p, root, base, key, str(e)))
        splits[split] = dirs
    for need in ("train", "val"):
        if need not in splits:
            raise KitError(f"{p}: no `{need}:` entry; ultralytics needs train and val image folders")
    return YoloDataset(p, root, names, splits, kpt_shape, data)


def _resolve_split_dir(yaml_path: Path, root: Path, base: Path, key: str, entry: str) -> Path:
    cand = [Path(entry)] if Path(entry).is_absolute() else [root / entry, base / entry]
    if entry.startswith("../"):
        cand += [root / entry[3:], base / entry[3:]]
    for c in cand:
        if c.is_dir():
            return c.resolve()
        if c.is_file():
            raise KitError(f"{yaml_path}: {key}: {entry} is a file; point {key} at a folder of images")
    raise KitError(f"{yaml_path}: {key}: folder {entry!r} not found (looked at {', '.join(str(c) for c in cand)})")


def _label_keypoints(vals: list[float], kpt_shape: tuple[int, int], where: str) -> np.ndarray:
    """One row's keypoints as K x 3 (x, y, visibility: as read for D = 3, 2 for a visible D = 2 point, 0 for one
    not visible), checked; KitError at `where`.

    D = 3: visibility must be 0, 1 or 2, and a point with v = 0 is never read (exporters keep stale
    x, y). D = 2: a negative pair is ultralytics' "not visible", and so is (0, 0).
    """
    eps = 1e-6
    k, d = kpt_shape
    pts = np.asarray(vals, dtype=np.float64).reshape(k, d)
    if d == 3:
        bad = ~np.isin(pts[:, 2], (0, 1, 2))
        if bad.any():
            i = int(np.argmax(bad))
            raise KitError(f"{where}: keypoint {i + 1} has visibility {pts[i, 2]:g}; use 0 (not labelled), "
                           "1 (occluded) or 2 (visible)")
        vis = pts[:, 2] > 0
        xy = pts[:, :2]
        check = vis  # v = 0: not labelled; its x, y are stale (exporters keep old ones), never read
    else:
        xy = pts
        negative = (xy < 0).any(axis=1)
        vis = ~negative & ~((xy[:, 0] == 0) & (xy[:, 1] == 0))
        check = ~negative
    out = ((xy < -eps) | (xy > 1 + eps)).any(axis=1) & check
    if out.any():
        i = int(np.argmax(out))
        raise KitError(f"{where}: keypoint {i + 1} at ({xy[i, 0]:g}, {xy[i, 1]:g}) is outside [0, 1]; "
                       "keypoints are normalised by the image size (use 0 0 0 for one not visible)")
    full = np.zeros((k, 3))
    full[vis, :2] = np.clip(xy[vis], 0.0, 1.0)
    full[vis, 2] = pts[vis, 2] if d == 3 else 2.0
    return full


def read_labels(label: Path, image: Path, nc: int, kpt_shape: tuple[int, int] | None) -> LabeledImage:
    """Parse and check one label file; KitError names the file and line of the first problem.

    Checks: the file exists, each row has `5` (detect) or `5 + K*D` (pose) numbers, class ids
    are integers in 0..nc-1, coordinates lie in [0, 1] (1e-6 slack for rounding), boxes are
    not empty, visibilities are 0, 1 or 2. With D = 2, a negative pair is ultralytics'
    "not visible"; visibility is then inferred (also (0, 0) counts as not visible).
    """
    if not label.is_file():
        raise KitError(f"{label}: missing label file for {image}; every image needs one (an empty file marks an "
                       "image without objects)")
    n_fields = 5 + (kpt_shape[0] * kpt_shape[1] if kpt_shape else 0)
    eps = 1e-6
    classes, boxes, kpts = [], [], []
    for lineno, line in enumerate(label.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{label}:{lineno}"
        if len(fields) != n_fields:
            what = (f"{len(fields)} fields, expected {n_fields} (class, box and {kpt_shape[0]} keypoints x "
                    f"{kpt_shape[1]})" if kpt_shape else f"{len(fields)} fields, expected 5 (class cx cy w h)")
            raise KitError(f"{where}: {what}; fix or delete this line")
        try:
            vals = [float(f) for f in fields]
        except ValueError:
            raise KitError(f"{where}: not all fields are numbers: {line.strip()[:80]!r}") from None
        if not all(math.isfinite(v) for v in vals):
            raise KitError(f"{where}: non-finite number in {line.strip()[:80]!r}")
        cls = vals[0]
        if cls != int(cls) or not 0 <= cls < nc:
            raise KitError(f"{where}: class id {fields[0]} is out of range 0..{nc - 1} (names in data.yaml list "
                           f"{nc}); fix the id or add the class to names")
        box = vals[1:5]
        if min(box) < -eps or max(box) > 1 + eps:
            raise KitError(f"{where}: box {fields[1:5]} has coordinates outside [0, 1]; YOLO labels are "
                           "normalised by the image width and height")
        if box[2] <= 0 or box[3] <= 0:
            raise KitError(f"{where}: empty box (width or height 0); delete this line")
        classes.append(int(cls))
        boxes.append([min(max(v, 0.0), 1.0) for v in box])
        if kpt_shape:
            kpts.append(_label_keypoints(vals[5:], kpt_shape, where))
    keypoints = np.asarray(kpts, dtype=np.float64).reshape(-1, kpt_shape[0], 3) if kpt_shape else None
    return LabeledImage(image, label, np.asarray(classes, dtype=np.int64),
                        np.asarray(boxes, dtype=np.float64).reshape(-1, 4), keypoints)


def iter_labeled(ds: YoloDataset, split: str) -> Iterator[LabeledImage]:
    """Every image of a split with its checked labels, in file-name order."""
    for img in ds.images(split):
        yield read_labels(label_path(img), img, len(ds.names), ds.kpt_shape)


# --- import results, class mapping ------------------------------------------------------------------------------------

@dataclass
class ImportResult:
    data_yaml: Path
    mapping: dict[str, str | None]  # source class name -> our class name (None: dropped)
    images: dict[str, int]  # split -> images
    instances: dict[str, dict[str, int]]  # split -> class name -> count
    dropped: dict[str, int]  # source class name -> instances dropped
    groups: dict[str, list[str]] = field(default_factory=dict)  # split -> groups (clips or matches) in it
    notes: list[str] = field(default_factory=list)  # what was restored, replaced, ignored, checked
    order: dict[str, Any] | None = None  # pose: the keypoint-order report (kit.datasets.order)
    size: tuple[int, int] | None = None  # the size images were restored to (None: kept)

    def to_dict(self) -> dict[str, Any]:
        return {"data_yaml": str(self.data_yaml), "mapping": self.mapping, "images": self.images,
                "instances": self.instances, "dropped": self.dropped, "groups": self.groups, "notes": self.notes,
                "keypoint_order": self.order, "size": list(self.size) if self.size else None}


def parse_mapping(pairs: list[str] | dict[str, int | str] | None) -> dict[str, int | str]:
    """`name=id` strings (the CLI's `--map`) or a dict, to {source name: our id or class name}."""
    if pairs is None:
        return {}
    if isinstance(pairs, dict):
        return dict(pairs)
    out: dict[str, int | str] = {}
    for pair in pairs:
        name, sep, target = pair.rpartition("=")
        if not sep or not name.strip() or not target.strip():
            raise KitError(f"--map {pair!r}: expected SOURCE_NAME=ID (e.g. football=0 or GK=goalkeeper)")
        t = target.strip()
        out[name.strip()] = int(t) if t.lstrip("-").isdigit() else t
    return out


def resolve_mapping(source_names: dict[int, str], task: str, teams: bool = False,
                    mapping: dict[str, int | str] | None = None) -> dict[int, int | None]:
    """Source class id -> our YOLO class id (None: drop), from the user's mapping then the aliases.

    Targets are contract ids (0 ball, 1 goalkeeper, 2 player, 3 referee, 6/7 players of team
    1/2) or our class names; for pose the only target is 0, "pitch".
    """
    user = {_norm_name(k): v for k, v in (mapping or {}).items()}
    unknown = set(user) - {_norm_name(n) for n in source_names.values()}
    if unknown:
        raise KitError(f"--map names {sorted(unknown)} are not classes of the source (it has "
                       f"{sorted(source_names.values())})")
    if task == "pose":
        targets = {0: 0, "pitch": 0}
    else:
        wire_ids = TEAM_WIRE_IDS if teams else DETECT_WIRE_IDS
        targets = {w: i for i, w in enumerate(wire_ids)}
        targets.update({WIRE_CLASS_NAMES[w]: i for i, w in enumerate(wire_ids)})
    out: dict[int, int | None] = {}
    for sid, sname in source_names.items():
        key = _norm_name(sname)
        if key in user:
            t = user[key]
            t_key = _norm_name(t) if isinstance(t, str) else t
            if t_key not in targets:
                hint = " (team classes 6/7 need --teams)" if t_key in (PLAYER_TEAM1, PLAYER_TEAM2, "player team 1",
                                                                       "player team 2") else ""
                raise KitError(f"--map {sname}={t}: {t!r} is not one of our {task} classes "
                               f"{sorted(k for k in targets if isinstance(k, int))} / "
                               f"{sorted(k for k in targets if isinstance(k, str))}{hint}")
            out[sid] = targets[t_key]
        elif task == "pose":
            out[sid] = 0 if key in PITCH_ALIASES or len(source_names) == 1 else None
        elif key in DEFAULT_ALIASES:
            wire = DEFAULT_ALIASES[key]
            out[sid] = targets[wire if wire in targets else PLAYER]
        else:
            out[sid] = None
    return out
