"""Training hyper-parameter searches on Ray Tune, Optuna choosing, the validator's exact score deciding.

Usage: `r = search("kit-example/Detect-fire", "data/fire/data.yaml", trials=8, epochs=3)`, then
`print(r)` (a table of trials), `r.best.onnx`; on the command line `tvkit search --element ID
--data data.yaml --trials 8 --epochs 3 [--space lr0=1e-4:1e-2:log] [--ray-address HOST:PORT]`
(`add_search_arguments`, `run_search` in kit.search.cli).

Each trial trains `kit.images.train.train_element` (Detect elements) or `kit.train.train`
(clip elements: the detector) with the trial's hyper-parameters, exports ONNX and is scored by
the element's exact score on the val split (`kit.search.trial`). Decisions:

- **The kit runs its own Tuner, not ultralytics'.** `model.tune(use_ray=True)`
  (ultralytics/utils/tuner.py `run_ray_tune`) optimises ultralytics' fitness
  (`TASK2METRIC`: mAP50-95 of the validation it runs itself) and nothing else can be plugged
  in as the objective, while what decides a miner's reward is the element's score: per photo
  `0.6 map50 + 0.4 false_positive`, gated, at the miner's thresholds, through the ONNX the
  miner ships. It also takes all of the machine's threads per trial (`NUM_THREADS`), reads its
  search space without the kit's presets, start and export, shuts Ray down itself, and logs to
  no parent run. (Older ultralytics had no `search_alg` either; 8.4 takes one, Optuna by
  default, and that part the kit keeps: `ray.tune.search.optuna.OptunaSearch`.) The kit's
  Tuner: OptunaSearch (TPE) proposes, ASHA (`time_attr="epoch"`, reduction 3, grace `grace`
  epochs) stops poor trials early when there are epochs to stop at (epochs > 1), and both read
  the exact score, reported per epoch (`kit.search.trial`).
- **Points first**: `points` (e.g. the preset's own setting) are tried before Optuna samples
  (`points_to_evaluate`), so a search never reports less than what it started from.
- **Where**: a local Ray with this machine's CPUs by default, `ray_address` / $RAY_ADDRESS for a
  cluster (`kit.runs_ray.ray_session`, as sweeps); `cpus_per_trial` Ray CPUs each (default 1:
  two trials at once on two cores). A cluster's nodes need the kit, the data at the same paths,
  and an MLflow store they reach ($MLFLOW_TRACKING_URI).
- **MLflow**: the search is a run (`tvkit.kind` search: its space, the best trial, counts), each
  trial a run nested under it (params: the trial's hyper-parameters as `tvkit.<name>`; metrics:
  score and mAP50 per epoch, then score, mAP50, epochs, seconds); the best trial is tagged
  `tvkit.best`. A trial that fails ends FAILED with its error (`tvkit.error`), a trial ASHA stops
  ends KILLED (`tvkit.stopped`), and the others go on.
- **Files**: `<out>/<name>/`: `trials/<trial id>/` (each trial's ultralytics run, ONNX, bundle),
  `ray/` (Ray Tune's own records), `search.json` and `trials.md` (the table).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .. import KitError
from .result import SearchResult, Trial, trials_from_grid
from .space import DEFAULT_SPACES, describe, search_space, to_tune
from .trial import TrialSetup, run_trial, score_model, trainable

__all__ = ["search", "SearchResult", "Trial", "TrialSetup", "DEFAULT_SPACES", "search_space", "run_trial",
           "score_model"]


def _need_ray() -> None:
    try:
        import optuna  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError as e:
        raise KitError(f"a training search needs Ray Tune and Optuna ({e.name} is missing): "
                       "pip install -e '.[scale]'") from None


def _element(element: Any, manifest: Any) -> Any:
    if hasattr(element, "kind"):
        return element
    from ..manifest import load_manifest

    return load_manifest(manifest).element(element)


def _check_inputs(el: Any, data: Path, val: str | None) -> str:
    """The val to score on (a split for Detect, a clip folder for football), checked before Ray starts."""
    if el.kind == "image":
        from ..images.score import load_truth
        from ..images.train import check_element_data

        check_element_data(el, data)
        split = val or "val"
        truths, _ = load_truth(data, split=split, element=el, notes=[])
        if not any(truths.values()):
            raise KitError(f"{data}: no labelled {split} photos to score the trials on (the search's objective is "
                           f"the element's score on them)")
        return split
    from ..datasets import read_data_yaml
    from ..tune.clips import find_clips

    if read_data_yaml(data).kpt_shape:
        raise KitError(f"{data}: a pose dataset; the search trains {el.id}'s detector (a detect data.yaml)")
    if not val:
        raise KitError(f"{el.id} is a clip element: give val clips to score the trials on (--val-clips DIR of "
                       "<name>.mp4 + <name>.json; `tvkit synth --clips 4 --out DIR` makes some)")
    find_clips(val)
    return str(Path(val).resolve())


def _tuner(setup: TrialSetup, dims: dict, trials: int, epochs: int, grace: int, points: list[dict] | None,
           seed: int, cpus_per_trial: float, folder: Path) -> Any:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(points_to_evaluate=points or None, seed=seed)
    scheduler = (ASHAScheduler(time_attr="epoch", max_t=epochs, grace_period=max(1, min(grace, epochs)),
                               reduction_factor=3) if epochs > 1 else None)
    fn = tune.with_resources(tune.with_parameters(trainable, setup=setup), {"cpu": cpus_per_trial})
    return tune.Tuner(
        fn, param_space=to_tune(dims),
        tune_config=tune.TuneConfig(metric="score", mode="max", search_alg=searcher, scheduler=scheduler,
                                    num_samples=trials, trial_name_creator=lambda t: t.trial_id,
                                    trial_dirname_creator=lambda t: t.trial_id),
        run_config=tune.RunConfig(name="ray", storage_path=str(folder), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0)))


def _start_points(points: list[dict] | None, dims: dict) -> list[dict]:
    """The start points over the searched knobs only (Optuna wants every searched knob in each point,
    and none of the fixed ones): a knob a point leaves out gets its range's middle (`Dim.middle`)."""
    out = []
    for p in points or []:
        unknown = sorted(set(p) - set(dims))
        if unknown:
            raise KitError(f"a start point sets {unknown}, which the search space does not have "
                           f"({', '.join(dims)}); add them with --space")
        out.append({k: p.get(k, d.middle()) for k, d in dims.items() if d.kind != "fixed"})
    return out


