"""Image (Detect) elements end to end: packaging refusals, `tvkit predict --images`, the image
challenge bodies, a dry run in the official chute, and the compliance loop on photos."""

import base64
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from kit import KitError
from kit.bundle import IMAGE_REFERENCE_MODEL, REFERENCE_DIR, package, repo_files
from kit.chute.rehearse import image_challenge_for
from kit.cli import main
from kit.comply import comply, format_report
from kit.comply.rules import HF_GITATTRIBUTES_BYTES, check_repo
from kit.manifest import load_manifest

SHARED = Path(__file__).resolve().parents[2] / "shared"
MANIFEST = SHARED / "reference" / "validator-ea7412f" / "full_private_tcg_manifest.json"
FIRE_PHOTOS = SHARED / "data" / "detect" / "fire-smoke" / "test" / "images"


def _photos(n: int) -> list[Path]:
    if not FIRE_PHOTOS.is_dir():
        pytest.fail(f"{FIRE_PHOTOS} missing: the tests read the shared fire-smoke photos")
    return sorted(FIRE_PHOTOS.glob("*.jpg"))[:n]


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(MANIFEST)


@pytest.fixture(scope="module")
def fire(manifest):
    return manifest.element("manak0/Detect-fire")


@pytest.fixture(scope="module")
def fire_bundle(tmp_path_factory, fire):
    return package(tmp_path_factory.mktemp("fire") / "bundle", element=fire)


def _renamed(tmp_path: Path, names: list[str] | None) -> Path:
    """The reference fire model with other class names in its metadata (None: no names at all)."""
    m = onnx.load(str(IMAGE_REFERENCE_MODEL))
    props = [p for p in m.metadata_props if p.key != "names"]
    del m.metadata_props[:]
    m.metadata_props.extend(props)
    if names is not None:
        m.metadata_props.add(key="names", value=repr(dict(enumerate(names))))
    out = tmp_path / "renamed.onnx"
    onnx.save(m, str(out))
    return out


# --- package --------------------------------------------------------------------------------------

def test_the_fire_bundle_is_the_detect_miner_with_the_reference_model(fire_bundle):
    assert sorted(p.name for p in fire_bundle.iterdir()) == ["chute_config.yml", "miner.json", "miner.py",
                                                              "model.onnx"]
    assert "Generic Turbo Vision (subnet 44) Detect miner" in (fire_bundle / "miner.py").read_text()
    assert (fire_bundle / "model.onnx").read_bytes() == IMAGE_REFERENCE_MODEL.read_bytes()
    cfg = json.loads((fire_bundle / "miner.json").read_text())
    assert (cfg["element_id"], cfg["input"], cfg["model"]) == ("manak0/Detect-fire", [288, 512], "model.onnx")
    assert check_repo(fire_bundle, max_model_size_mb=30) == []


def test_the_football_detector_is_refused_for_the_fire_element(tmp_path, fire):
    with pytest.raises(KitError) as e:
        package(tmp_path / "b", element=fire, model=REFERENCE_DIR / "detect.onnx", run_self_test=False)
    msg = str(e.value)
    assert "['ball', 'goalkeeper', 'player', 'referee']" in msg and "['fire', 'smoke', 'fire extinguisher']" in msg
    assert "--model" in msg and not (tmp_path / "b").exists()


def test_unrelated_classes_are_refused_and_partial_ones_named(tmp_path, fire, capsys):
    with pytest.raises(KitError, match=r"\['cat', 'dog', 'bird'\] cover none of manak0/Detect-fire"):
        package(tmp_path / "a", element=fire, model=_renamed(tmp_path, ["cat", "dog", "bird"]), run_self_test=False)
    with pytest.raises(KitError, match="no class names in its metadata"):
        package(tmp_path / "a", element=fire, model=_renamed(tmp_path, None), run_self_test=False)
    out = package(tmp_path / "b", element=fire, model=_renamed(tmp_path, ["Smokes", "cat", "Fire"]),
                  run_self_test=False)
    assert json.loads((out / "miner.json").read_text())["class_map"] == [1, None, 0]
    assert "cannot find ['fire extinguisher']" in capsys.readouterr().err


def test_the_default_model_is_refused_for_an_element_it_does_not_detect(tmp_path, manifest):
    with pytest.raises(KitError, match=r"no model for manak0/Detect-crime: .*detects \['fire', 'smoke', "
                                       r"'fire extinguisher'\].*pass --model"):
        package(tmp_path / "b", element=manifest.element("manak0/Detect-crime"), run_self_test=False)


