"""One trial of a training search: train with the trial's hyper-parameters, export, score exactly.

Usage: `out = run_trial(config, setup, "t1", report)` (in a Ray Tune trial: `trainable`, which
wraps it in the trial's MLflow run); `score_model(setup, onnx, bundle_dir)` scores any ONNX
detector the way the search does.

Decisions:
- **The objective is the element's exact score on the val split**, not mAP: the trial's ONNX
  goes into a bundle (the kit's miner, `run_self_test` off: the search's bundles are scratch),
  the bundle answers each val photo as the chute would (`kit.images.predict`), and
  `kit.images.score.evaluate_images` scores the answers as the validator does, with each
  photo's measured latency for the RTF gate (`latency=False` skips it: on a machine shared by
  trials the latency is pessimistic). Clip elements: the trial's detector with the given pitch
  model (default the reference one) answers each val clip (`kit.bundle.predict_video`), scored
  by `kit.evaluate.evaluate` (full mode). ultralytics' own mAP50 is reported beside it.
- **Per-epoch reports for ASHA**: ultralytics reports every epoch to Ray Tune through its own
  callback (ultralytics/utils/callbacks/raytune.py), with its metrics and not ours; in the
  trial's worker the kit puts its reporter in that callback's place, which exports the epoch's
  last.pt and reports its exact score, so early stopping judges trials on the objective. The
  last epoch is not reported there: the trial's final report is the exported best.pt, scored.
- **Trials are plain folders**: `<out>/trials/<trial id>/` (ultralytics' run, the ONNX, the
  bundle), so a good trial is packaged like any training run (`tvkit package --model`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError
from .space import export_hw

__all__ = ["TrialSetup", "run_trial", "score_model", "trainable"]


@dataclass
class TrialSetup:
    """What every trial shares (plain data: it crosses to Ray's workers)."""

    element: Any                      # kit.manifest.Element
    data: str                         # the training data.yaml (absolute)
    out: str                          # the search's folder (absolute); trials go to out/trials/<id>
    preset: str = "smoke"
    epochs: int = 1
    val: str = "val"                  # Detect: the split scored; clip: a folder of val clips (mp4 + json)
    manifest: Any = None              # where clip elements are looked up by the evaluator
    pose_model: str | None = None     # clip elements: the pitch model of the bundles (default the reference)
    latency: bool = True              # the RTF gate with each photo's measured latency
    train_kw: dict[str, Any] = field(default_factory=dict)   # batch, fraction, device, start, init ...
    env: dict[str, str] = field(default_factory=dict)        # the search's MLflow run, set in each trial


def score_model(setup: TrialSetup, onnx: str | Path, bundle_dir: str | Path) -> dict[str, Any]:
    """{"score": the element's exact mean final on the val data, "scored": photos or clips}."""
    el = setup.element
    if el.kind == "image":
        return _score_photos(setup, Path(onnx), Path(bundle_dir))
    return _score_clips(setup, Path(onnx), Path(bundle_dir))


def _score_photos(setup: TrialSetup, onnx: Path, bundle_dir: Path) -> dict[str, Any]:
    from ..bundle import package_image
    from ..images.predict import predict_images
    from ..images.score import evaluate_images, load_truth

    el = setup.element
    truths, images = load_truth(setup.data, split=setup.val, element=el, notes=[])
    if not truths:
        raise KitError(f"{setup.data}: no {setup.val} photos to score the trials on")
    bundle = package_image(bundle_dir, el, onnx, run_self_test=False)
    preds = predict_images(bundle, [images[n] for n in truths], element=el.id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = evaluate_images(preds.answers, truths, images, el, latency_ms=preds.latency_ms if setup.latency else None)
    return {"score": float(ev.final), "scored": ev.n_scored}


def _score_clips(setup: TrialSetup, onnx: Path, bundle_dir: Path) -> dict[str, Any]:
    from ..bundle import package, predict_video
    from ..comply import load_miner
    from ..evaluate import evaluate
    from ..tune.clips import find_clips

    el = setup.element
    bundle = package(bundle_dir, detect_model=onnx, pose_model=setup.pose_model, element=el, run_self_test=False)
    miner = load_miner(bundle)
    finals = []
    for video, truth in find_clips(setup.val):
        ev = evaluate(predict_video(miner, video).answer, truth, video, setup.manifest, [el.id], spread=False)
        finals.append(float(ev.elements[el.id].final))
    return {"score": sum(finals) / len(finals), "scored": len(finals)}


def _epoch_reporter(setup: TrialSetup, workdir: Path, hw: tuple[int, int], report: Callable[[dict], None],
                    started: float) -> Callable[[Any], None]:
    """ultralytics' on_fit_epoch_end: the epoch's last.pt exported, scored exactly, reported."""
    from ..train import export_onnx

    def on_fit_epoch_end(trainer: Any) -> None:
        epoch = int(trainer.epoch) + 1
        if epoch >= int(trainer.epochs) or not Path(trainer.last).is_file():
            return   # the last epoch (and ultralytics' final validation) is the trial's final report
        onnx = export_onnx(trainer.last, hw, workdir / "epochs" / f"epoch{epoch}.onnx")
        s = score_model(setup, onnx, workdir / "epochs" / "bundle")
        report({"score": s["score"], "mAP50": float((trainer.metrics or {}).get("metrics/mAP50(B)", 0.0)),
                "epoch": epoch, "seconds": round(time.perf_counter() - started, 1), "done_training": False})

    return on_fit_epoch_end


def _install_reporter(fn: Callable[[Any], None] | None) -> None:
    """The kit's reporter in place of ultralytics' Ray Tune callback (this worker process only)."""
    from ultralytics.utils.callbacks import raytune

    if fn is None:
        raytune.callbacks.pop("on_fit_epoch_end", None)
    else:
        raytune.callbacks["on_fit_epoch_end"] = fn


def _train(setup: TrialSetup, params: dict[str, Any], imgsz: int, name: str) -> tuple[Path, dict[str, float]]:
    """(the trial's ONNX, ultralytics' final metrics)."""
    kw = dict(setup.train_kw, epochs=setup.epochs, imgsz=imgsz, export_hw=export_hw(imgsz), **params)
    project = Path(setup.out) / "trials"
    if setup.element.kind == "image":
        from ..images.train import train_element

        r = train_element(setup.element, setup.data, setup.preset, project=project, name=name, **kw)
        return r.onnx, dict(r.result.metrics)
    from ..train import train

    r = train("detect", setup.data, setup.preset, project=project, name=name, **kw)
    return Path(r.onnx), dict(r.metrics)


def run_trial(config: dict[str, Any], setup: TrialSetup, trial_id: str,
              report: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Train with `config` (ultralytics arguments), export, score; each epoch's exact score to
    `report` (ASHA's input) and the final result returned (and reported)."""
    from ..train import preset

    started = time.perf_counter()
    params = dict(config)
    aug = "photo" if setup.element.kind == "image" else "broadcast"
    imgsz = int(params.pop("imgsz", 0) or preset(setup.preset, "detect", aug).imgsz)
    workdir = Path(setup.out) / "trials" / trial_id
    _install_reporter(_epoch_reporter(setup, workdir, export_hw(imgsz), report, started) if report else None)
    try:
        onnx, metrics = _train(setup, params, imgsz, trial_id)
    finally:
        _install_reporter(None)
    s = score_model(setup, onnx, workdir / "bundle")
    out = {"score": s["score"], "mAP50": float(metrics.get("mAP50", 0.0)),
           "mAP50-95": float(metrics.get("mAP50-95", 0.0)), "epoch": setup.epochs, "scored": s["scored"],
           "seconds": round(time.perf_counter() - started, 1), "done_training": True, "onnx": str(onnx)}
    if report:
        report(out)
    return out


def trainable(config: dict[str, Any], setup: TrialSetup) -> None:
    """The Ray Tune function trainable: `run_trial` inside the trial's MLflow run (nested under the
    search's run through $TVKIT_MLFLOW_PARENT), each report into both."""
    from ray import tune

    from .. import track

    os.environ.update(setup.env)   # the store and the parent run (kit.track.child_env of the search's run)
    trial_id = tune.get_context().get_trial_id()
    with track.run(f"trial {trial_id}", params=config, tags={"tvkit.kind": "trial", "tvkit.trial": trial_id}) as r:
        def report(metrics: dict[str, Any]) -> None:
            r.log_metrics({k: metrics[k] for k in ("score", "mAP50", "seconds") if k in metrics},
                          step=int(metrics["epoch"]))
            tune.report(dict(metrics, mlflow_run_id=r.id or ""))

        out = run_trial(config, setup, trial_id, report)
        r.log_metrics({"score": out["score"], "mAP50": out["mAP50"], "mAP50-95": out["mAP50-95"],
                       "epochs": out["epoch"], "seconds": out["seconds"]})
        r.set_tags({"tvkit.onnx": out["onnx"]})
