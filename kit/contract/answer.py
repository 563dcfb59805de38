"""The answer a chute returns, and its `/health` report: builders and a strict validation.

`validate_answer` returns *every* problem, each naming the frame and the field (see `kit.contract`
for why it is stricter than the evaluator).

Usage: from kit.contract.answer import answer_ok, validate_answer; validate_answer(answer_ok([]), 1, 960, 540)
"""

from __future__ import annotations

from typing import Any

from .core import N_KEYPOINTS, ContractError, Problem, is_int

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
        where = "the challenge's frame ids" if frame_ids is not None else f"0..{n_frames - 1}"
        fid_label = _validate_frame_id(fr.get("frame_id"), base, i, expected_set, where, seen, add)
        _validate_boxes(fr.get("boxes"), base, fid_label, width, height, n_objects, add)
        _validate_polygons(fr.get("polygons"), base, fid_label, width, height, n_objects, add)
        _validate_keypoints(fr.get("keypoints"), base, fid_label, width, height, n_keypoints, add)
    if max_problems is None or len(out) < max_problems:
        missing = [f for f in expected if f not in seen]
        if missing:
            add("predictions.frames", f"{len(missing)} of {len(expected)} frames missing: {_ranges(sorted(missing))}"
                " (the validator scores 0 below meta.min_frames_required answered frames)")
    return out if max_problems is None else out[:max_problems]


def _validate_frame_id(fid: Any, base: str, i: int, expected: set[int], where: str, seen: dict[int, int],
                       add) -> int | None:
    """The frame id of entry i if it is an integer (None otherwise), flagging one outside `expected` (`where`
    names them) or a duplicate; `seen` records the entry of each id first met."""
    if not is_int(fid):
        add(f"{base}.frame_id", f"missing or not an integer (got {fid!r})")
        return None
    fid = int(fid)
    if fid not in expected:
        add(f"{base}.frame_id", f"{fid} is not one of {where}", fid)
    elif fid in seen:
        add(f"{base}.frame_id", f"duplicate of predictions.frames[{seen[fid]}] (later entries replace "
            "earlier ones)", fid)
    else:
        seen[fid] = i
    return fid


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
    if not is_int(cls) or int(cls) < 0:
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
            if not is_int(v):
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
                isinstance(q, (list, tuple)) and len(q) == 2 and is_int(q[0]) and is_int(q[1]) for q in pts):
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
        if not (is_int(x) and is_int(y)):
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


