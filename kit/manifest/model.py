"""The schema: pillar names, element categories and kinds, `Element` with its gates, `Manifest`.

Mirrors upstream scorevision/utils/manifest.py at ea7412f (`Manifest`, `Element`): the category
comes from the id (`category_of`), the gates are `Element.weight_score`, and the kind (`clip` or
`image`) picks the kit's wing. Reading and checking a raw manifest is `kit.manifest.parse`.

Usage: from kit.manifest.model import category_of; category_of("PlayerDetect_v1@1.0")  # -> "PlayerDetect"
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, get_args

from .. import KitError

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
            raise ManifestError(f"element {self.id!r}: no element category fits this id ({prefix_hint()})")
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



def prefix_hint() -> str:
    return ("after any 'namespace/', the id must start with one of " + ", ".join(c.value for c in ElementCategory)
            + "; the validator infers the category from it (upstream scorevision/utils/manifest.py Element.category)")


ManifestSource = Literal["example", "live"]

#: How the evaluator picks the reference frames: all of them, or a validator's 3 consecutive
#: ones (kept here, beside the elements, so the CLI can offer the choices without loading OpenCV).
EvaluateMode = Literal["full", "validator"]
EVALUATE_MODES: tuple[str, ...] = get_args(EvaluateMode)
