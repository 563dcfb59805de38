"""The wire contract between validator and chute, and the kit's ground-truth files.

Three JSON shapes cross the wire (DESIGN.md):

- the challenge, `POST /predict` with `{"url": ..., "meta": {...}}`;
- the answer, `{"success", "predictions": {"frames": [...]}, "error"}`;
- the health report of `POST /health`.

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
from typing import Any

from . import KitError

N_KEYPOINTS = 32
BATCH_SIZE = 64
CHALLENGE_TYPE = "football"
CONTRACT_VERSION = "1.0"

# --- class ids -----------------------------------------------------------------------------
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
WIRE_CLASS_IDS = frozenset(CLASS_NAMES)
#: Object types as ground truth stores them (0-3); a team rides beside the type.
OBJECT_TYPES: dict[int, str] = {i: CLASS_NAMES[i] for i in (BALL, GOALKEEPER, PLAYER, REFEREE)}


def wire_class(cls_id: int, team: int | None) -> int:
    """The answer's cls_id for an object type and team: players with a team go out as 6 or 7."""
    if cls_id == PLAYER and team in (1, 2):
        return PLAYER_TEAM1 if team == 1 else PLAYER_TEAM2
    return cls_id


def object_type(wire_cls: int) -> tuple[int, int | None]:
    """(object type 0-3, team) of a wire cls_id; 6 and 7 are players of team 1 and 2."""
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

@dataclass
class ChallengeMeta:
    width: int
    height: int
    fps: float
    n_frames_total: int
    task_id: str = "local"
    version: str = CONTRACT_VERSION
    challenge_type: str = CHALLENGE_TYPE
    batch_size: int = BATCH_SIZE
    n_keypoints: int = N_KEYPOINTS
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.seed is None:
            d.pop("seed")
        return d


@dataclass
class Challenge:
    url: str
    meta: ChallengeMeta

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "meta": self.meta.to_dict()}


