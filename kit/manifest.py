"""Manifests and elements, read the way the validator reads them.

Usage: `m = load_manifest(); el = m.element("PlayerDetect_v1@1.0"); el.pillars` -> {"iou": 0.3, ...}

    >>> m = example_manifest()
    >>> [e.id for e in m.elements]
    ['PlayerDetect_v1@1.0', 'DetectBall_v1@1.0', 'PitchCalib_v1@1.0', 'kit-example/Detect-fire']
    >>> m.element("PitchCalib_v1@1.0").category
    'PitchCalib'

A validator scores a miner per *element* of a published manifest (upstream
scorevision/utils/manifest.py at ea7412f, `Manifest` and `Element`). This module is the kit's
own reading of that schema, with the validator's rules and its error cases:

- Unknown keys are ignored, as upstream's pydantic models ignore them (a manifest can carry
  `dataset`, `targets`, ... that the validator does not read). The kit keeps two that upstream
  ignores but manifests publish: `metrics.targets` and `metrics.baselines` (per pillar), which
  reports show distances to; and `challenge_type_id`.
- Pillar weights must sum to exactly 1.0 in binary floating point (upstream `Metrics.
  validate_pillar_weights` compares `sum(...) != 1.0`), so 0.4 + 0.2 + 0.1 + 0.2 + 0.1 is
  refused (it sums to 1.0000000000000002). The error says so, with the sum.
- An element's category comes from its id: the part after the last `/` (when not empty) must
  start with one of the prefixes below, tried in upstream's order (`Element.category`); an
  element whose track is not `private` and whose id fits none is refused (`Element.
  validate_id`). Upstream's own tests/test_data/manifests/example_manifest.yml has an element
  `BallDetect_v1@1.0`, which fits none, so upstream's own `Manifest` model refuses that file;
  the kit says exactly that instead of crashing. This is also why the kit's example ball
  element is `DetectBall_v1@1.0` (category Detect).
- The gates: `weight_score(S) = beta * max(max(S - baseline_theta, 0), delta_floor)`
  (`Element.weight_score`); a manifest expires after `expiry_block` when a block is given.

Where manifests come from (`load_manifest(source)`): the kit's example (default, offline, its
own values, labelled as an example), a YAML/JSON file, a manifest URL, or the public index
(`source="live"`; https://turbo.scoredata.me/manifest/index.json, or $TVKIT_MANIFEST_INDEX_URL):
a JSON list of keys `manifest/<block>-<sha256>.yaml` (or `{"entries": [{"path": ...}]}`); the
active one is the highest block not after the given block, and when no key is that early,
the highest (upstream `_pick_manifest_url_for_block`). Keys join the index URL as upstream
`_join_key_to_base` joins them. The index and the manifests are cached under
`cache_dir()/manifests`; without the network the last cached index is used and the manifest
says so, and with neither a KitError says what to do.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urljoin, urlparse

import yaml

from . import KitError

__all__ = [
    "Element", "Manifest", "ManifestError", "ElementCategory", "PillarName", "PILLARS", "REGISTERED_PILLARS",
    "KEYPOINT_TEMPLATES", "DEFAULT_INDEX_URL", "load_manifest", "example_manifest", "parse_manifest",
    "pull_manifest", "cache_dir", "EXAMPLE_MANIFEST_YAML",
]

DEFAULT_INDEX_URL = "https://turbo.scoredata.me/manifest/index.json"
INDEX_URL_ENV = "TVKIT_MANIFEST_INDEX_URL"
CACHE_ENV = "TVKIT_CACHE_DIR"

#: Pillar names the validator knows (upstream `PillarName`); a manifest naming another is refused.
PillarName = Literal["iou", "count", "palette", "smoothness", "role", "keypoints_iou", "map50", "precision",
                     "recall", "soccer_action", "cricket_scoring", "tcg_grading", "false_positive"]
PILLARS: tuple[str, ...] = get_args(PillarName)

#: Keypoint templates an element may name (upstream `ChallengeType`); only football and cricket
#: have a template upstream (`KEYPOINT_TEMPLATES`), and the kit scores football's.
KeypointTemplateName = Literal["football", "cricket", "basketball"]
KEYPOINT_TEMPLATES: tuple[str, ...] = get_args(KeypointTemplateName)
GROUND_TRUTH_TYPES = ("soccer_action", "cricket_delivery", "tcg_grading")
NORM_TYPES = ("rgb-01", "rgb-255", "none")


#: The element kinds, one wing of the kit each (`Element.kind`).
ElementKind = Literal["clip", "image"]
ELEMENT_KINDS: tuple[str, ...] = ("clip", "image")
#: Football's challenge type id (the validator's challenge meta; Detect elements use others: 100 fire...).
FOOTBALL_CHALLENGE_TYPE = 0


class ElementCategory(str, Enum):
    """Element families, in the order upstream tries them (`ElementPrefix`): an id's evaluation
    part is matched with `startswith`, so `PlayerDetect_v1` is PlayerDetect, `Detect-fire` Detect."""

    PITCH_CALIBRATION = "PitchCalib"
    OBJECT_DETECTION = "Detect"
    PLAYER_DETECTION = "PlayerDetect"
    OBJECT_TRACKING = "Track"
    SCENE_CLASSIFICATION = "ClassifyImage"
    OBJECT_CLASSIFICATION = "ClassifyObject"


#: Which pillars the validator can score for each category (upstream @register_metric calls in
#: non_vlm_scoring/objects.py, smoothness.py, keypoints.py). The same name can mean different
#: things: PitchCalib's `iou` is the keypoint metric, PlayerDetect's `iou` is box/polygon F1.
#: Any other (category, pillar) makes the validator raise NotImplementedError.
REGISTERED_PILLARS: dict[str, tuple[str, ...]] = {
    ElementCategory.PLAYER_DETECTION.value: ("iou", "count", "palette", "smoothness", "role", "map50", "precision",
                                             "recall", "false_positive", "keypoints_iou"),
    ElementCategory.OBJECT_DETECTION.value: ("iou", "count", "smoothness", "map50", "precision", "recall",
                                             "false_positive"),
    ElementCategory.PITCH_CALIBRATION.value: ("iou",),
}


class ManifestError(KitError, ValueError):
    """A manifest the validator would refuse, or one the kit cannot obtain; the message says why."""


def category_of(element_id: str) -> str | None:
    """The element category upstream infers from an id (None when no prefix fits).

    >>> category_of("manak0/Detect-fire"), category_of("BallDetect_v1@1.0")
    ('Detect', None)
    """
    raw = str(element_id or "").strip()
    if "/" in raw:
        suffix = raw.rsplit("/", 1)[-1].strip()
        if suffix:
            raw = suffix
    for cat in ElementCategory:
        if raw.startswith(cat.value):
            return cat.value
    return None


@dataclass
class Element:
    """One element: what the validator asks for, how it scores it, and its gates.

    `pillars` maps pillar name -> weight (sums to 1.0); `objects[cls_id]` names a box's class;
    `targets` and `baselines` are the manifest's per-pillar reference values (may be empty).
    """

    id: str
    objects: list[str] | None = None
    pillars: dict[str, float] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, float] = field(default_factory=dict)
    keypoint_template: str | None = None
    latency_p95_ms: int | None = None
    service_rate_fps: int | None = None
    max_model_size_mb: float | None = None
    onnx_model: bool | None = None
    baseline_theta: float = 0.0
    delta_floor: float = 0.0
    beta: float = 1.0
    challenge_type_id: int | None = None
    challenge_type_version: str | None = None
    ground_truth: bool = False
    track: str | None = None
    weight: float | None = None
    first_block: int | None = None
    window_block: int | None = None
    eval_window: float | None = None
    preproc: dict[str, Any] | None = None
    groundtruth_type: str | None = None

    @property
    def evaluation_id(self) -> str:
        """The id part the category comes from: after the last `/` when that is not empty."""
        raw = str(self.id or "").strip()
        if "/" in raw:
            suffix = raw.rsplit("/", 1)[-1].strip()
            if suffix:
                return suffix
        return raw

    @property
    def category(self) -> str:
        """`PlayerDetect`, `Detect`, `PitchCalib`, ... (raises ManifestError when none fits)."""
        cat = category_of(self.id)
        if cat is None:
            raise ManifestError(f"element {self.id!r}: no element category fits this id ({_prefix_hint()})")
        return cat

    @property
    def kind(self) -> ElementKind:
        """Which wing of the kit serves this element: "clip" (football: a broadcast clip or its
        frames, pitch keypoints) or "image" (one photo per challenge, any objects).

        The manifest has no such flag (upstream tells an image challenge by its url's extension,
        validator/challenges.py:132-134), so the kit decides from what the element asks for:
        PlayerDetect and PitchCalib elements, an element with a `keypoint_template`, and one of
        football's challenge type (0) are clips; every other element is an image element.

        >>> example_manifest().element("PlayerDetect_v1@1.0").kind, Element("manak0/Detect-fire").kind
        ('clip', 'image')
        """
        cat = category_of(self.id)
        if (cat in (ElementCategory.PLAYER_DETECTION.value, ElementCategory.PITCH_CALIBRATION.value)
                or self.keypoint_template or self.challenge_type_id == FOOTBALL_CHALLENGE_TYPE):
            return "clip"
        return "image"

    @property
    def has_metrics(self) -> bool:
        return bool(self.pillars)

    def unscored_pillars(self) -> list[str]:
        """Pillars of this element that the validator has no metric for in its category."""
        cat = category_of(self.id)
        known = REGISTERED_PILLARS.get(cat or "", ())
        return [p for p in self.pillars if p not in known]

    # --- the gates (upstream Element.apply_baseline_gate ... weight_score) ---
    def apply_baseline_gate(self, score: float) -> float:
        return max(score - self.baseline_theta, 0.0)

    def improvement(self, score: float) -> float:
        return max(self.apply_baseline_gate(score), self.delta_floor)

    def apply_difficulty_weight(self, improvement: float) -> float:
        return self.beta * improvement

    def weight_score(self, score: float) -> float:
        """beta x max(max(score - baseline_theta, 0), delta_floor).

        >>> Element("Detect_x", pillars={"iou": 1.0}, baseline_theta=0.3, delta_floor=0.05).weight_score(0.5)
        0.2
        """
        return self.apply_difficulty_weight(self.improvement(score))

    def rtf(self, p95_latency_ms: float) -> float | None:
        """The real-time factor as upstream scorevision/utils/rtf.py:28 computes it:
        p95_ms / 10000 x service_rate_fps / 5 (its docstring says / 1000); None without a rate."""
        if self.service_rate_fps is None:
            return None
        if p95_latency_ms < 0:
            raise ManifestError("a p95 latency cannot be negative")
        if self.service_rate_fps <= 0:
            raise ManifestError(f"element {self.id!r}: service_rate_fps must be positive, got {self.service_rate_fps}")
        return (p95_latency_ms / 10000.0) * (self.service_rate_fps / 5.0)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "category": category_of(self.id), "kind": self.kind}
        for k in ("track", "objects", "keypoint_template", "latency_p95_ms", "service_rate_fps", "max_model_size_mb",
                  "onnx_model", "baseline_theta", "delta_floor", "beta", "challenge_type_id", "ground_truth",
                  "weight"):
            d[k] = getattr(self, k)
        d["metrics"] = {"pillars": dict(self.pillars), "targets": dict(self.targets), "baselines": dict(self.baselines)}
        return d


@dataclass
class Manifest:
    """A manifest: the elements of one evaluation window, and where the kit got it."""

    window_id: str
    version: float
    expiry_block: int
    elements: list[Element]
    trusted_share_gamma: float | None = None
    signature: str | None = None
    source: str = ""
    example: bool = False
    block: int | None = None          # the block of the index key it was picked by, if any
    problems: list[str] = field(default_factory=list)  # why the validator refuses it (lenient reads only)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.elements]

    def get_element(self, id: str) -> Element | None:  # noqa: A002 - upstream's name
        """The element with this id, or None (upstream `Manifest.get_element`)."""
        for e in self.elements:
            if e.id == id:
                return e
        return None

    def element(self, id: str) -> Element:  # noqa: A002
        """The element with this id; ManifestError with a did-you-mean otherwise.

        >>> example_manifest().element("PlayerDetect_v1@1.0").objects
        ['ball', 'goalkeeper', 'player', 'referee']
        """
        e = self.get_element(id)
        if e is not None:
            return e
        near = difflib.get_close_matches(str(id), self.ids, n=1, cutoff=0.5)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ManifestError(f"no element {id!r} in manifest {self.describe()}{hint} (elements: {', '.join(self.ids)}; "
                            "`tvkit elements list` shows them)")

    def select(self, ids: list[str] | None) -> list[Element]:
        """The elements named (in that order), or all of them."""
        return [self.element(i) for i in ids] if ids else list(self.elements)

    def describe(self) -> str:
        label = "the kit's EXAMPLE manifest" if self.example else (self.source or "manifest")
        return f"{label} (window {self.window_id}, version {self.version})"

    def to_dict(self) -> dict[str, Any]:
        return {"window_id": self.window_id, "version": self.version, "expiry_block": self.expiry_block,
                "source": self.source, "example": self.example, "block": self.block,
                "elements": [e.to_dict() for e in self.elements]}


# --- validation -------------------------------------------------------------------------------

def _prefix_hint() -> str:
    return ("after any 'namespace/', the id must start with one of " + ", ".join(c.value for c in ElementCategory)
            + "; the validator infers the category from it (upstream scorevision/utils/manifest.py Element.category)")


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
        p.add(f"{label}.id", f"{eid!r} names no element category: {_prefix_hint()}. Upstream's own "
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


def _parse_text(text: str, source: str) -> Any:
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
    return parse_manifest(_parse_text(path.read_text(), str(path)), source=str(path), strict=strict)


# --- the kit's example ----------------------------------------------------------------------

EXAMPLE_MANIFEST_YAML = """\
# THE KIT'S EXAMPLE MANIFEST: the kit's own values, for offline work; not the validator's.
# Pull the live one with `tvkit manifest pull`. Schema: upstream scorevision/utils/manifest.py.
# Objects are the class names the football scorer expects (a box's cls_id indexes this
# list; "player" is the name team scoring looks for). The ball element is DetectBall_v1, not
# BallDetect_v1: "BallDetect" fits no element category, so the validator refuses that id.
window_id: kit-example
version: 1.3
expiry_block: 999999999
tee:
  trusted_share_gamma: 0.0
