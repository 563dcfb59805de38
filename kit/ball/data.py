"""Ball samples: frames at the miner's work size (960 x 540) with every ball's box, from real
labelled sets and from the kit's synthetic clips.

Decisions:
- Real sets are YOLO exports (`data.yaml` + images/labels per split). Roboflow stretches 16:9
  frames to a square; labels are normalised, so resizing the image back to 960 x 540 keeps them
  right. A set's ball class is found by name (`football`, `ball`, `sports ball`...), never by
  index: the class order differs between exports.
- A frame without a ball box is kept: it teaches the model where the ball is not, and it is
  where a precision figure is earned.
- Synthetic frames come from `kit.synth.render_frames` in memory (no mp4 round trip): their ball
  box is the drawn sprite's extent, exactly what the synthetic ground truth scores.

Usage: from kit.ball.data import real_split; frames = real_split("../shared/data/real/<a YOLO export>", "valid")
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import KitError

#: The size every sample is brought to: the football miner's work size (`work_px` in miner.py).
WORK_W, WORK_H = 960, 540
#: Class names taken as "the ball" in a labelled set (lower case).
BALL_NAMES = ("ball", "football", "sports ball", "soccer ball", "soccer-ball")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class BallFrame:
    """One frame (BGR uint8, 540 x 960), its balls as float boxes (x1, y1, x2, y2) in its pixels and,
    when the labels have them, the people's boxes (their feet are where a ball is easiest to confuse:
    white boots and socks; training samples crops there)."""

    image: np.ndarray
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    name: str = ""
    people: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))


def ball_class(names: dict[int, str], where: object) -> int:
    """The id of the ball class among a dataset's class names; KitError names the classes when none is a ball."""
    for i, n in sorted(names.items()):
        if str(n).strip().lower() in BALL_NAMES:
            return i
    raise KitError(f"{where}: no ball class among {list(names.values())}; the ball model needs a class named one "
                   f"of {list(BALL_NAMES)}")


def real_split(root: str | os.PathLike, split: str, limit: int | None = None,
               keep: Callable[[str], bool] | None = None) -> list[BallFrame]:
    """Every frame of one split of a YOLO dataset (a Roboflow export or a kit dataset: its folder or its
    data.yaml) whose file name `keep` accepts (all by default), resized to 960 x 540, with its ball boxes
    and the other objects as people. Names are filtered before any image is read."""
    from ..datasets.core import label_path, read_data_yaml

    ds = read_data_yaml(root)
    cls = ball_class(ds.names, ds.yaml_path)
    key = {"valid": "val", "validation": "val"}.get(split, split)
    if key not in ds.splits:
        raise KitError(f"{ds.yaml_path}: no {split} split (it has {sorted(ds.splits)})")
    out = []
    for img_path in [p for p in ds.images(key) if keep is None or keep(p.name)][:limit]:
        img = cv2.imread(str(img_path))
        if img is None:
            raise KitError(f"{img_path}: not a readable image; remove it or re-export the set")
        boxes, people = [], []
        label = label_path(img_path)
        for line in (label.read_text().splitlines() if label.is_file() else []):
            parts = line.split()
            if len(parts) >= 5:
                cx, cy, w, h = (float(v) for v in parts[1:5])
                box = ((cx - w / 2) * WORK_W, (cy - h / 2) * WORK_H, (cx + w / 2) * WORK_W, (cy + h / 2) * WORK_H)
                (boxes if int(float(parts[0])) == cls else people).append(box)
        img = cv2.resize(img, (WORK_W, WORK_H), interpolation=cv2.INTER_AREA)
        out.append(BallFrame(img, _boxes(boxes), img_path.name, _boxes(people)))
    if not out:
        raise KitError(f"{ds.yaml_path}: no images in its {split} split")
    return out


def clip_group(name: str) -> str:
    """The clip a Roboflow frame came from: its file name's first two `_` fields (`08fd33_0_10_png.rf.x.jpg`
    -> `08fd33_0`); frames of one clip are near-duplicates, so a held-out set holds out whole clips."""
    return "_".join(Path(name).name.split("_")[:2])


def reference_groups() -> list[str]:
    """The 10 clips of the real box set that the reference detector never saw (its `run.json`, real >
    detect > groups > test): the ball model holds out the same ones, so both are measured on them."""
    import json

    from ..bundle import REFERENCE_DIR

    run = REFERENCE_DIR / "run.json"
    try:
        return list(json.loads(run.read_text())["real"]["detect"]["groups"]["test"])
    except (OSError, KeyError, ValueError) as e:
        raise KitError(f"{run}: cannot read the reference's held-out clips ({e}); pass the groups by name") from None


def groups_arg(text: str | None) -> set[str] | None:
    """`--hold-out` / `--groups`: comma-separated clip names, 'reference' (`reference_groups`), or none."""
    if not text:
        return None
    return set(reference_groups()) if text == "reference" else {g.strip() for g in text.split(",") if g.strip()}


def real_frames(root: str | os.PathLike, groups: set[str] | None = None,
                exclude: set[str] | None = None) -> list[BallFrame]:
    """Every split of a YOLO export, keeping the frames of `groups` (all when None) minus those of `exclude`."""
    from ..datasets.core import read_data_yaml

    def wanted(name: str) -> bool:
        g = clip_group(name)
        return (groups is None or g in groups) and not (exclude and g in exclude)

    out = []
    for split in [s for s in ("train", "val", "test") if s in read_data_yaml(root).splits]:
        try:
            out += real_split(root, split, keep=wanted)
        except KitError as e:
            if "no images in" not in str(e):   # a split with none of the wanted clips is fine
                raise
    if not out:
        raise KitError(f"{root}: no frame left of groups {sorted(groups or [])} minus {sorted(exclude or [])}; "
                       "clip names are the file names' first two `_` fields")
    return out


def synthetic_frames(n_clips: int, frames_per_clip: int, seed: int, stride: int = 3,
                     difficulties: tuple[str, ...] = ("easy", "default", "hard")) -> list[BallFrame]:
    """Frames of `n_clips` synthetic clips (every `stride`-th of `frames_per_clip`), their ball boxes
    from the synthetic ground truth (track id 0, class 0)."""
    from ..synth import ClipRenderer, clip_seed

    out = []
    for c in range(n_clips):
        clip = ClipRenderer(clip_seed(seed, c), frames_per_clip, difficulty=difficulties[c % len(difficulties)])
        for i in range(0, frames_per_clip, stride):   # a frame renders on its own: only the kept ones are drawn
            img, gt = clip.render(i)
            boxes = [(b.x1, b.y1, b.x2, b.y2) for b in gt.boxes if b.cls_id == 0]
            people = [(b.x1, b.y1, b.x2, b.y2) for b in gt.boxes if b.cls_id != 0]
            out.append(BallFrame(_to_work(img), _boxes(boxes), f"synth{c}_{i}", _boxes(people)))
    return out


def _boxes(boxes: list) -> np.ndarray:
    return np.array(boxes, np.float32).reshape(-1, 4)


def _to_work(img: np.ndarray) -> np.ndarray:
    if img.shape[:2] == (WORK_H, WORK_W):
        return img
    return cv2.resize(img, (WORK_W, WORK_H), interpolation=cv2.INTER_AREA)
