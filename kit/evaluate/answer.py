"""Reading an answer and ground truth the way the validator reads them, per element.

Usage: `frames = read_frames(answer, element.objects)`; `refs = reference_frames(gt, element, ...)`

Answers (upstream scorevision/utils/evaluate.py:88 `parse_miner_prediction`):

- a box's label is `objects[int(cls_id)]`; a cls_id that is not an integer or is out of range
  drops the box; an element without objects (or with only empty names) reads no boxes at all;
  labels may be empty strings (then the polygon-aware pillars skip them, role does not);
- coordinates are `int(x)` (truncation toward zero), a box whose corners fail to convert is
  dropped; the team is `cluster_id` when that key is present, else `team_id` (evaluate.py:59
  `_normalize_cluster_id`): 0, 1, "1", "team1", "team_1", "team-1" are team 1 (white), 2, "2",
  "team2"... team 2 (black), a shirt-colour name is that colour, anything else (None, "0",
  booleans) no team;
- confidence is `score`, else `conf` (None when neither; the ranking then uses 1.0, upstream
  polygons.py:46 `_safe_detection_score`);
- `polygons` entries take their points from `points`, `polygon` or `masks` (a list of [x, y]
  pairs); the box is the points' bounds;
- frames are keyed by `frame_id` exactly as sent (missing: -1; evaluate.py:100,183), not converted:
  Python's dict decides what matches a ground-truth frame number, so 3 and 3.0 (and True for 1)
  match frame 3 (1), while "3" and 3.5 match nothing; smoothness orders frames by `sorted()` of
  these keys (evaluate.py:391), so "10" comes before "9". A later entry with the same id replaces
  an earlier one in the earlier one's place; keypoints are kept exactly as sent (`keypoints`, []
  when absent);
- answers on which the validator raises (`validator_raises`: a frame that is not an object, an
  unhashable or unorderable mix of frame ids, boxes that are not a list, keypoints without a
  length where a keypoint pillar reads them) get no score at all: upstream's runner logs the
  exception and skips the miner for that challenge (validator/central/open_source/runner.py:552-575).

Ground truth plays the validator's pseudo ground truth: the kit's boxes (cls_id 0 ball, 1
goalkeeper, 2 player, 3 referee) become labels by name and are kept when the element asks for
that name (SAM3 is prompted with the element's objects only, upstream vlm_annotator_sam3.py);
a player's team 1/2 becomes the colour the validator's own team labels get (white/black,
upstream vlm_pipeline/utils/polygons.py TEAM_COLOURS), any other object or a player with no
team "other". Polygon ground truth (SAM3-style masks) keeps its polygon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..contract import OBJECT_TYPES, GroundTruth

TEAM1, TEAM2, OTHER = "white", "black", "other"  # upstream TEAM1_SHIRT_COLOUR, TEAM2_SHIRT_COLOUR, ShirtColor.OTHER
SHIRT_COLOURS = ("white", "black", "red", "blue", "yellow", "green", "orange", "purple", "maroon", "pink", "grey",
                 "brown", "gold", "silver", "turquoise", "other")


@dataclass(frozen=True)
class Det:
    """One object as the scorer sees it: integer corners, label, confidence, team colour, polygon."""

    x1: int
    y1: int
    x2: int
    y2: int
    label: str
    score: float | None = None
    team: str | None = None
    polygon: tuple[tuple[int, int], ...] | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x1, self.y1, self.x2, self.y2


@dataclass
class ReadFrame:
    """One answered frame after reading: boxes, polygons and keypoints as sent. `frame_id` is the
    answer's value as sent (an int for any sane answer)."""

    frame_id: Any
    bboxes: list[Det] = field(default_factory=list)
    polygons: list[Det] = field(default_factory=list)
    keypoints: Any = field(default_factory=list)

    @property
    def all(self) -> list[Det]:
        return self.bboxes + self.polygons


