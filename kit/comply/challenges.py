"""Challenges to replay, cut from local clips, and the chute's answers to compare them with.

Usage:
    chs = build_challenges(["data/clips"], work_dir, mode="frames")   # up to 10, as upstream
    answers = load_chute_answers("dry_run_answers/", chs)             # {challenge_id: frames}

The compliance runner replays up to `CHECKER_CHALLENGES_PER_TARGET` = 10 past challenges of
a miner (compliance.py:1064, 1109-1112), and only those stored with their frames: a challenge
without payload frames counts as a missing blob and is skipped (compliance.py:1115-1130).
Those frames challenges carry `[{frame_id, data: base64 image}]`; the runner decodes them and
calls `predict_batch` once on all of them with `offset=0`, then gives each result the
payload's frame id (security.py:443-465). Image challenges are one frame with id 0
(scorevision/utils/challenges.py:442-513). Two replay modes here:

- `frames` (the validator's): each challenge is `frames_per_challenge` consecutive frames of
  a clip (1 by default: the single-image challenges the public elements send), ids being
  their frame numbers in the clip; an image file is one challenge with frame id 0. The frames
  are written as PNG, lossless (DESIGN.md: frames mode carries base64 PNG), so the worker
  and the chute decode the same pixels.
- `video`: each clip whole, called the way the official chute's video path calls the miner
  (batches of `batch_size` 64, `offset` = 64 x batch number, the miner's own frame ids;
  turbovision_chute.py.j2:411-428). The validator never replays these; the mode exists to
  compare a sandboxed run with a chute dry run's answer to the same clip.

Chute answers come from a JSON file (one answer, for challenges from one clip) or a folder of
them named `<challenge id>.json` or `<clip stem>.json`. An answer is the chute's reply
(`{"success", "predictions": {"frames": [...]}}`), `{"frames": [...]}` or a bare list of
frames; frames are matched by id, so a clip's answer serves every challenge cut from it.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from .. import KitError

ReplayMode = Literal["frames", "video"]
REPLAY_MODES: tuple[str, ...] = get_args(ReplayMode)
MAX_CHALLENGES = 10          # settings.py CHECKER_CHALLENGES_PER_TARGET
BATCH_SIZE = 64              # the chute's default meta.batch_size
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class Challenge:
    """One replayed challenge: its frames as PNG files, ids as the validator numbers them."""

    challenge_id: str
    mode: ReplayMode
    source: Path
    frames: list[tuple[int, Path]]

    def calls(self, replay: bool, batch_size: int = BATCH_SIZE) -> list[tuple[int, list[tuple[int, Path]], bool]]:
        """(offset, frames, reassign ids) per predict_batch call.

        Frames mode: the compliance replay makes one call with every frame (security.py:453);
        the chute's frames path makes one per `batch_size` frames, offset 0
        (turbovision_chute.py.j2:371-386). Video mode: the chute's video path, both sides."""
        if self.mode == "frames" and replay:
            return [(0, self.frames, True)]
        step = max(1, batch_size)
        chunks = [self.frames[i:i + step] for i in range(0, len(self.frames), step)]
        if self.mode == "frames":
            return [(0, c, True) for c in chunks]
        return [(i * step, c, False) for i, c in enumerate(chunks)]


def find_clips(clips: str | os.PathLike | list[str | os.PathLike]) -> list[Path]:
    paths = [Path(c) for c in (clips if isinstance(clips, (list, tuple)) else [clips])]
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES)
        elif p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
            out.append(p)
        else:
            raise KitError(f"{p}: not a clip folder, video ({' '.join(VIDEO_SUFFIXES)}) or image "
                           f"({' '.join(IMAGE_SUFFIXES)}); `tvkit synth` writes clips")
    if not out:
        raise KitError(f"{', '.join(map(str, paths))}: no videos or images there; `tvkit synth --out DIR` makes clips")
    return out


