"""An image element's evaluation as pictures and tables: where the score was made and where it was lost.

Usage: `files = write_image_report(ev, "report/")` -> {"html": .../index.html, "scores": ...png, ...}

`write_image_report(ev, folder)` writes, for an `ImageEvaluation` (`kit.images.score`):

- `scores.png`: each pillar's mean raw value and contribution against the manifest's target and
  baseline, and the histogram of per-image composites with the delta_floor and the mean;
- `per_class.png`: per class AP50, precision and recall (pooled over scored images, at the
  validator's adaptive IoU threshold) and the false positives each class made;
- `confusion.png`: a confusion matrix by supervision's `sv.ConfusionMatrix` at IoU 0.5 and no
  confidence cut. The validator has no such matrix (it matches per class, with the adaptive
  threshold); this one matches across classes, which is the point: it shows which class a box
  was mistaken for (fire called smoke), what no box found (column "background") and boxes on
  nothing (row "background"). The tables, not this picture, carry the validator's numbers;
- `false_positives.png`: the answers' costliest false positives (highest confidence first: a
  confident false positive also costs AP), one tile per image, and `misses.png`: the images
  with the most truth objects no answer box matched. Drawn with supervision annotators: truth
  green, answer red and labelled with class and confidence, the false positive or the missed
  object in a thick frame;
- `index.html` (the score and per-class tables, counts, notes, per-image rows worst first, the
  pictures) and `evaluation.json` (`ImageEvaluation.to_dict()`).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import cv2
import numpy as np
import supervision as sv
from matplotlib.figure import Figure

from .. import KitError
from ..evaluate.answer import Det
from ..viz import save_image, tile
from .score import SCORED, ImageEvaluation, ImageRow, image_evaluation_html

__all__ = ["write_image_report", "scores_figure", "per_class_figure", "confusion_matrix", "gallery"]

TRUTH, ANSWER = sv.Color.GREEN, sv.Color.RED
TILE_WIDTH = 400


def scores_figure(ev: ImageEvaluation) -> Figure:
    """Pillar means (raw, contribution, target, baseline) and the per-image composite histogram."""
    es = ev.elements[ev.element.id]
    fig = Figure(figsize=(11, 4))
    ax, hx = fig.subplots(1, 2)
    names = list(es.pillars)
    x = np.arange(len(names))
    ax.bar(x, [es.pillars[n].raw for n in names], color="#9ecae1", label="raw (mean)")
    ax.bar(x, [es.pillars[n].contribution for n in names], color="#3182bd", width=0.5, label="weight x raw")
    for i, n in enumerate(names):
        p = es.pillars[n]
        if p.target is not None:
            ax.plot([i - 0.4, i + 0.4], [p.target] * 2, color="green", lw=2)
        if p.baseline is not None:
            ax.plot([i - 0.4, i + 0.4], [p.baseline] * 2, color="grey", ls="--")
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"S {es.score:.3f} (mean); final {ev.final:.4f}; green target, dashed baseline")
    ax.legend(loc="upper right", fontsize=8)
    finals = [r.final for r in ev.rows if r.counted]
    hx.hist(finals or [0.0], bins=20, range=(0, max(0.7, max(finals or [0]))), color="#756bb1")
    hx.axvline(ev.element.delta_floor, color="grey", ls="--", label=f"delta_floor {ev.element.delta_floor:g}")
    hx.axvline(ev.final, color="black", label=f"mean {ev.final:.4f}")
    hx.set_title(f"composite per image ({len(finals)} counted, {ev.n_unscored} without truth objects)")
    hx.legend(fontsize=8)
    fig.tight_layout()
    return fig


def per_class_figure(ev: ImageEvaluation) -> Figure:
    """AP50, precision and recall per class, and each class's false positives."""
    names = list(ev.per_class)
    fig = Figure(figsize=(max(6, 1.6 * len(names) + 3), 4))
    ax, fx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(names))
    for k, (key, color) in enumerate((("ap50", "#31a354"), ("precision", "#3182bd"), ("recall", "#e6550d"))):
        ax.bar(x + (k - 1) * 0.27, [ev.per_class[n][key] or 0.0 for n in names], width=0.27, color=color, label=key)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("per class, pooled over scored images (adaptive IoU)")
    fx.bar(x, [ev.per_class[n]["fp"] for n in names], color="#de2d26")
    fx.set_xticks(x, names, fontsize=8)
    fx.set_title("false positives (each costs 0.04 raw on its image)")
    fig.tight_layout()
    return fig


def _classes(ev: ImageEvaluation) -> list[str]:
    return list(ev.per_class)


def _sv(dets: list[Det], index: dict[str, int], with_conf: bool) -> sv.Detections:
    if not dets:
        return sv.Detections.empty()
    return sv.Detections(xyxy=np.array([d.box for d in dets], dtype=float).reshape(-1, 4),
                         class_id=np.array([index[d.label.strip().lower()] for d in dets], dtype=int),
                         confidence=np.array([1.0 if d.score is None else d.score for d in dets], dtype=float)
                         if with_conf else None)


def _answer_and_truth(row: ImageRow) -> tuple[list[Det], list[Det]]:
    fd = row.detections
    if fd is None:
        return [], []
    return [p for pairs in fd.pairs.values() for p, _ in pairs], [r for rs in fd.refs.values() for r in rs]


def confusion_matrix(ev: ImageEvaluation) -> sv.ConfusionMatrix | None:
    """supervision's confusion matrix over the scored images (IoU 0.5, every box, no conf cut)."""
    names = _classes(ev)
    index = {n.strip().lower(): i for i, n in enumerate(names)}
    preds, targets = [], []
    for r in ev.rows:
        if r.status != SCORED:
            continue
        ans, truth = _answer_and_truth(r)
        preds.append(_sv(ans, index, True))
        targets.append(_sv(truth, index, False))
    if not preds:
        return None
    return sv.ConfusionMatrix.from_detections(predictions=preds, targets=targets, classes=names, conf_threshold=0.0,
                                              iou_threshold=0.5)


