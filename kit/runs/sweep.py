"""Sweeps: one run of the suite per combination of a grid, each a Ray task (kit.runs_ray), then a
comparison table and plot in `papermill_runs/sweeps/<sweep id>/`.

Decisions: every name is checked before the first run (a typo does not cost half a sweep); a
failed point is reported with its error and the others go on; the comparison is rewritten after
every point, so an interrupted sweep still compares what it made.

Usage: `run_sweep(load_sweep("sweep.yaml"))` or `run_sweep({"grid": {"miss_rate": [0.0, 0.3]}})`.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import KitError, track
from ..defaults import check_profile
from .common import NOTEBOOKS_DIR, RUNS_DIR, RunResult, fmt_value, write_redacted_json, write_redacted_text
from .params import check_declared, check_parameter_name, declared_parameters, list_notebooks
from .summary import headline, latencies

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
    from ..runs_ray import run_points

    profile = profile or spec.get("profile") or "smoke"
    only = only or spec.get("only")
    fixed = {**spec.get("params", {}), **(overrides or {})}
    grid = spec["grid"]
    check_profile(profile)
    for key in [*fixed, *grid]:
        check_parameter_name(key, "sweep parameter")
    books = list_notebooks(only, notebooks_dir)
    check_declared([*fixed, *grid], {b.stem: declared_parameters(b) for b in books}, "sweep parameter")

    runs_dir = Path(runs_dir or RUNS_DIR)
    sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-sweep-{secrets.token_hex(2)}"
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
            log(f"[{sweep_id}] {i + 1}/{len(combos)} " + ", ".join(f"{k}={fmt_value(v)}" for k, v in combo.items())
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
    cell = lambda v: "" if v is None else fmt_value(v)  # noqa: E731
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
        label = ", ".join(f"{k}={fmt_value(v)}" for k, v in zip(result.grid, row[1:start - 1]))
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
        "sweep": write_redacted_json(result.sweep_dir / "sweep.json", {
            "sweep_id": result.sweep_id, **spec,
            "runs": [{"run_id": r.run_id, "dir": str(r.run_dir), "combination": c, "status": r.status}
                     for c, r in result.runs]}),
        "csv": write_redacted_text(result.sweep_dir / "comparison.csv", buf.getvalue()),
        "markdown": write_redacted_text(result.sweep_dir / "comparison.md",
                                f"# Sweep {result.sweep_id}\n\n{format_markdown_table(header, rows)}\n\n"
                                "![final score and components per run](comparison.png)\n"),
    }
    fig = sweep_figure(result)
    fig.savefig(result.sweep_dir / "comparison.png", dpi=100)
    paths["plot"] = result.sweep_dir / "comparison.png"
    return paths
