"""Headless runs of the notebook suite with papermill, sweeps (on Ray) and comparisons.

A run is a folder `papermill_runs/<run id>/` holding the executed notebooks, `params.json`
(profile, parameters, and what each notebook was given and from where), `metrics.json` (what
each notebook's last cell wrote), `summary.html` (statuses, the score table, the pictures the
notebooks saved, and for a failed run the failing cell), and an MLflow run (kit.track: the
suite, each notebook nested, their parameters, scores and pictures) in the store beside the
folders, which is the ledger `tvkit runs list` and `tvkit ui` read. A failing notebook stops the
run; what was made before it stays.

Notebooks are wired forward by name: once a notebook has run, every entry of its metrics
(paths such as `clips_dir`, `video`, a model or a bundle) becomes the value of the parameter
of the same name in each later notebook that declares one. A notebook is only ever given the
parameters its `parameters` cell declares, so the suite works with whichever notebooks exist.
"""

from __future__ import annotations

import ast
import csv
import html
import io
import itertools
import json
import os
import re
import secrets as _secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import KitError, track
from .contract import write_json_atomic
from .settings import SETTINGS_HELP, redact

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RUNS_DIR = Path(os.environ.get("TVKIT_RUNS_DIR", REPO_ROOT / "papermill_runs"))

#: Parameters per profile. Each notebook gets those it declares; the notebooks' own defaults
#: are the smoke values (a test holds them equal), so a notebook opened alone (or `make test-notebooks`)
#: and `--profile smoke` run the same.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"profile": "smoke", "clips": 2, "frames": 40, "width": 640, "height": 360, "stride": 2,
              "clip_frames": 60},
    "cpu": {"profile": "cpu", "clips": 6, "frames": 150, "width": 960, "height": 540, "stride": 3,
            "clip_frames": 250},
    "gpu": {"profile": "gpu", "clips": 24, "frames": 250, "width": 960, "height": 540, "stride": 2,
            "clip_frames": 750},
}

#: Parameters the runner sets itself (where the notebook writes); never forwarded or overridden.
RUNNER_PARAMETERS = ("run_dir", "metrics_path")
#: Files a run may write as text; they are redacted after every notebook.
_TEXT_SUFFIXES = {".json", ".jsonl", ".ipynb", ".html", ".txt", ".md", ".csv", ".yaml", ".yml", ".log", ".py"}
_PICTURES_PER_NOTEBOOK = 8
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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


