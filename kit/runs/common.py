"""What every part of the runner shares: where runs live, the result records, redacted writes,
and the two helpers the notebooks call (`notebook_output_dir`, `write_metrics`).

Decisions: every file a run writes goes through `write_redacted_text` (a temporary file and a
rename: no secret and no half file), and `redact_tree` sweeps the text files a notebook wrote
itself after it ran (belt and braces). The profiles are overlays on the defaults table
(kit.defaults); `PROFILES` is what each one passes to the notebooks.

Usage: `from kit.runs.common import RUNS_DIR, RunResult, write_redacted_json`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import write_json_atomic
from ..defaults import PROFILES as PROFILE_OVERLAYS
from ..defaults import profile_parameters
from ..settings import redact
from ..track import DEFAULT_RUNS_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RUNS_DIR = Path(os.environ.get("TVKIT_RUNS_DIR", DEFAULT_RUNS_DIR))

#: Parameters per profile, from the defaults table (kit.defaults: the table, then the profile's overlay). Each
#: notebook gets those it declares; the notebooks' own defaults are the table's (smoke) values, so a notebook
#: opened alone (or `make test-notebooks`) and `--profile smoke` run the same.
PROFILES: dict[str, dict[str, Any]] = {name: profile_parameters(name) for name in PROFILE_OVERLAYS}

#: Parameters the runner sets itself (where the notebook writes); never forwarded or overridden.
RUNNER_PARAMETERS = ("run_dir", "metrics_path")
#: Files a run may write as text; they are redacted after every notebook.
_TEXT_SUFFIXES = {".json", ".jsonl", ".ipynb", ".html", ".txt", ".md", ".csv", ".yaml", ".yml", ".log", ".py"}
PICTURES_PER_NOTEBOOK = 8


@dataclass
class NotebookResult:
    name: str
    status: str  # "ok" | "failed"
    seconds: float
    output: str
    error: dict[str, Any] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # what papermill passed
    sources: dict[str, str] = field(default_factory=dict)  # parameter -> profile | override | runner | <notebook>
    started: float = 0.0  # wall clock, to tell which pictures this notebook saved
    notebook: str = ""  # the stored notebook it ran


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    profile: str
    status: str
    notebooks: list[NotebookResult] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    seconds: float = 0.0

    @property
    def summary(self) -> Path:
        return self.run_dir / "summary.html"


def git_commit(root: Path = REPO_ROOT) -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def new_run_id(profile: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{profile}-{secrets.token_hex(2)}"


def write_redacted_text(path: Path, text: str) -> Path:
    """Write redacted text through a temporary file and a rename: no secret and no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(redact(text))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_redacted_json(path: Path, obj: Any) -> Path:
    return write_redacted_text(path, json.dumps(obj, indent=2, default=str))


def _redact_file(path: Path) -> None:
    try:
        text = path.read_text()
    except (UnicodeDecodeError, OSError):
        return
    clean = redact(text)
    if clean != text:
        path.write_text(clean)


def redact_tree(root: Path, since: float) -> None:
    """Belt and braces: no secret value survives in a text file the run wrote (a notebook may
    print one, or write it into its own files); files older than `since` were already done."""
    for p in root.rglob("*"):
        if p.suffix in _TEXT_SUFFIXES and p.is_file() and p.stat().st_mtime >= since - 1:
            _redact_file(p)


def fmt_value(v: Any) -> str:
    """A parameter or score as a person reads it: floats rounded to 4 places (0.3 stays 0.3),
    containers and None as JSON."""
    if isinstance(v, float):
        return str(round(v, 4))
    if isinstance(v, (dict, list, bool)) or v is None:
        return json.dumps(v)
    return str(v)


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
