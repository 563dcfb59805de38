"""Training the miner's two models with ultralytics, offline, and exporting them to ONNX.

A miner serves two networks: a **detector** (ball, goalkeeper, player, referee; the kit's
detect dataset) and a **pose model** (one "pitch" object per frame carrying the 32 template
keypoints; the kit's pose dataset). Both are plain ultralytics YOLO models, trained here on
the `data.yaml` files that `kit.datasets.build_from_clips` writes.

Decisions a reader should know about:

- **Offline, always.** Models start from a `.yaml` architecture (random weights) unless the
  user passes weights of their own; named hub weights (`yolo11n.pt`) would download and are
  refused with a message.
- **`init`: any ultralytics checkpoint.** A checkpoint of the same task starts the run as it
  is (the trainer rebuilds the head for our classes and keeps every other layer); one of the
  other task (a COCO detector to start the pitch model) gives its backbone and neck to the
  same architecture with our head (`yolov8n.pt` -> `yolov8n-pose.yaml`, matching layers
  transferred). `pretrained` is never passed: `pretrained=False` would silently discard the
  loaded weights. The start is recorded in metrics.json (`params.start`, `params.init`).
- **Augmentation for broadcasts** (`BROADCAST_AUG`, every preset): no vertical flip (a pitch
  is never upside down), left-right flip at 0.5 (the pose dataset's `flip_idx` is the pitch's
  mirror, `kit.pitch.FLIP_IDX`, so the keypoints swap sides with it), modest scale and
  translate (broadcast zoom varies, the camera is never far off the pitch), HSV jitter
  (grass, light and kit colours differ between stadiums), no rotation or shear.
- **Augmentation for photos** (`PHOTO_AUG`, `aug="photo"`, Detect elements; its own presets,
  `PHOTO_PRESETS`): mosaic on and a wide zoom (`scale` 0.75): the boxes of labelled Detect
  sets are often far larger than a challenge photo's objects (fire-smoke's median fire box is
  19% of the image, a challenge's often ~1%), and zooming out teaches the small ones;
  translate 0.1, left-right flip 0.5, no vertical flip or rotation (photos are upright), more
  colour jitter than broadcasts (`hsv_s` 0.7, `hsv_v` 0.4: cameras, light and weather vary).
- **Real and synthetic together**: `combine_data` writes a data.yaml whose train and val list
  the folders of several datasets of the same task and classes (the kit's synthetic one and
  an imported real one, say); test comes from the real one only. `YOLO_OFFLINE` and
  `YOLO_AUTOINSTALL=False` are set before ultralytics is imported, so neither the trainer nor the
  ONNX exporter ever reaches for the network or pip (the exporter's requirement check only
  *checks* onnx, onnxslim and onnxruntime, which the kit pins). Ultralytics' plot font
  (Arial.ttf, normally downloaded) is resolved to matplotlib's bundled DejaVu Sans in-process, so
  plotting never waits on a download that cannot happen.
- **Presets** size the work to the machine: `smoke` proves the pipeline in minutes on a CPU,
  `cpu` gives a model worth scoring within about an hour on two cores, `gpu` is the full run.
  Every preset value can be overridden per call.
- **The run folder** (`runs/train/<name>` by default) keeps what ultralytics writes
  (`weights/last.pt` for resume, `weights/best.pt`, `results.csv`, `args.yaml`) plus the kit's
  `curves.png` (drawn from results.csv with matplotlib, so no font download), `metrics.json`
  (mAP50, mAP50-95 and, for pose, the keypoint mAPs, i.e. OKS-based) and the ONNX export.
- **ONNX at a fixed input size** (height, width) chosen for 16:9 broadcast frames, so the
  miner letterboxes a 960 x 540 frame with almost no padding and the graph needs no dynamic
  shapes (onnxruntime is fastest on static shapes on CPU).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import KitError

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("YOLO_VERBOSE", "False")

TASKS = ("detect", "pose")
ARCHS = {"detect": "yolo11n.yaml", "pose": "yolo11n-pose.yaml"}
#: Augmentation that suits broadcast frames (ultralytics train arguments), under every preset.
BROADCAST_AUG: dict[str, float] = {"flipud": 0.0, "fliplr": 0.5, "degrees": 0.0, "shear": 0.0, "perspective": 0.0,
                                   "scale": 0.25, "translate": 0.08, "hsv_h": 0.015, "hsv_s": 0.5, "hsv_v": 0.3}
#: Augmentation for one-photo Detect challenges (see the module docstring), under every photo preset.
PHOTO_AUG: dict[str, float] = {"flipud": 0.0, "fliplr": 0.5, "degrees": 0.0, "shear": 0.0, "perspective": 0.0,
                               "scale": 0.75, "translate": 0.1, "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4}
#: Augmentation presets by name (`train(aug=...)`): which kind of picture the model will see.
AUGS: dict[str, dict[str, float]] = {"broadcast": BROADCAST_AUG, "photo": PHOTO_AUG}


@dataclass(frozen=True)
class Preset:
    """How much training: every field is an ultralytics train argument or the export size."""

    epochs: int
    imgsz: int
    batch: int
    fraction: float = 1.0          # share of the training images used (smoke uses few)
    patience: int = 100
    workers: int = 0               # data-loader processes; 0 keeps a 2-core machine for the model
    mosaic: float = 1.0
    close_mosaic: int = 0
    export_hw: tuple[int, int] = (384, 640)  # ONNX input (height, width), multiples of 32
    lr0: float = 0.01
    optimizer: str = "auto"
    cos_lr: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# Per task: the pose model reads the pitch lines at a lower resolution (lines are long, so a
# small input keeps them), the detector needs pixels for players and the ball.
PRESETS: dict[str, dict[str, Preset]] = {
    "smoke": {
        "detect": Preset(epochs=1, imgsz=320, batch=8, fraction=0.5, mosaic=0.0, export_hw=(192, 320)),
        "pose": Preset(epochs=1, imgsz=320, batch=8, fraction=0.5, mosaic=0.0, export_hw=(192, 320)),
    },
    "cpu": {
        # `time` (hours) makes ultralytics fit the epoch count (and the LR schedule) to the budget
        "detect": Preset(epochs=12, imgsz=512, batch=16, mosaic=0.5, close_mosaic=2, export_hw=(288, 512),
                         extra={"time": 0.45}),
        "pose": Preset(epochs=24, imgsz=320, batch=16, mosaic=0.0, export_hw=(192, 320),
                       extra={"time": 0.3, "scale": 0.2, "translate": 0.05}),
    },
    "gpu": {
        "detect": Preset(epochs=150, imgsz=960, batch=32, mosaic=1.0, close_mosaic=15, export_hw=(544, 960),
                         workers=8, cos_lr=True),
        "pose": Preset(epochs=150, imgsz=640, batch=32, mosaic=0.0, export_hw=(384, 640), workers=8, cos_lr=True,
                       extra={"scale": 0.2, "translate": 0.05}),
    },
}


# Photos (Detect elements, detector only): challenge photos are about 1408 x 768, objects often ~1%
# of the frame, so the input is as large as the time allows and the export keeps the wide aspect.
# cpu: 12 epochs at 512, exported at 288 x 512 (the training scale: on the reference fire model's
# held-out scenes it scored 0.376 vs 0.370 at 384 x 640, p95 77 vs 101 ms); MEASURED 11 min an epoch
# for 731 photos on one core here, so pass `time=` (hours) to fit the schedule to a budget.
# gpu: 100 epochs at 960, batch 32; ESTIMATED (not measured) at 20-40 min on one H100-class GPU
# for ~1,000 photos (about 10-20 s an epoch plus validation).
PHOTO_PRESETS: dict[str, Preset] = {
    "smoke": Preset(epochs=1, imgsz=320, batch=8, fraction=0.5, mosaic=1.0, export_hw=(192, 320)),
    "cpu": Preset(epochs=12, imgsz=512, batch=16, mosaic=1.0, close_mosaic=2, export_hw=(288, 512)),
    "gpu": Preset(epochs=100, imgsz=960, batch=32, mosaic=1.0, close_mosaic=10, export_hw=(544, 960), workers=8,
                  cos_lr=True),
}


@dataclass
class TrainResult:
    """What a training run left behind; `to_dict` is what `metrics.json` holds."""

    task: str
    preset: str
    run_dir: Path
    best: Path
    last: Path
    metrics: dict[str, float]
    params: dict[str, Any]
    seconds: float
    curves: Path | None = None
    onnx: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("run_dir", "best", "last", "curves", "onnx"):
            d[k] = str(d[k]) if d[k] is not None else None
        return d


def _patch_font() -> None:
    """Point ultralytics' font lookup at matplotlib's bundled DejaVu Sans (no download, no wait)."""
    import matplotlib
    from ultralytics.utils import checks, plotting

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"

    def local_font(font: str = "Arial.ttf"):
        return dejavu if dejavu.is_file() else None

    plotting.check_font = local_font
    checks.check_font = local_font


def preset(name: str, task: str, aug: str = "broadcast") -> Preset:
    """The preset `name` for `task` (photo presets with `aug="photo"`), with a clear error for unknown names."""
    if aug not in AUGS:
        raise KitError(f"aug {aug!r}: choose one of {', '.join(AUGS)}")
    if name not in PRESETS:
        raise KitError(f"preset {name!r}: choose one of {', '.join(PRESETS)}")
    if task not in TASKS:
        raise KitError(f"task {task!r}: choose detect or pose")
    if aug == "photo":
        if task != "detect":
            raise KitError(f"aug 'photo' trains detectors (Detect elements); task {task!r} uses aug 'broadcast'")
        return PHOTO_PRESETS[name]
    return PRESETS[name][task]


def _check_data(data: str | os.PathLike, task: str) -> Path:
    import yaml

    path = Path(data)
    if path.is_dir():
        path = path / "data.yaml"
    if not path.is_file():
        raise KitError(f"{path}: no data.yaml there; build one with `tvkit dataset build --clips-dir DIR --out DIR` "
                       f"and pass OUT/{task}/data.yaml")
    info = yaml.safe_load(path.read_text()) or {}
    if task == "pose" and "kpt_shape" not in info:
        raise KitError(f"{path}: no kpt_shape, so this is not a pose dataset; pass OUT/pose/data.yaml")
    if task == "detect" and "kpt_shape" in info:
        raise KitError(f"{path}: has kpt_shape, so it is a pose dataset; pass OUT/detect/data.yaml")
    return path.resolve()


def _task_arch(cfg: dict[str, Any], task: str, workdir: Path) -> Path:
    """The checkpoint's own architecture with the head of `task` (Detect <-> Pose), as a YAML file."""
    import copy

    import yaml

    from .contract import N_KEYPOINTS

    cfg = copy.deepcopy(cfg)
    head = cfg["head"][-1]  # [from, repeats, module, args]
    if head[2] not in ("Detect", "Pose"):
        raise KitError(f"its head is {head[2]}; --init transfers detect and pose checkpoints")
    head[2], head[3] = ("Pose", ["nc", "kpt_shape"]) if task == "pose" else ("Detect", ["nc"])
    cfg["nc"] = 1 if task == "pose" else 4
    if task == "pose":
        cfg["kpt_shape"] = [N_KEYPOINTS, 3]
    else:
        cfg.pop("kpt_shape", None)
    cfg.pop("yaml_file", None)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"init-{task}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def init_model(task: str, init: str | os.PathLike, workdir: str | os.PathLike | None = None):
    """A model for `task` started from any ultralytics checkpoint (see the module docstring).

    Args:
        task: "detect" or "pose".
        init: a .pt checkpoint (detect or pose, of any class count).
        workdir: where the architecture YAML of a cross-task start is written (default: a
            temporary folder).
    Returns:
        (the ultralytics model, a description of the start for the training record).
    Raises:
        KitError: no such file, not an ultralytics checkpoint, or no matching architecture.

    Example:
        >>> model, start = init_model("pose", "data/init/yolov8n.pt")   # doctest: +SKIP
    """
    from ultralytics import YOLO

    w = Path(init)
    if not w.is_file():
        raise KitError(f"{init}: no such checkpoint (--init takes a .pt file; hub names such as yolo11n.pt download, "
                       "and the kit trains offline: download it first and pass its path)")
    try:
        ckpt = YOLO(str(w))
    except Exception as e:  # ultralytics raises many kinds on a file that is not its checkpoint
        raise KitError(f"{w}: not an ultralytics checkpoint ({type(e).__name__}: {e})") from e
    if ckpt.task == task:
        return ckpt, f"{w.resolve()} ({task} checkpoint, head rebuilt for our classes)"
    import tempfile

    cfg = getattr(ckpt.model, "yaml", None)
    if not isinstance(cfg, dict) or not cfg.get("head"):
        raise KitError(f"{w}: a {ckpt.task} checkpoint without its architecture; pass a {task} checkpoint")
    try:
        arch = _task_arch(cfg, task, Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tvkit-init-")))
        model = YOLO(str(arch), task=task).load(str(w))
    except KitError as e:
        raise KitError(f"{w}: {e}") from None
    except Exception as e:
        raise KitError(f"{w}: cannot transfer this {ckpt.task} checkpoint to a {task} model "
                       f"({type(e).__name__}: {e}); pass a {task} checkpoint") from e
    return model, f"{w.resolve()} ({ckpt.task} checkpoint, backbone and neck into a {task} model)"


def _start_model(task: str, weights: str | os.PathLike | None):
    from ultralytics import YOLO

    if not weights:
        return YOLO(ARCHS[task], task=task), ARCHS[task]
    w = Path(weights)
    if w.suffix == ".yaml" and not w.is_file() and not w.parent.name:
        try:  # an ultralytics architecture by name (yolov8n.yaml): random weights, nothing downloaded
            return YOLO(str(w), task=task), str(w)
        except FileNotFoundError:
            raise KitError(f"{weights}: not an ultralytics architecture name "
                           "(e.g. yolov8n.yaml, yolo11n.yaml)") from None
    if not w.is_file():
        hint = (" (named hub weights download, and the kit works offline: pass a .pt file you have, "
                "or leave the weights empty to start from scratch)") if w.suffix == ".pt" and not w.parent.name else ""
        raise KitError(f"{weights}: no such weights file{hint}")
    return YOLO(str(w), task=task), str(w.resolve())


def metrics_from_trainer(task: str, raw: dict[str, Any]) -> dict[str, float]:
    """Plain names for ultralytics' metric keys (B = boxes, P = pose keypoints, OKS-based)."""
    names = {"metrics/precision(B)": "precision", "metrics/recall(B)": "recall", "metrics/mAP50(B)": "mAP50",
             "metrics/mAP50-95(B)": "mAP50-95", "metrics/precision(P)": "kpt_precision",
             "metrics/recall(P)": "kpt_recall", "metrics/mAP50(P)": "kpt_mAP50",
             "metrics/mAP50-95(P)": "kpt_mAP50-95", "fitness": "fitness"}
    return {names.get(k, k): float(v) for k, v in raw.items() if isinstance(v, (int, float))}


def plot_curves(results_csv: str | os.PathLike, out: str | os.PathLike) -> Path | None:
    """Loss and metric curves from ultralytics' results.csv into one PNG (matplotlib only)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(results_csv)
    if not path.is_file():
        return None
    with path.open() as f:
        rows = [{k.strip(): v for k, v in r.items()} for r in csv.DictReader(f)]
    if not rows:
        return None
    epochs = [float(r["epoch"]) for r in rows]
    losses = [k for k in rows[0] if k.startswith(("train/", "val/"))]
    mets = [k for k in rows[0] if k.startswith("metrics/mAP")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for k in losses:
        axes[0].plot(epochs, [float(r[k]) for r in rows], marker="o", ms=3, label=k)
    axes[0].set_title("losses")
    axes[0].set_xlabel("epoch")
    axes[0].legend(fontsize=7)
    for k in mets:
        axes[1].plot(epochs, [float(r[k]) for r in rows], marker="o", ms=3, label=k.replace("metrics/", ""))
    axes[1].set_title("validation")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylim(0, 1)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def _resume(run_dir: Path, task: str, data_path: Path, device: str, workers: int) -> tuple[Any, dict[str, Any]]:
    """Continue the run at `run_dir` from its `weights/last.pt` with its own arguments; the model and the
    params a run records. KitError when there is no last.pt or the run is finished."""
    last = run_dir / "weights" / "last.pt"
    if not last.is_file():
        raise KitError(f"{last}: nothing to resume (no last.pt); start the run without --resume")
    import torch
    import yaml
    from ultralytics import YOLO

    ckpt = torch.load(str(last), map_location="cpu", weights_only=False)
    if int(ckpt.get("epoch", -1)) < 0:  # ultralytics marks a finished run's last.pt with epoch -1
        raise KitError(f"{run_dir}: the run is finished, nothing to resume; start a new run (another --name) "
                       "from its weights with --detect-weights/--pose-weights")
    del ckpt
    model = YOLO(str(last), task=task)
    # ultralytics' Model.train would otherwise fill in its demo dataset (a download) as `data`
    run_args = yaml.safe_load((run_dir / "args.yaml").read_text()) if (run_dir / "args.yaml").is_file() else {}
    try:
        model.train(resume=True, data=run_args.get("data", str(data_path)), device=device, workers=workers)
    except AssertionError as e:  # ultralytics: "... is finished, nothing to resume"
        raise KitError(f"{run_dir}: cannot resume ({e}); the run is finished: start a new run (another "
                       "--name) from its weights with --detect-weights/--pose-weights") from e
    return model, {"resume": str(last)}


def _in_a_run(fn: Callable[..., TrainResult]) -> Callable[..., TrainResult]:
    """A training called from plain Python (a script, the reference's train_fire.py) becomes an MLflow
    run of its own in the kit's store. Otherwise ultralytics' MLflow callback, finding no run and no
    store, writes `mlflow.db` and `mlruns/` (checkpoints included) into the working folder. Under a
    kit run (the CLI, a notebook's kernel, a Ray trial) the training logs into that run as before."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> TrainResult:
        from . import track

        if track.active_run_id() or os.environ.get("MLFLOW_RUN_ID") or os.environ.get(track.PARENT_ENV):
            return fn(*args, **kw)
        with track.run("train", tags={"tvkit.kind": "train"}):
            return fn(*args, **kw)

    return wrapper


@_in_a_run
def train(task: str, data: str | os.PathLike, preset_name: str = "smoke", *, project: str | os.PathLike = "runs/train",
          name: str | None = None, weights: str | os.PathLike | None = None,
          init: str | os.PathLike | None = None, epochs: int | None = None,
          imgsz: int | None = None, batch: int | None = None, device: str = "cpu", resume: bool = False,
          export: bool = True, export_hw: tuple[int, int] | None = None, plots: bool = False, seed: int = 0,
          aug: str = "broadcast", **overrides: Any) -> TrainResult:
    """Train `task` ("detect" or "pose") on `data` with a preset; save curves, metrics and ONNX.

    `weights`: start from these (a .pt of the user's own), else from scratch; `init`: start
    from any ultralytics checkpoint (`init_model`: another task's weights transfer). `resume=True`
    continues the run at `project/name` from its `weights/last.pt` with its own arguments.
    `plots` turns on ultralytics' own plots (off by default: they cost minutes on a CPU).
    `aug`: "broadcast" (football clips, `PRESETS`) or "photo" (Detect photos, `PHOTO_PRESETS`).
    """
    p = preset(preset_name, task, aug)
    data_path = _check_data(data, task)
    project = Path(project).resolve()
    name = name or f"{task}-{preset_name}"
    run_dir = project / name
    _patch_font()
    started = time.perf_counter()
    if resume:
        model, params = _resume(run_dir, task, data_path, device, p.workers)
    else:
        if weights and init:
            raise KitError("give either weights (a .pt of this task to continue from) or init (any checkpoint), "
                           "not both")
        model, start = init_model(task, init, run_dir) if init else _start_model(task, weights)
        args: dict[str, Any] = dict(**AUGS[aug])
        args.update(
            data=str(data_path), epochs=epochs or p.epochs, imgsz=imgsz or p.imgsz, batch=batch or p.batch,
            fraction=p.fraction, patience=p.patience, workers=p.workers, mosaic=p.mosaic, close_mosaic=p.close_mosaic,
            lr0=p.lr0, optimizer=p.optimizer, cos_lr=p.cos_lr, device=device, project=str(project), name=name,
            exist_ok=True, plots=plots, seed=seed, deterministic=False, amp=device != "cpu", verbose=False)
        args.update(p.extra)
        args.update(overrides)
        args.pop("pretrained", None)  # pretrained=False would throw the loaded weights away
        params = {**args, "start": start, "init": str(init) if init else None, "preset": preset_name, "task": task,
                  "aug": aug}
        model.train(**args)
    trainer = model.trainer
    run_dir = Path(trainer.save_dir)
    best, last = run_dir / "weights" / "best.pt", run_dir / "weights" / "last.pt"
    metrics = metrics_from_trainer(task, dict(trainer.metrics or {}))
    seconds = time.perf_counter() - started
    curves = plot_curves(run_dir / "results.csv", run_dir / "curves.png")
    result = TrainResult(task, preset_name, run_dir, best if best.is_file() else last, last, metrics, params,
                         seconds, curves)
    if export:
        result.onnx = export_onnx(result.best, export_hw or p.export_hw, run_dir / f"{task}.onnx")
    from .contract import write_json_atomic

    write_json_atomic(run_dir / "metrics.json", result.to_dict(), indent=2)
    from . import track

    track.log_training(run_dir / "results.csv", {f"{task}/{k}": v for k, v in metrics.items()}, curves)
    return result


def export_onnx(weights: str | os.PathLike, hw: tuple[int, int] = (384, 640), out: str | os.PathLike | None = None,
                simplify: bool = True) -> Path:
    """Export a .pt to ONNX with a static (height, width) input, batch 1, no NMS in the graph.

    The miner decodes the raw output and runs NMS in numpy/OpenCV, so the graph stays the
    plain network that onnxruntime runs fastest. `simplify` uses onnxslim (installed; the
    exporter only checks it, never installs).
    """
    from ultralytics import YOLO

    w = Path(weights)
    if not w.is_file():
        raise KitError(f"{w}: no such weights file to export (train first, or pass a .pt)")
    h, wd = int(hw[0]), int(hw[1])
    if h % 32 or wd % 32:
        raise KitError(f"export size {h} x {wd}: both must be multiples of 32 (the network's stride)")
    _patch_font()
    made = Path(YOLO(str(w)).export(format="onnx", imgsz=(h, wd), simplify=simplify, dynamic=False, batch=1,
                                    opset=None, nms=False, device="cpu", verbose=False))
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if made.resolve() != out.resolve():
            made.replace(out)
        return out
    return made


def train_detect(data: str | os.PathLike, preset_name: str = "smoke", **kw: Any) -> TrainResult:
    """Train the detector (ball, goalkeeper, player, referee) on a kit detect data.yaml."""
    return train("detect", data, preset_name, **kw)


def train_pose(data: str | os.PathLike, preset_name: str = "smoke", **kw: Any) -> TrainResult:
    """Train the pitch keypoint model (one pitch object, 32 keypoints) on a kit pose data.yaml."""
    return train("pose", data, preset_name, **kw)


def with_overrides(p: Preset, **kw: Any) -> Preset:
    """A preset with some fields changed (for notebooks that tweak one knob)."""
    return replace(p, **kw)


def read_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The metrics.json of a finished run folder."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise KitError(f"{path}: no metrics.json (the run did not finish, or this is not a kit run folder)")
    return json.loads(path.read_text())


def combine_data(data_yamls: list[str | os.PathLike], out: str | os.PathLike,
                 val_from: list[str | os.PathLike] | None = None) -> Path:
    """One data.yaml that trains on several datasets of the same task and classes at once.

    train and val list every dataset's folders (ultralytics reads lists), test those of the
    datasets that have one; the pose `flip_idx` is the pitch's mirror (`kit.pitch.FLIP_IDX`).
    Typical: the kit's synthetic dataset and an imported real one (`tvkit dataset import`).

    Args:
        data_yamls: two or more data.yaml files (or dataset folders).
        out: the data.yaml to write (its folder is created).
        val_from: validate on these datasets' val splits only (default: every dataset's); e.g.
            the real one, so that the best checkpoint is the one that does best on real frames.
    Returns:
        The written data.yaml.
    Raises:
        KitError: fewer than two datasets, datasets whose classes or keypoints differ, or a
            `val_from` dataset that is not among them or has no val split.

    Example:
        >>> combine_data(["data/synth_ds/pose/data.yaml", "data/real/pose/data.yaml"],  # doctest: +SKIP
        ...              "data/mix/pose.yaml")
    """
    import yaml

    from .datasets import SPLITS, read_data_yaml
    from .pitch import FLIP_IDX

    if len(data_yamls) < 2:
        raise KitError("combine needs two or more datasets (e.g. synthetic and real of one task)")
    sets = [read_data_yaml(d) for d in data_yamls]
    first = sets[0]
    for ds in sets[1:]:
        if ds.names != first.names or ds.kpt_shape != first.kpt_shape:
            raise KitError(f"{ds.yaml_path}: classes {ds.names} / kpt_shape {ds.kpt_shape} differ from "
                           f"{first.yaml_path} ({first.names} / {first.kpt_shape}); import both into the kit's "
                           "classes first (`tvkit dataset import`)")
    val_sets = sets
    if val_from:
        wanted = [read_data_yaml(d).yaml_path for d in val_from]
        val_sets = [ds for ds in sets if ds.yaml_path in wanted]
        if len(val_sets) != len(wanted):
            raise KitError(f"val_from {[str(w) for w in wanted]}: each must be one of the combined datasets "
                           f"({', '.join(str(ds.yaml_path) for ds in sets)})")
        if not any(ds.splits.get("val") for ds in val_sets):
            raise KitError(f"val_from {[str(w) for w in wanted]}: no val split there to validate on")
    data: dict[str, Any] = {}
    for split in SPLITS:
        dirs = [str(d) for ds in (val_sets if split == "val" else sets) for d in ds.splits.get(split, [])]
        if dirs:
            data[split] = dirs
    data["names"] = dict(first.names)
    if first.kpt_shape:
        data["kpt_shape"] = list(first.kpt_shape)
        data["flip_idx"] = list(FLIP_IDX)
    data["kit"] = {"combined": [str(ds.yaml_path) for ds in sets]}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120))
    return out.resolve()
