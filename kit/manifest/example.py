"""The kit's example manifest: its own values, for offline work, labelled as an example.

Three football clip elements (PlayerDetect, DetectBall, PitchCalib) and one Detect image element;
pull the live manifest with `tvkit manifest pull`.

Usage: from kit.manifest.example import example_manifest; example_manifest().example  # -> True
"""

from __future__ import annotations

import yaml

from .model import Manifest
from .parse import parse_manifest

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

