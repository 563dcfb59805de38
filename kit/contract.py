"""The wire contract between validator and chute, and the kit's ground-truth files.

Three JSON shapes cross the wire (DESIGN.md):

- the challenge, `POST /predict` with `{"url", "frames", "meta"}` (a video url, or frames as
  base64 PNGs and/or urls);
- the answer, `{"success", "predictions": {"frames": [...]}, "error"}`; a box's `cls_id`
  indexes the element's `objects`, a player's team is `team_id`/`cluster_id`;
- the health report of `POST /health`, as the validator's chute template writes it.

`validate_answer` reads an answer the way a careful validator would and returns *every*
problem it finds, each naming the frame and the field, so a miner can fix them all in one go.
The evaluator is more forgiving than this (SCORING.md reads what it can); the validation is
stricter on purpose: anything it flags either costs points or is one validator change away
from doing so.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from . import KitError

N_KEYPOINTS = 32
BATCH_SIZE = 64
CHALLENGE_TYPE = "football"
CONTRACT_VERSION = 1   # meta.version as validators send it (challenges.py:404)

# --- class ids -----------------------------------------------------------------------------
# Ground truth stores an object type (0-3) and a team beside it. On the wire a box's cls_id
# indexes the element's `objects` instead (DESIGN.md), and the team travels as `team_id`.
# 6 and 7 are the kit's own dataset classes for players of a known team (a detector trained
# with team classes); they are never sent: today's validator drops cls_ids outside `objects`.
BALL, GOALKEEPER, PLAYER, REFEREE = 0, 1, 2, 3
PLAYER_TEAM1, PLAYER_TEAM2 = 6, 7

CLASS_NAMES: dict[int, str] = {
    BALL: "ball",
    GOALKEEPER: "goalkeeper",
    PLAYER: "player",
    REFEREE: "referee",
    PLAYER_TEAM1: "player (team 1)",
    PLAYER_TEAM2: "player (team 2)",
}
#: Object types as ground truth stores them (0-3); a team rides beside the type.
OBJECT_TYPES: dict[int, str] = {i: CLASS_NAMES[i] for i in (BALL, GOALKEEPER, PLAYER, REFEREE)}


def wire_class(cls_id: int, team: int | None) -> int:
    """The kit's dataset class of an object type and team: players with a team are 6 or 7."""
    if cls_id == PLAYER and team in (1, 2):
        return PLAYER_TEAM1 if team == 1 else PLAYER_TEAM2
    return cls_id


def object_type(wire_cls: int) -> tuple[int, int | None]:
    """(object type 0-3, team) of a kit dataset class; 6 and 7 are players of team 1 and 2."""
    if wire_cls == PLAYER_TEAM1:
        return PLAYER, 1
    if wire_cls == PLAYER_TEAM2:
        return PLAYER, 2
    return wire_cls, None


class ContractError(KitError, ValueError):
    """A payload or file that does not follow the contract; the message says where and what to do."""


# --- problems ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One contract violation: where (frame id or index, JSON path) and what."""

    path: str
    message: str
    frame: int | None = None

    def __str__(self) -> str:
        where = f"frame {self.frame}: " if self.frame is not None else ""
        return f"{where}{self.path}: {self.message}"


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
        if not isinstance(f, dict) or not _is_int(f.get("frame_id")):
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
        if not _is_int(v) or v < minimum:
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
    if seed is not None and not _is_int(seed):
        problems.append(f"meta.seed: expected an integer, got {seed!r}")
        seed = None
    return ChallengeMeta(width=get_int("width", None, 1) or 1, height=get_int("height", None, 1) or 1,
                         fps=int(round(fps)), n_frames_total=get_int("n_frames_total", None, 0) or 0,
                         task_id=meta_in.get("task_id"), version=meta_in.get("version", CONTRACT_VERSION),
                         challenge_type_id=get_int("challenge_type_id", None, 0),
                         batch_size=get_int("batch_size", BATCH_SIZE, 1), n_keypoints=get_int("n_keypoints",
                                                                                              N_KEYPOINTS, 0),
                         min_frames_required=get_int("min_frames_required", None, 0), frames_source=source, seed=seed)


