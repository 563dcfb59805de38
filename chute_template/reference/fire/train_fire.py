"""How the reference Detect model for fire/smoke elements was made, step by step; each step records into run.json.

Usage (from the repo root, `../shared/data/detect/fire-smoke` beside the clone):
    .venv/bin/python chute_template/reference/fire/train_fire.py prepare
    .venv/bin/python chute_template/reference/fire/train_fire.py train pretrained   # from the kit's start
    .venv/bin/python chute_template/reference/fire/train_fire.py train scratch      # same run, random weights
    .venv/bin/python chute_template/reference/fire/train_fire.py train zoomout      # pretrained's best, zoomed out
    .venv/bin/python chute_template/reference/fire/train_fire.py held-out           # every run + the start, test scenes
    .venv/bin/python chute_template/reference/fire/train_fire.py ship pretrained    # best.pt at 288 x 512
    .venv/bin/python chute_template/reference/fire/train_fire.py tune               # thresholds: val, then test

- Data: the Roboflow export `fire-wrpgm` v8 (CC BY 4.0), imported by name onto the element's
  objects (`Fire` -> fire, `smoke` -> smoke, the whole-frame placeholder `default` dropped), restored
  from its 608 x 608 stretch to 16:9, split by SCENE (near-duplicate cluster and video joined:
  `scenes.json`), seed 9 of `split_by_group` at 10% val / 15% test: the first seed whose val and
  test both hold fire and smoke in numbers (seeds 0-19 were listed; picked on the split's class
  counts, never on a score). No fire extinguisher is labelled in this set.
- Start: the kit's pretrained start (`kit.images.starts`), a YOLOv8n detector; `scratch` is the
  same run from `yolov8n.yaml`.
- Photo augmentation (not the football one): mosaic on until the last 2 epochs, scale 0.75 (the
  set's boxes are 19-53% of the frame, challenge photos' about 1%: zooming out is what transfers),
  left-right flips, HSV, no vertical flip or rotation.
- Thresholds: `tvkit tune` on the shipped model (chosen on the val scenes by the exact score,
  reported on the test scenes); run.json's `miner` is what `tvkit package` writes into the
  miner.json of a bundle of this model.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from kit.contract import write_json_atomic  # noqa: E402

HERE = Path(__file__).resolve().parent
RUN_JSON = HERE / "run.json"
SRC = ROOT.parent / "shared" / "data" / "detect" / "fire-smoke"
WORK = ROOT / "data" / "ref-fire"
ELEMENT = "kit-example/Detect-fire"  # the kit's example of upstream's manak0/Detect-fire
OBJECTS = ["fire", "smoke", "fire extinguisher"]
SPLIT = {"val_fraction": 0.1, "test_fraction": 0.15, "seed": 9}
# The `cpu` photo preset (512 px, export 384 x 640, kit.train.PHOTO_PRESETS) under a time budget:
# ultralytics fits the epoch count and the LR schedule (and the last 2 mosaic-free epochs) to
# it. Both runs get the same budget, side by side, one core each (an epoch is ~10 min here).
TRAIN = {"time": 1.1}
# Stage two, `zoomout`: the pretrained run's best.pt trained on with the zoom range widened to
# 0.1-1.9 (ultralytics `scale` 0.9, inside mosaic): boxes of 19-53% of a frame become the 1-5% of
# photos from other sources (a second set scored 0.018 before it, check_second_set.py). A lower
# learning rate and a short warm-up: it starts from trained weights. Same core, 0.75 h.
# Measured (run.json `zoomout_check`): worse on both sets (hot-fire 0.014 vs 0.018, held-out
# scenes 0.305 vs 0.376), so not shipped; the step stays as the record of the attempt.
ZOOMOUT = {"time": 0.75, "scale": 0.9, "lr0": 0.003, "warmup_epochs": 0.5, "close_mosaic": 1}
EXPORT_HW = (384, 640)  # what the runs exported (the preset's size when they ran)
# Shipped at the training scale: on the held-out scenes 288 x 512 scored 0.376 vs 0.370 at
# 384 x 640, with p95 77 vs 101 ms a photo (held-out step, run.json).
SHIP_HW = (288, 512)


def record(key: str, value) -> None:
    doc = json.loads(RUN_JSON.read_text()) if RUN_JSON.is_file() else {}
    doc[key] = value
    write_json_atomic(RUN_JSON, doc, indent=2)


def prepare() -> None:
    from kit.images.importer import import_images

    r = import_images(SRC, WORK / "data", OBJECTS, drop=["default"], **SPLIT)
    print(r)
    record("data", {"source": "fire-wrpgm v8, Roboflow Universe workspace custom-thxhn, CC BY 4.0 "
                              "(../shared/data/detect/fire-smoke)", **SPLIT, **r.to_dict(),
                    "data_yaml": str(r.data_yaml.relative_to(ROOT))})


def train(which: str) -> None:
    """`tvkit train --element` as a miner runs it: from the kit's start, the same from scratch, or stage two."""
    from kit.images.train import train_element
    from kit.manifest import load_manifest

    element = load_manifest().element(ELEMENT)
    started = time.time()
    if which == "zoomout":
        best = Path(json.loads(RUN_JSON.read_text())["run_pretrained"]["run_dir"]) / "weights" / "best.pt"
        kw = {"init": best, **ZOOMOUT}
    else:
        kw = {"from_scratch": which == "scratch", **TRAIN}
    r = train_element(element, WORK / "data" / "data.yaml", "cpu", project=WORK / "runs", name=which, **kw)
    record(f"run_{which}", {**r.record, "run_dir": str(r.run_dir), "wall_s": round(time.time() - started, 1)})
    print(r.format())


