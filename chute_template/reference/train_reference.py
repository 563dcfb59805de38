"""Train the committed reference models on real and synthetic frames, and record the run.

Run from the repo root with the kit's venv, step by step (each step records into
`data/ref14/run.json`; `ship` copies it beside this script with the models):

    python chute_template/reference/train_reference.py prepare
    python chute_template/reference/train_reference.py train pose mixed      # real + synthetic
    python chute_template/reference/train_reference.py train detect mixed
    python chute_template/reference/train_reference.py train pose real       # the comparison: real
    python chute_template/reference/train_reference.py train detect real     # frames only, same epochs
    python chute_template/reference/train_reference.py continue pose         # a second budget from the
                                                                             # mixed run's best.pt
    python chute_template/reference/train_reference.py held-out pose-mixed detect-mixed  # real test
    python chute_template/reference/train_reference.py held-out pose-real detect-real    # splits
    python chute_template/reference/train_reference.py ship pose-mixed2 detect-mixed     # the reference
    python chute_template/reference/evaluate_reference.py   # then: synthetic per-element figures

Two `train` steps run side by side on a 2-core machine (ultralytics trains on one thread
each). Data:
- real: the two Roboflow exports in `../shared/data/real/` (CC BY 4.0), imported with the
  kit's importer; the keypoint set holds out the whole `worldcup2` match (test), the box set
  10 whole clips; val is a set of whole clips too. Validation (best checkpoint) is on real
  val frames only.
- synthetic: `kit.synth` clips of TRAIN_SEED, every STRIDE-th frame.
- start: `--init` (default `data/init/yolov8n-coco-smartrail.pt`: the COCO-trained YOLOv8n
  inside PyPI `smartrail-obstacle-detector` 0.1.1, `railway_obstacle_detector/best.pt`,
  AGPL-3.0; the record keeps its sha256). Not a dependency of the kit: fetch it with
  `pip download smartrail-obstacle-detector==0.1.1 --no-deps` and unzip that file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from kit.contract import write_json_atomic  # noqa: E402
from kit.datasets import build_from_clips  # noqa: E402
from kit.datasets.exports import SHARED_EXPORTS, import_export  # noqa: E402
from kit.runs import git_commit  # noqa: E402
from kit.synth import generate_clips  # noqa: E402
from kit.train import BROADCAST_AUG, combine_data, train  # noqa: E402

TRAIN_SEED, N_CLIPS, N_FRAMES, STRIDE = 4401, 10, 125, 6
EVAL_SEED = 9044  # evaluate_reference.py's synthetic clips: a seed training never sees
REAL_SOURCES = SHARED_EXPORTS
TEST_GROUPS = {"pose": ["worldcup2"], "detect": []}  # detect: 15% of its clips, seeded
WORK = REPO / "data" / "ref14"
INIT = REPO / "data" / "init" / "yolov8n-coco-smartrail.pt"
RECORD = WORK / "run.json"  # `ship` copies it beside this script with the models

#: Per task, on top of the preset-free defaults of `kit.train.train` and BROADCAST_AUG. `time`
#: (hours) makes ultralytics fit its epoch count and LR schedule to the budget. The detector
#: reads 640 px (a ball is 10-20 px in a 1920-wide broadcast); the pose model reads lines,
#: which survive a smaller input.
SETTINGS = {
    "detect": dict(imgsz=640, batch=16, mosaic=0.5, close_mosaic=1, time=0.75, export_hw=(384, 640)),
    "pose": dict(imgsz=384, batch=16, mosaic=0.0, close_mosaic=0, time=0.75, scale=0.2, translate=0.05,
                 export_hw=(224, 384)),
}


def _record() -> dict:
    return json.loads(RECORD.read_text()) if RECORD.is_file() else {}


def _save(record: dict) -> None:
    write_json_atomic(RECORD, json.loads(json.dumps(record, default=str)), indent=2)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare() -> None:
    """Import both real exports, generate and build the synthetic set, combine them per task."""
    record = {"commit": git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "synthetic": {"train_seed": TRAIN_SEED, "n_clips": N_CLIPS, "n_frames": N_FRAMES, "stride": STRIDE},
              "real": {}, "datasets": {}, "settings": SETTINGS, "augmentation": BROADCAST_AUG, "runs": {}}
    for task, src in REAL_SOURCES.items():
        r = import_export(src, WORK / "real" / task, task, test_groups=TEST_GROUPS[task], progress=False)
        record["real"][task] = {"source": str(src.relative_to(REPO.parent)), "licence": "CC BY 4.0",
                                "images": r.images, "instances": r.instances, "groups": r.groups,
                                "notes": r.notes}
    clips = WORK / "clips"
    if len(list(clips.glob("clip_*.json"))) < N_CLIPS:
        generate_clips(clips, N_CLIPS, N_FRAMES, TRAIN_SEED)
    synth = build_from_clips(clips, WORK / "synth", stride=STRIDE, val_fraction=0.2, seed=0, progress=False)
    record["synthetic"]["images"] = synth.images
    for task in REAL_SOURCES:
        real_yaml = WORK / "real" / task / "data.yaml"
        mixed = combine_data([synth.data_yamls[task], real_yaml], WORK / "mixed" / task / "data.yaml",
                             val_from=[real_yaml])
        record["datasets"][task] = {"mixed": str(mixed.relative_to(REPO)), "real": str(real_yaml.relative_to(REPO))}
    _save(record)
    print(json.dumps({t: record["real"][t]["images"] for t in REAL_SOURCES}), json.dumps(synth.images))


def train_step(task: str, variant: str, init: Path) -> None:
    """Train `task` on the `variant` dataset (mixed or real) from `init`; record it."""
    record = _record()
    if task not in record.get("datasets", {}):
        raise SystemExit("run `prepare` first")
    settings = dict(SETTINGS[task])
    export_hw = settings.pop("export_hw")
    mixed = record["runs"].get(f"{task}-mixed")
    if variant == "real" and mixed:
        # the comparison: the same schedule (the epochs the mixed run fitted into its budget),
        # so each real frame is seen as often; only the synthetic frames are missing
        settings.update(epochs=mixed["epochs_run"], time=None)
    r = train(task, REPO / record["datasets"][task][variant], "cpu", project=WORK / "runs",
              name=f"{task}-{variant}", init=init, export_hw=export_hw, **settings)
    start = {"path": str(init.relative_to(REPO)) if init.is_relative_to(REPO) else str(init),
             "sha256": _sha256(init),
             "what": "COCO-trained YOLOv8n, PyPI smartrail-obstacle-detector 0.1.1, "
                     "railway_obstacle_detector/best.pt (AGPL-3.0)" if init == INIT else "user checkpoint"}
    _record_run(task, variant, r, start=start["path"], init=start)


def _record_run(task: str, variant: str, r, start: str, init: dict | None = None) -> None:
    """Add a finished run (and the start checkpoint, if given) to the record; re-read first: a
    step running beside this one may have written."""
    record = _record()
    if init:
        record["init"] = init
    record["runs"][f"{task}-{variant}"] = {"seconds": round(r.seconds, 1), "metrics": r.metrics, "start": start,
                                           "epochs_run": _epochs(r.run_dir), "onnx": str(r.onnx),
                                           "params": {k: v for k, v in r.params.items()
                                                      if k not in ("project", "data")}}
    _save(record)
    if r.curves:
        shutil.copy2(r.curves, WORK / "runs" / f"curves_{task}_{variant}.png")
    print(task, variant, round(r.seconds), r.metrics, flush=True)


#: The second budget (`continue`): a new run from the mixed run's best weights at a quarter of
#: the first run's learning rate, no warm-up (the weights are warm; measured: with ultralytics'
#: "auto" optimizer (AdamW at 0.002 for the pose model) and a warm-up, the first epochs undid
#: the first run, val keypoint mAP50 0.75 -> 0.04 after 4 epochs); ultralytics fits the epochs and
#: the LR decay to `time`.
CONTINUE = {"time": 0.7, "optimizer": "AdamW", "lr0": 0.0005, "warmup_epochs": 0.0}


def continue_step(task: str) -> None:
    """Train `task` on the mixed data for a second budget, from the mixed run's best.pt."""
    record = _record()
    if f"{task}-mixed" not in record.get("runs", {}):
        raise SystemExit(f"run `train {task} mixed` first")
    settings = dict(SETTINGS[task], **CONTINUE)
    export_hw = settings.pop("export_hw")
    start = WORK / "runs" / f"{task}-mixed" / "weights" / "best.pt"
    r = train(task, REPO / record["datasets"][task]["mixed"], "cpu", project=WORK / "runs", name=f"{task}-mixed2",
              weights=start, export_hw=export_hw, **settings)
    _record_run(task, "mixed2", r, start=str(start.relative_to(REPO)))