# --- the answer --------------------------------------------------------------------------------

def answer_ok(frames: list[dict[str, Any]]) -> dict[str, Any]:
    return {"success": True, "predictions": {"frames": frames}, "error": None}


def answer_error(message: str) -> dict[str, Any]:
    return {"success": False, "predictions": None, "error": message}


def frame_dict(result: Any) -> dict[str, Any]:
    """One frame of a miner's `predict_batch` result as the JSON dict the chute sends.

    The validator's chute calls `.model_dump()` on every result (a pydantic model), so that is
    what miners return; older miners returned plain dicts, which the official chute rejects.
    The kit's own paths (predict, latency, comply) accept both and read them the same way.

    >>> frame_dict({"frame_id": 0, "boxes": [], "keypoints": []})["frame_id"]
    0
    """
    dump = getattr(result, "model_dump", None)
    if callable(dump):
        out = dump()
    elif isinstance(result, dict):
        out = dict(result)
    else:
        raise ContractError(f"predict_batch returned a {type(result).__name__} for a frame; the official chute needs "
                            "a pydantic model (it calls .model_dump() on each result)")
    if not isinstance(out, dict):
        raise ContractError(f"model_dump() of a frame result gave a {type(out).__name__}, not a dict")
    return out


def frame_dicts(results: Any) -> list[dict[str, Any]]:
    """`frame_dict` over one `predict_batch` return value (a list of results)."""
    return [frame_dict(r) for r in results]


def empty_frame(frame_id: int, n_keypoints: int = N_KEYPOINTS) -> dict[str, Any]:
    return {"frame_id": frame_id, "boxes": [], "keypoints": [[0, 0] for _ in range(n_keypoints)]}


