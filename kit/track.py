"""Every run the kit makes is an MLflow run: parameters, scores, curves and pictures a researcher
compares in the MLflow UI.

Usage: `with track.run("tune", params=vars(args)) as r: ...; r.log_metrics(result.metrics())`;
below an active run anything may call `track.log_metrics({...})` / `track.log_artifact(path)`
(no-ops when nothing is tracked); `tvkit ui` opens the store; `tvkit runs list` reads it.

Decisions:
- **Store**: `$MLFLOW_TRACKING_URI` when set (a team's server), else a SQLite file beside the
  kit's run folders, `sqlite:///<runs dir>/mlflow.db` (offline; MLflow 3.13 and later refuse a
  plain file store). Experiment `tvkit` (`$TVKIT_EXPERIMENT`). `$TVKIT_TRACKING=off` turns
  tracking off; without mlflow installed the kit says so once and runs untracked.
- **Nesting**: a run started while another is active nests under it (a suite's notebooks, a
  sweep's points). A process the kit starts learns its parent from `$TVKIT_MLFLOW_PARENT`
  (`child_env`): a notebook's kernel, a Ray task. ultralytics' own MLflow callback, when it runs
  (not under pytest), logs its per-epoch curves into the active run through `$MLFLOW_RUN_ID`,
  and `$MLFLOW_KEEP_RUN_ACTIVE` stops it from closing the kit's run.
- **Names**: nested results flatten with "/" (`PlayerDetect_v1@1.0/iou`); MLflow refuses "@" in
  a metric name, so it becomes ":" (`PlayerDetect_v1:1.0/iou`). Booleans log as 0/1, anything
  that is not a number is left out of metrics. The kit's parameters are `tvkit.<name>`: MLflow
  refuses a parameter logged twice with two values, and ultralytics logs its trainer's arguments
  (`epochs`, `data`...) into the same run.
- **No secrets**: parameters whose name says key, token, secret or password are dropped, every
  value and tag goes through `kit.settings.redact`, and text artifacts are redacted on the way.
- **Failures**: the run ends FAILED with the error's type and message as tags, and the error
  goes on to the caller.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["run", "log_metrics", "log_params", "log_artifact", "tracking_uri", "enabled", "active_run_id",
           "child_env", "children_under", "log_training", "flatten", "metric_name", "list_runs", "EXPERIMENT",
           "PARENT_ENV"]

EXPERIMENT = os.environ.get("TVKIT_EXPERIMENT", "tvkit")
PARENT_ENV = "TVKIT_MLFLOW_PARENT"
OFF_ENV = "TVKIT_TRACKING"
_SECRET_NAME = re.compile(r"(key|token|secret|passw|credential|wallet)", re.I)
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_\-. /:]")
_TEXT = {".json", ".html", ".txt", ".md", ".csv", ".yaml", ".yml", ".log", ".py"}
_warned: list[str] = []
#: The run folders' root when $TVKIT_RUNS_DIR is not set: papermill_runs/ in the repository. Kept
#: here, below kit.runs (which reads it), so that tracking does not import the runner.
DEFAULT_RUNS_DIR = Path(__file__).resolve().parents[1] / "papermill_runs"
_root: list[Path] = []      # the run folders' root of the outermost open run (run(root=...))


def runs_root() -> Path:
    """Where the kit's run folders live (and, beside them, its MLflow store): the open run's root,
    else $TVKIT_RUNS_DIR, else DEFAULT_RUNS_DIR (kit.runs' RUNS_DIR is this same folder)."""
    if _root:
        return _root[-1]
    return Path(os.environ.get("TVKIT_RUNS_DIR") or DEFAULT_RUNS_DIR)


def tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else the SQLite store beside the kit's run folders."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    root = runs_root().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def enabled() -> bool:
    if os.environ.get(OFF_ENV, "").lower() in ("off", "0", "false", "no"):
        return False
    try:
        import mlflow  # noqa: F401
    except ImportError:
        if not _warned:
            _warned.append("mlflow")
            print("note: mlflow is not installed, this run is not tracked (pip install -e '.[scale]')")
        return False
    return True


@contextlib.contextmanager
def _scoped_env(updates: dict[str, str]) -> Iterator[None]:
    """os.environ with `updates` for the block; every key it touches put back as it was after."""
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _mlflow():
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri()
    with _scoped_env({"MLFLOW_TRACKING_URI": uri}):
        mlflow.set_tracking_uri(uri)   # mlflow also exports it to os.environ: put back what was there
    if uri.startswith("sqlite:") and mlflow.get_experiment_by_name(EXPERIMENT) is None:
        # artifacts beside the store, not in ./mlruns of whatever folder the kit runs in
        with contextlib.suppress(Exception):  # another process created it meanwhile
            mlflow.create_experiment(EXPERIMENT, artifact_location=(runs_root().resolve() / "mlartifacts").as_uri())
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


def metric_name(key: str) -> str:
    return _BAD_CHARS.sub("_", key.replace("@", ":"))[:250]


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a/b": 1}; lists are left whole."""
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}{k}/"))
    elif prefix:
        out[prefix[:-1]] = d
    return out