def normalize_team(raw: Any) -> str | None:
    """A miner's team field as the validator reads it (upstream evaluate.py:59).

    >>> [normalize_team(v) for v in (0, 1, 2, "team_1", "2", "0", True, "red", None)]
    ['white', 'white', 'black', 'white', 'black', None, None, 'red', None]
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        v = raw.strip().lower()
        if v in {"team1", "team_1", "team-1", "1"}:
            return TEAM1
        if v in {"team2", "team_2", "team-2", "2"}:
            return TEAM2
        return v if v in SHIRT_COLOURS else None
    if isinstance(raw, int):
        if raw in (0, 1):
            return TEAM1
        if raw == 2:
            return TEAM2
    return None


def _label(entry: dict[str, Any], objects: list[str]) -> str | None:
    try:
        idx = int(entry.get("cls_id"))
    except (TypeError, ValueError, OverflowError):
        return None
    return objects[idx] if 0 <= idx < len(objects) else None


def _team_of(entry: dict[str, Any]) -> str | None:
    if "cluster_id" in entry:
        return normalize_team(entry.get("cluster_id"))
    if "team_id" in entry:
        return normalize_team(entry.get("team_id"))
    return None


def _score_of(entry: dict[str, Any]) -> float | None:
    v = entry.get("score", entry.get("conf"))
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return None  # upstream's pydantic model would refuse it and drop the box; see _score_refused


def _score_refused(entry: dict[str, Any]) -> bool:
    """Whether upstream's `BoundingBox(score=...)` (a pydantic float) refuses this confidence, which
    drops the box or polygon (evaluate.py:118-128, 171-182 catch the error): anything `float()`
    refuses, an int too large for a float included."""
    raw = entry.get("score", entry.get("conf"))
    if raw is None:
        return False
    try:
        float(raw)
    except (TypeError, ValueError, OverflowError):
        return True
    return False


def read_box(entry: Any, objects: list[str]) -> Det | None:
    """One answer box, or None when the validator drops it."""
    if not isinstance(entry, dict):
        return None
    label = _label(entry, objects)
    if label is None:
        return None
    try:
        x1, y1, x2, y2 = (int(entry[k]) for k in ("x1", "y1", "x2", "y2"))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if _score_refused(entry):  # a pydantic float field takes numeric strings; anything else drops the box
        return None
    return Det(x1, y1, x2, y2, label, _score_of(entry), _team_of(entry))


def read_polygon(entry: Any, objects: list[str]) -> Det | None:
    """One answer polygon (its box from the points' bounds), or None when dropped."""
    if not isinstance(entry, dict):
        return None
    label = _label(entry, objects)
    if label is None:
        return None
    points = entry.get("points") or entry.get("polygon") or entry.get("masks")
    if not (points and isinstance(points, list) and isinstance(points[0], (list, tuple)) and len(points[0]) == 2):
        return None
    try:
        pts = tuple((int(x), int(y)) for x, y in points)
    except (TypeError, ValueError, OverflowError):
        return None
    if _score_refused(entry):
        return None
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return Det(min(xs), min(ys), max(xs), max(ys), label, _score_of(entry), _team_of(entry), pts)


def _entries(answer: Any) -> list:
    preds = answer.get("predictions") if isinstance(answer, dict) else None
    entries = (preds.get("frames") if isinstance(preds, dict) else None) or []
    return entries if isinstance(entries, list) else []


def _listed(fr: dict[str, Any], key: str) -> list:
    v = fr.get(key) or []
    return v if isinstance(v, list) else [x for x in v] if isinstance(v, (str, dict, tuple)) else []


def read_frames(answer: Any, objects: list[str] | None) -> dict[Any, ReadFrame]:
    """Every answered frame by its `frame_id` as sent, read for an element with these `objects`
    (upstream evaluate.py:88 `parse_miner_prediction`). Entries the validator would raise on are
    skipped here; `validator_raises` says whether there are any."""
    names = list(objects or [])
    use_boxes = any(names)
    out: dict[Any, ReadFrame] = {}
    for fr in _entries(answer):
        if not isinstance(fr, dict):
            continue
        fid = fr.get("frame_id", -1)
        try:
            hash(fid)
        except TypeError:
            continue
        rf = ReadFrame(fid, keypoints=fr.get("keypoints", []))
        if use_boxes:
            rf.bboxes = [d for d in (read_box(b, names) for b in _listed(fr, "boxes")) if d is not None]
            rf.polygons = [d for d in (read_polygon(p, names) for p in _listed(fr, "polygons")) if d is not None]
        out[fid] = rf
    return out


def validator_raises(answer: Any, objects: list[str] | None, keypoints: bool) -> str:
    """Why upstream's scoring raises on this answer once it passed the gate ("" when it does not):
    then the validator writes no score for the challenge (runner.py:552-575 skips the miner).

    >>> validator_raises({"predictions": {"frames": [{"frame_id": 0}, {"frame_id": "1"}]}}, ["ball"], False)
    "frame ids 0 and '1' cannot be ordered (TypeError in evaluate.py:391 sorted(frame ids))"
    """
    preds = answer.get("predictions") if isinstance(answer, dict) else None
    if preds and not isinstance(preds, dict):
        return f"predictions is a {type(preds).__name__}, not an object (AttributeError in evaluate.py:223)"
    entries = (preds or {}).get("frames") or []
    if not isinstance(entries, list):
        return f"predictions.frames is a {type(entries).__name__}, not a list (evaluate.py:97)"
    keys: list[Any] = []
    for i, fr in enumerate(entries):
        if not isinstance(fr, dict):
            return (f"predictions.frames[{i}] is a {type(fr).__name__}, not an object "
                    "(AttributeError in evaluate.py:100)")
        fid = fr.get("frame_id", -1)
        try:
            hash(fid)
        except TypeError:
            return f"predictions.frames[{i}].frame_id {fid!r} is unhashable (TypeError in evaluate.py:183)"
        for key in ("boxes", "polygons") if any(objects or []) else ():
            v = fr.get(key) or []
            if not hasattr(v, "__iter__"):
                return f"predictions.frames[{i}].{key} is not a list (TypeError in evaluate.py:102/140)"
        if keypoints and not hasattr(fr.get("keypoints", []), "__len__"):
            return (f"predictions.frames[{i}].keypoints is {fr.get('keypoints')!r}, which has no length "
                    "(TypeError in keypoints.py:380)")
        keys.append(fid)
    try:
        sorted(dict.fromkeys(keys))
    except TypeError:
        odd = [k for k in keys if type(k) is not type(keys[0])]
        return (f"frame ids {keys[0]!r} and {odd[0] if odd else keys[-1]!r} cannot be ordered "
                "(TypeError in evaluate.py:391 sorted(frame ids))")
    return ""


def frame_count(answer: Any) -> int:
    """How many frames the answer lists (duplicates included), as the answer gate counts them."""
    return len(_entries(answer))


@dataclass
class RefFrame:
    """One ground-truth frame for one element: its objects, and the image size used for it."""

    frame_id: int
    dets: list[Det]
    width: int
    height: int


def _gt_team(label: str, team: int | None) -> str:
    if label == "player" and team in (1, 2):
        return TEAM1 if team == 1 else TEAM2
    return OTHER


def reference_frames(gt: GroundTruth, objects: list[str] | None, frame_ids: list[int],
                     n_video_frames: int, video_size: tuple[int, int]) -> list[RefFrame]:
    """The ground truth of `frame_ids` as the element's reference (pseudo ground truth).

    Image size per frame: the video frame's when the video has that frame, else the ground
    truth's (upstream polygons.py:363 `_image_dimensions_for_pgt`).
    """
    wanted = set(objects or [])
    by_id = gt.by_frame()
    out = []
    for fid in frame_ids:
        g = by_id[fid]
        dets: list[Det] = []
        for b in g.boxes:
            label = OBJECT_TYPES.get(b.cls_id, "")
            if label in wanted:
                dets.append(Det(int(b.x1), int(b.y1), int(b.x2), int(b.y2), label, None, _gt_team(label, b.team)))
        for p in getattr(g, "polygons", []) or []:
            label = p.label
            if label in wanted and p.points:
                xs, ys = [int(x) for x, _ in p.points], [int(y) for _, y in p.points]
                pts = tuple((int(x), int(y)) for x, y in p.points)
                dets.append(Det(min(xs), min(ys), max(xs), max(ys), label, None, _gt_team(label, p.team), pts))
        w, h = video_size if 0 <= fid < n_video_frames else (gt.width, gt.height)
        out.append(RefFrame(fid, dets, w, h))
    return out