def _is_int(v: Any) -> bool:
    """An integer on the wire: a JSON int, or a float with no fractional part (not a bool)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, float) and math.isfinite(v) and v.is_integer()


def validate_answer(answer: Any, n_frames: int, width: int, height: int,
                    n_keypoints: int = N_KEYPOINTS, max_problems: int | None = None,
                    frame_ids: list[int] | None = None, n_objects: int | None = None) -> list[Problem]:
    """Every way `answer` departs from today's `/predict` contract; an empty list means well-formed.

    Args:
        n_frames, width, height: the clip (video mode: frame ids 0..n_frames-1 expected).
        frame_ids: frames mode: the payload's ids, which the answer must carry instead.
        n_objects: the element's number of `objects`; a box's `cls_id` must index that list
            (the validator drops a box whose cls_id does not). None: any cls_id >= 0.

    Checks: the envelope (`success`, `predictions.frames`, `error`), one entry per expected
    frame id and no duplicates, boxes with integer in-frame corners (x1 < x2, y1 < y2), a
    `cls_id` inside the element's objects, `conf` (and `score`, if sent) in [0, 1], a team
    (`team_id` or `cluster_id`) that the validator can read, optional `polygons` of at least
    3 integer points, exactly `n_keypoints` integer points per frame, each in the frame or
    (0, 0). `max_problems` stops early on hopeless answers.

    >>> validate_answer(answer_ok([empty_frame(0)]), n_frames=1, width=960, height=540)
    []
    """
    out: list[Problem] = []

    def add(path: str, message: str, frame: int | None = None) -> None:
        out.append(Problem(path, message, frame))

    frames = _answer_frames(answer, add)
    if frames is None:
        return out
    expected = list(frame_ids) if frame_ids is not None else list(range(n_frames))
    expected_set = set(expected)
    seen: dict[int, int] = {}
    for i, fr in enumerate(frames):
        if max_problems is not None and len(out) >= max_problems:
            break
        base = f"predictions.frames[{i}]"
        if not isinstance(fr, dict):
            add(base, f"expected an object, got {type(fr).__name__}")
            continue
        fid = fr.get("frame_id")
        fid_label = None
        if not _is_int(fid):
            add(f"{base}.frame_id", f"missing or not an integer (got {fid!r})")
        else:
            fid = fid_label = int(fid)
            if fid not in expected_set:
                where = "the challenge's frame ids" if frame_ids is not None else f"0..{n_frames - 1}"
                add(f"{base}.frame_id", f"{fid} is not one of {where}", fid)
            elif fid in seen:
                add(f"{base}.frame_id", f"duplicate of predictions.frames[{seen[fid]}] (later entries replace "
                    "earlier ones)", fid)
            else:
                seen[fid] = i
        _validate_boxes(fr.get("boxes"), base, fid_label, width, height, n_objects, add)
        _validate_polygons(fr.get("polygons"), base, fid_label, width, height, n_objects, add)
        _validate_keypoints(fr.get("keypoints"), base, fid_label, width, height, n_keypoints, add)
    if max_problems is None or len(out) < max_problems:
        missing = [f for f in expected if f not in seen]
        if missing:
            add("predictions.frames", f"{len(missing)} of {len(expected)} frames missing: {_ranges(sorted(missing))}"
                " (the validator scores 0 below meta.min_frames_required answered frames)")
    return out if max_problems is None else out[:max_problems]


def _answer_frames(answer: Any, add) -> list | None:
    if not isinstance(answer, dict):
        add("answer", f"expected a JSON object, got {type(answer).__name__}")
        return None
    success = answer.get("success")
    if not isinstance(success, bool):
        add("success", f"missing or not a boolean (got {success!r})")
    if success is False:
        add("success", f"the chute reported failure: {answer.get('error')!r}")
        return None
    if answer.get("error") is not None and not isinstance(answer["error"], str):
        add("error", f"expected null or a string, got {type(answer['error']).__name__}")
    preds = answer.get("predictions")
    if not isinstance(preds, dict) or not isinstance(preds.get("frames"), list):
        add("predictions.frames", "missing or not a list (expected one entry per frame)")
        return None
    return preds["frames"]


#: Team values the validator reads (evaluate.py:59 `_normalize_cluster_id`); anything else is no team.
TEAM_VALUES = (1, 2, "1", "2", "team1", "team2", "team_1", "team_2", "team-1", "team-2")


def _validate_team(b: dict, p: str, fid: int | None, add) -> None:
    key = "cluster_id" if "cluster_id" in b else "team_id" if "team_id" in b else None
    if key is None or b[key] is None:
        return
    v = b[key]
    if isinstance(v, str):
        v = v.strip().lower()
    if v == 0 and not isinstance(v, bool):
        add(f"{p}.{key}", "0 is read as team 1 by the validator; send 1 or 2 (or null for no team)", fid)
    elif isinstance(v, bool) or v not in TEAM_VALUES:
        add(f"{p}.{key}", f"{b[key]!r} is not a team the validator reads (send 1 or 2; \"team1\" and \"2\" also "
            "work); it is scored as no team", fid)
    if key == "cluster_id" and "team_id" in b:
        add(f"{p}.team_id", "ignored: the validator reads cluster_id first", fid)


def _validate_class(b: dict, p: str, fid: int | None, n_objects: int | None, add) -> None:
    cls = b.get("cls_id")
    if not _is_int(cls) or int(cls) < 0:
        add(f"{p}.cls_id", f"missing or not an integer >= 0 (got {cls!r})", fid)
    elif n_objects is not None and int(cls) >= n_objects:
        add(f"{p}.cls_id", f"{int(cls)} is outside the element's {n_objects} objects (0..{n_objects - 1}); the "
            "validator drops this box", fid)
    for key in ("conf", "score"):
        if key == "score" and key not in b:
            continue
        v = b.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= v <= 1.0):
            add(f"{p}.{key}", f"missing or not a number in [0, 1] (got {v!r})", fid)


def _validate_boxes(boxes: Any, base: str, fid: int | None, width: int, height: int, n_objects: int | None,
                    add) -> None:
    if boxes is None:
        return  # the validator reads a missing list as no boxes
    if not isinstance(boxes, list):
        add(f"{base}.boxes", f"not a list (got {type(boxes).__name__})", fid)
        return
    for j, b in enumerate(boxes):
        p = f"{base}.boxes[{j}]"
        if not isinstance(b, dict):
            add(p, f"expected an object, got {type(b).__name__}", fid)
            continue
        coords = {}
        for k in ("x1", "y1", "x2", "y2"):
            v = b.get(k)
            if not _is_int(v):
                add(f"{p}.{k}", f"missing or not an integer (got {v!r})", fid)
            else:
                coords[k] = int(v)
        if len(coords) == 4:
            x1, y1, x2, y2 = coords["x1"], coords["y1"], coords["x2"], coords["y2"]
            if x1 >= x2 or y1 >= y2:
                add(p, f"inverted or empty box ({x1}, {y1}, {x2}, {y2}): need x1 < x2 and y1 < y2", fid)
            if min(x1, x2) < 0 or min(y1, y2) < 0 or max(x1, x2) > width or max(y1, y2) > height:
                add(p, f"box ({x1}, {y1}, {x2}, {y2}) leaves the {width} x {height} frame", fid)
        _validate_class(b, p, fid, n_objects, add)
        _validate_team(b, p, fid, add)


def _validate_polygons(polys: Any, base: str, fid: int | None, width: int, height: int, n_objects: int | None,
                       add) -> None:
    if polys is None:
        return
    if not isinstance(polys, list):
        add(f"{base}.polygons", f"not a list (got {type(polys).__name__})", fid)
        return
    for j, poly in enumerate(polys):
        p = f"{base}.polygons[{j}]"
        if not isinstance(poly, dict):
            add(p, f"expected an object, got {type(poly).__name__}", fid)
            continue
        pts = poly.get("points")
        if not isinstance(pts, list) or len(pts) < 3 or not all(
                isinstance(q, (list, tuple)) and len(q) == 2 and _is_int(q[0]) and _is_int(q[1]) for q in pts):
            add(f"{p}.points", "expected at least 3 integer [x, y] points (the validator skips this polygon)", fid)
        elif any(not (0 <= q[0] <= width and 0 <= q[1] <= height) for q in pts):
            add(f"{p}.points", f"a point leaves the {width} x {height} frame", fid)
        _validate_class(poly, p, fid, n_objects, add)
        _validate_team(poly, p, fid, add)


def _validate_keypoints(kps: Any, base: str, fid: int | None, width: int, height: int,
                        n_keypoints: int, add) -> None:
    p = f"{base}.keypoints"
    if not isinstance(kps, list):
        add(p, f"missing or not a list (got {type(kps).__name__}); send n_keypoints [0, 0] pairs when there are "
            "none", fid)
        return
    if len(kps) != n_keypoints:
        add(p, f"{len(kps)} points, expected exactly {n_keypoints} (use [0, 0] for points not visible)", fid)
    for k, pt in enumerate(kps):
        pk = f"{p}[{k}]"
        if not isinstance(pt, (list, tuple)) or len(pt) != 2:
            add(pk, f"expected [x, y], got {pt!r}", fid)
            continue
        x, y = pt
        if not (_is_int(x) and _is_int(y)):
            add(pk, f"coordinates must be integers, got {pt!r}", fid)
            continue
        x, y = int(x), int(y)
        if (x, y) != (0, 0) and not (0 <= x < width and 0 <= y < height):
            add(pk, f"({x}, {y}) (keypoint {k + 1}) is outside the {width} x {height} frame; use [0, 0] "
                "for points not visible", fid)


def _ranges(ids: list[int]) -> str:
    parts: list[str] = []
    start = prev = ids[0]
    for v in ids[1:] + [None]:  # type: ignore[list-item]
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    text = ", ".join(parts[:8])
    return text + (f", ... ({len(parts) - 8} more ranges)" if len(parts) > 8 else "")


# --- health --------------------------------------------------------------------------------------

#: `/health` of the validator's chute template: status is "healthy" or the load failure.
HEALTH_FIELDS = {"status": (str,), "model_loaded": (str,), "memory_gb": (int, float, type(None)),
                 "cuda": (str,)}


def validate_health(health: Any) -> list[Problem]:
    """Problems with a `/health` answer: `{"status", "model_loaded", "memory_gb", "cuda"}`."""
    if not isinstance(health, dict):
        return [Problem("health", f"expected a JSON object, got {type(health).__name__}")]
    out = []
    for key, types in HEALTH_FIELDS.items():
        v = health.get(key)
        if key not in health or isinstance(v, bool) or not isinstance(v, types):
            out.append(Problem(f"health.{key}", f"missing or of the wrong type (got {v!r})"))
    return out


def healthy(health: dict[str, Any]) -> bool:
    """True when the chute's miner loaded (the template's status is then exactly "healthy")."""
    return health.get("status") == "healthy"


# --- ground truth ----------------------------------------------------------------------------------

@dataclass
class GTBox:
    x1: float
    y1: float
    x2: float
    y2: float
    cls_id: int
    team: int | None = None
    track_id: int | None = None

    @property
    def wire_cls(self) -> int:
        return wire_class(self.cls_id, self.team)


@dataclass
class GTPolygon:
    """A ground-truth mask outline (SAM3-style): [x, y] points, a class name, a team for players."""

    points: list[list[int]]
    label: str
    team: int | None = None


@dataclass
class GTFrame:
    frame_id: int
    boxes: list[GTBox] = field(default_factory=list)
    keypoints: list[list[int]] = field(default_factory=lambda: [[0, 0] for _ in range(N_KEYPOINTS)])
    polygons: list[GTPolygon] = field(default_factory=list)


@dataclass
class GroundTruth:
    video: str
    width: int
    height: int
    fps: float
    frames: list[GTFrame]

    def by_frame(self) -> dict[int, GTFrame]:
        return {f.frame_id: f for f in self.frames}

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video, "width": self.width, "height": self.height, "fps": self.fps,
            "frames": [
                {"frame_id": f.frame_id,
                 "boxes": [asdict(b) for b in f.boxes],
                 "keypoints": [[int(x), int(y)] for x, y in f.keypoints],
                 **({"polygons": [asdict(p) for p in f.polygons]} if f.polygons else {})}
                for f in self.frames
            ],
        }


def _gt_polygons(raw: Any, where: str, fail) -> list[GTPolygon]:
    """Optional polygon ground truth: `[{"points": [[x, y], ...], "label": name | "cls_id": 0-3, "team"}]`."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise fail(f"{where}.polygons", "expected a list of {points, label or cls_id, team}")
    out = []
    for j, p in enumerate(raw):
        pw = f"{where}.polygons[{j}]"
        pts = p.get("points") if isinstance(p, dict) else None
        try:
            points = [[int(round(float(x))), int(round(float(y)))] for x, y in pts]
        except (TypeError, ValueError):
            raise fail(f"{pw}.points", "expected a list of [x, y] number pairs") from None
        if len(points) < 3:
            raise fail(f"{pw}.points", f"a polygon needs at least 3 points, got {len(points)}")
        label, cls = p.get("label"), p.get("cls_id")
        if not isinstance(label, str):
            if not _is_int(cls) or int(cls) not in OBJECT_TYPES:
                raise fail(pw, f"give a class name as label, or cls_id 0-3 {sorted(OBJECT_TYPES)}")
            label = OBJECT_TYPES[int(cls)]
        team = p.get("team")
        if team is not None and team not in (1, 2):
            raise fail(f"{pw}.team", f"expected 1, 2 or null, got {team!r}")
        out.append(GTPolygon(points, label, team))
    return out


