"""The evaluation as pictures and tables: what each element's score is made of, and where it was lost.

Usage: `page = write_report(ev, answer, gt, video, "report/")`; `components_figure(ev)`; `explorer(...)`

`write_report(ev, answer, gt, video, out_dir)` writes beside the scores:

- `components.png`: per element, each pillar's raw value (bar) and contribution (weight x raw,
  dark part), the manifest's target (tick) and baseline (dash), then S, the gated score and the
  final, with the baseline gate drawn at baseline_theta;
- `timeline.png`: the per-frame pillars (iou, count, palette, role) per reference frame, the
  detection counts (true/false positives, misses) per frame, and the keypoint score per
  answered frame, frames zeroed by a keypoint rule marked by rule;
- `objects_<id>.png`: ground truth beside the answer as the element reads it, on chosen frames
  (the scored window in validator mode; the worst, a middling and the best frame in full mode);
- `keypoints_<id>.png`: the answer's keypoints and the template lines warped through them, and
  the metric's expected lines (green), seen lines (red) and their overlap (yellow), on the worst
  keypoint frames;
- `index.html`: one page with every element's pillar table (raw, weight, contribution, target,
  baseline and the distances to them), its gates in numbers, every zeroed keypoint frame with
  its rule, and the pictures; `evaluation.json` with the per-frame tables.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib.figure import Figure

from .. import KitError
from ..contract import GroundTruth, load_ground_truth
from ..datasets import VideoReader
from ..viz import SHORT_NAMES, draw_detections, draw_keypoints, save_image, tile
from . import ElementScore, Evaluation
from .answer import TEAM1, TEAM2, Det, read_frames, reference_frames
from .keypoints import line_masks
from .objects import FRAME_PILLARS

RULE_COLORS = ("#e53935", "#fb8c00", "#fdd835", "#8e24aa", "#3949ab", "#00897b", "#6d4c41", "#546e7a")
_DRAW_NAMES = {0: "ball", 1: "goalkeeper", 2: "player", 3: "referee", 4: "player team 1", 5: "player team 2"}


def _element_bars(ax, es: ElementScore) -> None:
    names = list(es.pillars)
    raw = [es.pillars[n].raw for n in names]
    contrib = [es.pillars[n].contribution for n in names]
    x = np.arange(len(names))
    ax.bar(x, raw, color="#90caf9", label="raw")
    ax.bar(x, contrib, color="#1e88e5", label="weight x raw")
    for i, n in enumerate(names):
        p = es.pillars[n]
        if p.target is not None:
            ax.plot([i - 0.4, i + 0.4], [p.target] * 2, color="#2e7d32", lw=2)
        if p.baseline is not None:
            ax.plot([i - 0.4, i + 0.4], [p.baseline] * 2, color="#c62828", lw=1.5, ls="--")
        ax.text(i, raw[i] + 0.02, f"{raw[i]:.2f}\nw {p.weight:g}", ha="center", va="bottom", fontsize=7)
    k = len(names)
    tail = [("S", es.score, "#424242"), ("gated", es.gated, "#6a1b9a"), ("final", es.final, "#111111")]
    for j, (label, v, c) in enumerate(tail):
        ax.bar(k + j, v, color=c)
        ax.text(k + j, v + 0.02, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    ax.axhline(es.element.baseline_theta, color="#c62828", lw=0.8, ls=":")
    ax.set_xticks(range(k + 3), [n.replace("_", "\n") for n in names] + [t[0] for t in tail], fontsize=7)
    ax.set_ylim(0, 1.2)
    title = f"{es.element.id}: final {es.final:.4f}"
    if not es.latency_pass:
        title += f" (latency gate: rtf {es.rtf:.2f})"
    ax.set_title(title, fontsize=9)


def components_figure(ev: Evaluation) -> Figure:
    """Per element: pillar raw values and contributions, targets (green) and baselines (red dashes),
    then S, gated and final; the dotted line is baseline_theta."""
    n = max(1, len(ev.elements))
    fig = Figure(figsize=(4.2 * n + 1, 3.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, es in zip(axes, ev.elements.values()):
        _element_bars(ax, es)
    sup = f"{ev.mode} mode: final {ev.final:.4f} (mean over {len(ev.elements)} element(s))"
    if not ev.gate_passed:
        sup += f"; ANSWER GATE FAILED: {ev.gate_reason}"
    fig.suptitle(sup, fontsize=10)
    return fig


def _frame_element(ev: Evaluation) -> ElementScore | None:
    return next((es for es in ev.elements.values() if es.frames or es.detections), None)


def timeline_figure(ev: Evaluation) -> Figure:
    """Per-frame pillars, detection counts and keypoint scores along the clip."""
    fig = Figure(figsize=(11, 6), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True)
    for es in ev.elements.values():
        for k in FRAME_PILLARS:
            if k in es.pillars and es.frames:
                ax1.plot([r.frame_id for r in es.frames], [r.values[k] for r in es.frames], lw=1,
                         label=f"{es.element.id.split('@')[0]} {k}")
        if es.detections:
            ids = [d.frame_id for d in es.detections]
            ax2.plot(ids, [d.tp for d in es.detections], lw=1, label=f"{es.element.id.split('@')[0]} TP")
            ax2.plot(ids, [d.fp for d in es.detections], lw=1, ls="--", label=f"{es.element.id.split('@')[0]} FP")
            ax2.plot(ids, [d.n_refs - d.tp for d in es.detections], lw=1, ls=":",
                     label=f"{es.element.id.split('@')[0]} missed")
    for fid in ev.scored_frames if ev.mode == "validator" else []:
        ax1.axvline(fid, color="k", ls=":", lw=0.8)
    ax1.set_ylim(-0.05, 1.05)
    ax1.set_ylabel("per-frame pillars")
    ax1.legend(loc="lower left", fontsize=6, ncol=4)
    ax2.set_ylabel("objects (adaptive IoU)")
    ax2.legend(loc="upper left", fontsize=6, ncol=3)
    kp = sorted(ev.keypoint_frames.items())
    ax3.plot([f for f, _ in kp], [k.score for _, k in kp], color="#43a047", lw=1, label="keypoints")
    for i, rule in enumerate(sorted({k.rule for _, k in kp if k.rule})):
        xs = [f for f, k in kp if k.rule == rule]
        ax3.scatter(xs, [0] * len(xs), s=10, color=RULE_COLORS[i % len(RULE_COLORS)], label=f"zeroed: {rule}", zorder=3)
    ax3.set_ylim(-0.05, 1.05)
    ax3.set_ylabel("keypoints")
    ax3.set_xlabel("frame id")
    ax3.legend(loc="lower left", fontsize=7, ncol=3)
    return fig


def _pick_object_frames(ev: Evaluation, n: int = 3) -> list[int]:
    if ev.mode == "validator":
        return list(ev.scored_frames)
    es = _frame_element(ev)
    if es is None or not es.frames:
        return []
    ranked = sorted(es.frames, key=lambda r: (sum(r.values.values()), r.frame_id))
    return sorted({r.frame_id for r in (ranked[0], ranked[len(ranked) // 2], ranked[-1])})[:n]


def _pick_keypoint_frames(ev: Evaluation, n: int = 3) -> list[int]:
    ranked = sorted(ev.keypoint_frames.items(), key=lambda kv: (kv[1].score, kv[0]))
    return [fid for fid, _ in ranked[:n] if fid >= 0]


def _draw_dets(frame: np.ndarray, dets: list[Det]) -> np.ndarray:
    """Objects with the kit's class colours (players by team), polygons outlined."""
    index = {v: k for k, v in _DRAW_NAMES.items()}
    names = dict(_DRAW_NAMES)
    ids = []
    for d in dets:
        name = d.label
        if name == "player" and d.team in (TEAM1, TEAM2):
            name = "player team 1" if d.team == TEAM1 else "player team 2"
        if name not in index:
            index[name] = len(names)
            names[index[name]] = name
        ids.append(index[name])
    out = draw_detections(frame, [d.box for d in dets], ids, names,
                          labels=[SHORT_NAMES.get(names[i], names[i]) for i in ids])
    for d in dets:
        if d.polygon:
            cv2.polylines(out, [np.array(d.polygon, np.int32)], True, (0, 255, 255), 1)
    return out