def _score(name: str, onnx: Path, split: str = "test") -> dict:
    """Package `onnx` for the element, answer every `split` photo through the miner, score exactly."""
    from kit.bundle import package
    from kit.images.predict import predict_images
    from kit.images.score import evaluate_images, load_truth
    from kit.manifest import load_manifest

    element = load_manifest().element(ELEMENT)
    bundle = package(WORK / "bundles" / name, element=element, model=onnx)
    truths, images = load_truth(WORK / "data" / "data.yaml", split=split, element=element)
    pred = predict_images(bundle, sorted(images.values()), element=element.id)
    pred.write(WORK / "bundles" / f"{name}-{split}-answers.json")
    ev = evaluate_images(pred.answers, truths, images, element)
    es = ev.elements[element.id]
    return {"onnx": str(onnx), "split": split, "images_scored": sum(r.status == "scored" for r in ev.rows),
            "final": round(ev.final, 4), "score": round(es.score, 4),
            "pillars": {k: round(p.raw, 4) for k, p in es.pillars.items()}, "per_class": ev.per_class,
            "p50_ms": round(pred.p50_ms, 1), "p95_ms": round(pred.p95_ms, 1)}


def held_out() -> None:
    """Every run, the zero-shot start and the chosen export sizes on the held-out scenes (test split)."""
    from kit.train import export_onnx

    doc = json.loads(RUN_JSON.read_text())
    out: dict = {}
    runs = {k[4:]: v for k, v in doc.items() if k.startswith("run_")}
    start_pt = Path(runs["pretrained"]["start"]["zero_shot_pt"])
    out["start (zero-shot, no training)"] = _score("start", export_onnx(start_pt, EXPORT_HW, WORK / "start.onnx"))
    for which, rec in runs.items():
        out[which] = _score(which, Path(rec["onnx"]))
    best = Path(runs["pretrained"]["run_dir"]) / "weights" / "best.pt"
    out["pretrained @ 288x512"] = _score("pretrained-512", export_onnx(best, (288, 512), WORK / "p512.onnx"))
    record("held_out", out)
    for k, v in out.items():
        print(f"{k:<32} final {v['final']:.4f}  S {v['score']:.4f}  {v['pillars']}  p95 {v['p95_ms']} ms")


def ship(which: str) -> None:
    """The chosen run's best.pt, exported at SHIP_HW, becomes the committed reference model."""
    import shutil

    from kit.images.starts import sha256_file
    from kit.train import export_onnx

    doc = json.loads(RUN_JSON.read_text())
    rec = doc[f"run_{which}"]
    best = Path(rec["run_dir"]) / "weights" / "best.pt"
    onnx = export_onnx(best, SHIP_HW, HERE / "model.onnx")
    curves = Path(rec["run_dir"]) / "curves.png"
    if curves.is_file():
        shutil.copyfile(curves, HERE / "curves.png")
    record("shipped", {"run": which, "from": str(best), "export_hw": list(SHIP_HW), "onnx_sha256": sha256_file(onnx),
                       "bytes": onnx.stat().st_size})
    print(f"shipped {which} at {SHIP_HW}: {onnx} ({onnx.stat().st_size / 2**20:.1f} MiB)")


def tune() -> None:
    """The shipped model's thresholds by the exact score: chosen on val, reported on test (kit.tune)."""
    import tempfile

    from kit.bundle import package
    from kit.manifest import load_manifest
    from kit.tune import tune_bundle

    record("miner", {})  # the sweep starts from the kit's default thresholds, not an earlier choice
    with tempfile.TemporaryDirectory() as tmp:
        el = load_manifest().element(ELEMENT)
        bundle = package(Path(tmp) / "bundle", element=el, model=HERE / "model.onnx")
        r = tune_bundle(bundle, el, WORK / "data" / "data.yaml")
        print(r)
        r.figure().savefig(HERE / "tune.png", dpi=90)
        record("miner", {**r.values(r.chosen), "tuned": {k: round(v, 6) for k, v in r.metrics().items()}})


if __name__ == "__main__":
    step = sys.argv[1] if len(sys.argv) > 1 else ""
    if step == "prepare":
        prepare()
    elif step == "train" and len(sys.argv) == 3 and sys.argv[2] in ("pretrained", "scratch", "zoomout"):
        train(sys.argv[2])
    elif step == "held-out":
        held_out()
    elif step == "ship" and len(sys.argv) == 3:
        ship(sys.argv[2])
    elif step == "tune":
        tune()
    else:
        sys.exit(__doc__)
