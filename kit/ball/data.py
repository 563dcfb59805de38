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

import cv2
import numpy as np

from .. import KitError
from ..contract import BALL

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
    from ..datasets.core import read_data_yaml

    ds = read_data_yaml(root)
    key = {"valid": "val", "validation": "val"}.get(split, split)
    if key not in ds.splits:
        raise KitError(f"{ds.yaml_path}: no {split} split (it has {sorted(ds.splits)})")
    out = _split_frames(ds, key, keep, limit)
    if not out:
        raise KitError(f"{ds.yaml_path}: no images in its {split} split")
    return out


def _split_frames(ds, key: str, keep: Callable[[str], bool] | None, limit: int | None = None) -> list[BallFrame]:
    """The frames of split `key` of a read data.yaml that `keep` accepts (none is fine here); labels are
    read and checked by `read_labels` (a broken line is a KitError naming its file and line)."""
    from ..datasets.core import label_path, read_labels

    cls = ball_class(ds.names, ds.yaml_path)
    out = []
    for img_path in [p for p in ds.images(key) if keep is None or keep(p.name)][:limit]:
        img = cv2.imread(str(img_path))
        if img is None:
            raise KitError(f"{img_path}: not a readable image; remove it or re-export the set")
        li = read_labels(label_path(img_path), img_path, len(ds.names), ds.kpt_shape)
        cx, cy, w, h = li.boxes.reshape(-1, 4).T
        xyxy = np.stack([(cx - w / 2) * WORK_W, (cy - h / 2) * WORK_H, (cx + w / 2) * WORK_W, (cy + h / 2) * WORK_H], 1)
        is_ball = li.classes.reshape(-1) == cls
        img = cv2.resize(img, (WORK_W, WORK_H), interpolation=cv2.INTER_AREA)
        out.append(BallFrame(img, _boxes(xyxy[is_ball]), img_path.name, _boxes(xyxy[~is_ball])))
    return out


def reference_groups() -> list[str]:
    """The 10 clips (`group_of`) of the real box set that the reference detector never saw (its `run.json`, real >
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
    """Every split of a YOLO export, keeping the frames of the clips (`group_of`) in `groups` (all when
    None) minus those in `exclude`."""
    from ..datasets.core import read_data_yaml
    from ..datasets.exports import group_of

    def wanted(name: str) -> bool:
        g = group_of(name)
        return (groups is None or g in groups) and not (exclude and g in exclude)

    ds = read_data_yaml(root)
    out = [f for split in ("train", "val", "test") if split in ds.splits for f in _split_frames(ds, split, wanted)]
    if not out:
        raise KitError(f"{root}: no frame left of groups {sorted(groups or [])} minus {sorted(exclude or [])}; "
                       "clip names are the file names less the frame number (`kit.datasets.exports.group_of`)")
    return out


def synthetic_frames(n_clips: int, frames_per_clip: int, seed: int, stride: int = 3,
                     difficulties: tuple[str, ...] = ("easy", "default", "hard")) -> list[BallFrame]:
    """Frames of `n_clips` synthetic clips (every `stride`-th of `frames_per_clip`), their ball boxes
    from the synthetic ground truth (the contract's BALL class)."""
    from ..synth import ClipRenderer, clip_seed

    out = []
    for c in range(n_clips):
        clip = ClipRenderer(clip_seed(seed, c), frames_per_clip, difficulty=difficulties[c % len(difficulties)])
        for i in range(0, frames_per_clip, stride):   # a frame renders on its own: only the kept ones are drawn
            img, gt = clip.render(i)
            boxes = [(b.x1, b.y1, b.x2, b.y2) for b in gt.boxes if b.cls_id == BALL]
            people = [(b.x1, b.y1, b.x2, b.y2) for b in gt.boxes if b.cls_id != BALL]
            out.append(BallFrame(_to_work(img), _boxes(boxes), f"synth{c}_{i}", _boxes(people)))
    return out


def _boxes(boxes: list) -> np.ndarray:
    return np.array(boxes, np.float32).reshape(-1, 4)


def _to_work(img: np.ndarray) -> np.ndarray:
    if img.shape[:2] == (WORK_H, WORK_W):
        return img
    return cv2.resize(img, (WORK_W, WORK_H), interpolation=cv2.INTER_AREA)