def ground_truth_from_dict(data: Any, source: str = "ground truth") -> GroundTruth:
    """Parse a ground-truth document; ContractError names the file, frame and field at fault."""
    def fail(where: str, what: str) -> ContractError:
        return ContractError(f"{source}: {where}: {what}")

    if not isinstance(data, dict):
        raise fail("top level", f"expected an object, got {type(data).__name__}")
    for key in ("width", "height"):
        if not _is_int(data.get(key)) or int(data[key]) <= 0:
            raise fail(key, f"expected a positive integer, got {data.get(key)!r}")
    frames_in = data.get("frames")
    if not isinstance(frames_in, list):
        raise fail("frames", "missing or not a list")
    frames: list[GTFrame] = []
    seen: set[int] = set()
    for i, fr in enumerate(frames_in):
        where = f"frames[{i}]"
        if not isinstance(fr, dict) or not _is_int(fr.get("frame_id")):
            raise fail(where, "expected an object with an integer frame_id")
        fid = int(fr["frame_id"])
        if fid in seen:
            raise fail(f"{where}.frame_id", f"duplicate frame id {fid}")
        seen.add(fid)
        boxes = []
        for j, b in enumerate(fr.get("boxes", [])):
            bw = f"{where}.boxes[{j}]"
            if not isinstance(b, dict):
                raise fail(bw, "expected an object")
            try:
                coords = [float(b[k]) for k in ("x1", "y1", "x2", "y2")]
            except (KeyError, TypeError, ValueError):
                raise fail(bw, f"x1, y1, x2, y2 must be numbers, got {b!r}") from None
            cls = b.get("cls_id")
            if not _is_int(cls) or int(cls) not in OBJECT_TYPES:
                raise fail(f"{bw}.cls_id", f"expected an object type 0-3 {sorted(OBJECT_TYPES)}, got {cls!r}")
            team = b.get("team")
            if team is not None and team not in (1, 2):
                raise fail(f"{bw}.team", f"expected 1, 2 or null, got {team!r}")
            track = b.get("track_id")
            if track is not None and not _is_int(track):
                raise fail(f"{bw}.track_id", f"expected an integer or null, got {track!r}")
            boxes.append(GTBox(*coords, cls_id=int(cls), team=team,
                               track_id=None if track is None else int(track)))
        kps = fr.get("keypoints")
        if not isinstance(kps, list) or len(kps) != N_KEYPOINTS:
            n = len(kps) if isinstance(kps, list) else "no"
            raise fail(f"{where}.keypoints", f"expected {N_KEYPOINTS} [x, y] points, got {n}")
        try:
            keypoints = [[int(round(float(x))), int(round(float(y)))] for x, y in kps]
        except (TypeError, ValueError):
            raise fail(f"{where}.keypoints", "every point must be a pair of numbers") from None
        frames.append(GTFrame(fid, boxes, keypoints, _gt_polygons(fr.get("polygons"), where, fail)))
    fps = data.get("fps", 25.0)
    return GroundTruth(str(data.get("video", "")), int(data["width"]), int(data["height"]), float(fps), frames)


def read_json(path: str | os.PathLike, missing: str) -> Any:
    """A JSON file's content; ContractError says which file is missing (`missing` tells what to
    do) or where its JSON breaks."""
    path = Path(path)
    if not path.is_file():
        raise ContractError(f"{path}: {missing}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ContractError(f"{path}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from e


def load_ground_truth(path: str | os.PathLike) -> GroundTruth:
    data = read_json(path, "no such ground-truth file (generate one with `tvkit synth` or point to a clip's .json)")
    return ground_truth_from_dict(data, source=str(path))


def save_ground_truth(gt: GroundTruth, path: str | os.PathLike) -> Path:
    return write_json_atomic(path, gt.to_dict())


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = None) -> Path:
    """Write JSON through a temporary file and a rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=indent)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it owner-only; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