def _check_parameter_name(key: str, where: str) -> None:
    """Refuse names a run must not take from the user: credentials (parameters are stored in the
    run folder) and the runner's own output paths."""
    if not key.isidentifier():
        raise KitError(f"{where} {key!r}: a parameter name must be a Python identifier")
    if key.upper() in SETTINGS_HELP and SETTINGS_HELP[key.upper()][0]:
        raise KitError(f"{where} {key}: credentials come from the environment or .env, never from run parameters "
                       "(parameters are stored in the run folder)")
    if key in RUNNER_PARAMETERS:
        raise KitError(f"{where} {key}: set by `tvkit run` itself (the run's folder); pass other parameters")


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values are read as JSON when they parse (numbers, true, lists), else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise KitError(f"-p {pair!r}: expected key=value with a Python identifier as key")
        _check_parameter_name(key, "-p")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def split_sweep(overrides: dict[str, Any], pairs: list[str]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(fixed parameters, sweep grid) from `-p` pairs: `key=a,b,c` (a value that is not JSON and
    holds commas) sweeps key over a, b and c, each read as JSON when it parses; a JSON value
    (`key=[1,2]`, `key="a,b"`) stays one value."""
    grid: dict[str, list[Any]] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        key = key.strip()
        if isinstance(overrides.get(key), str) and "," in raw and overrides[key] == raw:
            try:
                json.loads(raw)
            except json.JSONDecodeError:
                grid[key] = [_json_or_text(x.strip()) for x in raw.split(",") if x.strip()]
    return {k: v for k, v in overrides.items() if k not in grid}, grid


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def declared_parameters(book: Path) -> dict[str, Any]:
    """The parameters a notebook's `parameters` cell declares, with their defaults (as Python
    values where they are literals, else their source text)."""
    import logging

    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.WARNING)  # our own lines say what runs
    out: dict[str, Any] = {}
    for name, p in pm.inspect_notebook(str(book)).items():
        try:
            out[name] = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            out[name] = p["default"]
    return out


def _check_declared(names: list[str], declared: dict[str, dict[str, Any]], where: str) -> None:
    """A parameter that no notebook of the run declares would be silently dropped: say so instead."""
    known = sorted({n for d in declared.values() for n in d if n not in RUNNER_PARAMETERS})
    for name in names:
        if not any(name in d for d in declared.values()):
            raise KitError(f"{where} {name}: no notebook in this run ({', '.join(declared)}) declares it; "
                           f"they declare: {', '.join(known)}")


def notebook_parameters(declared: dict[str, Any], profile_params: dict[str, Any],
                        outputs: dict[str, tuple[Any, str]], overrides: dict[str, Any],
                        runner: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """What one notebook is given, and where each value came from.

    Only declared names are passed. Precedence, lowest first: the profile, then what earlier
    notebooks produced (their metrics, by name; the latest producer wins), then the user's
    overrides; the runner's output paths are always its own. An output of None means "not
    produced" and leaves the notebook's default alone.
    """
    passed: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in declared:
        if name in runner:
            passed[name], sources[name] = runner[name], "runner"
        elif name in overrides:
            passed[name], sources[name] = overrides[name], "override"
        elif name in outputs:
            passed[name], sources[name] = outputs[name]
        elif name in profile_params:
            passed[name], sources[name] = profile_params[name], "profile"
    return passed, sources


def git_commit(root: Path = REPO_ROOT) -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def new_run_id(profile: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{profile}-{_secrets.token_hex(2)}"


def _write_text(path: Path, text: str) -> Path:
    """Write redacted text through a temporary file and a rename: no secret and no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{_secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(redact(text))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_json(path: Path, obj: Any) -> Path:
    return _write_text(path, json.dumps(obj, indent=2, default=str))


def _redact_file(path: Path) -> None:
    try:
        text = path.read_text()
    except (UnicodeDecodeError, OSError):
        return
    clean = redact(text)
    if clean != text:
        path.write_text(clean)


def _redact_tree(root: Path, since: float) -> None:
    """Belt and braces: no secret value survives in a text file the run wrote (a notebook may
    print one, or write it into its own files); files older than `since` were already done."""
    for p in root.rglob("*"):
        if p.suffix in _TEXT_SUFFIXES and p.is_file() and p.stat().st_mtime >= since - 1:
            _redact_file(p)


def _error_record(book: Path, e: Exception) -> dict[str, Any]:
    """The failing cell, located in the stored notebook (papermill counts its injected
    parameters cell, which the notebook a user edits does not have)."""
    from papermill.exceptions import PapermillExecutionError

    if not isinstance(e, PapermillExecutionError):  # the kernel died or would not start
        return {"cell": None, "exec_count": None, "ename": type(e).__name__, "evalue": redact(str(e))[:500],
                "source": "", "traceback": ""}
    import nbformat

    cells = nbformat.read(book, as_version=4).cells
    cell = next((i for i in (e.cell_index - 1, e.cell_index)
                 if 0 <= i < len(cells) and cells[i].source == e.source), e.cell_index)
    tb = _ANSI.sub("", "\n".join(e.traceback)).splitlines()
    return {"cell": cell, "exec_count": e.exec_count, "ename": e.ename, "evalue": redact(str(e.evalue))[:500],
            "source": redact(e.source)[:2000], "traceback": redact("\n".join(tb[-20:]))[:4000]}


def run_suite(profile: str = "smoke", overrides: dict[str, Any] | None = None, only: list[str] | None = None,
              runs_dir: Path | None = None, notebooks_dir: Path = NOTEBOOKS_DIR,
              log: Callable[[str], None] = print, sweep: dict[str, Any] | None = None) -> RunResult:
    """Execute the notebooks in order into a new run folder, wiring each one's metrics into the
    parameters of the later ones; write the summary page. The suite is an MLflow run (kit.track)
    and each notebook one nested under it, with its parameters, numeric results and pictures;
    its status is recorded also when a notebook fails or the run is interrupted."""
    if profile not in PROFILES:
        raise KitError(f"--profile {profile}: unknown profile (choose from {', '.join(PROFILES)})")
    overrides = dict(overrides or {})
    for key in overrides:
        _check_parameter_name(key, "-p")
    books = list_notebooks(only, notebooks_dir)
    if not books:
        raise KitError(f"no notebooks found in {notebooks_dir}")
    declared = {b.stem: declared_parameters(b) for b in books}
    _check_declared(list(overrides), declared, "-p")

    runs_dir = Path(runs_dir or RUNS_DIR)
    run_id = new_run_id(profile)
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    result = RunResult(run_id, run_dir, profile, "running", parameters={**PROFILES[profile], **overrides},
                       started=time.time())
    doc = {"run_id": run_id, "profile": profile, "parameters": result.parameters, "overrides": overrides,
           "notebooks": [b.name for b in books], "commit": git_commit(), "sweep": sweep, "passed": {}}
    _write_json(run_dir / "params.json", doc)
    tags = {"tvkit.kind": "suite", "tvkit.run_id": run_id, "tvkit.run_dir": str(run_dir), "tvkit.profile": profile,
            "tvkit.sweep": (sweep or {}).get("id"), "tvkit.commit": doc["commit"],
            "tvkit.element": overrides.get("element") or None}
    with track.run(run_id, params={**result.parameters, "notebooks": ",".join(b.stem for b in books)},
                   tags=tags, root=runs_dir) as suite:
        try:
            _run_books(books, declared, result, doc, overrides, log)
        except BaseException as e:  # Ctrl-C, or the runner itself broke: the record says how far it got
            result.status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
            for nb in result.notebooks:
                nb.status = result.status if nb.status == "running" else nb.status
            raise
        finally:
            if result.status == "running":
                result.status = "ok" if all(n.status == "ok" for n in result.notebooks) else "failed"
            _finish(result, doc, suite)
    return result


def _run_books(books: list[Path], declared: dict[str, Any], result: RunResult, doc: dict[str, Any],
               overrides: dict[str, Any], log: Callable[[str], None]) -> None:
    """Each notebook in turn, as a nested MLflow run; stops at the first that fails."""
    import papermill as pm

    run_id, run_dir, profile = result.run_id, result.run_dir, result.profile
    outputs: dict[str, tuple[Any, str]] = {}  # metric name -> (value, the notebook that produced it)
    for book in books:
        metrics_path = run_dir / f"metrics_{book.stem}.json"
        passed, sources = notebook_parameters(declared[book.stem], PROFILES[profile], outputs, overrides,
                                              {"run_dir": str(run_dir), "metrics_path": str(metrics_path)})
        doc["passed"][book.stem] = {"parameters": passed, "sources": sources}
        _write_json(run_dir / "params.json", doc)  # before running: a crash still says what it was given
        wired = sorted(k for k, s in sources.items() if s not in ("runner", "override", "profile"))
        given = f" (given {', '.join(wired)} from earlier notebooks)" if wired else ""
        log(f"[{run_id}] {book.stem} ...{given}")
        nb = NotebookResult(book.stem, "running", 0.0, str(run_dir / book.name), parameters=passed,
                            sources=sources, started=time.time(), notebook=str(book))
        result.notebooks.append(nb)
        with track.run(book.stem, params=passed, tags={"tvkit.kind": "notebook", "tvkit.run_id": run_id}) as tr:
            t0 = time.perf_counter()
            try:
                with track.children_under(tr.id):   # the kernel logs (ultralytics' curves) into this run
                    pm.execute_notebook(str(book), nb.output, parameters=passed, kernel_name="python3",
                                        cwd=str(REPO_ROOT), progress_bar=False, log_output=False,
                                        extra_arguments=["--IPKernelApp.log_level=ERROR"])  # not its TCP warning
                nb.status = "ok"
            except Exception as e:  # a failing cell, or a kernel that died: still a recorded, failed run
                nb.status, nb.error = "failed", _error_record(book, e)
                tr.status = "FAILED"
                tr.set_tags({"tvkit.error": f"{nb.error['ename']}: {nb.error['evalue']}"})
            finally:
                nb.seconds = time.perf_counter() - t0
                _redact_tree(run_dir, nb.started)
            if metrics_path.is_file() and nb.status == "ok":
                result.metrics[book.stem] = json.loads(metrics_path.read_text())
                outputs.update({k: (v, book.stem) for k, v in result.metrics[book.stem].items() if v is not None})
                _write_json(run_dir / "metrics.json", result.metrics)
                tr.log_metrics(result.metrics[book.stem])
                tr.log_artifact(metrics_path)
                for pic in key_pictures(result).get(book.stem, []):
                    tr.log_artifact(run_dir / pic, folder="pictures")
            tr.log_metrics({"seconds": nb.seconds})
        if nb.status == "failed":
            where = f" in cell {nb.error['cell']}" if nb.error["cell"] is not None else ""
            log(f"[{run_id}] {book.stem} FAILED{where}: {nb.error['ename']}: {nb.error['evalue']}")
            return
        log(f"[{run_id}] {book.stem} ok ({nb.seconds:.1f} s)")


def _finish(result: RunResult, doc: dict[str, Any], tr: Any) -> None:
    """Seal the run: metrics.json, the summary page, and its MLflow record (status, score, summary)."""
    result.seconds = time.time() - result.started
    _write_json(result.run_dir / "metrics.json", result.metrics)
    page = write_summary(result, doc)
    head = headline(result.metrics)
    tr.set_tags({"tvkit.status": result.status, "tvkit.notebooks_failed": ",".join(
        n.name for n in result.notebooks if n.status != "ok") or None})
    tr.log_metrics({**(head[1] if head else {}), "seconds": result.seconds})
    tr.log_artifact(page)
    tr.log_artifact(result.run_dir / "params.json")
    if result.status != "ok":
        tr.status = "FAILED"


def read_index(runs_dir: Path | None = None) -> list[dict[str, Any]]:
    """The suite runs recorded in the MLflow store beside `runs_dir` (default the kit's run
    folders; kit.track.list_runs), oldest first."""
    return track.list_runs("suite", root=runs_dir)


# --- scores --------------------------------------------------------------------------------------

def breakdowns(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each notebook's score breakdown (a `breakdown` entry of numbers in its metrics), in suite order."""
    out = {}
    for name, m in metrics.items():
        b = m.get("breakdown") if isinstance(m, dict) else None
        if isinstance(b, dict):
            out[name] = {k: float(v) for k, v in b.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return out


def headline(metrics: dict[str, Any]) -> tuple[str, dict[str, float]] | None:
    """The run's score: the breakdown of the last notebook that has one (later steps score the
    more finished model)."""
    b = breakdowns(metrics)
    return (list(b)[-1], b[list(b)[-1]]) if b else None


def latencies(metrics: dict[str, Any]) -> dict[str, float]:
    """Every numeric top-level metric whose name says latency, as `notebook.name`."""
    return {f"{nb}.{k}": float(v) for nb, m in metrics.items() if isinstance(m, dict) for k, v in m.items()
            if "latency" in k and isinstance(v, (int, float)) and not isinstance(v, bool)}


def score_table(metrics: dict[str, Any]) -> tuple[list[str], list[tuple[str, list[float | None]]]]:
    """(notebooks, rows of (component, one value per notebook)) over every breakdown of a run."""
    b = breakdowns(metrics)
    keys = list(dict.fromkeys(k for bd in b.values() for k in bd))
    return list(b), [(k, [bd.get(k) for bd in b.values()]) for k in keys]


def format_score_table(metrics: dict[str, Any]) -> str:
    """The score table as text: `final`, then per element its final, S and pillars (`<id>/<pillar>`)."""
    cols, rows = score_table(metrics)
    if not cols:
        return ""
    width = max([16, *(len(c) + 2 for c in cols)])
    kw = max([26, *(len(k) + 1 for k, _ in rows)])
    lines = [f"  {'score':<{kw}}" + "".join(f"{c:>{width}}" for c in cols)]
    lines += [f"  {k:<{kw}}" + "".join(f"{'-' if v is None else f'{v:.4f}':>{width}}" for v in vals)
              for k, vals in rows]
    return "\n".join(lines)


# --- the summary page ----------------------------------------------------------------------------

def key_pictures(result: RunResult, per_notebook: int = _PICTURES_PER_NOTEBOOK) -> dict[str, list[str]]:
    """PNGs each notebook saved into the run folder (told apart by when they were written),
    shallowest first and named figures before numbered frames, a few per notebook."""
    found: dict[str, list[Path]] = {n.name: [] for n in result.notebooks}
    for p in result.run_dir.rglob("*.png"):
        t = p.stat().st_mtime + 0.05  # file times tick coarser than time.time()
        # notebooks run one after another: a picture is the last started one's
        owner = next((n.name for n in reversed(result.notebooks) if n.started <= t), None)
        if owner:
            found[owner].append(p.relative_to(result.run_dir))

    def order(rel: Path) -> tuple:
        return len(rel.parts), bool(re.search(r"\d+$", rel.stem)), str(rel)

    return {name: [str(r) for r in sorted(rels, key=order)[:per_notebook]] for name, rels in found.items() if rels}


def _fmt_value(v: Any) -> str:
    """A parameter or score as a person reads it: floats rounded to 4 places (0.3 stays 0.3),
    containers and None as JSON."""
    if isinstance(v, float):
        return str(round(v, 4))
    if isinstance(v, (dict, list, bool)) or v is None:
        return json.dumps(v)
    return str(v)


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;
vertical-align:top;font-size:14px}th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#2e7d32;font-weight:bold}.failed,.interrupted{color:#c62828;font-weight:bold}
pre{background:#f7f7f7;border:1px solid #ddd;padding:8px;overflow-x:auto;font-size:13px}
figure{display:inline-block;margin:6px;vertical-align:top}figure img{max-width:440px;max-height:330px;
border:1px solid #ddd}figcaption{font-size:12px;color:#555}.final td{font-weight:bold}small{color:#666}"""


def summary_html(result: RunResult, doc: dict[str, Any]) -> str:
    e = html.escape
    status = f'<span class="{e(result.status)}">{e(result.status)}</span>'
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>run {e(result.run_id)}</title>"
           f"<style>{_CSS}</style></head><body>",
           f"<h1>Run {e(result.run_id)}: {status}</h1>",
           f"<p>profile <b>{e(result.profile)}</b> &middot; started "
           f"{e(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(result.started)))} &middot; "
           f"{result.seconds:.1f} s &middot; commit {e(str(doc.get('commit') or 'unknown'))}"
           + (f" &middot; sweep {e(doc['sweep']['id'])}" if doc.get("sweep") else "") + "</p>"]

    failed = next((n for n in result.notebooks if n.status == "failed"), None)
    if failed:
        err = failed.error or {}
        stored = Path(failed.notebook)
        stored = stored.relative_to(REPO_ROOT) if stored.is_relative_to(REPO_ROOT) else stored
        where = f"cell {err['cell']} of {stored}" if err.get("cell") is not None else "the kernel"
        if err.get("exec_count") is not None:
            where += f" (In [{err['exec_count']}] in the executed notebook)"
        out += ["<h2>Failure</h2>",
                f"<p><b>{e(failed.name)}</b> failed in {e(where)}: <b>{e(str(err.get('ename')))}</b>: "
                f"{e(str(err.get('evalue')))}</p>",
                f"<p>Everything made before it is kept in this folder; the executed notebook "
                f"<a href='{e(Path(failed.output).name)}'>{e(Path(failed.output).name)}</a> shows the cell "
                f"with its output.</p>"]
        if err.get("source"):
            out.append(f"<h3>The cell</h3><pre>{e(err['source'])}</pre>")
        if err.get("traceback"):
            out.append(f"<h3>Traceback (end)</h3><pre>{e(err['traceback'])}</pre>")

    out.append("<h2>Notebooks</h2><table><tr><th>notebook</th><th>status</th><th>seconds</th>"
               "<th>given (source)</th></tr>")
    for n in result.notebooks:
        given = "<br>".join(f"{e(k)} = {e(_fmt_value(v))} <small>({e(n.sources.get(k, ''))})</small>"
                            for k, v in n.parameters.items() if k not in RUNNER_PARAMETERS)
        out.append(f"<tr><td><a href='{e(Path(n.output).name)}'>{e(n.name)}</a></td>"
                   f"<td class='{e(n.status)}'>{e(n.status)}</td><td class='num'>{n.seconds:.1f}</td>"
                   f"<td>{given}</td></tr>")
    for name in doc.get("notebooks", [])[len(result.notebooks):]:
        out.append(f"<tr><td>{e(Path(name).stem)}</td><td>not run</td><td></td><td></td></tr>")
    out.append("</table>")

    cols, rows = score_table(result.metrics)
    if cols:
        out.append("<h2>Scores</h2><table><tr><th>component</th>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
        for k, vals in rows:
            cells = "".join(f"<td class='num'>{'' if v is None else f'{v:.4f}'}</td>" for v in vals)
            out.append(f"<tr{' class=final' if k == 'final' else ''}><td>{e(k)}</td>{cells}</tr>")
        out.append("</table>")
    for name, m in result.metrics.items():  # image elements: AP50, precision, recall, FPs per object
        pc = m.get("per_class") if isinstance(m, dict) else None
        if isinstance(pc, dict) and pc and all(isinstance(v, dict) for v in pc.values()):
            keys = list(dict.fromkeys(k for v in pc.values() for k in v))
            out.append(f"<h2>Per class ({e(name)})</h2><table><tr><th>object</th>"
                       + "".join(f"<th>{e(k)}</th>" for k in keys) + "</tr>")
            cell = lambda x: "-" if x is None else e(_fmt_value(x))  # noqa: E731 - no AP without truth: "-"
            for cls, v in pc.items():
                out.append(f"<tr><td>{e(str(cls))}</td>" + "".join(
                    f"<td class='num'>{cell(v.get(k))}</td>" for k in keys) + "</tr>")
            out.append("</table>")
    lat = latencies(result.metrics)
    if lat:
        out.append("<h2>Latency</h2><table>" + "".join(
            f"<tr><td>{e(k)}</td><td class='num'>{v:.1f}</td></tr>" for k, v in lat.items()) + "</table>")

    out.append("<h2>Parameters</h2><table>" + "".join(
        f"<tr><td>{e(k)}</td><td>{e(_fmt_value(v))}</td></tr>" for k, v in result.parameters.items()) + "</table>")

    pictures = key_pictures(result)
    if pictures:
        out.append("<h2>Pictures</h2>")
        for name, rels in pictures.items():
            out.append(f"<h3>{e(name)}</h3>" + "".join(
                f"<figure><a href='{e(r)}'><img src='{e(r)}' loading='lazy'></a><figcaption>{e(r)}</figcaption>"
                "</figure>" for r in rels))
    out.append("</body></html>")
    return "\n".join(out)


def write_summary(result: RunResult, doc: dict[str, Any]) -> Path:
    return _write_text(result.summary, summary_html(result, doc))


# --- sweeps --------------------------------------------------------------------------------------

@dataclass
class SweepResult:
    sweep_id: str
    sweep_dir: Path
    grid: dict[str, list[Any]]
    runs: list[tuple[dict[str, Any], RunResult]]  # (the grid combination, its run)

    @property
    def status(self) -> str:
        return "ok" if all(r.status == "ok" for _, r in self.runs) else "failed"


_SWEEP_KEYS = {"profile", "only", "params", "grid"}


def load_sweep(path: str | os.PathLike) -> dict[str, Any]:
    """A sweep file (YAML or JSON): `grid` (parameter -> list of values; one run per
    combination), and optionally `profile`, `only` (list or "01,03") and fixed `params`."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise KitError(f"--sweep {path}: no such file")
    try:
        spec = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise KitError(f"--sweep {path}: not valid YAML or JSON ({e})") from e
    example = '{"profile": "smoke", "only": ["01", "03"], "grid": {"miss_rate": [0.0, 0.3]}}'
    if not isinstance(spec, dict) or not isinstance(spec.get("grid"), dict) or not spec["grid"]:
        raise KitError(f"--sweep {path}: expected a mapping with a non-empty `grid`, e.g. {example}")
    unknown = set(spec) - _SWEEP_KEYS
    if unknown:
        raise KitError(f"--sweep {path}: unknown key(s) {', '.join(sorted(unknown))} "
                       f"(allowed: {', '.join(sorted(_SWEEP_KEYS))})")
    for k, values in spec["grid"].items():
        if not isinstance(values, list) or not values:
            raise KitError(f"--sweep {path}: grid.{k} must be a non-empty list of values, got {values!r}")
    if not isinstance(spec.get("params", {}), dict):
        raise KitError(f"--sweep {path}: `params` must be a mapping of parameter -> value")
    both = set(spec["grid"]) & set(spec.get("params", {}))
    if both:
        raise KitError(f"--sweep {path}: {', '.join(sorted(both))} in both `grid` and `params`; keep one")
    only = spec.get("only")
    if isinstance(only, str):
        spec["only"] = [o for o in only.split(",") if o]
    elif isinstance(only, list) and all(isinstance(o, (str, int)) and not isinstance(o, bool) for o in only):
        spec["only"] = [f"{o:02d}" if isinstance(o, int) else o for o in only]  # YAML reads [01, 03] as numbers
    elif only is not None:
        raise KitError(f"--sweep {path}: `only` must be a list of notebook numbers, e.g. [\"01\", \"03\"]")
    return spec


def run_sweep(spec: dict[str, Any], profile: str | None = None, only: list[str] | None = None,
              overrides: dict[str, Any] | None = None, runs_dir: Path | None = None,
              notebooks_dir: Path = NOTEBOOKS_DIR, log: Callable[[str], None] = print,
              ray_address: str | None = None, cpus_per_run: float = 1.0) -> SweepResult:
    """One run per combination of the grid (the command line's profile, --only and -p win over
    the file's), each a Ray task (kit.runs_ray: a local Ray by default, `ray_address` or
    $RAY_ADDRESS for a cluster), then the comparison in `papermill_runs/sweeps/<sweep id>/`. The
    sweep is an MLflow run with every suite nested under it. Every name is checked before the
    first run, so a typo does not cost a half sweep; a failed point is reported with its error
    and the others go on."""
    from .runs_ray import run_points

    profile = profile or spec.get("profile") or "smoke"
    only = only or spec.get("only")
    fixed = {**spec.get("params", {}), **(overrides or {})}
    grid = spec["grid"]
    if profile not in PROFILES:
        raise KitError(f"--profile {profile}: unknown profile (choose from {', '.join(PROFILES)})")
    for key in [*fixed, *grid]:
        _check_parameter_name(key, "sweep parameter")
    books = list_notebooks(only, notebooks_dir)
    _check_declared([*fixed, *grid], {b.stem: declared_parameters(b) for b in books}, "sweep parameter")

    runs_dir = Path(runs_dir or RUNS_DIR)
    sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-sweep-{_secrets.token_hex(2)}"
    sweep_dir = runs_dir / "sweeps" / sweep_id
    sweep_dir.mkdir(parents=True)
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    result = SweepResult(sweep_id, sweep_dir, grid, [])
    described = {"profile": profile, "only": only, "params": fixed, "grid": grid}
    with track.run(sweep_id, params={"profile": profile, **fixed, **{f"grid/{k}": v for k, v in grid.items()}},
                   tags={"tvkit.kind": "sweep", "tvkit.sweep": sweep_id}, root=runs_dir) as tr:
        points = [dict(profile=profile, overrides={**fixed, **combo}, only=only, runs_dir=str(runs_dir),
                       notebooks_dir=str(notebooks_dir), sweep={"id": sweep_id, "combination": combo})
                  for combo in combos]
        for i, (combo, outcome) in enumerate(run_points(points, track.child_env(tr.id, {}), ray_address,
                                                        cpus_per_run, log)):
            run = _point_result(outcome, profile, combo)
            result.runs.append((combo, run))
            where = run.run_id if run.status == "ok" else f"{run.status}: {outcome.get('error', run.run_id)}"
            log(f"[{sweep_id}] {i + 1}/{len(combos)} " + ", ".join(f"{k}={_fmt_value(v)}" for k, v in combo.items())
                + f" -> {where}")
            write_sweep_comparison(result, described)
        result.runs.sort(key=lambda cr: combos.index(cr[0]))
        write_sweep_comparison(result, described)
        tr.log_artifact(sweep_dir)
        if result.status != "ok":
            tr.status = "FAILED"
    return result


def _point_result(outcome: dict[str, Any], profile: str, combo: dict[str, Any]) -> RunResult:
    """A sweep point's run as the comparison reads it; a point whose task failed is a failed run
    with no folder's worth of results."""
    if "error" in outcome:
        return RunResult("-", Path("."), profile, "failed", parameters=dict(combo))
    return RunResult(outcome["run_id"], Path(outcome["run_dir"]), profile, outcome["status"],
                     metrics=outcome["metrics"], parameters=outcome["parameters"], seconds=outcome["seconds"])


def _sweep_columns(result: SweepResult) -> tuple[list[str], list[str]]:
    """The score components (final first, then the breakdown's order) and latency metrics any run has."""
    comps = list(dict.fromkeys(k for _, r in result.runs if (h := headline(r.metrics)) for k in h[1]))
    comps.sort(key=lambda k: (k != "final", not k.endswith("/final")))  # final, element finals, then pillars
    return comps, list(dict.fromkeys(k for _, r in result.runs for k in latencies(r.metrics)))


def sweep_rows(result: SweepResult) -> tuple[list[str], list[list[Any]]]:
    """The comparison table: one row per run, the grid's values, status, the headline score
    and its components, latencies and seconds."""
    comps, lats = _sweep_columns(result)
    header = ["run_id", *result.grid, "status", *comps, *lats, "seconds"]
    rows = []
    for combo, r in result.runs:
        h = headline(r.metrics)
        lat = latencies(r.metrics)
        rows.append([r.run_id, *combo.values(), r.status, *[(h[1].get(k) if h else None) for k in comps],
                     *[lat.get(k) for k in lats], round(r.seconds, 1)])
    return header, rows


def format_markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    cell = lambda v: "" if v is None else _fmt_value(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def sweep_figure(result: SweepResult):
    """Grouped bars: for the final score and each component, one bar per run (labelled by its
    grid values), so the effect of each setting reads off one picture."""
    import numpy as np
    from matplotlib.figure import Figure

    _, rows = sweep_rows(result)
    comps, _ = _sweep_columns(result)
    start = len(result.grid) + 2  # run_id, the grid's values, status, then the components
    fig = Figure(figsize=(min(18.0, 5 + 0.6 * len(comps) * max(1, len(rows)) ** 0.5), 4.2), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(comps))
    width = 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        label = ", ".join(f"{k}={_fmt_value(v)}" for k, v in zip(result.grid, row[1:start - 1]))
        vals = [row[start + j] if row[start + j] is not None else 0.0 for j in range(len(comps))]
        ax.bar(x - 0.4 + width * (i + 0.5), vals, width, label=label + ("" if row[start - 1] == "ok" else " (failed)"))
    ax.set_xticks(x, [k.replace("@1.0", "").replace("/", "\n") for k in comps], fontsize=7, rotation=90)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("score")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never on them
    ax.set_title(f"sweep {result.sweep_id}: final score and components per run")
    return fig


def write_sweep_comparison(result: SweepResult, spec: dict[str, Any]) -> dict[str, Path]:
    """sweep.json (what ran), comparison.csv and .md (the table), comparison.png (the plot);
    rewritten after every run, so an interrupted sweep still compares the runs it made."""
    header, rows = sweep_rows(result)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    paths = {
        "sweep": _write_json(result.sweep_dir / "sweep.json", {
            "sweep_id": result.sweep_id, **spec,
            "runs": [{"run_id": r.run_id, "dir": str(r.run_dir), "combination": c, "status": r.status}
                     for c, r in result.runs]}),
        "csv": _write_text(result.sweep_dir / "comparison.csv", buf.getvalue()),
        "markdown": _write_text(result.sweep_dir / "comparison.md",
                                f"# Sweep {result.sweep_id}\n\n{format_markdown_table(header, rows)}\n\n"
                                "![final score and components per run](comparison.png)\n"),
    }
    fig = sweep_figure(result)
    fig.savefig(result.sweep_dir / "comparison.png", dpi=100)
    paths["plot"] = result.sweep_dir / "comparison.png"
    return paths


# --- comparing two runs --------------------------------------------------------------------------

def resolve_run(ref: str, runs_dir: Path | None = None) -> Path:
    """A run folder from a folder path, a run id, or a unique part of one (its last characters, say)."""
    runs_dir = Path(runs_dir or RUNS_DIR)
    for cand in (Path(ref), runs_dir / ref):
        if (cand / "params.json").is_file():
            return cand
    ids = sorted({p.parent.name for p in runs_dir.glob("*/params.json")})
    hits = [i for i in ids if ref in i]
    if len(hits) == 1:
        return runs_dir / hits[0]
    if hits:
        raise KitError(f"run {ref!r} matches {len(hits)} runs in {runs_dir}: {', '.join(hits[:8])}; "
                       "give more of the id")
    raise KitError(f"run {ref!r}: not a run folder (no params.json) and no run id in {runs_dir} contains it "
                   "(`tvkit runs list` shows them)")


def load_run(run_dir: Path) -> dict[str, Any]:
    """What a run folder says about itself: params.json, metrics.json, and its ledger line."""
    doc = json.loads((run_dir / "params.json").read_text())
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    line = next((r for r in reversed(read_index(run_dir.parent)) if r.get("run_id") == doc["run_id"]), {})
    return {"run_id": doc["run_id"], "dir": str(run_dir), "profile": doc.get("profile"),
            "status": line.get("status", "unknown"), "seconds": line.get("seconds"),
            "parameters": doc.get("parameters", {}),
            "notebooks": doc.get("notebooks", []), "commit": doc.get("commit"), "metrics": metrics}


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Scores side by side with deltas (b - a), latencies, and the parameters that differ."""
    def pair(x, y):
        both = isinstance(x, (int, float)) and isinstance(y, (int, float))
        return {"a": x, "b": y, "delta": (y - x) if both else None}

    ba, bb = breakdowns(a["metrics"]), breakdowns(b["metrics"])
    scores = {nb: {k: pair(ba.get(nb, {}).get(k), bb.get(nb, {}).get(k))
                   for k in dict.fromkeys([*ba.get(nb, {}), *bb.get(nb, {})])}
              for nb in dict.fromkeys([*ba, *bb])}
    la, lb = latencies(a["metrics"]), latencies(b["metrics"])
    pa, pb = a["parameters"], b["parameters"]
    differ = {k: {"a": pa.get(k), "b": pb.get(k)} for k in dict.fromkeys([*pa, *pb]) if pa.get(k) != pb.get(k)}
    if a["notebooks"] != b["notebooks"]:
        differ["notebooks"] = {"a": a["notebooks"], "b": b["notebooks"]}
    info = ("run_id", "dir", "status", "seconds", "commit")
    return {"a": {k: a[k] for k in info}, "b": {k: b[k] for k in info}, "scores": scores,
            "latency": {k: pair(la.get(k), lb.get(k)) for k in dict.fromkeys([*la, *lb])},
            "parameters_differ": differ}


def format_comparison(cmp: dict[str, Any]) -> str:
    a, b = cmp["a"], cmp["b"]
    num = lambda v: "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    delta = lambda d: "" if d is None else f"{d:+.4f}"  # noqa: E731
    lines = [f"{ab}  {r['run_id']}  {r['status']}  {'-' if r['seconds'] is None else r['seconds']} s  {r['dir']}"
             for ab, r in (("A", a), ("B", b))]
    for nb, rows in cmp["scores"].items():
        kw = max([32, *(len(k) + 1 for k in rows)])
        lines += ["", f"{'scores: ' + nb:<{kw + 2}}{'A':>10}{'B':>10}{'B - A':>10}"]
        lines += [f"  {k:<{kw}}{num(r['a']):>10}{num(r['b']):>10}{delta(r['delta']):>10}" for k, r in rows.items()]
    if not cmp["scores"]:
        lines += ["", "no scores in either run (no notebook wrote a `breakdown`)"]
    if cmp["latency"]:
        lines += ["", f"{'latency':<34}{'A':>10}{'B':>10}{'B - A':>10}"]
        lines += [f"  {k:<32}{num(r['a']):>10}{num(r['b']):>10}{delta(r['delta']):>10}"
                  for k, r in cmp["latency"].items()]
    lines += ["", "parameters that differ" + ("" if cmp["parameters_differ"] else ": none")]
    lines += [f"  {k:<24} A {_fmt_value(d['a'])}   B {_fmt_value(d['b'])}" for k, d in cmp["parameters_differ"].items()]
    return "\n".join(lines)


def write_comparison_plot(cmp: dict[str, Any], out: Path) -> Path | None:
    """The last scored notebook both runs share, A against B, bar by bar with deltas; None when
    they share no scored notebook."""
    from .evaluate.report import compare_figure

    shared = [nb for nb, rows in cmp["scores"].items()
              if any(r["a"] is not None and r["b"] is not None for r in rows.values())]
    if not shared:
        return None
    rows = cmp["scores"][shared[-1]]
    fig = compare_figure({k: r["b"] for k, r in rows.items() if r["b"] is not None},
                         {k: r["a"] for k, r in rows.items() if r["a"] is not None},
                         labels=(f"A {cmp['a']['run_id']}", f"B {cmp['b']['run_id']}"))
    fig.suptitle(f"{shared[-1]}: B - A", fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out


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