def _numbers(d: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in flatten(d).items():
        if isinstance(v, bool):
            v = float(v)
        if isinstance(v, (int, float)) and math.isfinite(float(v)):
            out[metric_name(k)] = float(v)
    return out


def _safe_params(params: dict[str, Any]) -> dict[str, str]:
    from .settings import redact

    out = {}
    for k, v in flatten(params).items():
        if v is None or callable(v) or _SECRET_NAME.search(k.rsplit("/", 1)[-1]):
            continue
        out[metric_name(f"tvkit.{k}")] = redact(str(v))[:6000]
    return out


def active_run_id() -> str | None:
    if not enabled():
        return None
    import mlflow

    r = mlflow.active_run()
    return r.info.run_id if r else None


def log_metrics(metrics: dict[str, Any], step: int | None = None) -> None:
    """Numeric leaves of `metrics` into the active run (nothing when no run is active)."""
    if active_run_id():
        import mlflow

        nums = _numbers(metrics)
        if nums:
            mlflow.log_metrics(nums, step=step)


def log_params(params: dict[str, Any]) -> None:
    if active_run_id():
        import mlflow

        mlflow.log_params(_safe_params(params))


def log_artifact(path: str | os.PathLike, folder: str | None = None) -> None:
    """A file or folder into the active run; text files pass through the redaction first."""
    path = Path(path)
    if not active_run_id() or not path.exists():
        return
    import mlflow

    from .settings import redact

    files = [path] if path.is_file() else [p for p in sorted(path.rglob("*")) if p.is_file()]
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            rel = f.relative_to(path.parent if path.is_file() else path)
            dest = Path(tmp) / (folder or (path.name if path.is_dir() else "")) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if f.suffix.lower() in _TEXT:
                dest.write_text(redact(f.read_text(errors="replace")))
            else:
                shutil.copyfile(f, dest)
        for top in Path(tmp).iterdir():
            if top.is_dir():
                mlflow.log_artifacts(str(top), artifact_path=top.name)
            else:
                mlflow.log_artifact(str(top))


def log_training(results_csv: str | os.PathLike, final: dict[str, Any], curves: Path | None = None) -> None:
    """A finished ultralytics training into the active run: its per-epoch table (ultralytics'
    names, "(" and ")" dropped, as its MLflow callback logs them; skipped when that callback
    already did), the final metrics and the curves picture."""
    run_id = active_run_id()
    if not run_id:
        return
    import csv

    import mlflow

    logged = mlflow.get_run(run_id).data.metrics
    path = Path(results_csv)
    if path.is_file() and not any(k.startswith("metrics/") for k in logged):
        for row in csv.DictReader(path.open()):
            row = {k.strip(): v for k, v in row.items()}
            step = int(float(row.pop("epoch", 0) or 0))
            nums = {metric_name(k.replace("(", "").replace(")", "")): float(v) for k, v in row.items()
                    if _is_number(v)}
            mlflow.log_metrics(nums, step=step)
    log_metrics({"final": final})
    if curves:
        log_artifact(curves)


def _is_number(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


class _Run:
    """The handle `run` yields: the run's id (None when untracked) and its logging calls."""

    def __init__(self, run_id: str | None):
        self.id = run_id
        self.status = "FINISHED"   # what the run ends as when its block ends normally (FAILED: a failed step)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        log_metrics(metrics, step)

    def log_params(self, params: dict[str, Any]) -> None:
        log_params(params)

    def log_artifact(self, path: str | os.PathLike, folder: str | None = None) -> None:
        log_artifact(path, folder)

    def set_tags(self, tags: dict[str, Any]) -> None:
        if self.id:
            import mlflow

            from .settings import redact

            mlflow.set_tags({metric_name(k): redact(str(v))[:5000] for k, v in tags.items() if v is not None})


@contextlib.contextmanager
def run(name: str, params: dict[str, Any] | None = None, tags: dict[str, Any] | None = None,
        root: str | os.PathLike | None = None) -> Iterator[_Run]:
    """An MLflow run around a block: nested under the active run, or under $TVKIT_MLFLOW_PARENT.
    `root`: the run folders' root, whose store this run (and those nested in it) goes to."""
    if not enabled():
        yield _Run(None)
        return
    if root is not None:
        _root.append(Path(root))
    try:
        # for the block only: ultralytics' callback and the processes the kit starts read these
        with _scoped_env({"MLFLOW_TRACKING_URI": tracking_uri(), "MLFLOW_EXPERIMENT_NAME": EXPERIMENT,
                          "MLFLOW_KEEP_RUN_ACTIVE": "True"}), _open(name, params, tags) as handle:
            yield handle
    finally:
        if root is not None:
            _root.pop()


@contextlib.contextmanager
def _open(name: str, params: dict[str, Any] | None, tags: dict[str, Any] | None) -> Iterator[_Run]:
    mlflow = _mlflow()
    parent = os.environ.get(PARENT_ENV) if mlflow.active_run() is None else None
    os.environ.pop("MLFLOW_RUN_ID", None)  # set for ultralytics' callback in a child; it would resume, not nest
    active = mlflow.start_run(run_name=name, nested=mlflow.active_run() is not None or bool(parent),
                              parent_run_id=parent or None)
    handle = _Run(active.info.run_id)
    try:
        handle.set_tags({"tvkit.command": name, **(tags or {})})
        if params:
            handle.log_params(params)
        yield handle
    except BaseException as e:
        handle.set_tags({"tvkit.error": f"{type(e).__name__}: {e}"})
        mlflow.end_run(status="KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")
        raise
    else:
        mlflow.end_run(status=handle.status)


@contextlib.contextmanager
def children_under(run_id: str | None) -> Iterator[None]:
    """Processes started inside the block (a papermill kernel inherits os.environ) log under `run_id`."""
    with _scoped_env(child_env(run_id, {})):
        yield


def child_env(run_id: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a process the kit starts under run `run_id`: the store, the parent, and
    tracking on (a Ray worker's own environment, set when its cluster started, may say off)."""
    env = dict(os.environ if base is None else base)
    if run_id:
        env.update({PARENT_ENV: run_id, "MLFLOW_TRACKING_URI": tracking_uri(), "MLFLOW_EXPERIMENT_NAME": EXPERIMENT,
                    "MLFLOW_RUN_ID": run_id, "MLFLOW_KEEP_RUN_ACTIVE": "True", OFF_ENV: "on"})
    return env


def list_runs(kind: str = "suite", root: str | os.PathLike | None = None,
              max_results: int = 1000) -> list[dict[str, Any]]:
    """The kit's runs of one kind from the store (beside `root`, default the kit's run folders),
    oldest first: name, status, seconds, final score, sweep, folder and MLflow ids."""
    if not enabled():
        return []
    if root is not None:
        _root.append(Path(root))
    try:
        return _list(kind, max_results)
    finally:
        if root is not None:
            _root.pop()


def _list(kind: str, max_results: int) -> list[dict[str, Any]]:
    mlflow = _mlflow()
    exp = mlflow.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return []
    found = mlflow.search_runs([exp.experiment_id], filter_string=f"tags.`tvkit.kind` = '{kind}'",
                               order_by=["attributes.start_time ASC"], max_results=max_results,
                               output_format="list")
    out = []
    for r in found:
        tags, metrics = r.data.tags, r.data.metrics
        end = r.info.end_time or r.info.start_time
        out.append({"run_id": tags.get("tvkit.run_id", r.info.run_name), "mlflow_run_id": r.info.run_id,
                    "status": tags.get("tvkit.status", r.info.status.lower()), "dir": tags.get("tvkit.run_dir"),
                    "profile": tags.get("tvkit.profile"), "sweep": tags.get("tvkit.sweep"),
                    "seconds": round((end - r.info.start_time) / 1000, 1), "score": metrics.get("final"),
                    "started": r.info.start_time})
    return out
