"""kit.train: presets, clear errors, and the smoke preset end to end (train, export, package, predict, score)."""
from __future__ import annotations

import json

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