def _draw_keypoints(frame: np.ndarray, kps: Any) -> np.ndarray:
    if isinstance(kps, list) and kps and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in kps):
        try:
            return draw_keypoints(frame, np.asarray(kps, dtype=np.float32), ids=False)
        except (TypeError, ValueError):
            pass
    return frame


def _overlay_expected(frame: np.ndarray, masks: dict[str, np.ndarray] | None) -> np.ndarray:
    out = frame.copy()
    if masks is not None:
        out[masks["expected"]] = (255, 0, 255)
    return out


def _mask_picture(frame: np.ndarray, masks: dict[str, np.ndarray] | None) -> np.ndarray:
    out = (frame * 0.35).astype(np.uint8)
    if masks is None:
        return out
    e, s = masks["expected"], masks["seen"]
    out[e & ~s] = (0, 200, 0)
    out[s & ~e] = (0, 0, 230)
    out[e & s] = (0, 230, 230)
    return out


def _row_text(es: ElementScore | None, fid: int) -> str:
    if es is None:
        return ""
    row = next((r for r in es.frames if r.frame_id == fid), None)
    det = next((d for d in es.detections if d.frame_id == fid), None)
    parts = [f"{k} {v:.2f}" for k, v in (row.values.items() if row else []) if k in FRAME_PILLARS]
    if det:
        parts.append(f"TP {det.tp} FP {det.fp} missed {det.n_refs - det.tp}")
    return ", ".join(parts)


