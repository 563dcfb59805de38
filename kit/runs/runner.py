"""Running the suite: each notebook in order under papermill, wired forward by name, each an MLflow
run nested under the suite's; a failing notebook stops the run and what was made before it stays.

Decisions: params.json is written before each notebook runs (a crash still says what it was
given); the failing cell is located in the stored notebook (papermill counts its injected
parameters cell); the run's status is recorded also when it is interrupted (Ctrl-C).

Usage: `run_suite("smoke", {"miss_rate": 0.3}, only=["01", "03"])` -> RunResult (its `.run_dir`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import KitError, track
from ..defaults import check_profile
from ..settings import redact
from .common import (
    NOTEBOOKS_DIR,
    PROFILES,
    REPO_ROOT,
    RUNS_DIR,
    NotebookResult,
    RunResult,
    git_commit,
    new_run_id,
    redact_tree,
    write_redacted_json,
)
from .params import check_declared, check_parameter_name, declared_parameters, list_notebooks, notebook_parameters
from .summary import headline, key_pictures, write_summary

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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
    check_profile(profile)
    overrides = dict(overrides or {})
    for key in overrides:
        check_parameter_name(key, "-p")
    books = list_notebooks(only, notebooks_dir)
    if not books:
        raise KitError(f"no notebooks found in {notebooks_dir}")
    declared = {b.stem: declared_parameters(b) for b in books}
    check_declared(list(overrides), declared, "-p")

    runs_dir = Path(runs_dir or RUNS_DIR)
    run_id = new_run_id(profile)
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    result = RunResult(run_id, run_dir, profile, "running", parameters={**PROFILES[profile], **overrides},
                       started=time.time())
    doc = {"run_id": run_id, "profile": profile, "parameters": result.parameters, "overrides": overrides,
           "notebooks": [b.name for b in books], "commit": git_commit(), "sweep": sweep, "passed": {}}
    write_redacted_json(run_dir / "params.json", doc)
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
        write_redacted_json(run_dir / "params.json", doc)  # before running: a crash still says what it was given
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
                redact_tree(run_dir, nb.started)
            if metrics_path.is_file() and nb.status == "ok":
                result.metrics[book.stem] = json.loads(metrics_path.read_text())
                outputs.update({k: (v, book.stem) for k, v in result.metrics[book.stem].items() if v is not None})
                write_redacted_json(run_dir / "metrics.json", result.metrics)
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
    write_redacted_json(result.run_dir / "metrics.json", result.metrics)
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
