"""YOLO datasets for the two models a miner trains: build them from clips, import, check.

A clip is an mp4 with its ground-truth JSON (DESIGN.md). From clips this module writes

- a **detection** dataset: classes ball, goalkeeper, player, referee (ids 0-3, the contract's
  object types), optionally followed by "player team 1" and "player team 2" (ids 4, 5, the
  wire's 6 and 7) so one detector also learns the kits;
- a **pose** dataset: one object "pitch" per frame with the 32 template keypoints as
  `x y v` (normalised; v=2 visible, `0 0 0` not), `kpt_shape: [32, 3]` and the left-right
  `flip_idx` of `kit.pitch`.

Decisions a reader should know about:

- **Split by clip.** Consecutive frames of one clip are near-duplicates; frames of a clip in
  both train and val would make validation measure memory. So whole clips go to train, val
  (and optionally test), by a seeded shuffle of the clip names: deterministic.
- **Frame numbering.** Frame i of the video (decoded with OpenCV, from 0) is `frame_id` i of
  the ground truth, the way the validator numbers frames. A ground truth that does not list
  exactly the video's frames is refused rather than guessed at.
- **The pose box is the whole frame.** The pitch is the scene, not an object in it; the box is
  not scored. A box around the visible keypoints degenerates when they are few or collinear
  (all on a goal line) and ultralytics then drops the label, and its keypoint loss is scaled
  by the box area, so a box that changes size with the view would weight frames unevenly.
- **Nothing is lost on failure.** Every dataset is written into a hidden sibling directory and
  renamed into place only when complete; an existing dataset survives a failed build.
- **data.yaml** carries the standard keys (absolute `path`, `train`, `val`, `names`, and for
  pose `kpt_shape`, `flip_idx`, `kpt_names`) and a `kit` block: how it was made and
  `wire_cls`, the contract class id of every YOLO class (4 -> 6, 5 -> 7 with teams).

Every broken input raises `kit.KitError` naming the file (and line, for label files) and what
to do about it.

The package, cut along its seams (no module imports the package back; tests/test_project.py
checks that kit has no import circle): `core.py` the YOLO dataset core every other module reads
and writes through (classes, staged writes, data.yaml, labels, class mapping; re-exported here),
`exports.py` real exports in, `order.py` the pitch keypoint order, `labelled.py` a bundle scored
on labelled frames; this file: frames from videos, datasets from clips, checks.

Usage: `build_from_clips("data/clips", "data/synth")` -> BuildResult; `check_dataset("data/synth/detect/data.yaml")`
"""

from __future__ import annotations

import os
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import cv2
import numpy as np

from .. import KitError
from ..contract import N_KEYPOINTS, GroundTruth, GTFrame, load_ground_truth, wire_class
from .core import (
    DEFAULT_ALIASES,
    DETECT_WIRE_IDS,
    IMAGE_EXTS,
    MIN_VISIBLE_KEYPOINTS,
    PITCH_ALIASES,
    POSE_NAMES,
    SPLITS,
    TASKS,
    TEAM_WIRE_IDS,
    WIRE_CLASS_NAMES,
    ImportResult,
    LabeledImage,
    YoloDataset,
    detect_names,
    iter_labeled,
    label_path,
    move_into_place,
    parse_mapping,
    read_data_yaml,
    read_labels,
    resolve_mapping,
    staged_dir,
    write_data_yaml,
)
from .exports import group_of, import_export, split_by_group
from .order import OrderReport, check_keypoint_order

# --- videos ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoInfo:
    path: Path
    n_frames: int  # from the container header; <= 0 when it does not say
    width: int
    height: int
    fps: float


