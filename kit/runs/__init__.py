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

The package is cut on its seams: `common` (paths, records, redacted writes, the notebooks'
helpers), `params` (what each notebook is given), `runner` (the suite), `summary` (scores and the
page), `sweep` (grids on Ray), `compare` (two runs side by side). Everything public is here too,
so `from kit.runs import run_suite` and the notebooks' `runs.write_metrics(...)` keep working.

Usage: `tvkit run --profile smoke`, or `from kit.runs import run_suite; run_suite("smoke")`.
"""

from __future__ import annotations

from .common import (
    NOTEBOOKS_DIR,
    PROFILES,
    REPO_ROOT,
    RUNNER_PARAMETERS,
    RUNS_DIR,
    NotebookResult,
    RunResult,
    fmt_value,
    git_commit,
    new_run_id,
    notebook_output_dir,
    write_metrics,
)
from .compare import compare_runs, format_comparison, load_run, resolve_run, write_comparison_plot
from .params import (
    check_declared,
    check_parameter_name,
    declared_parameters,
    list_notebooks,
    notebook_parameters,
    parse_overrides,
    split_sweep,
)
from .runner import read_index, run_suite
from .summary import (
    breakdowns,
    format_score_table,
    headline,
    key_pictures,
    latencies,
    score_table,
    summary_html,
    write_summary,
)
from .sweep import (
    SweepResult,
    format_markdown_table,
    load_sweep,
    run_sweep,
    sweep_figure,
    sweep_rows,
    write_sweep_comparison,
)

__all__ = [
    "NOTEBOOKS_DIR", "PROFILES", "REPO_ROOT", "RUNNER_PARAMETERS", "RUNS_DIR", "NotebookResult", "RunResult",
    "SweepResult", "breakdowns", "check_declared", "check_parameter_name", "compare_runs", "declared_parameters",
    "fmt_value", "format_comparison", "format_markdown_table", "format_score_table", "git_commit", "headline",
    "key_pictures", "latencies", "list_notebooks", "load_run", "load_sweep", "new_run_id", "notebook_output_dir",
    "notebook_parameters", "parse_overrides", "read_index", "resolve_run", "run_suite", "run_sweep", "score_table",
    "split_sweep", "summary_html", "sweep_figure", "sweep_rows", "write_comparison_plot", "write_metrics",
    "write_summary", "write_sweep_comparison",
]
