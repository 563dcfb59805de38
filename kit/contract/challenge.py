"""The challenge: what the validator POSTs to `/predict`, built and parsed in its two modes.

Video mode carries a url; frames mode carries frames as base64 PNGs and/or urls (upstream
`scorevision/utils/challenges.py:325`). `parse_challenge` reads a body the way a chute does and
raises a `ContractError` listing every problem.

Usage: from kit.contract.challenge import build_challenge; build_challenge(url, width=960, height=540, fps=25,
       n_frames=100)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from .core import BATCH_SIZE, CONTRACT_VERSION, N_KEYPOINTS, ContractError, is_int

# --- the challenge ---------------------------------------------------------------------------
# Two modes (upstream scorevision/utils/challenges.py:325 `prepare_challenge_payload`):
# - video: `url` of an mp4, `frames` null; answers number frames from 0 in decode order;
# - frames: `frames: [{frame_id, data: base64 PNG | null, url: str | null}]`, `url` null; the
#   answer's frame ids are the payload's. `meta.frames_source` says where the frames came from
#   ("payload": frames of a clip, "image_url": one image), `min_frames_required` how many
#   frames an answer must return to be scored.

FramesSource = Literal["payload", "image_url"]
FRAMES_SOURCES: tuple[str, ...] = get_args(FramesSource)
FOOTBALL_CHALLENGE_TYPE_ID = 0


@dataclass
class ChallengeMeta:
    width: int
    height: int
    fps: int
    n_frames_total: int
    task_id: int | str | None = None
    version: int = CONTRACT_VERSION
    challenge_type_id: int | None = FOOTBALL_CHALLENGE_TYPE_ID
    batch_size: int = BATCH_SIZE
    n_keypoints: int = N_KEYPOINTS
    min_frames_required: int | None = None
    frames_source: str | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("min_frames_required", "frames_source", "seed"):
            if d[key] is None:
                d.pop(key)
        return d


@dataclass
class ChallengeFrame:
    frame_id: int
    data: str | None = None   # base64 of a PNG
    url: str | None = None


@dataclass
class Challenge:
    url: str | None
    meta: ChallengeMeta
    frames: list[ChallengeFrame] | None = None

    @property
    def mode(self) -> str:
        return "frames" if self.frames else "video"

    @property
    def frame_ids(self) -> list[int]:
        """The frame ids an answer must carry: the payload's, or 0..n_frames_total-1 for a video."""
        if self.frames:
            return [f.frame_id for f in self.frames]
        return list(range(self.meta.n_frames_total))

    def to_dict(self) -> dict[str, Any]:
        frames = [asdict(f) for f in self.frames] if self.frames else None
        return {"url": self.url, "frames": frames, "meta": self.meta.to_dict()}


def build_challenge(url: str, *, width: int, height: int, fps: float, n_frames: int,
                    task_id: int | str | None = 1, seed: int | None = None, batch_size: int = BATCH_SIZE,
                    challenge_type_id: int | None = FOOTBALL_CHALLENGE_TYPE_ID) -> dict[str, Any]:
    """The JSON body a validator posts to `/predict` for a video clip at `url`.

    >>> build_challenge("http://127.0.0.1:8/c.mp4", width=960, height=540, fps=25, n_frames=750)["frames"] is None
    True
    """
    meta = ChallengeMeta(width=width, height=height, fps=int(round(fps)), n_frames_total=n_frames, task_id=task_id,
                         seed=seed, batch_size=batch_size, challenge_type_id=challenge_type_id)
    return Challenge(url, meta).to_dict()


def encode_png_b64(image: Any) -> str:
    """A BGR image as the validator sends it in frames mode: PNG, base64 (image_processing.py:32)."""
    import base64

    import cv2

    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ContractError("could not encode a frame as PNG")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def build_frames_challenge(frames: list[tuple[int, Any]], *, fps: float = 25, n_frames_total: int | None = None,
                           urls: dict[int, str] | None = None, with_data: bool = True,
                           frames_source: FramesSource = "payload", min_frames_required: int | None = None,
                           task_id: int | str | None = 1, seed: int | None = None, batch_size: int = BATCH_SIZE,
                           challenge_type_id: int | None = FOOTBALL_CHALLENGE_TYPE_ID) -> dict[str, Any]:
    """The frames-mode body: `frames` as (frame_id, BGR image), each sent as base64 PNG and/or a url.

    Args:
        urls: frame_id -> url where the chute can fetch that frame (sent beside or instead of data).
        with_data: False sends urls only (every frame then needs one).
        min_frames_required: how many frames an answer must return (default: all of them).

    >>> body = build_frames_challenge([(7, np.zeros((4, 4, 3), np.uint8))])
    >>> body["url"], body["frames"][0]["frame_id"], body["meta"]["frames_source"]
    (None, 7, 'payload')
    """
    if not frames:
        raise ContractError("a frames challenge needs at least one frame")
    if frames_source not in FRAMES_SOURCES:
        raise ContractError(f"frames_source {frames_source!r}: expected one of {', '.join(FRAMES_SOURCES)}")
    urls = urls or {}
    payload = []
    for fid, image in frames:
        url = urls.get(fid)
        if not with_data and not url:
            raise ContractError(f"frame {fid}: no data and no url; pass urls= for every frame or with_data=True")
        payload.append(ChallengeFrame(int(fid), encode_png_b64(image) if with_data else None, url))
    height, width = frames[0][1].shape[:2]
    meta = ChallengeMeta(width=width, height=height, fps=int(round(fps)),
                         n_frames_total=n_frames_total or len(frames), task_id=task_id, seed=seed,
                         batch_size=batch_size, challenge_type_id=challenge_type_id,
                         min_frames_required=min_frames_required or len(frames), frames_source=frames_source)
    return Challenge(None, meta, payload).to_dict()