def _read_frames(video: Path, wanted: set[int] | None) -> dict[int, Any]:
    """Frames of a clip by decode order (all of them when `wanted` is None)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise KitError(f"{video}: OpenCV cannot open this video")
    out, i = {}, 0
    try:
        while wanted is None or i <= max(wanted, default=-1):
            ok, frame = cap.read()
            if not ok:
                break
            if wanted is None or i in wanted:
                out[i] = frame
            i += 1
    finally:
        cap.release()
    if not out:
        raise KitError(f"{video}: no frame could be decoded")
    return out


def _write(frame: Any, path: Path) -> Path:
    import cv2

    if not cv2.imwrite(str(path), frame):
        raise KitError(f"{path}: could not write the frame")
    os.chmod(path, 0o644)   # the sandboxed worker runs as another user
    return path


def _n_frames(video: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(video))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    cap.release()
    return n


def _frames_plan(sources: list[Path], max_challenges: int, per: int) -> list[tuple[Path, int]]:
    """(source, first frame) per challenge: round-robin over the clips, evenly spaced in each."""
    counts = {s: (1 if s.suffix.lower() in IMAGE_SUFFIXES else _n_frames(s)) for s in sources}
    per_clip = {s: 0 for s in sources}
    for i in range(max_challenges):
        s = sources[i % len(sources)]
        if s.suffix.lower() in IMAGE_SUFFIXES and per_clip[s]:
            continue
        per_clip[s] += 1
    plan = []
    for s, k in per_clip.items():
        room = max(1, counts[s] - per + 1)
        starts = sorted({int(j * room / max(1, k)) for j in range(k)})
        plan += [(s, st) for st in starts]
    return plan[:max_challenges]


def build_challenges(clips, work_dir: str | os.PathLike, mode: ReplayMode = "frames",
                     max_challenges: int = MAX_CHALLENGES, frames_per_challenge: int = 1) -> list[Challenge]:
    """Cut up to `max_challenges` challenges from clips (videos or images) into `work_dir`."""
    if mode not in REPLAY_MODES:
        raise KitError(f"mode {mode!r} is not one of {', '.join(REPLAY_MODES)}")
    if max_challenges < 1 or frames_per_challenge < 1:
        raise KitError("max_challenges and frames_per_challenge must be >= 1")
    sources = find_clips(clips)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    out: list[Challenge] = []
    if mode == "video":
        for s in sources[:max_challenges]:
            d = work / s.stem
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o755)
            frames = _read_frames(s, None) if s.suffix.lower() in VIDEO_SUFFIXES else {0: _image(s)}
            out.append(Challenge(s.stem, "video" if s.suffix.lower() in VIDEO_SUFFIXES else "frames", s,
                                 [(i, _write(f, d / f"{i:06d}.png")) for i, f in sorted(frames.items())]))
        return out
    for s, start in _frames_plan(sources, max_challenges, frames_per_challenge):
        if s.suffix.lower() in IMAGE_SUFFIXES:
            out.append(Challenge(s.stem, "frames", s, [(0, _write(_image(s), work / f"{s.stem}.png"))]))
            continue
        frames = _read_frames(s, set(range(start, start + frames_per_challenge)))
        cid = f"{s.stem}-f{start:05d}"
        out.append(Challenge(cid, "frames", s, [(i, _write(f, work / f"{cid}-{i:06d}.png"))
                                                for i, f in sorted(frames.items())]))
    return out


def _image(path: Path) -> Any:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise KitError(f"{path}: OpenCV cannot read this image")
    return img


def answer_frames(answer: Any, where: str) -> list[dict[str, Any]]:
    """The frames of an answer file (the chute's reply, {"frames": [...]} or a list of frames)."""
    from ..contract import frame_dicts

    if isinstance(answer, dict) and "predictions" in answer:
        if answer.get("success") is False:
            raise KitError(f"{where}: the chute's answer is success: false ({answer.get('error')}); the validator "
                           "never replays a failed challenge")
        answer = answer.get("predictions") or {}
    if isinstance(answer, dict):
        answer = answer.get("frames")
    if not isinstance(answer, list):
        raise KitError(f"{where}: no frames in this answer (expected the chute's reply with predictions.frames)")
    return frame_dicts(answer)


def load_chute_answers(path: str | os.PathLike, challenges: list[Challenge]) -> dict[str, list[dict[str, Any]]]:
    """{challenge id: the chute's frames}, from a file or a folder (see the module docstring)."""
    from ..contract import read_json

    path = Path(path)
    if path.is_file():
        stems = {c.source.stem for c in challenges}
        if len(stems) > 1:
            raise KitError(f"{path}: one answer file for challenges from {len(stems)} clips; pass a folder with "
                           "<clip stem>.json or <challenge id>.json per answer")
        frames = answer_frames(read_json(path, "the chute's answer"), str(path))
        return {c.challenge_id: frames for c in challenges}
    if not path.is_dir():
        raise KitError(f"{path}: no such file or folder of chute answers (a dry run writes them)")
    files = {p.stem: p for p in path.glob("*.json")}
    out = {}
    for c in challenges:
        f = files.get(c.challenge_id) or files.get(c.source.stem)
        if f is not None:
            out[c.challenge_id] = answer_frames(read_json(f, "the chute's answer"), str(f))
    if not out:
        wanted = sorted({c.source.stem for c in challenges})
        close = difflib.get_close_matches(wanted[0], list(files), n=1)
        hint = f" (did you mean {close[0]}.json?)" if close else ""
        raise KitError(f"{path}: no answer for any challenge: expected {wanted[0]}.json or "
                       f"{challenges[0].challenge_id}.json{hint}; found {', '.join(sorted(files)[:5]) or 'no JSON'}")
    return out


def write_answers(answers: dict[str, list[dict[str, Any]]], folder: str | os.PathLike) -> Path:
    """Write {challenge id: frames} as `<id>.json` answers, the shape `load_chute_answers` reads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for cid, frames in answers.items():
        (folder / f"{cid}.json").write_text(json.dumps({"success": True, "predictions": {"frames": frames},
                                                        "error": None}))
    return folder