elements:
  - id: PlayerDetect_v1@1.0
    track: public
    objects: [ball, goalkeeper, player, referee]
    metrics:
      pillars: {iou: 0.3, count: 0.1, palette: 0.15, role: 0.15, smoothness: 0.1, map50: 0.1, false_positive: 0.1}
      targets: {iou: 0.85, count: 0.9, palette: 0.8, role: 0.8, smoothness: 0.7, map50: 0.8, false_positive: 0.95}
      baselines: {iou: 0.6, count: 0.7, palette: 0.5, role: 0.55, smoothness: 0.5, map50: 0.5, false_positive: 0.8}
    latency_p95_ms: 200
    service_rate_fps: 25
    max_model_size_mb: 30
    onnx_model: true
    baseline_theta: 0.3
    delta_floor: 0.01
    beta: 1.0
    challenge_type_id: 0
  - id: DetectBall_v1@1.0
    track: public
    objects: [ball]
    metrics:
      pillars: {iou: 0.35, count: 0.2, smoothness: 0.15, map50: 0.3}
      targets: {iou: 0.7, count: 0.8, smoothness: 0.5, map50: 0.7}
      baselines: {iou: 0.4, count: 0.5, smoothness: 0.3, map50: 0.4}
    latency_p95_ms: 200
    service_rate_fps: 25
    max_model_size_mb: 30
    onnx_model: true
    baseline_theta: 0.2
    delta_floor: 0.01
    beta: 1.0
    challenge_type_id: 0
  - id: PitchCalib_v1@1.0
    track: public
    keypoint_template: football
    metrics:
      pillars: {iou: 1.0}
      targets: {iou: 0.8}
      baselines: {iou: 0.5}
    latency_p95_ms: 200
    service_rate_fps: 25
    max_model_size_mb: 30
    onnx_model: true
    baseline_theta: 0.3
    delta_floor: 0.01
    beta: 1.0
    challenge_type_id: 0
  # An EXAMPLE Detect element (one photo per challenge): the values upstream's fixture gives
  # manak0/Detect-fire (tests/test_data/manifests/full_private_tcg_manifest.json at ea7412f),
  # under the kit's own id; the live manifest decides the real element's values.
  - id: kit-example/Detect-fire
    track: public
    objects: [fire, smoke, fire extinguisher]
    metrics:
      pillars: {map50: 0.6, false_positive: 0.4}
      targets: {map50: 0.9, false_positive: 0.9}
      baselines: {map50: 0.3932593937991298, false_positive: 0.4}
    latency_p95_ms: 100
    service_rate_fps: 1
    max_model_size_mb: 30
    baseline_theta: 0.3932593937991298
    delta_floor: 0.01
    beta: 1
    challenge_type_id: 100
    ground_truth: true
