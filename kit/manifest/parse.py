"""Reading a raw manifest the way the validator's pydantic models do, with every refusal's reason.

Lax numbers as pydantic takes them, unknown keys ignored, pillar weights summing to exactly 1.0
in binary floating point, ids that fit a category; `strict=False` reads a refused manifest anyway
and keeps the reasons in `Manifest.problems` (for showing a file only).

Usage: from kit.manifest.parse import read_manifest_file; m = read_manifest_file("manifest.yml")
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Any

import yaml

from .model import (
    GROUND_TRUTH_TYPES,
    KEYPOINT_TEMPLATES,
    NORM_TYPES,
    PILLARS,
    Element,
    Manifest,
    ManifestError,
    category_of,
    prefix_hint,
)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")


def _num(v: Any, where: str, p: _Problems, *, integer: bool = False, minimum: float | None = None,
         optional: bool = True) -> Any:
    """A number the way pydantic's lax mode takes it: ints, floats, numeric strings; integers
    must have no fractional part; None only where the field is optional."""
    if v is None:
        if not optional:
            p.add(where, "missing (a number is required)")
        return None
    x: float | None
    if isinstance(v, bool):
        x = float(v)
    elif isinstance(v, (int, float)):
        x = float(v)
    elif isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            x = None
    else:
        x = None
    if x is None or (integer and not math.isfinite(x)):
        p.add(where, f"expected a number, got {v!r}")
        return None
    if integer:
        if not x.is_integer():
            p.add(where, f"expected a whole number, got {v!r}")
            return None
        out: Any = int(x)
    else:
        out = v if isinstance(v, float) else x
    if minimum is not None and out < minimum:
        p.add(where, f"must be >= {minimum}, got {v!r}")
    return out


def _str(v: Any, where: str, p: _Problems, optional: bool = True) -> str | None:
    if v is None:
        if not optional:
            p.add(where, "missing (a string is required)")
        return None
    if not isinstance(v, str):
        hint = " (quote it in YAML)" if not isinstance(v, (dict, list)) else ""
        p.add(where, f"expected a string, got {type(v).__name__} {v!r}{hint}")
        return None
    return v


def _choice(v: Any, choices: tuple[str, ...], where: str, p: _Problems) -> str | None:
    if v is None:
        return None
    if v not in choices:
        near = difflib.get_close_matches(str(v), choices, n=1)
        p.add(where, f"{v!r} is not one of {', '.join(choices)}" + (f" (did you mean {near[0]!r}?)" if near else ""))
        return None
    return v


def _pillar_map(raw: Any, where: str, p: _Problems, check_sum: bool) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        p.add(where, f"expected a mapping of pillar name -> number, got {type(raw).__name__}")
        return {}
    out: dict[str, float] = {}
    for name, w in raw.items():
        if _choice(name, PILLARS, f"{where}.{name}", p) is None:
            continue
        val = _num(w, f"{where}.{name}", p, optional=False)
        if val is not None:
            out[name] = float(val)
    if check_sum and len(out) == len(raw):
        total = sum(out.values())
        if total != 1.0:
            p.add(where, f"weights must sum to exactly 1.0, they sum to {total!r} (the validator compares the "
                         "floating-point sum with == 1.0: upstream Metrics.validate_pillar_weights; pick weights whose "
                         "sum is exact in binary, e.g. 0.35/0.2/0.15/0.3)")
    return out


def _gate(raw: dict, key: str, default: float, label: str, p: _Problems) -> float:
    """baseline_theta, delta_floor, beta: numbers >= 0 with a default; an explicit null is refused."""
    if key not in raw:
        return default
    if raw[key] is None:
        p.add(f"{label}.{key}", "null is not a number (leave the key out for its default)")
        return default
    v = _num(raw[key], f"{label}.{key}", p, minimum=0.0)
    return default if v is None else float(v)


def _element(raw: Any, where: str, p: _Problems) -> Element | None:
    if not isinstance(raw, dict):
        p.add(where, f"expected a mapping, got {type(raw).__name__}")
        return None
    eid = _str(raw.get("id"), f"{where}.id", p, optional=False)
    label = f"{where} ({eid!r})" if eid else where
    metrics = raw.get("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        p.add(f"{label}.metrics", f"expected a mapping with pillars, got {type(metrics).__name__}")
        metrics = None
    metrics = metrics or {}
    if raw.get("metrics") is not None and metrics.get("pillars") is None:
        p.add(f"{label}.metrics.pillars", "missing (metrics needs pillar weights)")
    pillars = _pillar_map(metrics.get("pillars"), f"{label}.metrics.pillars", p, check_sum=True)
    targets = _pillar_map(metrics.get("targets"), f"{label}.metrics.targets", p, check_sum=False)
    baselines = _pillar_map(metrics.get("baselines"), f"{label}.metrics.baselines", p, check_sum=False)
    objects = raw.get("objects")
    if objects is not None and (not isinstance(objects, list) or not all(isinstance(o, str) for o in objects)):
        p.add(f"{label}.objects", f"expected a list of class names (strings), got {objects!r}")
        objects = None
    track = _str(raw.get("track"), f"{label}.track", p)
    preproc = raw.get("preproc")
    if preproc is not None:
        if not isinstance(preproc, dict):
            p.add(f"{label}.preproc", "expected a mapping with fps, resize_long, norm")
        else:
            _num(preproc.get("fps"), f"{label}.preproc.fps", p, integer=True, optional=False)
            _num(preproc.get("resize_long"), f"{label}.preproc.resize_long", p, integer=True, optional=False)
            _choice(preproc.get("norm"), NORM_TYPES, f"{label}.preproc.norm", p)
    gt_flag = raw.get("ground_truth", False)
    if not isinstance(gt_flag, bool):
        p.add(f"{label}.ground_truth", f"expected true or false, got {gt_flag!r}")
    el = Element(
        id=eid or "",
        objects=list(objects) if objects is not None else None,
        pillars=pillars, targets=targets, baselines=baselines,
        keypoint_template=_choice(raw.get("keypoint_template"), KEYPOINT_TEMPLATES, f"{label}.keypoint_template", p),
        latency_p95_ms=_num(raw.get("latency_p95_ms"), f"{label}.latency_p95_ms", p, integer=True),
        service_rate_fps=_num(raw.get("service_rate_fps"), f"{label}.service_rate_fps", p, integer=True),
        max_model_size_mb=_num(raw.get("max_model_size_mb"), f"{label}.max_model_size_mb", p, minimum=0.0),
        onnx_model=raw.get("onnx_model") if isinstance(raw.get("onnx_model"), bool) else None,
        baseline_theta=_gate(raw, "baseline_theta", 0.0, label, p),
        delta_floor=_gate(raw, "delta_floor", 0.0, label, p),
        beta=_gate(raw, "beta", 1.0, label, p),
        challenge_type_id=_num(raw.get("challenge_type_id"), f"{label}.challenge_type_id", p, integer=True),
        challenge_type_version=_str(raw.get("challenge_type_version"), f"{label}.challenge_type_version", p),
        ground_truth=gt_flag is True,
        track=track,
        weight=_num(raw.get("weight"), f"{label}.weight", p),
        first_block=_num(raw.get("first_block"), f"{label}.first_block", p, integer=True),
        window_block=_num(raw.get("window_block"), f"{label}.window_block", p, integer=True),
        eval_window=_num(raw.get("eval_window"), f"{label}.eval_window", p),
        preproc=preproc if isinstance(preproc, dict) else None,
        groundtruth_type=_choice(raw.get("groundtruth_type"), GROUND_TRUTH_TYPES, f"{label}.groundtruth_type", p),
    )
    if eid and track != "private" and category_of(eid) is None:
        p.add(f"{label}.id", f"{eid!r} names no element category: {prefix_hint()}. Upstream's own "
                             "example_manifest.yml has this problem with 'BallDetect_v1@1.0'. Rename the element "
                             "(e.g. 'Detect...') or mark it track: private")
    return el


def parse_manifest(data: Any, source: str = "manifest", strict: bool = True) -> Manifest:
    """A manifest from its parsed YAML/JSON, with the validator's validation.

    With strict=False (for showing a file, never for scoring) a manifest the validator refuses
    is still returned when it can be read at all, with the reasons in `problems`.

    Raises:
        ManifestError: listing every problem (where, what, what to do).

    >>> parse_manifest({"window_id": "w", "version": 1.3, "expiry_block": 9, "tee": {"trusted_share_gamma": 0},
    ...                 "elements": [{"id": "Detect-fire", "objects": ["fire"],
    ...                               "metrics": {"pillars": {"map50": 1}}}]}).ids
    ['Detect-fire']
    """
    p = _Problems()
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: expected a mapping at the top (window_id, version, expiry_block, elements, "
                            f"tee), got {type(data).__name__}")
    window_id = _str(data.get("window_id"), "window_id", p, optional=False)
    version = _num(data.get("version"), "version", p, optional=False)
    expiry = _num(data.get("expiry_block"), "expiry_block", p, integer=True, optional=False)
    tee = data.get("tee")
    gamma = None
    if not isinstance(tee, dict):
        p.add("tee", "missing or not a mapping (the validator requires tee.trusted_share_gamma)")
    else:
        gamma = _num(tee.get("trusted_share_gamma"), "tee.trusted_share_gamma", p, optional=False)
    raw_elements = data.get("elements")
    elements: list[Element] = []
    if not isinstance(raw_elements, list):
        p.add("elements", "missing or not a list")
    else:
        for i, raw in enumerate(raw_elements):
            el = _element(raw, f"elements[{i}]", p)
            if el is not None:
                elements.append(el)
    sig = data.get("signature")
    if p.items and strict:
        raise ManifestError(f"{source}: the validator would refuse this manifest:\n  - " + "\n  - ".join(p.items))
    return Manifest(window_id=window_id or "", version=float(version or 0.0), expiry_block=int(expiry or 0),
                    elements=elements, trusted_share_gamma=gamma, signature=sig if isinstance(sig, str) else None,
                    source=source, problems=list(p.items))


def parse_text(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)  # JSON is YAML, so one reader covers both
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError(f"{source}: not valid YAML/JSON{where} ({getattr(e, 'problem', None) or e})") from None


def read_manifest_file(path: str | os.PathLike, strict: bool = True) -> Manifest:
    """A manifest from a YAML or JSON file (ManifestError if missing, unreadable or refused)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such manifest file (give a YAML/JSON manifest, 'example' for the kit's "
                            "example, or 'live' for the published one)")
    return parse_manifest(parse_text(path.read_text(), str(path)), source=str(path), strict=strict)

