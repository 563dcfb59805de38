"""kit.train: presets, clear errors, and the smoke preset end to end (train, export, package, predict, score)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit import KitError
from kit.train import PRESETS, preset, train


def test_presets_cover_both_tasks():
    for name in ("smoke", "cpu", "gpu"):
        for task in ("detect", "pose"):
            p = preset(name, task)
            assert p.epochs >= 1 and p.imgsz % 32 == 0
            assert p.export_hw[0] % 32 == 0 and p.export_hw[1] % 32 == 0
    assert PRESETS["smoke"]["detect"].epochs == 1
    with pytest.raises(KitError, match="preset 'fast'"):
        preset("fast", "detect")


def test_bad_inputs_say_what_to_do(tmp_path):
    with pytest.raises(KitError, match="tvkit dataset build"):
        train("detect", tmp_path / "nothing", "smoke")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: {0: a}\n")
    with pytest.raises(KitError, match="not a pose dataset"):
        train("pose", tmp_path / "data.yaml", "smoke")
    with pytest.raises(KitError, match="offline"):
        train("detect", tmp_path / "data.yaml", "smoke", weights="yolo11n.pt")
    with pytest.raises(KitError, match="nothing to resume"):
        train("detect", tmp_path / "data.yaml", "smoke", project=tmp_path / "runs", name="none", resume=True)


@pytest.mark.slow
def test_smoke_preset_end_to_end(tmp_path):
    from kit.bundle import package, predict_video
    from kit.datasets import build_from_clips
    from kit.evaluate import evaluate
    from kit.synth import generate_clips

    clips = generate_clips(tmp_path / "clips", 3, 16, seed=11, progress=False)
    ds = build_from_clips(tmp_path / "clips", tmp_path / "ds", stride=2, val_fraction=0.34, progress=False)
    runs = {}
    for task in ("detect", "pose"):
        r = train(task, ds.data_yamls[task], "smoke", project=tmp_path / "runs", name=task)
        assert r.onnx is not None and r.onnx.is_file() and r.onnx.stat().st_size > 1e6
        assert r.curves is not None and r.curves.is_file()
        m = json.loads((r.run_dir / "metrics.json").read_text())
        assert "mAP50" in m["metrics"] and "mAP50-95" in m["metrics"]
        if task == "pose":
            assert "kpt_mAP50" in m["metrics"]
        runs[task] = r
    with pytest.raises(KitError, match="finished"):
        train("detect", ds.data_yamls["detect"], "smoke", project=tmp_path / "runs", name="detect", resume=True)
    bundle = package(tmp_path / "bundle", runs["detect"].onnx, runs["pose"].onnx)
    video, truth = clips[0]
    pred = predict_video(bundle, video, batch_size=8)
    assert pred.answer["success"] and len(pred.answer["predictions"]["frames"]) == 16
    ev = evaluate(pred.answer, truth, video)
    assert ev.gate_passed and 0.0 <= ev.breakdown["final"] <= 1.0


REAL_POSE = __import__("conftest").SHARED / "data" / "real" / "soccer-field-localization-v9"


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_POSE / "data.yaml").is_file(), reason=f"{REAL_POSE}: the real export is not in ../shared")
def test_init_from_a_detect_checkpoint_trains_pose_on_combined_data(tmp_path):
    """--init: a COCO-style detector's backbone starts the pose model, training keeps it (no
    pretrained=False), two --data make one combined data.yaml; a tiny smoke run."""
    import subprocess

    import torch
    import yaml
    from ultralytics import YOLO

    from kit.datasets import import_export

    from conftest import REPO, TVKIT

    shipped = REPO / "data" / "init" / "yolov8n-coco-smartrail.pt"  # optional, see the README (AGPL-3.0, not shipped)
    ckpt = shipped if shipped.is_file() else tmp_path / "yolov8n-random.pt"
    if not shipped.is_file():
        YOLO("yolov8n.yaml").save(str(ckpt))
    src = tmp_path / "src"
    for split in ("train", "valid", "test"):
        for sub in ("images", "labels"):
            (src / split / sub).mkdir(parents=True)
    (src / "data.yaml").symlink_to(REAL_POSE / "data.yaml")
    for split in ("train", "valid"):
        for img in sorted((REAL_POSE / split / "images").glob("*.jpg"))[:4]:
            (src / split / "images" / img.name).symlink_to(img)
            (src / split / "labels" / (img.stem + ".txt")).symlink_to(
                REAL_POSE / split / "labels" / (img.stem + ".txt"))
    a = import_export(src, tmp_path / "a", task="pose", split="keep", size=(320, 180), progress=False)
    b = import_export(src, tmp_path / "b", task="pose", split="keep", size=(320, 180), progress=False)
    r = subprocess.run([TVKIT, "train", "--task", "pose", "--data", str(a.data_yaml), "--data", str(b.data_yaml),
                        "--val-data", str(b.data_yaml), "--init", str(ckpt), "--epochs", "1", "--imgsz", "160",
                        "--batch", "4", "--no-export",
                        "--project", str(tmp_path / "runs"), "--name", "init", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)["pose"]
    assert out["params"]["init"] == str(ckpt) and "backbone and neck into a pose model" in out["params"]["start"]
    assert out["params"]["flipud"] == 0.0 and out["params"]["fliplr"] == 0.5 and "pretrained" not in out["params"]
    combined = yaml.safe_load((tmp_path / "runs" / "init-pose-data.yaml").read_text())
    assert combined["val"] == [str(tmp_path / "b" / "images" / "val")]  # --val-data: only b validates
    assert len(combined["train"]) == 2 and combined["flip_idx"] == list(__import__("kit.pitch").pitch.FLIP_IDX)
    start = YOLO(str(ckpt)).model.model[0].conv.weight.detach().float()
    trained = torch.load(out["last"], map_location="cpu", weights_only=False)
    after = (trained["ema"] or trained["model"]).model[0].conv.weight.detach().float()
    # one epoch on 8 images moves the first layer a little; a fresh start would be unrelated
    # (1.3 for a fresh yolov8n-pose first layer against this checkpoint)
    assert float((after - start).norm() / start.norm()) < 0.3


def test_combine_data_validates_on_the_chosen_sets_only(tmp_path):
    """val_from keeps the val folders of the named datasets (the real one), trains on all."""
    import yaml

    from kit.train import combine_data

    def dataset(name: str) -> Path:
        root = tmp_path / name
        for split in ("train", "val"):
            (root / "images" / split).mkdir(parents=True)
        (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images/train",
                                                         "val": "images/val", "names": {0: "ball"}}))
        return root / "data.yaml"

    synth, real, other = dataset("synth"), dataset("real"), dataset("other")
    out = yaml.safe_load(combine_data([synth, real], tmp_path / "mix.yaml", val_from=[real]).read_text())
    assert out["train"] == [str(tmp_path / "synth/images/train"), str(tmp_path / "real/images/train")]
    assert out["val"] == [str(tmp_path / "real/images/val")]
    everything = yaml.safe_load(combine_data([synth, real], tmp_path / "all.yaml").read_text())
    assert len(everything["val"]) == 2
    with pytest.raises(KitError, match="must be one of the combined datasets"):
        combine_data([synth, real], tmp_path / "bad.yaml", val_from=[other])