def _runs(names: list[str]) -> dict[str, str]:
    """Task -> run name, from names such as `pose-mixed2 detect-mixed` (one per task)."""
    runs = {n.split("-", 1)[0]: n for n in names}
    if sorted(runs) != sorted(REAL_SOURCES) or len(names) != len(REAL_SOURCES):
        raise SystemExit(f"name one run per task, e.g. pose-mixed detect-mixed (got {' '.join(names)})")
    return runs


def held_out(names: list[str], frames: int | None = None) -> None:
    """Package the named runs' models and score them on the real test splits; record the figures."""
    from kit.bundle import package
    from kit.datasets.labelled import evaluate_labelled, format_labelled

    record = _record()
    runs = _runs(names)
    label = " ".join(runs[t] for t in sorted(runs))
    bundle = package(WORK / "bundles" / label.replace(" ", "+"), record["runs"][runs["detect"]]["onnx"],
                     record["runs"][runs["pose"]]["onnx"], run_self_test=False)
    figures = {}
    for task in REAL_SOURCES:
        ev = evaluate_labelled(REPO / record["datasets"][task]["real"], bundle, "test", max_frames=frames,
                               report=WORK / "held_out" / label.replace(" ", "+") / task)
        print(format_labelled(ev), flush=True)
        figures[task] = ev.summary
    record = _record()
    record.setdefault("held_out", {})[label] = figures
    _save(record)


