"""An image evaluation as people and programs read it: text, HTML tables, JSON.

`ImageEvaluation` (`kit.images.score`) shows itself through these (`print(ev)`, a notebook's
`_repr_html_`); `kit.images.report` embeds the HTML in its page. Kept apart from the scorer so the
exact scoring reads without the presentation.

Usage: from kit.images.score_view import format_image_evaluation; print(format_image_evaluation(ev))
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .score import ImageEvaluation


def _f(v: Any, nd: int = 4) -> str:
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def format_image_evaluation(ev: ImageEvaluation, worst: int = 5) -> str:
    """The evaluation as a person reads it: pillars and gates, counts, per class, worst images."""
    e, es = ev.element, ev.elements[ev.element.id]
    lines = [f"manifest: {ev.manifest.describe() if ev.manifest else '-'}",
             f"element {e.id} ({e.category}, image): {len(ev.rows)} image(s): {ev.n_scored} scored, "
             f"{ev.n_failed} failed the answer gate (0), {ev.n_unscored} without truth objects (not scored)",
             f"  {'pillar':<15}{'raw':>8}{'weight':>8}{'contrib':>9}{'target':>8}{'baseline':>9}   (means over images)"]
    for n, p in es.pillars.items():
        lines.append(f"  {n:<15}{p.raw:>8.4f}{p.weight:>8.2f}{p.contribution:>9.4f}{_f(p.target, 2):>8}"
                     f"{_f(p.baseline, 2):>9}")
    lines.append(f"  S = {es.score:.4f} (mean); composite per image = {e.beta:g} x max(max(S - {e.baseline_theta:.4f}, "
                 f"0), {e.delta_floor:g}); mean gated {es.gated:.4f}")
    if es.rtf is not None:
        lines.append(f"  latency: worst rtf {es.rtf:.3f} ({'pass' if es.latency_pass else 'FAIL: rtf > 1 scores 0'})")
    lines.append(f"  per class: {'class':<20}{'AP50':>7}{'P':>7}{'R':>7}{'TP':>5}{'FP':>5}{'truth':>7}")
    for c, d in ev.per_class.items():
        lines.append(f"             {c[:19]:<20}{_f(d['ap50'], 3):>7}{_f(d['precision'], 3):>7}"
                     f"{_f(d['recall'], 3):>7}{d['tp']:>5}{d['fp']:>5}{d['n_truth']:>7}"
                     + ("" if d["is_object"] else "  (not an object)"))
    counted = sorted((r for r in ev.rows if r.counted), key=lambda r: r.final)[:worst]
    if len(ev.rows) > 1 and counted:
        lines.append("  lowest images: " + "; ".join(f"{r.image} {r.final:.3f}" + (f" ({r.gate_reason})"
                                                      if r.gate_reason else f" (tp {r.tp}, fp {r.fp}, fn {r.fn})")
                                                      for r in counted))
    lines += [f"  note: {n}" for n in ev.notes]
    lines.append(f"final (mean composite over {ev.n_scored + ev.n_failed} counted image(s)): {ev.final:.4f}")
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_f(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def image_evaluation_html(ev: ImageEvaluation) -> str:
    """Score table and per-class table as HTML (notebooks show this; the report embeds it)."""
    es = ev.elements[ev.element.id]
    score = _table(["pillar", "raw", "weight", "contribution", "target", "baseline"],
                   [[n, p.raw, p.weight, p.contribution, p.target, p.baseline] for n, p in es.pillars.items()]
                   + [["S (mean)", es.score, None, None, None, ev.element.baseline_theta],
                      ["final (mean composite)", es.final, None, None, None, None]])
    per_class = _table(["class", "AP50", "precision", "recall", "TP", "FP", "truth boxes", "images"],
                       [[c, d["ap50"], d["precision"], d["recall"], d["tp"], d["fp"], d["n_truth"], d["n_images"]]
                        for c, d in ev.per_class.items()])
    head = (f"<p><b>{html.escape(ev.element.id)}</b>: final {ev.final:.4f} over {ev.n_scored + ev.n_failed} "
            f"counted image(s) ({ev.n_scored} scored, {ev.n_failed} failed, {ev.n_unscored} without truth objects, "
            "not scored)</p>")
    notes = "".join(f"<p>note: {html.escape(n)}</p>" for n in ev.notes)
    return head + score + "<h4>Per class (pooled over scored images)</h4>" + per_class + notes


def to_json(ev: ImageEvaluation) -> str:
    return json.dumps(ev.to_dict(), indent=2)
