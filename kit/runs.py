"""Headless runs of the notebook suite with papermill, and the run ledger.

A run is a folder `papermill_runs/<run id>/` holding the executed notebooks, `params.json`
(profile, parameters, notebooks, commit) and `metrics.json` (what each notebook's last cell
wrote), plus one line in `papermill_runs/index.jsonl`. A failing notebook stops the run; what
was made before it stays, and the ledger line says which cell failed.
"""

from __future__ import annotations

import json
import os
import secrets as _secrets
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import KitError
from .contract import write_json_atomic
from .settings import SETTINGS_HELP, redact

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RUNS_DIR = Path(os.environ.get("TVKIT_RUNS_DIR", REPO_ROOT / "papermill_runs"))

#: Parameters every notebook receives per profile (notebooks ignore what they do not declare).
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"profile": "smoke"},
    "cpu": {"profile": "cpu"},
    "gpu": {"profile": "gpu"},
}


@dataclass
class NotebookResult:
    name: str
    status: str  # "ok" | "failed"
    seconds: float
    output: str
    error: dict[str, Any] | None = None


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    profile: str
    status: str
    notebooks: list[NotebookResult] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def list_notebooks(only: list[str] | None = None, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The suite in order; `only` picks by number prefix ("01") or stem ("01_data_prep")."""
    books = sorted(p for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return books
    picked = [b for b in books if any(b.stem == o or b.stem.split("_")[0] == o for o in only)]
    unknown = [o for o in only if not any(b.stem == o or b.stem.split("_")[0] == o for b in books)]
    if unknown:
        raise KitError(f"--only {','.join(unknown)}: no such notebook in {notebooks_dir} "
                       f"(have {', '.join(b.stem for b in books)})")
    return picked


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values are read as JSON when they parse (numbers, true, lists), else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise KitError(f"-p {pair!r}: expected key=value with a Python identifier as key")
        if key.upper() in SETTINGS_HELP and SETTINGS_HELP[key.upper()][0]:
            raise KitError(f"-p {key}: credentials come from the environment or .env, never from run parameters "
                           "(parameters are stored in the run folder)")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def git_commit(root: Path = REPO_ROOT) -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def new_run_id(profile: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{profile}-{_secrets.token_hex(2)}"


def _redact_file(path: Path) -> None:
    """Belt and braces: no secret value survives in a file the run wrote."""
    try:
        text = path.read_text()
    except (UnicodeDecodeError, OSError):
        return
    clean = redact(text)
    if clean != text:
        path.write_text(clean)


def run_suite(profile: str = "smoke", overrides: dict[str, Any] | None = None, only: list[str] | None = None,
              runs_dir: Path | None = None, notebooks_dir: Path = NOTEBOOKS_DIR,
              log: Callable[[str], None] = print) -> RunResult:
    """Execute the notebooks in order into a new run folder and append the ledger line."""
    import logging

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.WARNING)  # our own lines say what runs

    if profile not in PROFILES:
        raise KitError(f"--profile {profile}: unknown profile (choose from {', '.join(PROFILES)})")
    books = list_notebooks(only, notebooks_dir)
    if not books:
        raise KitError(f"no notebooks found in {notebooks_dir}")
    runs_dir = Path(runs_dir or RUNS_DIR)
    run_id = new_run_id(profile)
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    params = {**PROFILES[profile], **(overrides or {})}
    write_json_atomic(run_dir / "params.json", {
        "run_id": run_id, "profile": profile, "parameters": params,
        "notebooks": [b.name for b in books], "commit": git_commit(),
    }, indent=2)

    result = RunResult(run_id, run_dir, profile, "running")
    started = time.time()
    for book in books:
        out = run_dir / book.name
        metrics_path = run_dir / f"metrics_{book.stem}.json"
        log(f"[{run_id}] {book.stem} ...")
        t0 = time.perf_counter()
        nb_params = {**params, "run_dir": str(run_dir), "metrics_path": str(metrics_path)}
        try:
            pm.execute_notebook(str(book), str(out), parameters=nb_params, kernel_name="python3",
                                cwd=str(REPO_ROOT), progress_bar=False, log_output=False)
        except PapermillExecutionError as e:
            err = {"cell": e.cell_index, "exec_count": e.exec_count, "ename": e.ename,
                   "evalue": redact(str(e.evalue))[:500], "source": e.source[:500]}
            result.notebooks.append(NotebookResult(book.stem, "failed", time.perf_counter() - t0, str(out), err))
            result.status = "failed"
            log(f"[{run_id}] {book.stem} FAILED in cell {e.cell_index}: {e.ename}: {err['evalue']}")
        except Exception as e:  # the kernel died or would not start: still a recorded, failed run
            err = {"cell": None, "exec_count": None, "ename": type(e).__name__, "evalue": redact(str(e))[:500],
                   "source": ""}
            result.notebooks.append(NotebookResult(book.stem, "failed", time.perf_counter() - t0, str(out), err))
            result.status = "failed"
            log(f"[{run_id}] {book.stem} FAILED: {err['ename']}: {err['evalue']}")
        finally:
            if out.exists():
                _redact_file(out)
        if result.status == "failed":
            break
        result.notebooks.append(NotebookResult(book.stem, "ok", time.perf_counter() - t0, str(out)))
        if metrics_path.is_file():
            result.metrics[book.stem] = json.loads(metrics_path.read_text())
        log(f"[{run_id}] {book.stem} ok ({time.perf_counter() - t0:.1f} s)")
    if result.status == "running":
        result.status = "ok"

    write_json_atomic(run_dir / "metrics.json", result.metrics, indent=2)
    line = {
        "run_id": run_id, "profile": profile, "status": result.status,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1), "dir": str(run_dir),
        "notebooks": [asdict(n) for n in result.notebooks], "parameters": params,
    }
    with open(runs_dir / "index.jsonl", "a") as fh:
        fh.write(redact(json.dumps(line)) + "\n")
    for p in run_dir.iterdir():
        if p.suffix in (".json", ".ipynb", ".html", ".txt"):
            _redact_file(p)
    return result


def read_index(runs_dir: Path | None = None) -> list[dict[str, Any]]:
    path = Path(runs_dir or RUNS_DIR) / "index.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- helpers the notebooks call ------------------------------------------------------------------

def notebook_output_dir(run_dir: str | None, name: str) -> Path:
    """Where a notebook writes: its run folder under papermill, else papermill_runs/interactive/<name>."""
    d = Path(run_dir) if run_dir else RUNS_DIR / "interactive" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_metrics(metrics: dict[str, Any], metrics_path: str | None, name: str) -> Path:
    """The notebook's final cell: metrics to the path papermill gave, or beside the interactive outputs."""
    path = Path(metrics_path) if metrics_path else notebook_output_dir(None, name) / "metrics.json"
    return write_json_atomic(path, metrics, indent=2)