def _draw(row: ImageRow, focus: list[Det], focus_is_truth: bool) -> np.ndarray:
    """The photo with truth (green) and the answer (red, labelled), `focus` boxes framed thick."""
    img = cv2.imread(str(row.path))
    if img is None:
        raise KitError(f"{row.path}: not a readable image (it was when scored: moved or replaced?)")
    ans, truth = _answer_and_truth(row)
    index = {n: i for i, n in enumerate(sorted({d.label.strip().lower() for d in ans + truth}))}
    scale = max(1, round(img.shape[1] / TILE_WIDTH))
    img = sv.BoxAnnotator(color=TRUTH, thickness=scale).annotate(img, _sv(truth, index, False))
    a = _sv(ans, index, True)
    img = sv.BoxAnnotator(color=ANSWER, thickness=scale).annotate(img, a)
    labels = [f"{d.label} {1.0 if d.score is None else d.score:.2f}" for d in ans]
    img = sv.LabelAnnotator(color=ANSWER, text_scale=0.4 * scale, text_thickness=scale, text_padding=3 * scale,
                            text_position=sv.Position.BOTTOM_LEFT).annotate(img, a, labels=labels)
    if focus:
        f = _sv(focus, {d.label.strip().lower(): 0 for d in focus}, False)
        img = sv.BoxAnnotator(color=TRUTH if focus_is_truth else ANSWER, thickness=4 * scale).annotate(img, f)
    return img


def _false_positives(row: ImageRow) -> list[Det]:
    fd = row.detections
    return [p for pairs in (fd.pairs.values() if fd else []) for p, m in pairs if m is None]


def _misses(row: ImageRow) -> list[Det]:
    fd = row.detections
    if fd is None:
        return []
    out = []
    for cls, refs in fd.refs.items():
        hit = [id(m) for _, m in fd.pairs.get(cls, []) if m is not None]
        out += [r for r in refs if id(r) not in hit]
    return out


def gallery(ev: ImageEvaluation, what: str = "false_positives", n: int = 9) -> np.ndarray | None:
    """A grid of the images with the costliest false positives (by their highest confidence) or
    the most misses; None when there are none."""
    scored = [r for r in ev.rows if r.status == SCORED and r.path is not None]
    if what == "false_positives":
        picked = [(max(1.0 if d.score is None else d.score for d in fps), r, fps)
                  for r in scored if (fps := _false_positives(r))]
    else:
        picked = [(len(ms), r, ms) for r in scored if (ms := _misses(r))]
    picked.sort(key=lambda t: -t[0])
    if not picked:
        return None
    tiles = [_draw(r, focus, what != "false_positives") for _, r, focus in picked[:n]]
    titles = [f"final {r.final:.3f}, " + (f"{len(f)} FP (top {k:.2f})" if what == "false_positives"
                                           else f"{len(f)} missed of {r.n_truth}") + f" | {r.image}"
              for k, r, f in picked[:n]]
    return tile(tiles, cols=3, tile_width=TILE_WIDTH, titles=titles)


def _rows_html(ev: ImageEvaluation, limit: int = 200) -> str:
    rows = sorted(ev.rows, key=lambda r: (r.status == "unscored", r.final))[:limit]
    cols = ("image", "status", "final", "S", "TP", "FP", "missed", "why")
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in cols) + "</tr>"
    body = "".join(f"<tr><td>{html.escape(r.image)}</td><td>{r.status}</td><td>{r.final:.4f}</td><td>{r.score:.4f}</td>"
                   f"<td>{r.tp}</td><td>{r.fp}</td><td>{r.fn}</td><td>{html.escape(r.gate_reason)}</td></tr>"
                   for r in rows)
    return f"<table>{head}{body}</table>"


def write_image_report(ev: ImageEvaluation, folder: str | os.PathLike) -> dict[str, Path]:
    """Write the pictures, `index.html` and `evaluation.json`; returns them by name."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for name, fig in (("scores", scores_figure(ev)), ("per_class", per_class_figure(ev))):
        files[name] = out / f"{name}.png"
        fig.savefig(files[name], dpi=100)
    cm = confusion_matrix(ev)
    if cm is not None:
        files["confusion"] = out / "confusion.png"
        fig = cm.plot(title="confusion, IoU 0.5 (diagnostic)", fig_size=(7, 6))
        fig.savefig(files["confusion"], dpi=90, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
    for what in ("false_positives", "misses"):
        grid = gallery(ev, what)
        if grid is not None:
            files[what] = save_image(grid, out / f"{what}.png")
    files["json"] = out / "evaluation.json"
    files["json"].write_text(json.dumps(ev.to_dict(), indent=1))
    pics = "".join(f"<h3>{k.replace('_', ' ')}</h3><img src='{p.name}' style='max-width:100%'>"
                   for k, p in files.items() if p.suffix == ".png")
    page = (f"<html><head><meta charset='utf-8'><title>{html.escape(ev.element.id)}</title><style>"
            "table{border-collapse:collapse;margin:8px 0}"
            "td,th{border:1px solid #ccc;padding:2px 6px;font:12px sans-serif}"
            "</style></head><body><h2>Image evaluation: " + html.escape(ev.element.id) + "</h2>"
            + image_evaluation_html(ev) + pics + "<h3>Images, worst first</h3>" + _rows_html(ev) + "</body></html>")
    files["html"] = out / "index.html"
    files["html"].write_text(page)
    return files