"""


def example_manifest() -> Manifest:
    """The kit's example manifest, labelled as such: three football clip elements (PlayerDetect,
    DetectBall, PitchCalib) and one Detect image element (`kit-example/Detect-fire`).

    >>> example_manifest().example
    True
    """
    m = parse_manifest(yaml.safe_load(EXAMPLE_MANIFEST_YAML), source="the kit's example manifest")
    m.example = True
    return m


# --- the public index ---------------------------------------------------------------------------

def cache_dir() -> Path:
    """The kit's cache: $TVKIT_CACHE_DIR, else $XDG_CACHE_HOME/tvkit, else ~/.cache/tvkit."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tvkit"


def index_url() -> str:
    return os.environ.get(INDEX_URL_ENV) or DEFAULT_INDEX_URL


def _join_key(index: str, key: str) -> str:
    """A manifest key joined to the index URL (upstream `_join_key_to_base`)."""
    key = str(key).strip()
    while key.startswith("./"):
        key = key[2:]
    if key.startswith(("http://", "https://")):
        return key
    u = urlparse(index)
    root = f"{u.scheme}://{u.netloc}/"
    if key.startswith(("manako/", "manifest/")):
        return root + key
    if key.startswith("/"):
        return root + key.lstrip("/")
    return urljoin(index.rsplit("/", 1)[0] + "/", key)


