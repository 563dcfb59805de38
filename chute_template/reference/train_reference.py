"""Train the committed reference models with the kit's `cpu` preset, and record the run.

Run from the repo root: `.venv/bin/python chute_template/reference/train_reference.py`.
Clips come from `kit.synth` with TRAIN_SEED (clip i uses clip_seed(TRAIN_SEED, i)); the
evaluation clips of the record use EVAL_SEED, which training never sees. The ONNX files and
`run.json` land beside this script; `tvkit package` bundles them by default.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from kit.datasets import build_from_clips  # noqa: E402
from kit.runs import git_commit  # noqa: E402
from kit.synth import generate_clips  # noqa: E402
from kit.train import PRESETS, train  # noqa: E402

TRAIN_SEED, N_CLIPS, N_FRAMES, STRIDE = 4401, 16, 125, 3
EVAL_SEED = 9044
WORK = REPO / "data" / "ref_train"


#: Second stage, both models from their stage-1 best.pt (kit.train with user weights), run side
#: by side: the from-scratch detector learns "player" well but the rare classes (ball,
#: goalkeeper, referee: 1 box in 8) barely, so it gets a heavier classification loss; the pose
#: model was still improving fast when its budget ran out. Short warm-up: the weights are warm.
FINETUNE = {"detect": {"time": 0.3, "cls": 1.5, "warmup_epochs": 0.5},
            "pose": {"time": 0.3, "warmup_epochs": 0.5, "scale": 0.2, "translate": 0.05}}


def finetune(task: str) -> None:
    """Stage 2 (`--finetune detect|pose`): continue `task` from stage 1's best weights."""
    start = WORK / "runs" / task / "weights" / "best.pt"
    r = train(task, WORK / "datasets" / task / "data.yaml", "cpu", project=WORK / "runs",
              name=f"{task}_finetune", weights=start, **FINETUNE[task])
    record = json.loads((HERE / "run.json").read_text())  # re-read: the other stage may have written
    key = "mAP50" if task == "detect" else "kpt_mAP50"
    better = r.metrics.get(key, 0.0) > record["runs"][task]["metrics"].get(key, 0.0)
    if better:  # ship stage 2 only if it validates better than stage 1
        shutil.copy2(r.onnx, HERE / f"{task}.onnx")
    if r.curves:
        shutil.copy2(r.curves, HERE / f"curves_{task}_finetune.png")
    record["runs"][f"{task}_finetune"] = {"seconds": round(r.seconds, 1), "metrics": r.metrics, "params": r.params,
                                          "epochs_run": _epochs(r.run_dir), "start": str(start)}
    record.setdefault("shipped", {})[task] = f"{task}_finetune" if better else task
    (HERE / "run.json").write_text(json.dumps(record, indent=2, default=str))
    print(f"{task}_finetune", r.seconds, r.metrics, flush=True)


def main() -> None:
    if "--finetune" in sys.argv:
        finetune(sys.argv[sys.argv.index("--finetune") + 1])
        return
    clips = WORK / "clips"
    if len(list(clips.glob("clip_*.json"))) < N_CLIPS:
        generate_clips(clips, N_CLIPS, N_FRAMES, TRAIN_SEED)
    ds = build_from_clips(clips, WORK / "datasets", stride=STRIDE, val_fraction=0.125, seed=0, progress=False)
    record = {"train_seed": TRAIN_SEED, "n_clips": N_CLIPS, "n_frames": N_FRAMES, "stride": STRIDE,
              "eval_seed": EVAL_SEED, "commit": git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "datasets": {t: {"images": ds.images[t], "clip_splits": ds.clip_splits} for t in ds.data_yamls},
              "preset": {t: {k: v for k, v in vars(p).items()} for t, p in PRESETS["cpu"].items()}, "runs": {}}
    for task in ("detect", "pose"):
        r = train(task, ds.data_yamls[task], "cpu", project=WORK / "runs", name=task)
        shutil.copy2(r.onnx, HERE / f"{task}.onnx")
        if r.curves:
            shutil.copy2(r.curves, HERE / f"curves_{task}.png")
        record["runs"][task] = {"seconds": round(r.seconds, 1), "metrics": r.metrics, "params": r.params,
                                "epochs_run": _epochs(r.run_dir)}
        (HERE / "run.json").write_text(json.dumps(record, indent=2, default=str))
        print(task, r.seconds, r.metrics, flush=True)


def _epochs(run_dir: Path) -> int:
    csv = run_dir / "results.csv"
    return max(0, len(csv.read_text().splitlines()) - 1) if csv.is_file() else 0


if __name__ == "__main__":
    main()
