"""A run's scores and its summary page: the score table (per element and pillar), latencies, the
pictures each notebook saved, and for a failed run the failing cell with its traceback.

Decisions: a notebook's score is the `breakdown` entry of its metrics; the run's headline is the
last notebook's (later steps score the more finished model); a picture belongs to the notebook
that was running when it was written (they run one after another). The page is plain HTML with
its CSS inline: it opens from the run folder with nothing else.

Usage: `write_summary(result, doc)` -> papermill_runs/<run id>/summary.html.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

from .common import PICTURES_PER_NOTEBOOK, REPO_ROOT, RUNNER_PARAMETERS, RunResult, fmt_value, write_redacted_text

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

def key_pictures(result: RunResult, per_notebook: int = PICTURES_PER_NOTEBOOK) -> dict[str, list[str]]:
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


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;
vertical-align:top;font-size:14px}th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#2e7d32;font-weight:bold}.failed,.interrupted{color:#c62828;font-weight:bold}
pre{background:#f7f7f7;border:1px solid #ddd;padding:8px;overflow-x:auto;font-size:13px}
figure{display:inline-block;margin:6px;vertical-align:top}figure img{max-width:440px;max-height:330px;
border:1px solid #ddd}figcaption{font-size:12px;color:#555}.final td{font-weight:bold}small{color:#666}"""


def summary_html(result: RunResult, doc: dict[str, Any]) -> str:
    """The page: header, the failure (if any), notebooks, scores, per class, latency, parameters, pictures."""
    e = html.escape
    status = f'<span class="{e(result.status)}">{e(result.status)}</span>'
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>run {e(result.run_id)}</title>"
           f"<style>{_CSS}</style></head><body>",
           f"<h1>Run {e(result.run_id)}: {status}</h1>",
           f"<p>profile <b>{e(result.profile)}</b> &middot; started "
           f"{e(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(result.started)))} &middot; "
           f"{result.seconds:.1f} s &middot; commit {e(str(doc.get('commit') or 'unknown'))}"
           + (f" &middot; sweep {e(doc['sweep']['id'])}" if doc.get("sweep") else "") + "</p>"]
    out += _failure_html(result)
    out += _notebooks_html(result, doc)
    out += _scores_html(result.metrics)
    lat = latencies(result.metrics)
    if lat:
        out.append("<h2>Latency</h2><table>" + "".join(
            f"<tr><td>{e(k)}</td><td class='num'>{v:.1f}</td></tr>" for k, v in lat.items()) + "</table>")
    out.append("<h2>Parameters</h2><table>" + "".join(
        f"<tr><td>{e(k)}</td><td>{e(fmt_value(v))}</td></tr>" for k, v in result.parameters.items()) + "</table>")
    pictures = key_pictures(result)
    if pictures:
        out.append("<h2>Pictures</h2>")
        for name, rels in pictures.items():
            out.append(f"<h3>{e(name)}</h3>" + "".join(
                f"<figure><a href='{e(r)}'><img src='{e(r)}' loading='lazy'></a><figcaption>{e(r)}</figcaption>"
                "</figure>" for r in rels))
    out.append("</body></html>")
    return "\n".join(out)


def _failure_html(result: RunResult) -> list[str]:
    """The failing notebook's cell, error and traceback end; nothing when every notebook ran."""
    e = html.escape
    failed = next((n for n in result.notebooks if n.status == "failed"), None)
    if not failed:
        return []
    err = failed.error or {}
    stored = Path(failed.notebook)
    stored = stored.relative_to(REPO_ROOT) if stored.is_relative_to(REPO_ROOT) else stored
    where = f"cell {err['cell']} of {stored}" if err.get("cell") is not None else "the kernel"
    if err.get("exec_count") is not None:
        where += f" (In [{err['exec_count']}] in the executed notebook)"
    out = ["<h2>Failure</h2>",
           f"<p><b>{e(failed.name)}</b> failed in {e(where)}: <b>{e(str(err.get('ename')))}</b>: "
           f"{e(str(err.get('evalue')))}</p>",
           f"<p>Everything made before it is kept in this folder; the executed notebook "
           f"<a href='{e(Path(failed.output).name)}'>{e(Path(failed.output).name)}</a> shows the cell "
           f"with its output.</p>"]
    if err.get("source"):
        out.append(f"<h3>The cell</h3><pre>{e(err['source'])}</pre>")
    if err.get("traceback"):
        out.append(f"<h3>Traceback (end)</h3><pre>{e(err['traceback'])}</pre>")
    return out


def _notebooks_html(result: RunResult, doc: dict[str, Any]) -> list[str]:
    """One row per notebook: status, seconds, what it was given and from where; then those not run."""
    e = html.escape
    out = ["<h2>Notebooks</h2><table><tr><th>notebook</th><th>status</th><th>seconds</th>"
           "<th>given (source)</th></tr>"]
    for n in result.notebooks:
        given = "<br>".join(f"{e(k)} = {e(fmt_value(v))} <small>({e(n.sources.get(k, ''))})</small>"
                            for k, v in n.parameters.items() if k not in RUNNER_PARAMETERS)
        out.append(f"<tr><td><a href='{e(Path(n.output).name)}'>{e(n.name)}</a></td>"
                   f"<td class='{e(n.status)}'>{e(n.status)}</td><td class='num'>{n.seconds:.1f}</td>"
                   f"<td>{given}</td></tr>")
    for name in doc.get("notebooks", [])[len(result.notebooks):]:
        out.append(f"<tr><td>{e(Path(name).stem)}</td><td>not run</td><td></td><td></td></tr>")
    out.append("</table>")
    return out


def _scores_html(metrics: dict[str, Any]) -> list[str]:
    """The score table (component x notebook), then each image element's per-class table."""
    e = html.escape
    out = []
    cols, rows = score_table(metrics)
    if cols:
        out.append("<h2>Scores</h2><table><tr><th>component</th>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
        for k, vals in rows:
            cells = "".join(f"<td class='num'>{'' if v is None else f'{v:.4f}'}</td>" for v in vals)
            out.append(f"<tr{' class=final' if k == 'final' else ''}><td>{e(k)}</td>{cells}</tr>")
        out.append("</table>")
    for name, m in metrics.items():  # image elements: AP50, precision, recall, FPs per object
        pc = m.get("per_class") if isinstance(m, dict) else None
        if isinstance(pc, dict) and pc and all(isinstance(v, dict) for v in pc.values()):
            keys = list(dict.fromkeys(k for v in pc.values() for k in v))
            out.append(f"<h2>Per class ({e(name)})</h2><table><tr><th>object</th>"
                       + "".join(f"<th>{e(k)}</th>" for k in keys) + "</tr>")
            cell = lambda x: "-" if x is None else e(fmt_value(x))  # noqa: E731 - no AP without truth: "-"
            for cls, v in pc.items():
                out.append(f"<tr><td>{e(str(cls))}</td>" + "".join(
                    f"<td class='num'>{cell(v.get(k))}</td>" for k in keys) + "</tr>")
            out.append("</table>")
    return out


def write_summary(result: RunResult, doc: dict[str, Any]) -> Path:
    return write_redacted_text(result.summary, summary_html(result, doc))