def parse_challenge(body: Any) -> Challenge:
    """Read a `/predict` body (either mode); raises ContractError naming every malformed field."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as e:
            raise ContractError(f"challenge: body is not JSON ({e.msg} at line {e.lineno} column {e.colno})") from e
    if not isinstance(body, dict):
        raise ContractError(f"challenge: expected a JSON object, got {type(body).__name__}")
    problems: list[str] = []
    url, frames_in = body.get("url"), body.get("frames")
    frames: list[ChallengeFrame] | None = None
    if frames_in:
        frames = _parse_frames(frames_in, problems)
    elif not isinstance(url, str) or not url.strip():
        problems.append("url: missing or not a string, and no frames[] (a challenge sends a video url or frames)")
    meta_in = body.get("meta", {})
    if not isinstance(meta_in, dict):
        problems.append(f"meta: expected an object, got {type(meta_in).__name__}")
        meta_in = {}
    meta = _parse_meta(meta_in, problems)
    if problems:
        raise ContractError("challenge: " + "; ".join(problems))
    return Challenge(url.strip() if isinstance(url, str) and not frames else None, meta, frames)


def _parse_frames(frames_in: Any, problems: list[str]) -> list[ChallengeFrame]:
    if not isinstance(frames_in, list):
        problems.append(f"frames: expected a list, got {type(frames_in).__name__}")
        return []
    out = []
    for i, f in enumerate(frames_in):
        if not isinstance(f, dict) or not is_int(f.get("frame_id")):
            problems.append(f"frames[{i}]: expected {{frame_id: int, data: base64 PNG | null, url: str | null}}")
            continue
        if not f.get("data") and not f.get("url"):
            problems.append(f"frames[{i}] (frame {f['frame_id']}): neither data nor url")
        out.append(ChallengeFrame(int(f["frame_id"]), f.get("data"), f.get("url")))
    return out


def _parse_meta(meta_in: dict[str, Any], problems: list[str]) -> ChallengeMeta:
    def get_int(key: str, default: int | None, minimum: int) -> int | None:
        v = meta_in.get(key, default)
        if v is None:
            if default is None and key in ("width", "height", "n_frames_total"):
                problems.append(f"meta.{key}: missing")
            return default
        if not is_int(v) or v < minimum:
            problems.append(f"meta.{key}: expected an integer >= {minimum}, got {v!r}")
            return default
        return int(v)

    fps = meta_in.get("fps", 25)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        problems.append(f"meta.fps: expected a positive number, got {fps!r}")
        fps = 25
    source = meta_in.get("frames_source")
    if source is not None and source not in FRAMES_SOURCES:
        problems.append(f"meta.frames_source: {source!r} is not one of {', '.join(FRAMES_SOURCES)}")
    seed = meta_in.get("seed")
    if seed is not None and not is_int(seed):
        problems.append(f"meta.seed: expected an integer, got {seed!r}")
        seed = None
    return ChallengeMeta(width=get_int("width", None, 1) or 1, height=get_int("height", None, 1) or 1,
                         fps=int(round(fps)), n_frames_total=get_int("n_frames_total", None, 0) or 0,
                         task_id=meta_in.get("task_id"), version=meta_in.get("version", CONTRACT_VERSION),
                         challenge_type_id=get_int("challenge_type_id", None, 0),
                         batch_size=get_int("batch_size", BATCH_SIZE, 1), n_keypoints=get_int("n_keypoints",
                                                                                              N_KEYPOINTS, 0),
                         min_frames_required=get_int("min_frames_required", None, 0), frames_source=source, seed=seed)