def ship(names: list[str]) -> None:
    """Copy the named runs' models (ONNX and curves) beside this script as the reference."""
    record = _record()
    for task, run in _runs(names).items():
        shutil.copy2(record["runs"][run]["onnx"], HERE / f"{task}.onnx")
        shutil.copy2(WORK / "runs" / f"curves_{run.replace('-', '_', 1)}.png", HERE / f"curves_{task}.png")
        record.setdefault("shipped", {})[task] = run
    _save(record)
    shutil.copy2(RECORD, HERE / "run.json")


def _epochs(run_dir: Path) -> int:
    csv = run_dir / "results.csv"
    return max(0, len(csv.read_text().splitlines()) - 1) if csv.is_file() else 0


def main(argv: list[str]) -> None:
    init = Path(argv[argv.index("--init") + 1]).resolve() if "--init" in argv else INIT
    args = [a for i, a in enumerate(argv) if a != "--init" and (i == 0 or argv[i - 1] != "--init")]
    if args[:1] == ["prepare"]:
        prepare()
    elif args[:1] == ["train"] and len(args) == 3 and args[1] in REAL_SOURCES and args[2] in ("mixed", "real"):
        if not init.is_file():
            raise SystemExit(f"{init}: no start checkpoint (see this script's docstring, or pass --init PATH)")
        train_step(args[1], args[2], init)
    elif args[:1] == ["continue"] and len(args) == 2 and args[1] in REAL_SOURCES:
        continue_step(args[1])
    elif args[:1] == ["held-out"] and len(args) == 3:
        held_out(args[1:])
    elif args[:1] == ["ship"] and len(args) == 3:
        ship(args[1:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
