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

from .example import EXAMPLE_MANIFEST_YAML, example_manifest
from .index import (
    DEFAULT_INDEX_URL,
    INDEX_URL_ENV,
    index_keys,
    index_url,
    load_manifest,
    pick_for_block,
    pull_manifest,
)
from .model import (
    ELEMENT_KINDS,
    EVALUATE_MODES,
    FOOTBALL_CHALLENGE_TYPE,
    GROUND_TRUTH_TYPES,
    KEYPOINT_TEMPLATES,
    NORM_TYPES,
    PILLARS,
    REGISTERED_PILLARS,
    Element,
    ElementCategory,
    ElementKind,
    EvaluateMode,
    KeypointTemplateName,
    Manifest,
    ManifestError,
    ManifestSource,
    PillarName,
    category_of,
    prefix_hint,
)
from .parse import parse_manifest, parse_text, read_manifest_file

# the public names of kit.manifest before it became a package, then the rest of each part's public names
__all__ = [
    "Element", "Manifest", "ManifestError", "ElementCategory", "PillarName", "PILLARS", "REGISTERED_PILLARS",
    "KEYPOINT_TEMPLATES", "DEFAULT_INDEX_URL", "load_manifest", "example_manifest", "parse_manifest", "pull_manifest",
    "EXAMPLE_MANIFEST_YAML",
    "INDEX_URL_ENV", "index_url", "index_keys", "pick_for_block", "KeypointTemplateName",
    "GROUND_TRUTH_TYPES", "NORM_TYPES", "ElementKind", "ELEMENT_KINDS", "FOOTBALL_CHALLENGE_TYPE", "category_of",
    "prefix_hint", "ManifestSource", "EvaluateMode", "EVALUATE_MODES", "parse_text", "read_manifest_file",
]
