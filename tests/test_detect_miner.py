"""The generic Detect miner (chute_template/detect/miner.py) on real photos.

Two bundles: the fire element's (the reference fire model, classes fire, smoke, fire
extinguisher) on the fire-smoke test photos, and one built from the football detector for an
image element listing football's objects in another order, so that boxes are many and real:
its decoding (letterbox, raw YOLOv8 head, per-class NMS, boxes back in the photo) is checked
box for box against ultralytics' own predictor on the same ONNX.
"""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from kit.bundle import REFERENCE_DIR, package
from kit.comply import load_miner
from kit.contract import frame_dicts, validate_answer
from kit.images.predict import predict_images
from kit.manifest import Element, load_manifest

SHARED = Path(__file__).resolve().parents[2] / "shared"
MANIFEST = SHARED / "reference" / "validator-ea7412f" / "full_private_tcg_manifest.json"
FIRE_PHOTOS = SHARED / "data" / "detect" / "fire-smoke" / "test" / "images"
FOOTBALL_PHOTOS = SHARED / "data" / "real" / "football-players-detection-v1" / "test" / "images"
#: An image element whose objects are football's, in another order and one the model lacks.
PLAYERS = Element("tvkit-test/Detect-players", objects=["referee", "Players", "Goalkeeper", "corner flag"],
                  challenge_type_id=990, max_model_size_mb=30, latency_p95_ms=100)


def _photos(folder: Path, n: int) -> list[Path]:
    if not folder.is_dir():
        pytest.fail(f"{folder} missing: the tests read the shared labelled photos")
    return sorted(folder.glob("*.jpg"))[:n]


@pytest.fixture(scope="module")
def fire_element():
    return load_manifest(MANIFEST).element("manak0/Detect-fire")


@pytest.fixture(scope="module")
def fire_bundle(tmp_path_factory, fire_element):
    return package(tmp_path_factory.mktemp("fire") / "bundle", element=fire_element)


@pytest.fixture(scope="module")
def players_bundle(tmp_path_factory):
    return package(tmp_path_factory.mktemp("players") / "bundle", element=PLAYERS,
                   model=REFERENCE_DIR / "detect.onnx", run_self_test=False)


def test_fire_answers_follow_the_contract_with_the_elements_objects(fire_bundle, fire_element):
    cfg = json.loads((fire_bundle / "miner.json").read_text())
    assert cfg["objects"] == ["fire", "smoke", "fire extinguisher"] and cfg["class_map"] == [0, 1, 2]
    r = predict_images(fire_bundle, _photos(FIRE_PHOTOS, 6))
    assert len(r.answers) == 6 and r.element == "manak0/Detect-fire"
    for name, answer in r.answers.items():
        w, h = r.sizes[name]
        assert validate_answer(answer, 1, w, h, frame_ids=[0], n_objects=len(fire_element.objects)) == [], name
        frame = answer["predictions"]["frames"][0]
        assert frame["frame_id"] == 0 and frame["keypoints"] == [[0, 0]] * 32


def _ultralytics_boxes(onnx: Path, img: np.ndarray, conf: float, iou: float) -> np.ndarray:
    from ultralytics import YOLO

    res = YOLO(str(onnx), task="detect").predict(img, imgsz=(384, 640), conf=conf, iou=iou, max_det=100,
                                                 device="cpu", verbose=False)[0]
    return res.boxes.data.numpy()   # x1 y1 x2 y2 conf cls, in the photo's pixels


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_decoding_matches_ultralytics_box_for_box_with_classes_mapped_by_name(players_bundle):
    cfg = json.loads((players_bundle / "miner.json").read_text())
    # model classes ball, goalkeeper, player, referee -> the element's referee 0, Players 1, Goalkeeper 2
    assert cfg["class_map"] == [None, 2, 1, 0]
    miner = load_miner(players_bundle)
    to_element = {1: 2, 2: 1, 3: 0}
    compared = 0
    for photo in _photos(FOOTBALL_PHOTOS, 3):
        img = cv2.imread(str(photo))
        mine = frame_dicts(miner.predict_batch([img], 0, 32))[0]["boxes"]
        ref = [r for r in _ultralytics_boxes(players_bundle / "model.onnx", img, 0.25, 0.5) if int(r[5]) in to_element]
        assert len(mine) == len(ref) > 0, photo.name
        for r in ref:
            same = [b for b in mine if b["cls_id"] == to_element[int(r[5])]]
            best = max(same, key=lambda b: _iou(r[:4], (b["x1"], b["y1"], b["x2"], b["y2"])))
            # the same box up to the miner's rounding to whole pixels
            assert np.abs(np.array([best["x1"], best["y1"], best["x2"], best["y2"]]) - r[:4]).max() <= 1.0, (best, r)
            assert abs(best["conf"] - float(r[4])) < 2e-3
            compared += 1
        h, w = img.shape[:2]
        assert all(0 <= b["x1"] < b["x2"] <= w and 0 <= b["y1"] < b["y2"] <= h for b in mine)
    assert compared >= 10


def test_one_result_per_image_in_order_for_any_batch(players_bundle):
    miner = load_miner(players_bundle)
    imgs = [cv2.imread(str(p)) for p in _photos(FOOTBALL_PHOTOS, 3)]
    one_by_one = [frame_dicts(miner.predict_batch([im], 0, 32))[0]["boxes"] for im in imgs]
    batch = frame_dicts(miner.predict_batch(imgs + [cv2.cvtColor(imgs[0], cv2.COLOR_BGR2GRAY)], 64, 0))
    assert [f["frame_id"] for f in batch] == [64, 65, 66, 67]
    assert [f["boxes"] for f in batch[:3]] == one_by_one
    assert all(f["keypoints"] == [] for f in batch)
    assert miner.predict_batch([], 0, 32) == []


def test_per_object_thresholds_and_max_det_come_from_miner_json(players_bundle, tmp_path):
    b = tmp_path / "b"
    shutil.copytree(players_bundle, b)
    cfg = json.loads((b / "miner.json").read_text())
    img = cv2.imread(str(_photos(FOOTBALL_PHOTOS, 1)[0]))
    base = frame_dicts(load_miner(b).predict_batch([img], 0, 0))[0]["boxes"]
    assert {1} <= {x["cls_id"] for x in base}
    cfg.update(conf={"default": 0.25, "Players": 1.01}, max_det=2)
    (b / "miner.json").write_text(json.dumps(cfg))
    tight = frame_dicts(load_miner(b).predict_batch([img], 0, 0))[0]["boxes"]
    assert len(tight) <= 2 and all(x["cls_id"] != 1 for x in tight)
    others = sorted((x for x in base if x["cls_id"] != 1), key=lambda x: -x["conf"])[:2]
    assert tight == others
    cfg["conf"] = {"default": 0.25, "plaeyr": 0.5}
    (b / "miner.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="plaeyr"):
        load_miner(b)


def test_the_sandboxed_replay_gives_the_chutes_boxes(players_bundle):
    from dataclasses import replace

    from kit.comply import comply, format_report

    # a budget this shared 2-core machine can meet (the live manifest of 2026-05 gave Detect 10000 ms)
    r = comply(players_bundle, element=replace(PLAYERS, latency_p95_ms=10000), clips=_photos(FOOTBALL_PHOTOS, 2))
    assert r.verdict == "PASS", format_report(r)
    assert all(c.compare["matched_detections"] == c.compare["expected_detections"] > 5 for c in r.parity.challenges)
    assert r.parity.mean_iou == 1.0