def index_keys(index: str, doc: Any) -> list[str]:
    """Manifest URLs listed by an index document: a list of keys, or {"entries": [{"path"}]}."""
    keys: list[str] = []
    if isinstance(doc, list):
        keys = [k for k in doc if isinstance(k, str)]
    elif isinstance(doc, dict) and isinstance(doc.get("entries"), list):
        keys = [e["path"] for e in doc["entries"] if isinstance(e, dict) and isinstance(e.get("path"), str)]
    return [_join_key(index, k) for k in keys]


def pick_for_block(urls: list[str], block: int | None) -> tuple[int, str] | None:
    """(block, url) of the manifest active at `block`: the highest key block not after it; with
    no block, or none that early, the highest (upstream `_pick_manifest_url_for_block`)."""
    pairs = []
    for u in urls:
        name = Path(urlparse(u).path).name
        try:
            pairs.append((int(name.split("-", 1)[0]), u))
        except ValueError:
            continue
    if not pairs:
        return None
    pairs.sort(key=lambda x: x[0])
    if block is None:
        return pairs[-1]
    eligible = [pr for pr in pairs if pr[0] <= block]
    return eligible[-1] if eligible else pairs[-1]


def _cache_name(url: str, suffix: str) -> str:
    h = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{Path(urlparse(url).path).name or 'manifest'}.{h}.{suffix}"