def test_the_whole_repo_with_the_hubs_gitattributes_must_fit_the_cap(tmp_path, fire, fire_bundle):
    local = sum(n for name, n in repo_files(fire_bundle) if not name.startswith(".gitattributes"))
    # a cap the bundle's own files fit, but not with the Hub's .gitattributes
    cap = (local + HF_GITATTRIBUTES_BYTES / 2) / 2 ** 20
    with pytest.raises(KitError) as e:
        package(tmp_path / "b", element=replace(fire, max_model_size_mb=cap), run_self_test=False)
    msg = str(e.value)
    for name in ("model.onnx", "miner.py", "miner.json", "chute_config.yml", ".gitattributes (added by the Hub)"):
        assert name in msg
    assert f"max_model_size_mb {cap:g}" in msg and not (tmp_path / "b").exists()
    assert [f.rule for f in check_repo(fire_bundle, max_model_size_mb=cap)] == ["hf_repo_size_exceeds_max"]
    report = comply(fire_bundle, element=replace(fire, max_model_size_mb=cap))
    assert (report.verdict, report.rule) == ("FAIL_OUTPUT", "hf_repo_size_exceeds_max")


def test_a_single_model_is_refused_for_a_clip_element(tmp_path):
    with pytest.raises(KitError, match="clip element"):
        package(tmp_path / "b", element="PlayerDetect_v1@1.0", model=IMAGE_REFERENCE_MODEL, run_self_test=False)


# --- predict --------------------------------------------------------------------------------------

def test_predict_images_writes_one_answer_and_one_time_per_photo(tmp_path, fire_bundle, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in _photos(3):
        (photos / p.name).write_bytes(p.read_bytes())
    (photos / "notes.txt").write_text("not a photo")
    out = tmp_path / "answers.json"
    assert main(["predict", "--bundle", str(fire_bundle), "--images", str(photos), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    names = sorted(p.name for p in _photos(3))
    assert set(doc) == {"element", "answers", "latency_ms"} and doc["element"] == "manak0/Detect-fire"
    assert sorted(doc["answers"]) == names == sorted(doc["latency_ms"])
    for a in doc["answers"].values():
        assert a["success"] is True and a["error"] is None
        assert [f["frame_id"] for f in a["predictions"]["frames"]] == [0]
    assert all(v > 0 for v in doc["latency_ms"].values())
    printed = capsys.readouterr().out
    assert "p50" in printed and "p95" in printed and names[0] in printed
    assert main(["predict", "--bundle", str(fire_bundle)]) == 2
    assert "--video V.mp4" in capsys.readouterr().err


# --- challenges, dry run, comply ------------------------------------------------------------------

def test_image_challenges_are_built_as_upstream_builds_them(fire):
    photo = _photos(1)[0]
    body = image_challenge_for(photo, fire, "image_url", url="http://127.0.0.1:9/a.jpg")
    (frame,) = body["frames"]
    assert body["url"] is None and frame["frame_id"] == 0 and frame["url"] == "http://127.0.0.1:9/a.jpg"
    png = cv2.imdecode(np.frombuffer(base64.b64decode(frame["data"]), np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(png, cv2.imread(str(photo)))    # lossless: the same pixels as the photo decoded
    meta = body["meta"]
    assert (meta["n_frames_total"], meta["min_frames_required"], meta["frames_source"], meta["challenge_type_id"],
            meta["n_keypoints"], meta["width"], meta["height"]) == (1, 1, "image_url", 100, 32, 608, 608)
    payload = image_challenge_for(photo, fire, "payload", frame_id=7)
    assert (payload["frames"][0]["frame_id"], payload["frames"][0]["url"], payload["meta"]["frames_source"]) == \
        (7, None, "payload")
    with pytest.raises(KitError, match="url"):
        image_challenge_for(photo, fire, "image_url")


@pytest.fixture(scope="module")
def dry_run(fire_bundle, fire):
    from kit.chute.imagerun import dry_run_images

    return dry_run_images(fire_bundle, fire, images=_photos(2), max_images=2)


@pytest.mark.slow
def test_the_official_chute_answers_both_kinds_of_image_challenge(dry_run):
    from kit.chute.imagerun import format_image_dry_run

    assert [(c.source, c.rehearsal.answer["predictions"]["frames"][0]["frame_id"]) for c in dry_run.checks] == \
        [("image_url", 0), ("payload", 1), ("image_url", 0), ("payload", 2)]
    assert all(c.rehearsal.status == 200 and c.rehearsal.problems == [] and c.parity_ok for c in dry_run.checks)
    assert dry_run.ok and format_image_dry_run(dry_run).endswith("dry run: PASS")
    assert dry_run.health.get("status") == "healthy"


def test_comply_replays_photos_and_passes(fire_bundle, fire):
    # the 2026-05 live manifest's latency budget for this element (10000 ms, detect_elements.md §1.1): this
    # 2-core machine shares its cores with training runs, so the fixture's 100 ms is judged on `tvkit comply`
    relaxed = replace(fire, latency_p95_ms=10000)
    r = comply(fire_bundle, element=relaxed, clips=_photos(3))
    assert r.verdict == "PASS", format_report(r)
    assert [c.challenge_id for c in r.parity.challenges] == [p.stem for p in _photos(3)]
    assert r.parity.accepted == 3 and r.parity.mean_iou == 1.0
    assert len(r.latency.calls_ms) == 3 and r.latency.budget_ms == 10010
    strict = comply(fire_bundle, element=fire, clips=_photos(1))
    assert strict.latency.budget_ms == 110 and strict.verdict in ("PASS", "PENDING_LATENCY")
