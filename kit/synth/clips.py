"""Clips as files and frames in memory: the public entries of the generator.

`generate_clip` writes a video and its ground truth so that a clip whose JSON exists is complete
(the video is checked, then moved into place, the JSON written last, atomically); `clip_seed`
gives each clip of a batch its own stream; `render_frames` yields frames without any file.

Usage: from kit.synth.clips import generate_clip; video, truth = generate_clip("data/synth", index=0, seed=7)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .. import KitError
from ..contract import GroundTruth, GTFrame, save_ground_truth
from .presets import check_args
from .render import ClipRenderer


def clip_seed(seed: int, index: int) -> int:
    """The seed of clip `index` in a batch generated from `seed` (independent streams per clip)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise KitError(f"seed must be a non-negative integer, got {seed!r}")
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def render_frames(n_frames: int, seed: int, width: int = 960, height: int = 540, difficulty: str = "default",
                  fps: float = 25) -> Iterator[tuple[np.ndarray, GTFrame]]:
    """Frames (BGR uint8) and their ground truth, in order, in memory: no encoding, no files.

    Arguments are checked when called, not at the first `next()`.
    """
    renderer = ClipRenderer(seed, n_frames, width, height, fps, difficulty)
    return (renderer.render(i) for i in range(n_frames))


def _prepare_out_dir(out_dir) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise KitError(f"{out}: exists and is not a folder; pass a folder for the clips")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise KitError(f"{out}: cannot write clips there ({e.strerror or e}); pass a writable folder "
                       "with --out") from e
    return out


def generate_clip(out_dir, index: int = 0, n_frames: int = 100, seed: int = 0, width: int = 960,
                  height: int = 540, fps: float = 25, difficulty: str = "default",
                  progress: bool = False) -> tuple[Path, Path]:
    """Write `clip_{index:03d}.mp4` and its ground truth `clip_{index:03d}.json` into out_dir.

    The video goes to a temporary name first and is checked (OpenCV must count exactly
    n_frames in it, as the validator's reader does); only then does it replace any old clip
    of that name, and the JSON is written last, atomically. So a clip whose JSON exists is
    complete, and a failure or an interrupt leaves no partial clip and no other clip touched.
    """
    from tqdm.auto import tqdm

    if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index <= 999_999:
        raise KitError(f"index must be an integer from 0 to 999999, got {index!r}")
    check_args(n_frames, width, height, fps, difficulty, seed)
    out = _prepare_out_dir(out_dir)
    renderer = ClipRenderer(seed, n_frames, width, height, fps, difficulty)
    name = f"clip_{index:03d}"
    video, truth = out / f"{name}.mp4", out / f"{name}.json"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial.mp4", dir=out)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not writer.isOpened():
            raise KitError(f"{tmp}: OpenCV could not open an mp4v video writer (is FFmpeg support missing "
                           "from this OpenCV build? `tvkit doctor` checks it)")
        frames = []
        try:
            for i in tqdm(range(n_frames), desc=name, unit="frame", disable=not progress, leave=False):
                img, gt_frame = renderer.render(i)
                writer.write(img)
                frames.append(gt_frame)
        finally:
            writer.release()
        counted = _frame_count(tmp)
        if counted != n_frames:
            raise KitError(f"{tmp}: wrote {n_frames} frames but OpenCV counts {counted}; the clip would not "
                           "match its ground truth, so it was not kept")
        gt = GroundTruth(video.name, width, height, float(fps), frames)
        truth.unlink(missing_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the clip from other users
        os.replace(tmp, video)
        save_ground_truth(gt, truth)
    except OSError as e:
        raise KitError(f"{out}: writing {name} failed ({e}); earlier clips there are untouched") from e
    finally:
        tmp.unlink(missing_ok=True)
    return video, truth


def _frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else -1
    finally:
        cap.release()


def generate_clips(out_dir, n_clips: int, n_frames: int, seed: int, width: int = 960, height: int = 540,
                   fps: float = 25, difficulty: str = "default", progress: bool = True) -> list[tuple[Path, Path]]:
    """Clips 0..n_clips-1 into out_dir; clip i is `generate_clip` with seed `clip_seed(seed, i)`."""
    from tqdm.auto import tqdm

    if not isinstance(n_clips, (int, np.integer)) or isinstance(n_clips, bool) or n_clips < 1:
        raise KitError(f"n_clips must be an integer >= 1, got {n_clips!r}")
    check_args(n_frames, width, height, fps, difficulty, seed)
    _prepare_out_dir(out_dir)
    out = []
    for i in tqdm(range(n_clips), desc="clips", unit="clip", disable=not progress):
        out.append(generate_clip(out_dir, i, n_frames, clip_seed(seed, i), width, height, fps, difficulty,
                                 progress=progress))
    return out
