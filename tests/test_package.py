"""Bundle rules (kit.comply's repo rules, as `tvkit package` applies them), packaging, the
predict CLI and the latency bench."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from kit import KitError
from kit.bundle import BundleError, package, predict_video
from kit.comply import check_repo
from kit.comply.gate import self_test
from kit.contract import validate_answer

from conftest import TVKIT
from minerfactory import BUNDLE_TEMPLATE, make_bundle, untrained_models

SRC = (BUNDLE_TEMPLATE / "miner.py").read_text()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return untrained_models(tmp_path_factory.mktemp("pkg"))


def tvkit(*args, timeout=300):
    return subprocess.run([TVKIT, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def _rules(bundle):
    return {f.rule for f in check_repo(bundle)}


def test_good_bundle_passes(tmp_path, models):
    b = make_bundle(tmp_path / "b", *models)
    assert check_repo(b) == [] and self_test(b) == []


@pytest.mark.parametrize("edit,rule", [
    (lambda s: s.replace("import cv2\n", "import cv2\nimport subprocess\n", 1), "disallowed_import"),
    (lambda s: s.replace("import cv2\n", "import cv2\nfrom urllib.request import urlopen\n", 1), "disallowed_import"),
    (lambda s: s.replace("import cv2\n", "import cv2\nimport requests\n", 1), "disallowed_import"),
    (lambda s: s.replace("        cv2.setNumThreads(1)\n", "        cv2.setNumThreads(1)\n        os.system('true')\n"),
     "disallowed_call"),
    (lambda s: s.replace("import cv2\n", "import cv2\n_m = __import__('socket')\n", 1), "disallowed_call"),
    (lambda s: s.replace("import cv2\n", "import cv2\n_t = open('x').read\n", 1), "disallowed_call"),
    (lambda s: s.replace("class Miner:", "class NotMiner:"), "missing_miner_class"),
    (lambda s: s.replace("def predict_batch(self, batch_images: list[np.ndarray], offset: int, n_keypoints: int)",
                         "def predict_batch(self, batch_images: list[np.ndarray], offset: int)"),
     "predict_batch_signature_invalid"),
    (lambda s: s + "\ndef broken(:\n", "miner_py_unparseable"),
])
def test_each_bad_bundle_fails_naming_its_rule(tmp_path, models, edit, rule):
    src = edit(SRC)
    assert src != SRC, "the edit did not apply: the test would prove nothing"
    b = make_bundle(tmp_path / "b", *models, miner_source=src)
    found = _rules(b)
    assert rule in found, found
    with pytest.raises(BundleError) as e:
        package(tmp_path / "out", *models, template=b)
    assert f"[{rule}]" in str(e.value) and not (tmp_path / "out").exists()


def test_helper_beside_miner_is_an_allowed_file(tmp_path, models):
    b = make_bundle(tmp_path / "b", *models)
    (b / "helper.py").write_text("X = 1\n")
    (b / "classes.labels").write_text("ball\n")
    assert _rules(b) == set()


def test_package_refuses_over_30_mb_and_keeps_nothing(tmp_path, models):
    big = tmp_path / "padding.onnx"
    with big.open("wb") as f:
        f.truncate(31 * 1024 * 1024)
    out = tmp_path / "bundle"
    with pytest.raises(BundleError) as e:
        package(out, *models, extra_files=[big])
    assert "[repo_size_exceeded]" in str(e.value) and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle")]


def test_package_writes_nothing_the_rules_refuse(tmp_path, models):
    """No pitch_template.png (the miner draws its template) and no refused extra file."""
    out = package(tmp_path / "bundle", *models)
    assert sorted(p.name for p in out.iterdir()) == ["ball.onnx", "chute_config.yml", "detect.onnx", "miner.py",
                                                       "pose.onnx"]
    png = tmp_path / "pitch_template.png"
    png.write_bytes(b"\x89PNG")
    with pytest.raises(BundleError) as e:
        package(tmp_path / "b2", *models, extra_files=[png])
    assert "[unsupported_artifact_suffix] pitch_template.png" in str(e.value) and not (tmp_path / "b2").exists()


def test_package_cli_predict_cli_and_answer(tmp_path, models):
    from kit.synth import generate_clip

    out = tmp_path / "bundle"
    r = tvkit("package", "--out", str(out), "--detect-model", str(models[0]), "--pose-model", str(models[1]))
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} >= {"miner.py", "chute_config.yml", "detect.onnx", "pose.onnx"}
    video, _ = generate_clip(tmp_path / "clip", 0, 10, 3)
    r = tvkit("predict", "--bundle", str(out), "--video", str(video), "--out", str(tmp_path / "p.json"),
              "--batch-size", "4")
    assert r.returncode == 0, r.stderr
    answer = json.loads((tmp_path / "p.json").read_text())
    assert answer["success"] and [f["frame_id"] for f in answer["predictions"]["frames"]] == list(range(10))
    assert validate_answer(answer, 10, 960, 540) == []
    # the CLI and the library give the same answer (one predict path)
    assert predict_video(out, video, batch_size=4).answer == answer


def test_package_cli_names_the_broken_rule(tmp_path, models):
    r = tvkit("package", "--out", str(tmp_path / "b"), "--detect-model", str(tmp_path / "nope.onnx"))
    assert r.returncode == 2 and "nope.onnx" in r.stderr


def test_predict_reports_a_failing_miner_as_the_chute_would(tmp_path, models):
    from kit.synth import generate_clip

    src = SRC.replace("        frames = [_as_bgr(f) for f in batch_images]",
                      "        if offset > 0:\n            raise RuntimeError('boom')\n"
                      "        frames = [_as_bgr(f) for f in batch_images]")
    assert src != SRC
    b = make_bundle(tmp_path / "b", *models, miner_source=src)
    video, _ = generate_clip(tmp_path / "clip", 0, 6, 3)
    pred = predict_video(b, video, batch_size=4)
    assert pred.answer["success"] is False and "boom" in pred.answer["error"]


def test_reference_bundle_packages(tmp_path):
    """`tvkit package` with no model arguments bundles the committed reference models."""
    r = tvkit("package", "--out", str(tmp_path / "ref"))
    assert r.returncode == 0, r.stderr
    size = sum(p.stat().st_size for p in (tmp_path / "ref").iterdir())
    assert size <= 30 * 1024 * 1024


@pytest.mark.slow
def test_latency_json(tmp_path, models):
    b = make_bundle(tmp_path / "b", *models)
    r = tvkit("bench", "latency", "--bundle", str(b), "--frames", "12", "--per-frame", "6", "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for k in ("p50_ms", "p95_ms", "max_ms", "clip_seconds", "baseline_seconds", "ratio_vs_baseline"):
        assert isinstance(d[k], float) and d[k] > 0, k
    assert d["p50_ms"] <= d["p95_ms"] <= d["max_ms"] and d["clip_frames"] == 12
    assert len(d["cores"]) <= 2 and d["threads"] == 2 and (d["width"], d["height"]) == (960, 540)
    assert (d["element"], d["budget_ms"], d["limit_ms"]) == ("PlayerDetect_v1@1.0", 200.0, 210.0)  # the default


def test_latency_budget_comes_from_the_element(tmp_path, models):
    """kit.latency judges p95 against the element's latency_p95_ms + the sandbox's 10 ms (upstream's 100 ms
    fallback for an element without one), never a constant; the report names the element and the limit."""
    from kit.latency import Budget, budget_of, format_report, measure

    from conftest import REFERENCE

    fixture = REFERENCE / "validator-ea7412f" / "full_private_tcg_manifest.json"
    assert budget_of() == Budget("PlayerDetect_v1@1.0", 200.0, 10.0)  # the example manifest's clip element
    assert budget_of("manak0/Detect-fire", fixture).limit_ms == 110.0  # "latency_p95_ms": 100 in the fixture
    assert budget_of("manako/DetectCricketDelivery", fixture).p95_ms == 100.0  # none given: CHECKER_LATENCY_P95_MS
    assert budget_of(250).limit_ms == 260.0
    with pytest.raises(KitError, match="did you mean 'PlayerDetect_v1@1.0'"):
        budget_of("PlayerDetect")
    b = make_bundle(tmp_path / "b", *models)
    tight = measure(b, frames=3, per_frame=3, baseline=False, element=0.001)
    loose = measure(b, frames=3, per_frame=3, baseline=False, element=1e6)
    assert not tight.p95_ok and loose.p95_ok and (tight.limit_ms, loose.element) == (10.001, None)
    assert "OVER the p95 limit 10.001 ms = the budget 0.001 + 10 ms tolerance" in format_report(tight)


def test_package_for_an_element_maps_the_miners_classes_onto_its_objects(tmp_path):
    """`--element`: the element's objects go into miner.json; a class the element does not list is never sent."""
    from kit.comply import load_miner
    from kit.contract import frame_dicts
    from kit.synth import render_frames

    out = package(tmp_path / "ball", element="DetectBall_v1@1.0")
    assert json.loads((out / "miner.json").read_text()) == {"objects": ["ball"], "element_id": "DetectBall_v1@1.0"}
    frames = [f for f, _ in render_frames(6, seed=21)]
    boxes = [b for fr in frame_dicts(load_miner(out).predict_batch(frames, 0, 32)) for b in fr["boxes"]]
    assert all(b["cls_id"] == 0 for b in boxes)
    with pytest.raises(KitError, match="lists no objects"):
        package(tmp_path / "pitch", element="PitchCalib_v1@1.0")