def build_challenge(url: str, *, width: int, height: int, fps: float, n_frames: int,
                    task_id: str = "local", seed: int | None = None,
                    batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """The JSON body a validator posts to `/predict` for one clip."""
    meta = ChallengeMeta(width=width, height=height, fps=fps, n_frames_total=n_frames,
                         task_id=task_id, seed=seed, batch_size=batch_size)
    return Challenge(url, meta).to_dict()


def parse_challenge(body: Any) -> Challenge:
    """Read a `/predict` body; raises ContractError naming every missing or malformed field."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as e:
            raise ContractError(f"challenge: body is not JSON ({e.msg} at line {e.lineno} column {e.colno})") from e
    if not isinstance(body, dict):
        raise ContractError(f"challenge: expected a JSON object, got {type(body).__name__}")
    problems: list[str] = []
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        problems.append("url: missing or not a string (the mp4 to score)")
    meta_in = body.get("meta", {})
    if not isinstance(meta_in, dict):
        problems.append(f"meta: expected an object, got {type(meta_in).__name__}")
        meta_in = {}

    def get_int(key: str, default: int | None, minimum: int) -> int:
        v = meta_in.get(key, default)
        if v is None:
            problems.append(f"meta.{key}: missing")
            return minimum
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or v < minimum:
            problems.append(f"meta.{key}: expected an integer >= {minimum}, got {v!r}")
            return minimum
        return int(v)

    width = get_int("width", None, 1)
    height = get_int("height", None, 1)
    n_frames = get_int("n_frames_total", None, 0)
    batch_size = get_int("batch_size", BATCH_SIZE, 1)
    n_keypoints = get_int("n_keypoints", N_KEYPOINTS, 0)
    fps = meta_in.get("fps", 25.0)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        problems.append(f"meta.fps: expected a positive number, got {fps!r}")
        fps = 25.0
    ctype = meta_in.get("challenge_type", CHALLENGE_TYPE)
    if ctype != CHALLENGE_TYPE:
        problems.append(f"meta.challenge_type: unknown challenge type {ctype!r} (expected {CHALLENGE_TYPE!r})")
    seed = meta_in.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(f"meta.seed: expected an integer, got {seed!r}")
        seed = None
    if problems:
        raise ContractError("challenge: " + "; ".join(problems))
    meta = ChallengeMeta(width=width, height=height, fps=float(fps), n_frames_total=n_frames,
                         task_id=str(meta_in.get("task_id", "local")),
                         version=str(meta_in.get("version", CONTRACT_VERSION)),
                         batch_size=batch_size, n_keypoints=n_keypoints, seed=seed)
    return Challenge(url.strip(), meta)


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
                    n_keypoints: int = N_KEYPOINTS, max_problems: int | None = None) -> list[Problem]:
    """Every way `answer` departs from the `/predict` contract for an n_frames, width x height clip.

    An empty list means the answer is well-formed. Checks: the envelope (`success`,
    `predictions.frames`, `error`), one entry per frame with ids 0..n_frames-1 and no
    duplicates, boxes with integer in-frame corners (x1 < x2, y1 < y2), known class ids and a
    confidence in [0, 1], exactly `n_keypoints` integer points per frame, each inside the frame
    or (0, 0). `max_problems` stops early on hopeless answers.
    """
    out: list[Problem] = []

    def add(path: str, message: str, frame: int | None = None) -> None:
        out.append(Problem(path, message, frame))

    if not isinstance(answer, dict):
        return [Problem("answer", f"expected a JSON object, got {type(answer).__name__}")]
    success = answer.get("success")
    if not isinstance(success, bool):
        add("success", f"missing or not a boolean (got {success!r})")
    if success is False:
        add("success", f"the chute reported failure: {answer.get('error')!r}")
        return out
    if "error" in answer and answer["error"] is not None and not isinstance(answer["error"], str):
        add("error", f"expected null or a string, got {type(answer['error']).__name__}")
    preds = answer.get("predictions")
    if not isinstance(preds, dict) or not isinstance(preds.get("frames"), list):
        add("predictions.frames", "missing or not a list (expected one entry per frame)")
        return out
    frames = preds["frames"]

    seen: dict[int, int] = {}
    for i, fr in enumerate(frames):
        if max_problems is not None and len(out) >= max_problems:
            break
        base = f"predictions.frames[{i}]"
        if not isinstance(fr, dict):
            add(base, f"expected an object, got {type(fr).__name__}")
            continue
        fid = fr.get("frame_id")
        if not _is_int(fid):
            add(f"{base}.frame_id", f"missing or not an integer (got {fid!r})")
            fid_label = None
        else:
            fid = int(fid)
            fid_label = fid
            if not 0 <= fid < n_frames:
                add(f"{base}.frame_id", f"{fid} is outside 0..{n_frames - 1}", fid)
            elif fid in seen:
                add(f"{base}.frame_id", f"duplicate of predictions.frames[{seen[fid]}] (later entries replace earlier ones)", fid)
            else:
                seen[fid] = i
        _validate_boxes(fr.get("boxes"), base, fid_label, width, height, add)
        _validate_keypoints(fr.get("keypoints"), base, fid_label, width, height, n_keypoints, add)

    if max_problems is None or len(out) < max_problems:
        missing = [f for f in range(n_frames) if f not in seen]
        if missing:
            add("predictions.frames", f"{len(missing)} of {n_frames} frames missing: {_ranges(missing)}"
                " (the validator scores 0 unless every frame is answered)")
    return out if max_problems is None else out[:max_problems]


def _validate_boxes(boxes: Any, base: str, fid: int | None, width: int, height: int, add) -> None:
    if not isinstance(boxes, list):
        add(f"{base}.boxes", f"missing or not a list (got {type(boxes).__name__})", fid)
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
        cls = b.get("cls_id")
        if not _is_int(cls) or int(cls) not in WIRE_CLASS_IDS:
            add(f"{p}.cls_id", f"unknown class id {cls!r} (expected one of {sorted(WIRE_CLASS_IDS)})", fid)
        conf = b.get("conf")
        if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not (0.0 <= conf <= 1.0):
            add(f"{p}.conf", f"missing or not a number in [0, 1] (got {conf!r})", fid)


def _validate_keypoints(kps: Any, base: str, fid: int | None, width: int, height: int,
                        n_keypoints: int, add) -> None:
    p = f"{base}.keypoints"
    if not isinstance(kps, list):
        add(p, f"missing or not a list (got {type(kps).__name__})", fid)
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

HEALTH_FIELDS = {"status": str, "model_loaded": bool, "memory_gb": (int, float), "cuda": bool}


def validate_health(health: Any) -> list[Problem]:
    """Problems with a `/health` answer: `{"status", "model_loaded", "memory_gb", "cuda"}`."""
    if not isinstance(health, dict):
        return [Problem("health", f"expected a JSON object, got {type(health).__name__}")]
    out = []
    for key, typ in HEALTH_FIELDS.items():
        v = health.get(key)
        if v is None or not isinstance(v, typ) or (typ is not bool and isinstance(v, bool)):
            out.append(Problem(f"health.{key}", f"missing or of the wrong type (got {v!r})"))
    return out


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
class GTFrame:
    frame_id: int
    boxes: list[GTBox] = field(default_factory=list)
    keypoints: list[list[int]] = field(default_factory=lambda: [[0, 0] for _ in range(N_KEYPOINTS)])


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
                 "keypoints": [[int(x), int(y)] for x, y in f.keypoints]}
                for f in self.frames
            ],
        }


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
        frames.append(GTFrame(fid, boxes, keypoints))
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
