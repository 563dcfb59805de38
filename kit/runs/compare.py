"""Two runs side by side: scores with deltas (B - A), latencies, the parameters that differ, a plot.

Usage: `compare_runs(load_run(resolve_run("aaaa")), load_run(resolve_run("bbbb")))`; `tvkit runs
compare A B`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import KitError
from .common import RUNS_DIR, fmt_value
from .runner import read_index
from .summary import breakdowns, latencies

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
    lines += [f"  {k:<24} A {fmt_value(d['a'])}   B {fmt_value(d['b'])}" for k, d in cmp["parameters_differ"].items()]
    return "\n".join(lines)


def write_comparison_plot(cmp: dict[str, Any], out: Path) -> Path | None:
    """The last scored notebook both runs share, A against B, bar by bar with deltas; None when
    they share no scored notebook."""
    from ..evaluate.report import compare_figure

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
