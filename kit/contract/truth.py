"""Ground truth as the kit's files hold it, and the JSON file helpers the kit writes everything with.

A ground-truth file is one clip's frames with boxes (object type 0-3, a team beside players,
a track id), optional polygons and the 32 pitch keypoints; `ground_truth_from_dict` checks it
and says where it breaks. `write_json_atomic` never leaves half a file.

Usage: from kit.contract.truth import load_ground_truth; gt = load_ground_truth("data/synth/clip_000.json")
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .core import N_KEYPOINTS, OBJECT_TYPES, ContractError, is_int, wire_class

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
            if not is_int(cls) or int(cls) not in OBJECT_TYPES:
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
        if not is_int(data.get(key)) or int(data[key]) <= 0:
            raise fail(key, f"expected a positive integer, got {data.get(key)!r}")
    frames_in = data.get("frames")
    if not isinstance(frames_in, list):
        raise fail("frames", "missing or not a list")
    frames: list[GTFrame] = []
    seen: set[int] = set()
    for i, fr in enumerate(frames_in):
        where = f"frames[{i}]"
        if not isinstance(fr, dict) or not is_int(fr.get("frame_id")):
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
            if not is_int(cls) or int(cls) not in OBJECT_TYPES:
                raise fail(f"{bw}.cls_id", f"expected an object type 0-3 {sorted(OBJECT_TYPES)}, got {cls!r}")
            team = b.get("team")
            if team is not None and team not in (1, 2):
                raise fail(f"{bw}.team", f"expected 1, 2 or null, got {team!r}")
            track = b.get("track_id")
            if track is not None and not is_int(track):
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