def _http_get(url: str, timeout: float) -> str:
    import httpx

    r = httpx.get(url, timeout=timeout, follow_redirects=True)
    if r.status_code != 200:
        raise ManifestError(f"GET {url} answered HTTP {r.status_code}")
    return r.text


def pull_manifest(index: str | None = None, block: int | None = None, cache: Path | None = None,
                  timeout: float = 20.0) -> Manifest:
    """The manifest the public index names for `block` (the latest without one), cached.

    Args:
        index: the index URL (default $TVKIT_MANIFEST_INDEX_URL or DEFAULT_INDEX_URL).
        block: the chain block to pick for; None picks the latest.
        cache: the cache folder (default `cache_dir()/manifests`).
    Returns:
        The Manifest; `source` names its URL (and says when an offline cached index was used).
    Raises:
        ManifestError: offline with nothing cached, an empty index, a refused or expired manifest.

    >>> m = pull_manifest(block=8_300_000)  # doctest: +SKIP
    """
    import httpx

    index = index or index_url()
    cache = (cache or cache_dir() / "manifests")
    cache.mkdir(parents=True, exist_ok=True)
    index_file = cache / _cache_name(index, "json")
    note = ""
    try:
        text = _http_get(index, timeout)
        doc = json.loads(text)
        index_file.write_text(text)
    except (httpx.HTTPError, OSError) as e:
        if not index_file.is_file():
            raise ManifestError(f"cannot reach the manifest index {index} ({type(e).__name__}: {e}) and nothing is "
                                f"cached in {cache}. Offline? Use the kit's example manifest (the default), or a "
                                "manifest file: --manifest PATH") from None
        doc = json.loads(index_file.read_text())
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(index_file.stat().st_mtime))
        note = f" (offline: index cached {when})"
    except json.JSONDecodeError as e:
        raise ManifestError(f"{index}: the index is not JSON ({e.msg}); expected a list of manifest keys") from None
    picked = pick_for_block(index_keys(index, doc), block)
    if picked is None:
        raise ManifestError(f"{index}: the index lists no manifest key of the form manifest/<block>-<sha256>.yaml")
    picked_block, url = picked
    mfile = cache / _cache_name(url, "yaml")
    if not mfile.is_file():  # a key names its content (block and hash), so a cached copy stays valid
        try:
            body = _http_get(url, timeout)
        except httpx.HTTPError as e:
            raise ManifestError(f"cannot fetch manifest {url} ({type(e).__name__}: {e}); not cached either") from None
        tmp = mfile.with_suffix(".tmp")
        tmp.write_text(body)
        os.replace(tmp, mfile)
    m = parse_manifest(_parse_text(mfile.read_text(), url), source=url + note)
    m.block = picked_block
    if block is not None and block > m.expiry_block:
        raise ManifestError(f"{url}: manifest expired at block {m.expiry_block}, asked for block {block}")
    return m


