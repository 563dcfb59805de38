"""Real labelled exports (../shared/data/real, Roboflow, CC BY 4.0): import, keypoint order, group splits,
COCO, errors by file and line, and a bundle evaluated on real frames."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from kit import KitError, pitch
from kit.datasets import check_dataset, read_labels
from kit.datasets.exports import as_kit_dataset, group_of, import_export, source_name, split_by_group
from kit.datasets.order import apply_order, check_keypoint_order

from conftest import SHARED, TVKIT

REAL = SHARED / "data" / "real"
POSE_SRC = REAL / "soccer-field-localization-v9"
DETECT_SRC = REAL / "football-players-detection-v1"
pytestmark = pytest.mark.skipif(not (POSE_SRC / "data.yaml").is_file() or not (DETECT_SRC / "data.yaml").is_file(),
                                reason=f"{REAL}: the real Roboflow exports are not beside the repo (../shared)")


def all_images(src: Path) -> list[Path]:
    return sorted(p for s in ("train", "valid", "test") for p in (src / s / "images").glob("*.jpg"))


def tiny_export(root: Path, src: Path, images: list[Path], edit=None) -> Path:
    """A small export laid out like `src` (its data.yaml and README), images linked, labels copied
    (or rewritten by `edit(label_text) -> text`)."""
    root.mkdir(parents=True)
    for split in ("train", "valid", "test"):
        for sub in ("images", "labels"):
            (root / split / sub).mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            (root / f.name).symlink_to(f)
    for img in images:
        split = img.parent.parent.name
        (root / split / "images" / img.name).symlink_to(img)
        label = img.parent.parent / "labels" / (img.stem + ".txt")
        text = label.read_text()
        (root / split / "labels" / label.name).write_text(edit(text) if edit else text)
    return root


def pick(src: Path, groups: list[str], per_group: int) -> list[Path]:
    by: dict[str, list[Path]] = {}
    for p in all_images(src):
        by.setdefault(group_of(p), []).append(p)
    return [p for g in groups for p in by[g][:per_group]]


POSE_GROUPS = ["worldcup2", "video_1", "video_3", "42ba34_2", "121364_4"]


@pytest.fixture(scope="module")
def pose_import(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pose")
    src = tiny_export(tmp / "src", POSE_SRC, pick(POSE_SRC, POSE_GROUPS, 4))
    return src, import_export(src, tmp / "out", task="pose", test_groups=["worldcup2"], progress=False)


def test_import_restores_aspect_ignores_v0_and_replaces_flip_idx(pose_import):
    src, r = pose_import
    out = r.data_yaml.parent
    assert r.size == (960, 540) and any("640x640 (Stretch)" in n and "960 x 540" in n for n in r.notes)
    assert any("flip_idx" in n and "FLIP_IDX" in n for n in r.notes)
    data = yaml.safe_load(r.data_yaml.read_text())
    assert data["flip_idx"] == list(pitch.FLIP_IDX) and data["kpt_shape"] == [32, 3]
    for img in (out / "images").rglob("*.jpg"):
        assert cv2.imread(str(img)).shape[:2] == (540, 960)
    # a source label whose v = 0 points carry stale, non-zero coordinates: they come out 0 0 0
    n_stale = 0
    for label in (src).rglob("labels/*.txt"):
        kp = np.array(label.read_text().split(), float)[5:].reshape(32, 3)
        stale = (kp[:, 2] == 0) & (kp[:, :2] != 0).any(axis=1)
        if not stale.any():
            continue
        (written,) = list(out.rglob(f"labels/*/{label.name}"))
        new = np.array(written.read_text().split(), float)[5:].reshape(32, 3)
        assert (new[stale] == 0).all() and np.allclose(new[kp[:, 2] > 0, :2], kp[kp[:, 2] > 0, :2], atol=1e-5)
        n_stale += 1
    assert n_stale > 3, "the export has v = 0 points with stale coordinates"
    assert r.order["verdict"] == "ok" and r.order["median_error_template_px"] < 8
    stats = check_dataset(r.data_yaml)
    assert sum(stats.images.values()) == 20 and stats.image_sizes == {"960 x 540": 20}


def test_group_split_never_puts_one_group_in_two_splits(pose_import, tmp_path):
    _, r = pose_import
    assert r.groups["test"] == ["worldcup2"]
    seen: dict[str, str] = {}
    for img in (r.data_yaml.parent / "images").rglob("*.jpg"):
        split, g = img.parent.name, group_of(img)
        assert seen.setdefault(g, split) == split, f"group {g} in {seen[g]} and {split}"
    assert sorted(seen) == sorted(POSE_GROUPS)
    # on every real file name, at clip and match level, for several seeds
    names = all_images(DETECT_SRC) + all_images(POSE_SRC)
    assert source_name(names[0]).count(".") == 0
    for level in ("clip", "match"):
        sizes: dict[str, int] = {}
        for p in names:
            sizes[group_of(p, level)] = sizes.get(group_of(p, level), 0) + 1
        for seed in range(3):
            split = split_by_group(sizes, 0.15, 0.15, seed)
            assert set(split.values()) == {"train", "val", "test"} and set(split) == set(sizes)
    assert group_of("08fd33_0_10_png.rf.0123456789abcdef.jpg", "match") == "08fd33"
    with pytest.raises(KitError, match="matches no group"):
        split_by_group({"a": 1, "b": 2, "c": 3}, test_groups=["worldcup9"])


def test_as_kit_dataset_holds_out_what_a_training_record_held_out(pose_import, tmp_path):
    """A raw export is imported with the record's test groups pinned (those it has), a kit
    dataset is used as it is; the shipped reference record names its held-out groups."""
    src, done = pose_import
    record = {"real": {"pose": {"groups": {"test": ["video_1", "not_in_this_export"]}}}}
    made = as_kit_dataset(src, tmp_path / "pinned", "pose", held_out_from=record)
    assert yaml.safe_load(made.read_text())["kit"]["groups"]["test"] == ["video_1"]
    assert as_kit_dataset(done.data_yaml, tmp_path / "unused", "pose") == done.data_yaml
    assert not (tmp_path / "unused").exists()
    plain = as_kit_dataset(src / "data.yaml", tmp_path / "plain", "pose", held_out_from={"real": {}})
    usual = import_export(src, tmp_path / "usual", task="pose", progress=False)
    assert yaml.safe_load(plain.read_text())["kit"]["groups"] == usual.groups  # nothing pinned: the seeded split
    reference = json.loads((Path(__file__).resolve().parents[1] / "chute_template/reference/run.json").read_text())
    assert reference["real"]["pose"]["groups"]["test"] == ["worldcup2"]
    assert len(reference["real"]["detect"]["groups"]["test"]) >= 5


def test_an_export_is_imported_once_into_the_cache_and_again_when_it_changes(pose_import, tmp_path, monkeypatch):
    """`as_kit_dataset(src, None, ...)`: the first call imports into the kit's cache, the next
    returns that very import; an edited label file or other held-out groups make a new one."""
    monkeypatch.setenv("TVKIT_CACHE_DIR", str(tmp_path / "cache"))
    src, done = pose_import
    first = as_kit_dataset(src, None, "pose", held_out_from={"real": {"pose": {"groups": {"test": ["video_1"]}}}})
    assert first.is_relative_to(tmp_path / "cache" / "imports")
    data = yaml.safe_load(first.read_text())
    assert data["path"] == str(first.parent) and data["kit"]["groups"]["test"] == ["video_1"]
    assert check_dataset(first).images["test"] > 0    # the paths inside point at the entry, not the work folder
    stamp = first.stat().st_mtime_ns
    again = as_kit_dataset(src, None, "pose", held_out_from={"real": {"pose": {"groups": {"test": ["video_1"]}}}})
    assert again == first and again.stat().st_mtime_ns == stamp
    other = as_kit_dataset(src, None, "pose", held_out_from={"real": {"pose": {"groups": {"test": ["video_3"]}}}})
    assert other != first and yaml.safe_load(other.read_text())["kit"]["groups"]["test"] == ["video_3"]
    label = next((src / "train" / "labels").glob("*.txt"))
    label.write_text(label.read_text())   # same text, new modification time: the export may have changed
    label_changed = as_kit_dataset(src, None, "pose",
                                   held_out_from={"real": {"pose": {"groups": {"test": ["video_1"]}}}})
    assert label_changed != first
    assert sorted(p.name.startswith(".") for p in (tmp_path / "cache" / "imports").iterdir()) == [False] * 3

def real_pose_labels() -> list[np.ndarray]:
    out = []
    for img in all_images(POSE_SRC):
        li = read_labels(img.parent.parent / "labels" / (img.stem + ".txt"), img, 1, (32, 3))
        k = li.keypoints[0].copy()
        k[:, 0] *= 960
        k[:, 1] *= 540
        out.append(k)
    return out


def test_permuted_keypoint_order_is_detected_and_named(tmp_path):
    kpts = np.array(real_pose_labels())
    assert check_keypoint_order(kpts).verdict == "ok"
    for a, b in ((13, 14), (31, 32), (1, 6)):
        rep = check_keypoint_order(apply_order(kpts, [(a, b)]))
        assert rep.verdict == "swapped" and rep.swap == (a, b), rep.message
        assert f"--swap-keypoints {a},{b}" in rep.message
    rep = check_keypoint_order(apply_order(kpts, mirror=True))
    assert rep.verdict == "mirrored" and "--mirror-keypoints" in rep.message

    def swap_9_22(text: str) -> str:
        v = np.array(text.split(), float)
        k = apply_order(v[5:].reshape(32, 3), [(9, 22)])
        return " ".join(f"{x:g}" for x in [*v[:5], *k.ravel()]) + "\n"

    src = tiny_export(tmp_path / "swapped", POSE_SRC, pick(POSE_SRC, POSE_GROUPS, 6), edit=swap_9_22)
    with pytest.raises(KitError, match=r"keypoints 9 \(left penalty spot\) and 22 \(right penalty spot\) look "
                                       r"swapped.*--swap-keypoints 9,22"):
        import_export(src, tmp_path / "out", task="pose", progress=False)
    assert not (tmp_path / "out").exists()
    r = import_export(src, tmp_path / "out", task="pose", swap_keypoints=[(9, 22)], size=(320, 180), progress=False)
    assert r.order["verdict"] == "ok"


def test_coco_import_matches_the_yolo_labels(tmp_path):
    images = pick(DETECT_SRC, ["08fd33_0", "2e57b9_1", "42ba34_1"], 2)
    yolo = tiny_export(tmp_path / "yolo", DETECT_SRC, images)
    coco = tmp_path / "coco"
    coco.mkdir()
    (coco / "README.roboflow.txt").symlink_to(DETECT_SRC / "README.roboflow.txt")
    names = yaml.safe_load((DETECT_SRC / "data.yaml").read_text())["names"]
    doc = {"images": [], "annotations": [], "categories": [{"id": 0, "name": "players", "supercategory": "none"}] + [
        {"id": i + 1, "name": n, "supercategory": "players"} for i, n in enumerate(names)]}
    for i, img in enumerate(images):
        (coco / "train").mkdir(exist_ok=True)
        (coco / "train" / img.name).symlink_to(img)
        doc["images"].append({"id": i, "file_name": img.name, "width": 1280, "height": 1280})
        for row in (img.parent.parent / "labels" / (img.stem + ".txt")).read_text().splitlines():
            c, cx, cy, w, h = (float(v) for v in row.split())
            doc["annotations"].append({"id": len(doc["annotations"]), "image_id": i, "category_id": int(c) + 1,
                                       "bbox": [(cx - w / 2) * 1280, (cy - h / 2) * 1280, w * 1280, h * 1280]})
    (coco / "train" / "_annotations.coco.json").write_text(json.dumps(doc))
    kw = dict(size=(640, 360), progress=False, split="group", val_fraction=0.3, test_fraction=0.0)
    r_coco = import_export(coco, tmp_path / "from_coco", **kw)
    r_yolo = import_export(yolo, tmp_path / "from_yolo", **kw)
    assert r_coco.mapping["football"] == "ball" and "players" not in r_coco.mapping
    assert r_coco.instances == r_yolo.instances and r_coco.groups == r_yolo.groups
    for label in (tmp_path / "from_yolo" / "labels").rglob("*.txt"):
        a = np.array([r.split() for r in label.read_text().splitlines()], float)
        b = np.array([r.split() for r in (tmp_path / "from_coco" / label.relative_to(tmp_path / "from_yolo"))
                      .read_text().splitlines()], float)
        assert np.allclose(a[np.lexsort(a.T[::-1])], b[np.lexsort(b.T[::-1])], atol=2e-6)
    doc["annotations"][3]["category_id"] = 42
    (coco / "train" / "_annotations.coco.json").write_text(json.dumps(doc))
    with pytest.raises(KitError, match=re.escape(str(coco / "train" / "_annotations.coco.json"))
                       + r": annotations\[3\] \(id 3\): category_id 42"):
        import_export(coco, tmp_path / "bad", **kw)


def test_bad_label_line_names_file_and_line(tmp_path):
    images = pick(DETECT_SRC, ["08fd33_0", "2e57b9_1"], 2)
    src = tiny_export(tmp_path / "src", DETECT_SRC, images)
    label = next(src.rglob(f"labels/{images[1].stem}.txt"))
    n = len(label.read_text().splitlines())
    label.write_text(label.read_text().rstrip("\n") + "\n2 0.5 0.5 0.1\n")  # exports end without a newline
    with pytest.raises(KitError, match=re.escape(f"{label}:{n + 1}: 4 fields, expected 5")):
        import_export(src, tmp_path / "out", progress=False)
    pose = tiny_export(tmp_path / "pose", POSE_SRC, pick(POSE_SRC, ["video_1"], 1))
    (label,) = list(pose.rglob("labels/*.txt"))
    v = label.read_text().split()
    v[5 + 3 * 4 + 2] = "5"  # keypoint 5's visibility
    label.write_text(" ".join(v) + "\n")
    with pytest.raises(KitError, match=re.escape(f"{label}:1: keypoint 5 has visibility 5")):
        import_export(pose, tmp_path / "pout", task="pose", split="keep", progress=False)


@pytest.fixture(scope="module")
def reference_bundle(tmp_path_factory):
    from kit.bundle import package

    return package(tmp_path_factory.mktemp("bundle") / "bundle", run_self_test=False)


def test_evaluate_command_on_real_frames(reference_bundle, tmp_path):
    r = subprocess.run([TVKIT, "dataset", "evaluate", "--data", str(POSE_SRC / "data.yaml"), "--split", "test",
                        "--bundle", str(reference_bundle), "--frames", "3", "--json", "--report",
                        str(tmp_path / "rep")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    def strict(name):
        raise AssertionError(f"{name} in the JSON output: not JSON")

    s = json.loads(r.stdout, parse_constant=strict)["summary"]
    k = s["keypoints"]
    assert s["frames"] == 3 and k["frames"] == 3
    assert 0 <= k["within_15px"] <= 1 and (k["median_px"] is None or k["median_px"] >= 0)
    assert 0 < k["score_labels"] <= 1 and 0 <= k["score_miner"] <= 1
    assert (tmp_path / "rep" / "worst_keypoints.png").is_file()
    saved = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert len(saved["frames"]) == 3 and all(f["kp_labelled"] > 0 for f in saved["frames"])

    from kit.datasets.labelled import evaluate_labelled, format_labelled

    ev = evaluate_labelled(DETECT_SRC / "data.yaml", reference_bundle, "test", max_frames=2,
                           report=tmp_path / "det")
    b = ev.summary["boxes"]
    assert set(b) == {"iou50", "adaptive"} and "person" in b["iou50"] and "ball" in b["iou50"]
    person = b["adaptive"]["person"]
    assert person["tp"] + person["fn"] > 20, "two frames of the box set hold dozens of people"
    assert "F1@adapt" in format_labelled(ev) and (tmp_path / "det" / "worst_boxes.png").is_file()
    r = subprocess.run([TVKIT, "dataset", "evaluate", "--data", str(POSE_SRC / "data.yaml"), "--split", "test",
                        "--bundle", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no miner.py" in r.stderr