def write_report(ev: Evaluation, answer: dict[str, Any], ground_truth: GroundTruth | str | os.PathLike,
                 video: str | os.PathLike, out_dir: str | os.PathLike, template: np.ndarray | None = None) -> Path:
    """Write the PNGs, evaluation.json and index.html into out_dir; returns the page's path.

    >>> page = write_report(ev, answer, "clip.json", "clip.mp4", "report")   # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gt = ground_truth if isinstance(ground_truth, GroundTruth) else load_ground_truth(ground_truth)
    es = _frame_element(ev)
    objects = es.element.objects if es else None
    answered = read_frames(answer, objects)
    kp_frames = read_frames(answer, None)

    pictures: list[tuple[str, str]] = []
    for name, fig in (("components.png", components_figure(ev)), ("timeline.png", timeline_figure(ev))):
        fig.savefig(out / name, dpi=90)
        pictures.append((name, name.split(".")[0]))

    obj_ids = _pick_object_frames(ev) if ev.gate_passed else []
    kp_ids = _pick_keypoint_frames(ev) if ev.gate_passed else []
    refs = {r.frame_id: r for r in reference_frames(gt, objects, [f for f in obj_ids if f in gt.by_frame()],
                                                    ev.n_frames_total, (ev.width, ev.height))}
    wanted = set(obj_ids) | set(kp_ids)
    if wanted:
        with VideoReader(video) as reader:
            for fid, frame in reader.frames(max_frames=max(wanted) + 1):
                if fid in refs:
                    fr = answered.get(fid)
                    img = tile([_draw_dets(frame, refs[fid].dets), _draw_dets(frame, fr.all if fr else [])], cols=2,
                               tile_width=640, titles=[f"ground truth, frame {fid}",
                                                       f"answer ({es.element.id}): {_row_text(es, fid)}"])
                    save_image(img, out / f"objects_{fid:05d}.png")
                    pictures.append((f"objects_{fid:05d}.png", f"objects, frame {fid}"))
                if fid in kp_ids:
                    k = ev.keypoint_frames[fid]
                    kps = kp_frames[fid].keypoints if fid in kp_frames else []
                    masks = line_masks(frame, kps, template) if k.rule != "keypoint_count" else None
                    img = tile([_overlay_expected(_draw_keypoints(frame, kps), masks), _mask_picture(frame, masks)],
                               cols=2, tile_width=640,
                               titles=[f"frame {fid}: keypoints {k.score:.3f}",
                                       f"expected (green) seen (red) both (yellow): {k.rule or 'scored'}"])
                    save_image(img, out / f"keypoints_{fid:05d}.png")
                    pictures.append((f"keypoints_{fid:05d}.png", f"keypoints, frame {fid}: {k.detail or 'scored'}"))

    page = out / "index.html"
    page.write_text(_html(ev, pictures))
    (out / "evaluation.json").write_text(json.dumps(ev.to_dict(frames=True), indent=1, default=str))
    return page


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "" if v is None else format(v, fmt)


def _element_html(es: ElementScore) -> str:
    e, el = html.escape, es.element
    rows = "".join(
        f"<tr><td>{e(n)}</td><td>{p.raw:.4f}</td><td>{p.weight:g}</td><td>{p.contribution:.4f}</td>"
        f"<td>{_num(p.target, '.3f')}</td><td>{_num(None if p.target is None else p.raw - p.target, '+.4f')}</td>"
        f"<td>{_num(p.baseline, '.3f')}</td><td>{_num(None if p.baseline is None else p.raw - p.baseline, '+.4f')}"
        "</td></tr>" for n, p in es.pillars.items())
    lat = "" if es.rtf is None else (f"<p>Latency gate: rtf {es.rtf:.3f} "
                                     f"({'pass' if es.latency_pass else 'FAIL: the element scores 0'}).</p>")
    zeroed = sorted((fid, k) for fid, k in es.keypoint_frames.items() if k.rule)
    zr = "".join(f"<tr><td>{fid}</td><td>{e(k.rule or '')}</td><td>{e(k.detail)}</td></tr>" for fid, k in zeroed)
    kp = (f"<h3>Keypoint frames zeroed by a rule ({len(zeroed)} of {len(es.keypoint_frames)})</h3>"
          f"<table><tr><th>frame</th><th>rule</th><th>why</th></tr>{zr or '<tr><td colspan=3>none</td></tr>'}</table>"
          if es.keypoint_frames else "")
    groups = "".join(f"<tr><td>{e(g)}</td><td>{v:.4f}</td></tr>" for g, v in es.smoothness_groups.items())
    sm = f"<h3>Smoothness per group</h3><table>{groups}</table>" if groups else ""
    return (f"<h2>{e(el.id)} <small>({e(el.category)})</small></h2><table><tr><th>pillar</th><th>raw</th>"
            f"<th>weight</th><th>contribution</th><th>target</th><th>to target</th><th>baseline</th>"
            f"<th>to baseline</th></tr>{rows}</table>"
            f"<p>S = {es.score:.4f} ({es.to_baseline:+.4f} from baseline_theta {el.baseline_theta:g}); gated = "
            f"{el.beta:g} x max(max(S - {el.baseline_theta:g}, 0), {el.delta_floor:g}) = {es.gated:.4f}; "
            f"<b>final {es.final:.4f}</b>.</p>{lat}{sm}{kp}")


def _html(ev: Evaluation, pictures: list[tuple[str, str]]) -> str:
    e = html.escape
    gate = ("" if ev.gate_passed
            else f"<p class=bad>Answer gate failed: {e(ev.gate_reason)}. Every element scores 0.</p>")
    imgs = "".join(f"<figure><img src='{e(p)}'><figcaption>{e(c)}</figcaption></figure>" for p, c in pictures)
    elements = "".join(_element_html(es) for es in ev.elements.values())
    return f"""<!doctype html><html><head><meta charset=utf-8><title>Turbo Vision evaluation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px}}img{{max-width:100%}}.bad{{color:#c62828;font-weight:bold}}</style>
</head><body><h1>Evaluation: final {ev.final:.4f} ({e(ev.mode)} mode)</h1>
<p>Manifest: {e(ev.manifest.describe())}. {ev.n_frames_total} video frames, {ev.n_answer_frames} answered; object
pillars on {len(ev.scored_frames)} ground-truth frame(s).</p>{gate}{elements}
<h2>Pictures</h2>{imgs}</body></html>"""


# --- comparison and the interactive explorer ---------------------------------------------------

def load_breakdown(path: str | os.PathLike) -> dict[str, float]:
    """The breakdown of an earlier evaluation: an evaluation.json, a report folder, or a run's metrics.json."""
    p = Path(path)
    if p.is_dir():
        p = p / "evaluation.json" if (p / "evaluation.json").is_file() else p / "metrics.json"
    if not p.is_file():
        raise KitError(f"{path}: no evaluation.json or metrics.json there (point at an earlier report folder or run)")
    data = json.loads(p.read_text())
    for candidate in (data.get("breakdown"), data.get("03_evaluate", {}).get("breakdown"), data):
        if isinstance(candidate, dict) and "final" in candidate:
            return {k: float(v) for k, v in candidate.items() if isinstance(v, (int, float))}
    raise KitError(f"{p}: holds no score breakdown (expected a 'final' key)")


def compare_figure(current: dict[str, float], earlier: dict[str, float],
                   labels: tuple[str, str] = ("earlier", "now")) -> Figure:
    """Two breakdowns side by side (the keys both have: final, each element's final, S and
    pillars), with the change written over each pair."""
    keys = [k for k in current if k in earlier]
    keys.sort(key=lambda k: (k != "final", not k.endswith("/final"), not k.endswith("/score")))
    fig = Figure(figsize=(max(9, 0.55 * len(keys) + 2), 4.2), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(keys))
    ax.bar(x - 0.2, [earlier[k] for k in keys], 0.4, label=labels[0], color="#9e9e9e")
    ax.bar(x + 0.2, [current[k] for k in keys], 0.4, label=labels[1], color="#1e88e5")
    for i, k in enumerate(keys):
        d = current[k] - earlier[k]
        ax.text(i, max(current[k], earlier[k]) + 0.02, f"{d:+.3f}", ha="center", fontsize=8,
                color="#2e7d32" if d > 0 else "#c62828" if d < 0 else "#555")
    ax.set_xticks(x, [k.replace("@1.0", "").replace("/", "\n") for k in keys], fontsize=7, rotation=90)
    ax.set_ylim(0, 1.15)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("score change")
    return fig


class FrameSource:
    """Random access to a video's frames for the explorer (seek, decode, small cache)."""

    def __init__(self, video: str | os.PathLike, cache: int = 32):
        self.cap = cv2.VideoCapture(str(video))
        if not self.cap.isOpened():
            raise KitError(f"{video}: OpenCV cannot open this video")
        self.n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._cache: dict[int, np.ndarray] = {}
        self._size = cache
        self._next = 0

    def __getitem__(self, fid: int) -> np.ndarray | None:
        if fid in self._cache:
            return self._cache[fid]
        if fid != self._next:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, fid)
        ok, frame = self.cap.read()
        self._next = fid + 1
        if not ok:
            return None
        if len(self._cache) >= self._size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[fid] = frame
        return frame


def frame_view(ev: Evaluation, answer: dict[str, Any], gt: GroundTruth, frames: FrameSource, fid: int,
               template: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """One frame for the explorer: ground truth | the answer with expected lines, and its scores."""
    frame = frames[fid]
    if frame is None:
        return np.zeros((ev.height or 540, ev.width or 960, 3), np.uint8), f"frame {fid}: not in the video"
    es = _frame_element(ev)
    objects = es.element.objects if es else None
    ref = reference_frames(gt, objects, [fid], ev.n_frames_total, (ev.width, ev.height)) if fid in gt.by_frame() else []
    left = _draw_dets(frame, ref[0].dets) if ref else frame
    fr = read_frames(answer, objects).get(fid)
    kps = read_frames(answer, None).get(fid)
    masks = line_masks(frame, kps.keypoints, template) if kps and isinstance(kps.keypoints, list) else None
    right = _overlay_expected(_draw_keypoints(_draw_dets(frame, fr.all if fr else []), kps.keypoints if kps else []),
                              masks)
    parts = [f"frame {fid}"]
    text = _row_text(es, fid)
    if text:
        parts.append(text)
    k = ev.keypoint_frames.get(fid)
    if k:
        parts.append(f"keypoints {k.score:.3f}" + (f", zeroed ({k.rule}): {k.detail}" if k.rule else ""))
    return (tile([left, right], cols=2, tile_width=640, titles=["ground truth", "answer + expected lines"]),
            "; ".join(parts))


def explorer(ev: Evaluation, answer: dict[str, Any], ground_truth: GroundTruth | str | os.PathLike,
             video: str | os.PathLike):
    """An ipywidgets slider over frames showing the overlay and that frame's scores.

    Headless (papermill, nbval) it still builds; the notebook shows static pictures beside it.
    """
    import ipywidgets as w

    gt = ground_truth if isinstance(ground_truth, GroundTruth) else load_ground_truth(ground_truth)
    frames = FrameSource(video)
    es = _frame_element(ev)
    ids = sorted(ev.keypoint_frames) or ([r.frame_id for r in es.frames] if es else []) or [0]
    slider = w.IntSlider(value=ids[0], min=min(ids), max=max(ids), step=1, description="frame",
                         continuous_update=False, layout=w.Layout(width="90%"))
    image = w.Image(format="png")
    caption = w.HTML()

    def show(change=None):
        img, text = frame_view(ev, answer, gt, frames, slider.value)
        image.value = cv2.imencode(".png", img)[1].tobytes()
        caption.value = f"<code>{html.escape(text)}</code>"

    slider.observe(show, names="value")
    show()
    return w.VBox([slider, caption, image])