ManifestSource = Literal["example", "live"]

#: How the evaluator picks the reference frames: all of them, or a validator's 3 consecutive
#: ones (kept here, beside the elements, so the CLI can offer the choices without loading OpenCV).
EvaluateMode = Literal["full", "validator"]
EVALUATE_MODES: tuple[str, ...] = get_args(EvaluateMode)


def load_manifest(source: str | os.PathLike | Manifest | None = None, block: int | None = None,
                  strict: bool = True) -> Manifest:
    """A manifest from wherever it is.

    Args:
        source: None or "example" (the kit's example, offline); "live" (the public index, or
            $TVKIT_MANIFEST_INDEX_URL); an http(s) URL (an index if it ends in .json and parses as
            one, else a manifest file); a path to a YAML/JSON manifest; or a Manifest (returned).
        block: for the index, the block to pick the manifest for (default: the latest).
        strict: refuse what the validator refuses (False: read it anyway, reasons in `problems`;
            for showing a file only).
    Returns:
        The Manifest.
    Raises:
        ManifestError: a missing/unreadable file, a manifest the validator refuses, offline.

    >>> load_manifest().example
    True
    >>> load_manifest("example").element("PitchCalib_v1@1.0").pillars
    {'iou': 1.0}
    """
    if isinstance(source, Manifest):
        return source
    if source is None or str(source) == "example":
        return example_manifest()
    s = str(source)
    if s == "live":
        return pull_manifest(block=block)
    if s.startswith(("http://", "https://")):
        if urlparse(s).path.endswith("index.json"):
            return pull_manifest(index=s, block=block)
        import httpx

        try:
            body = _http_get(s, 20.0)
        except httpx.HTTPError as e:
            raise ManifestError(f"cannot fetch manifest {s} ({type(e).__name__}: {e})") from None
        return parse_manifest(_parse_text(body, s), source=s, strict=strict)
    return read_manifest_file(s, strict=strict)