def search(element: Any, data: str | os.PathLike, *, trials: int = 8, epochs: int | None = None,
           preset: str = "smoke", space: list[str] | None = None, points: list[dict] | None = None,
           val: str | None = None, manifest: Any = None, pose_model: str | None = None,
           cpus_per_trial: float = 1.0, ray_address: str | None = None, out: str | os.PathLike = "runs/search",
           name: str | None = None, grace: int = 1, seed: int = 0, latency: bool = True, log: Any = print,
           **train_kw: Any) -> SearchResult:
    """Search training hyper-parameters by the element's exact val score (module docstring).

    Args:
        element: an element id (of `manifest`) or Element; data: its training data.yaml.
        trials: how many trials; epochs: each trial's epochs (default the preset's; ASHA's budget).
        space: overrides of the kind's default space (`key=lo:hi`, `key=a,b`, a YAML file; kit.search.space).
        points: settings tried first (dicts over the space's keys).
        val: Detect: the split scored (default val); clip: a folder of val clips (mp4 + json).
        pose_model: clip elements: the pitch model in the trials' bundles (default the reference).
        train_kw: to every trial's training (batch, fraction, device, start, init, from_scratch ...).
    Returns:
        SearchResult: `print` it, `.best`, `.trials`, `.to_dict()`.
    Raises:
        KitError: bad element, data, space or points, or no Ray Tune/Optuna; before any trial runs.

    >>> r = search("kit-example/Detect-fire", "data/fire/data.yaml", trials=4, epochs=2)  # doctest: +SKIP
    >>> r.best.score > 0, len(r.trials)  # doctest: +SKIP
    (True, 4)
    """
    from .. import track
    from ..runs_ray import ray_session
    from ..train import preset as get_preset

    el = _element(element, manifest)
    if trials < 1 or (epochs is not None and epochs < 1) or cpus_per_trial <= 0:
        raise KitError(f"trials {trials}, epochs {epochs}, cpus per trial {cpus_per_trial}: each must be positive")
    data = Path(data).resolve()
    val = _check_inputs(el, data, val)
    dims = search_space(el.kind, space)
    points = _start_points(points, dims)
    _need_ray()
    epochs = epochs or get_preset(preset, "detect", "photo" if el.kind == "image" else "broadcast").epochs
    name = name or f"{''.join(c if c.isalnum() else '-' for c in el.id)}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = Path(out).resolve() / name
    setup = TrialSetup(el, str(data), str(folder), preset, epochs, val, manifest, pose_model, latency, dict(train_kw))
    params = {"element": el.id, "data": str(data), "preset": preset, "epochs": epochs, "trials": trials,
              "space": describe(dims), "cpus_per_trial": cpus_per_trial, "ray_address": ray_address, **train_kw}
    started = time.perf_counter()
    with track.run("search", params=params, tags={"tvkit.kind": "search", "tvkit.element": el.id}) as run:
        setup.env = track.child_env(run.id, {})
        with ray_session(ray_address, setup.env, log, f"{cpus_per_trial:g} CPU(s) a trial, {trials} trials"):
            grid = _tuner(setup, dims, trials, epochs, grace, points, seed, cpus_per_trial, folder).fit()
        result = SearchResult(el.id, el.kind, describe(dims), trials_from_grid(grid, list(dims)), epochs,
                              round(time.perf_counter() - started, 1), folder, run.id)
        _record(run, result)
    result.write()
    return result


def _record(run: Any, result: SearchResult) -> None:
    """The trials' MLflow runs closed as they ended (ASHA stops a worker before its run ends), the
    best tagged, the search's own figures logged."""
    from .. import track

    run.log_metrics(result.metrics())
    if result.best:
        run.set_tags({"tvkit.best_trial": result.best.id})
    if not run.id:
        return
    import mlflow

    from ..settings import redact

    client = mlflow.MlflowClient(track.tracking_uri())
    exp = client.get_run(run.id).info.experiment_id
    found = client.search_runs([exp], filter_string=f"tags.`mlflow.parentRunId` = '{run.id}'", max_results=10000)
    by_trial = {r.data.tags.get("tvkit.trial"): r for r in found}
    for t in result.trials:
        r = by_trial.get(t.id)
        if r is None:
            continue
        t.mlflow_run_id = r.info.run_id
        if t.status == "failed" and "tvkit.error" not in r.data.tags:
            client.set_tag(r.info.run_id, "tvkit.error", redact(t.error or "failed"))
        if t.status == "stopped":
            client.set_tag(r.info.run_id, "tvkit.stopped", f"ASHA: stopped after epoch {t.epochs}")
        if r.info.status == "RUNNING":
            client.set_terminated(r.info.run_id, "KILLED" if t.status == "stopped" else
                                  "FAILED" if t.status == "failed" else "FINISHED")
    if result.best and result.best.mlflow_run_id:
        client.set_tag(result.best.mlflow_run_id, "tvkit.best", "true")