class VideoReader:
    """A local video's frames, decoded with OpenCV and numbered from 0 like the validator's.

    `n_read` counts frames decoded so far (skipped ones included), so a caller that read to
    the end knows the true frame count even when the container header is wrong.
    """

    def __init__(self, path: str | os.PathLike, name: str | None = None):
        self.path = Path(path)
        self.name = name or str(self.path)  # what messages call it (the URL of a downloaded video)
        if not self.path.is_file():
            raise KitError(f"{self.name}: no such video file")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise KitError(f"{self.name}: OpenCV cannot open this video (corrupt, empty or not a video); "
                           "re-encode it, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`")
        self.n_read = 0

    def info(self) -> VideoInfo:
        c = self._cap
        return VideoInfo(self.path, int(c.get(cv2.CAP_PROP_FRAME_COUNT)), int(c.get(cv2.CAP_PROP_FRAME_WIDTH)),
                         int(c.get(cv2.CAP_PROP_FRAME_HEIGHT)), float(c.get(cv2.CAP_PROP_FPS)))

    def frames(self, stride: int = 1, max_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(frame_id, BGR frame) for frames 0, stride, 2*stride, ...; at most `max_frames` of them.

        Skipped frames are only grabbed, not converted to BGR. Raises KitError if the video
        yields no frame at all.
        """
        if stride < 1:
            raise KitError(f"stride must be >= 1, got {stride}")
        yielded = 0
        while max_frames is None or yielded < max_frames:
            if not self._cap.grab():
                break
            fid = self.n_read
            self.n_read += 1
            if fid % stride:
                continue
            ok, frame = self._cap.retrieve()
            if not ok:
                raise KitError(f"{self.name}: frame {fid} could not be decoded (corrupt video); re-encode it")
            yielded += 1
            yield fid, frame
        if self.n_read == 0:
            raise KitError(f"{self.name}: no frame could be decoded (zero-frame or corrupt video); "
                           "re-encode it or generate the clip again")

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame count (header), size and fps of a local video; KitError if OpenCV cannot open it."""
    with VideoReader(path) as r:
        return r.info()


def is_url(source: str | os.PathLike) -> bool:
    return isinstance(source, str) and urlparse(source).scheme in ("http", "https")


def download(url: str, dest_dir: str | os.PathLike, timeout: float = 60.0) -> Path:
    """Stream `url` into a file in `dest_dir` (named after the URL's last path segment)."""
    import httpx

    name = Path(urlparse(url).path).name or "video.mp4"
    dest = Path(dest_dir) / name
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as r:
            if r.status_code != 200:
                raise KitError(f"{url}: HTTP {r.status_code} {r.reason_phrase}; check the URL (a challenge's "
                               "video URL expires after a while)")
            with open(dest, "wb") as fh:
                for chunk in r.iter_bytes(1 << 20):
                    fh.write(chunk)
    except httpx.HTTPError as e:
        raise KitError(f"{url}: download failed ({type(e).__name__}: {e}); check the URL and your connection") from e
    return dest


def iter_frames(source: str | os.PathLike, stride: int = 1, max_frames: int | None = None,
                timeout: float = 60.0) -> Iterator[tuple[int, np.ndarray]]:
    """(frame_id, BGR frame) from a video file or an http(s) URL, numbered from 0.

    A URL is downloaded first (streamed to a temporary file, removed when the iteration ends):
    OpenCV's own network reading is not in every build and cannot report HTTP errors.
    """
    if is_url(source):
        with tempfile.TemporaryDirectory(prefix="tvkit-video-") as tmp:
            path = download(str(source), tmp, timeout=timeout)
            with VideoReader(path, name=str(source)) as r:
                yield from r.frames(stride, max_frames)
    else:
        with VideoReader(source) as r:
            yield from r.frames(stride, max_frames)


# --- clips ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    video: Path
    gt: Path

    @property
    def name(self) -> str:
        return self.video.stem


def find_clips(clips_dir: str | os.PathLike) -> list[Clip]:
    """Every `NAME.mp4` of a folder with its ground truth `NAME.json`, sorted by name."""
    d = Path(clips_dir)
    if not d.is_dir():
        raise KitError(f"{d}: no such folder of clips (generate some with kit.synth.generate_clips)")
    videos = sorted(p for p in d.iterdir() if p.suffix.lower() == ".mp4")
    if not videos:
        raise KitError(f"{d}: no .mp4 clips here (generate some with kit.synth.generate_clips)")
    clips = []
    for v in videos:
        gt = v.with_suffix(".json")
        if not gt.is_file():
            raise KitError(f"{v}: no ground truth beside it (expected {gt}); remove the video or add its JSON")
        clips.append(Clip(v, gt))
    return clips


def split_clips(names: list[str], val_fraction: float = 0.2, test_fraction: float = 0.0,
                seed: int = 0) -> dict[str, str]:
    """Clip name -> "train" | "val" | "test": a seeded shuffle, at least one clip per requested split."""
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise KitError(f"val fraction {val_fraction} and test fraction {test_fraction}: need 0 < val < 1, "
                       "0 <= test < 1 and val + test < 1")
    if len(set(names)) != len(names):
        dup = sorted(n for n, c in Counter(names).items() if c > 1)
        raise KitError(f"clip names must be unique, these repeat: {', '.join(dup)}")
    order = sorted(names)
    random.Random(seed).shuffle(order)
    n = len(order)
    n_val = max(1, round(val_fraction * n))
    n_test = max(1, round(test_fraction * n)) if test_fraction > 0 else 0
    if n - n_val - n_test < 1:
        need = 2 + (test_fraction > 0)
        raise KitError(f"{n} clip(s) cannot be split by clip into train/val{'/test' if n_test else ''}: need at "
                       f"least {need} (frames of one clip are near-duplicates, splitting inside a clip would leak); "
                       "generate more clips")
    split = {name: "val" if i < n_val else "test" if i < n_val + n_test else "train" for i, name in enumerate(order)}
    return dict(sorted(split.items()))


def _check_gt_against_video(gt: GroundTruth, clip: Clip, width: int, height: int, n_frames: int | None) -> None:
    """Refuse a ground truth that does not describe this video frame by frame."""
    if (gt.width, gt.height) != (width, height):
        raise KitError(f"{clip.gt}: ground truth is {gt.width} x {gt.height} but {clip.video} is {width} x {height}; "
                       "labels would be normalised against the wrong size (regenerate the clip or fix the JSON)")
    if n_frames is not None and n_frames > 0 and len(gt.frames) != n_frames:
        raise KitError(f"{clip.gt}: lists {len(gt.frames)} frames but {clip.video} has {n_frames}; the ground truth "
                       "must describe every frame of its video (regenerate the clip or fix the JSON)")
    if n_frames is not None and n_frames > 0:
        for i, fr in enumerate(gt.frames):
            if not 0 <= fr.frame_id < n_frames:
                raise KitError(f"{clip.gt}: frames[{i}].frame_id {fr.frame_id} is outside 0..{n_frames - 1}; "
                               "frames are numbered from 0 like the validator's")


# --- labels from ground truth -----------------------------------------------------------------

def detect_rows(frame: GTFrame, width: int, height: int, teams: bool = False) -> tuple[list[str], int]:
    """YOLO detection rows `cls cx cy w h` of one ground-truth frame, and how many boxes were dropped.

    Boxes are clipped to the frame; what is left under one pixel wide or high is dropped.
    """
    yolo_of_wire = {w: i for i, w in enumerate(TEAM_WIRE_IDS if teams else DETECT_WIRE_IDS)}
    rows, dropped = [], 0
    for b in frame.boxes:
        x1, x2 = max(0.0, b.x1), min(float(width), b.x2)
        y1, y2 = max(0.0, b.y1), min(float(height), b.y2)
        if x2 - x1 < 1 or y2 - y1 < 1:
            dropped += 1
            continue
        cls = yolo_of_wire[wire_class(b.cls_id, b.team) if teams else b.cls_id]
        rows.append(f"{cls} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                    f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return rows, dropped


def pose_row(frame: GTFrame, width: int, height: int) -> tuple[str, int]:
    """The YOLO pose row of one frame (box = whole frame) and its number of visible keypoints.

    A keypoint is visible when it is not (0, 0) and lies inside the frame; others are `0 0 0`.
    """
    parts = ["0 0.500000 0.500000 1.000000 1.000000"]
    n_vis = 0
    for x, y in frame.keypoints:
        if (x, y) != (0, 0) and 0 <= x < width and 0 <= y < height:
            parts.append(f"{x / width:.6f} {y / height:.6f} 2")
            n_vis += 1
        else:
            parts.append("0 0 0")
    return " ".join(parts), n_vis


@dataclass
class BuildResult:
    """What `build_from_clips` wrote: one data.yaml per task, the split of clips, counts."""

    data_yamls: dict[str, Path]
    clip_splits: dict[str, str]
    images: dict[str, dict[str, int]]  # task -> split -> images
    instances: dict[str, dict[str, dict[str, int]]]  # task -> split -> class name -> count
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def to_dict(self) -> dict[str, Any]:
        return {"data_yamls": {t: str(p) for t, p in self.data_yamls.items()}, "clip_splits": self.clip_splits,
                "images": self.images, "instances": self.instances, "skipped": self.skipped}


class _DatasetWriter:
    """Images and label files of one dataset under construction, and what it holds so far."""

    def __init__(self, root: Path, names: dict[int, str], splits: list[str]):
        self.root, self.names = root, names
        for s in splits:
            (root / "images" / s).mkdir(parents=True)
            (root / "labels" / s).mkdir(parents=True)
        self.images = dict.fromkeys(splits, 0)
        self.instances = {s: dict.fromkeys(names.values(), 0) for s in splits}

    def add(self, split: str, stem: str, jpeg: bytes, rows: list[str]) -> None:
        (self.root / "images" / split / f"{stem}.jpg").write_bytes(jpeg)
        (self.root / "labels" / split / f"{stem}.txt").write_text("".join(r + "\n" for r in rows))
        self.images[split] += 1
        for r in rows:
            self.instances[split][self.names[int(r.split(" ", 1)[0])]] += 1


def _add_clip(clip: Clip, split: str, writers: dict[str, _DatasetWriter], stride: int, teams: bool,
              min_visible_keypoints: int, jpeg_quality: int, skipped: Counter[str]) -> None:
    """Every `stride`-th frame of one clip into the datasets being written."""
    gt = load_ground_truth(clip.gt)
    with VideoReader(clip.video) as reader:
        info = reader.info()
        _check_gt_against_video(gt, clip, info.width, info.height, info.n_frames)
        by_id = gt.by_frame()
        for fid, img in reader.frames(stride):
            fr = by_id.get(fid)
            if fr is None:  # only when the header under-counts the frames; the check below fails then
                continue
            rows_by_task: dict[str, list[str]] = {}
            if "detect" in writers:
                rows, dropped = detect_rows(fr, info.width, info.height, teams)
                if dropped:
                    skipped["boxes outside the frame"] += dropped
                rows_by_task["detect"] = rows
            if "pose" in writers:
                row, n_vis = pose_row(fr, info.width, info.height)
                if n_vis >= min_visible_keypoints:
                    rows_by_task["pose"] = [row]
                else:
                    skipped[f"pose frames with < {min_visible_keypoints} visible keypoints"] += 1
            if not rows_by_task:
                continue
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
            if not ok:
                raise KitError(f"{clip.video}: frame {fid} could not be encoded as JPEG")
            for t, rows in rows_by_task.items():
                writers[t].add(split, f"{clip.name}_f{fid:06d}", buf.tobytes(), rows)
        _check_gt_against_video(gt, clip, info.width, info.height, reader.n_read)


def build_from_clips(clips: str | os.PathLike | list[Clip], out_dir: str | os.PathLike, task: str = "both",
                     stride: int | None = None, val_fraction: float = 0.2, test_fraction: float = 0.0,
                     teams: bool = False, min_visible_keypoints: int = MIN_VISIBLE_KEYPOINTS, seed: int = 0,
                     jpeg_quality: int = 95, progress: bool = True) -> BuildResult:
    """Detection and/or pose YOLO datasets from clips, at `out_dir/detect` and `out_dir/pose`.

    `clips` is a folder of NAME.mp4 + NAME.json pairs or a list of `Clip`. Every `stride`-th
    frame (0, stride, ...; default the defaults table's `stride`, as `tvkit dataset build` and
    notebook 01) becomes a JPEG named `<clip>_f<frame id>.jpg`; detection keeps
    frames without boxes as background images, pose skips frames with fewer than
    `min_visible_keypoints` visible keypoints. An existing dataset at the destination is
    replaced only once the new one is complete.
    """
    from tqdm.auto import tqdm

    tasks = TASKS if task == "both" else (task,)
    if any(t not in TASKS for t in tasks):
        raise KitError(f"task {task!r}: choose detect, pose or both")
    from ..defaults import default

    stride = default("stride") if stride is None else stride   # the defaults table's, as the CLI and notebook 01
    if stride < 1:
        raise KitError(f"stride must be >= 1, got {stride}")
    clip_list = find_clips(clips) if isinstance(clips, (str, os.PathLike)) else list(clips)
    if not clip_list:
        raise KitError("no clips given")
    clip_splits = split_clips([c.name for c in clip_list], val_fraction, test_fraction, seed)
    used_splits = [s for s in SPLITS if s in clip_splits.values()]
    out_dir = Path(out_dir)
    names = {"detect": detect_names(teams), "pose": POSE_NAMES}
    skipped: Counter[str] = Counter()

    with ExitStack() as stack:
        writers = {t: _DatasetWriter(stack.enter_context(staged_dir(out_dir / t)), names[t], used_splits)
                   for t in tasks}
        for clip in tqdm(clip_list, desc="building datasets", unit="clip", disable=not progress):
            _add_clip(clip, clip_splits[clip.name], writers, stride, teams, min_visible_keypoints, jpeg_quality,
                      skipped)
        for t, w in writers.items():
            if w.images.get("train", 0) == 0 or w.images.get("val", 0) == 0:
                raise KitError(f"{t} dataset would have {w.images} images per split: "
                               + ("lower --min-visible-keypoints or check the clips' keypoints" if t == "pose"
                                  else "lower the stride or add clips"))
            info_block: dict[str, Any] = {
                "task": t, "source": "clips", "stride": stride, "seed": seed,
                "clips": {s: sorted(n for n, sp in clip_splits.items() if sp == s) for s in used_splits}}
            if t == "detect":
                info_block["teams"] = teams
                info_block["wire_cls"] = dict(enumerate(TEAM_WIRE_IDS if teams else DETECT_WIRE_IDS))
            else:
                info_block["min_visible_keypoints"] = min_visible_keypoints
            write_data_yaml(w.root, out_dir / t, names[t], used_splits,
                            kpt_shape=[N_KEYPOINTS, 3] if t == "pose" else None, kit_info=info_block)
        for t, w in writers.items():
            move_into_place(w.root, out_dir / t)
    return BuildResult({t: (out_dir / t / "data.yaml").resolve() for t in tasks}, clip_splits,
                       {t: w.images for t, w in writers.items()}, {t: w.instances for t, w in writers.items()},
                       dict(skipped))


def import_yolo(src: str | os.PathLike, out_dir: str | os.PathLike, task: str = "detect",
                mapping: list[str] | dict[str, int | str] | None = None, strict: bool = False, teams: bool = False,
                progress: bool = True, **kw: Any) -> ImportResult:
    """Copy an external YOLO dataset into our classes at `out_dir`, keeping its splits.

    Class names are mapped by `mapping` first, then by `DEFAULT_ALIASES`; instances of classes
    that map nowhere are dropped and counted, or, with `strict`, the import fails before
    writing anything. Pose sources need `kpt_shape` [32, 2] or [32, 3]; keypoints come out as
    [32, 3]. Every label is checked first. Other keywords go to
    `kit.datasets.exports.import_export` (which re-splits by group by default; this keeps the
    export's splits unless `split="group"` is passed).
    """
    kw.setdefault("split", "keep")
    return import_export(src, out_dir, task, fmt="yolo", mapping=mapping, strict=strict, teams=teams,
                         progress=progress, **kw)


# --- checks ------------------------------------------------------------------------------------

@dataclass
class DatasetStats:
    """Numbers about a YOLO dataset: what `tvkit dataset check` prints and the notebook plots.

    Box sizes are in pixels of the source images; `box_heights` and `box_areas` hold one value
    per instance, per class. For pose, `visible_per_image[n]` counts instances with n visible
    keypoints and `visible_per_keypoint[k]` how often keypoint id k + 1 is visible.
    """

    data_yaml: Path
    task: str
    names: dict[int, str]
    images: dict[str, int]
    empty_images: dict[str, int]
    instances: dict[str, dict[str, int]]
    image_sizes: dict[str, int]  # "W x H" -> images
    box_heights: dict[str, np.ndarray]
    box_areas: dict[str, np.ndarray]
    visible_per_image: np.ndarray | None = None
    visible_per_keypoint: np.ndarray | None = None
    pose_instances: int = 0

    def to_dict(self) -> dict[str, Any]:
        def summary(v: np.ndarray) -> dict[str, float] | None:
            if not len(v):
                return None
            q = np.percentile(v, [0, 5, 50, 95, 100])
            return {k: round(float(x), 1) for k, x in zip(("min", "p5", "median", "p95", "max"), q)}

        d: dict[str, Any] = {
            "data_yaml": str(self.data_yaml), "task": self.task, "names": self.names, "images": self.images,
            "empty_images": self.empty_images, "instances": self.instances,
            "instances_total": {n: sum(s[n] for s in self.instances.values()) for n in self.names.values()},
            "image_sizes": self.image_sizes,
            "box_height_px": {n: summary(v) for n, v in self.box_heights.items()},
        }
        if self.visible_per_image is not None:
            d["visible_keypoints_per_image"] = self.visible_per_image.tolist()
            d["keypoint_visible_fraction"] = [round(float(c) / max(self.pose_instances, 1), 4)
                                              for c in self.visible_per_keypoint]
        return d


def check_dataset(data_yaml: str | os.PathLike, progress: bool = False) -> DatasetStats:
    """Read every label of a dataset, checking it (KitError at the first broken file), and count."""
    from PIL import Image
    from tqdm.auto import tqdm

    ds = read_data_yaml(data_yaml)
    names = ds.names
    splits = [s for s in SPLITS if s in ds.splits]
    images = dict.fromkeys(splits, 0)
    empty = dict.fromkeys(splits, 0)
    instances = {s: dict.fromkeys(names.values(), 0) for s in splits}
    sizes: Counter[str] = Counter()
    heights: dict[str, list[float]] = {n: [] for n in names.values()}
    areas: dict[str, list[float]] = {n: [] for n in names.values()}
    k = ds.kpt_shape[0] if ds.kpt_shape else 0
    per_image = np.zeros(k + 1, dtype=np.int64)
    per_kpt = np.zeros(k, dtype=np.int64)
    n_pose = 0
    for split in splits:
        for li in tqdm(iter_labeled(ds, split), desc=f"checking {split}", unit="img", disable=not progress):
            try:
                with Image.open(li.image) as im:
                    w, h = im.size
            except OSError as e:
                raise KitError(f"{li.image}: not a readable image ({e}); delete it or replace it") from e
            images[split] += 1
            sizes[f"{w} x {h}"] += 1
            if not len(li.classes):
                empty[split] += 1
            for cls, box in zip(li.classes, li.boxes):
                n = names[int(cls)]
                instances[split][n] += 1
                heights[n].append(box[3] * h)
                areas[n].append(box[2] * w * box[3] * h)
            if li.keypoints is not None:
                vis = li.keypoints[..., 2] > 0
                n_pose += len(vis)
                per_kpt += vis.sum(axis=0)
                per_image += np.bincount(vis.sum(axis=1), minlength=k + 1)
    return DatasetStats(
        ds.yaml_path, ds.task, names, images, empty, instances, dict(sorted(sizes.items())),
        {n: np.asarray(v) for n, v in heights.items()}, {n: np.asarray(v) for n, v in areas.items()},
        per_image if k else None, per_kpt if k else None, n_pose)


def format_stats(stats: DatasetStats) -> str:
    """A plain-text table of a dataset's counts, for the terminal."""
    splits = list(stats.images)
    lines = [f"{stats.data_yaml} ({stats.task}, {len(stats.names)} classes)",
             f"  {'':<16}" + "".join(f"{s:>10}" for s in splits),
             f"  {'images':<16}" + "".join(f"{stats.images[s]:>10}" for s in splits),
             f"  {'  without labels':<16}" + "".join(f"{stats.empty_images[s]:>10}" for s in splits)]
    for n in stats.names.values():
        lines.append(f"  {n:<16}" + "".join(f"{stats.instances[s][n]:>10}" for s in splits))
    lines.append("  image sizes: " + ", ".join(f"{k} ({v})" for k, v in stats.image_sizes.items()))
    for n, v in stats.box_heights.items():
        if len(v):
            lines.append(f"  {n} box height px: median {np.median(v):.0f}, range {v.min():.0f}-{v.max():.0f}")
    if stats.visible_per_image is not None and stats.pose_instances:
        mean_vis = (stats.visible_per_image * np.arange(len(stats.visible_per_image))).sum() / stats.pose_instances
        lines.append(f"  visible keypoints per instance: mean {mean_vis:.1f} of {len(stats.visible_per_keypoint)}")
    return "\n".join(lines)


__all__ = [
    "BuildResult", "Clip", "DatasetStats", "ImportResult", "LabeledImage", "VideoInfo", "VideoReader", "YoloDataset",
    "build_from_clips", "check_dataset", "detect_names", "detect_rows", "download", "find_clips", "format_stats",
    "OrderReport", "check_keypoint_order", "group_of", "import_export", "split_by_group",
    "import_yolo", "iter_frames", "iter_labeled", "label_path", "parse_mapping", "pose_row", "probe_video",
    "read_data_yaml", "read_labels", "resolve_mapping", "split_clips", "write_data_yaml",
    "DEFAULT_ALIASES", "DETECT_WIRE_IDS", "IMAGE_EXTS", "MIN_VISIBLE_KEYPOINTS", "PITCH_ALIASES", "POSE_NAMES",
    "SPLITS", "TASKS", "TEAM_WIRE_IDS", "WIRE_CLASS_NAMES", "move_into_place", "staged_dir",
]
