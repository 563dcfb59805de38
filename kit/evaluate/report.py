"""The evaluation as pictures: what the score is made of, and where it was lost.

`write_report(ev, answer, gt, video, out_dir)` writes beside the scores:

- `components.png`: a bar chart of the breakdown;
- `timeline.png`: the object metrics per ground-truth frame and the keypoint score per
  predicted frame, frames zeroed by a keypoint rule marked by rule;
- `objects_<id>.png`: ground truth beside the prediction on chosen frames (the scored window
  in validator mode; the worst, a middling and the best frame in full mode);
- `keypoints_<id>.png`: the predicted keypoints and the template lines warped onto the frame
  through them, and `masks_<id>.png`: the metric's expected lines (green), seen lines (red)
  and their overlap (yellow), on the worst keypoint frames;
- `index.html`, one page with the numbers, the rules that zeroed frames, and the pictures.
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
from ..contract import GroundTruth, load_ground_truth, wire_class
from ..datasets import VideoReader
from ..viz import SHORT_NAMES, WIRE_CLASS_NAMES, draw_detections, draw_keypoints, save_image, tile
from . import BREAKDOWN_KEYS, OBJECT_KEYS, Evaluation
from .keypoints import line_masks

RULE_COLORS = ("#e53935", "#fb8c00", "#fdd835", "#8e24aa", "#3949ab", "#00897b", "#6d4c41", "#546e7a")


def components_figure(ev: Evaluation) -> Figure:
    keys = [k for k in (*BREAKDOWN_KEYS, "latency_score") if k in ev.breakdown]
    values = [ev.breakdown[k] for k in keys]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    colors = ["#1e88e5" if k in (*OBJECT_KEYS, "tracking_stability") else
              "#43a047" if k in ("floor_markings_alignment", "keypoints") else
              "#111111" if k == "final" else "#8e24aa" for k in keys]
    bars = ax.bar(range(len(keys)), values, color=colors)
    for bar, v in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(keys)), [k.replace("_", "\n") for k in keys], fontsize=8)
    ax.set_ylim(0, 1.1)
    title = f"{ev.mode} mode: final {ev.breakdown['final']:.4f}"
    if not ev.gate_passed:
        title += f"  (gate failed: {ev.gate_reason})"
    ax.set_title(title)
    return fig


def timeline_figure(ev: Evaluation) -> Figure:
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ids = [f.frame_id for f in ev.objects_frames]
    for k in OBJECT_KEYS:
        ax1.plot(ids, [getattr(f, k) for f in ev.objects_frames], label=k, lw=1)
    for fid in ev.scored_frames if ev.mode == "validator" else []:
        ax1.axvline(fid, color="k", ls=":", lw=0.8)
    ax1.set_ylim(-0.05, 1.05)
    ax1.set_ylabel("objects")
    ax1.legend(loc="lower left", fontsize=7, ncol=4)
    kp = sorted(ev.keypoint_frames.items())
    ax2.plot([f for f, _ in kp], [k.score for _, k in kp], color="#43a047", lw=1, label="keypoints")
    rules = sorted({k.rule for _, k in kp if k.rule})
    for i, rule in enumerate(rules):
        xs = [f for f, k in kp if k.rule == rule]
        ax2.scatter(xs, [0] * len(xs), s=10, color=RULE_COLORS[i % len(RULE_COLORS)], label=f"zeroed: {rule}", zorder=3)
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_ylabel("keypoints")
    ax2.set_xlabel("frame id")
    ax2.legend(loc="lower left", fontsize=7, ncol=3)
    return fig


def _pick_object_frames(ev: Evaluation, n: int = 3) -> list[int]:
    if ev.mode == "validator":
        return list(ev.scored_frames)
    if not ev.objects_frames:
        return []
    ranked = sorted(ev.objects_frames, key=lambda f: (f.placement + f.categorisation + f.team, f.frame_id))
    picks = [ranked[0], ranked[len(ranked) // 2], ranked[-1]][:n]
    return sorted({f.frame_id for f in picks})


def _pick_keypoint_frames(ev: Evaluation, n: int = 3) -> list[int]:
    ranked = sorted(ev.keypoint_frames.items(), key=lambda kv: (kv[1].score, kv[0]))
    return [fid for fid, _ in ranked[:n] if fid >= 0]


def _draw_boxes(frame: np.ndarray, xyxy, wire_cls: list[int]) -> np.ndarray:
    labels = [SHORT_NAMES.get(WIRE_CLASS_NAMES.get(c, ""), str(c)) for c in wire_cls]
    return draw_detections(frame, np.asarray(xyxy, dtype=np.float32).reshape(-1, 4), wire_cls, WIRE_CLASS_NAMES,
                           labels=labels)


def _draw_gt_frame(frame: np.ndarray, g) -> np.ndarray:
    return _draw_boxes(frame, [[b.x1, b.y1, b.x2, b.y2] for b in g.boxes], [wire_class(b.cls_id, b.team) for b in g.boxes])


def _draw_answer_frame(frame: np.ndarray, fr: dict[str, Any] | None) -> np.ndarray:
    if not fr:
        return frame.copy()
    boxes, cls = [], []
    for b in fr.get("boxes") or []:
        try:
            boxes.append([int(b["x1"]), int(b["y1"]), int(b["x2"]), int(b["y2"])])
            cls.append(int(b.get("cls_id", 2)))
        except (KeyError, TypeError, ValueError):
            continue
    out = _draw_boxes(frame, boxes, cls)
    kps = fr.get("keypoints")
    if isinstance(kps, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in kps):
        try:
            out = draw_keypoints(out, np.asarray(kps, dtype=np.float32), ids=False)
        except (TypeError, ValueError):
            pass
    return out


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


def write_report(ev: Evaluation, answer: dict[str, Any], ground_truth: GroundTruth | str | os.PathLike,
                 video: str | os.PathLike, out_dir: str | os.PathLike, template: np.ndarray | None = None) -> Path:
    """Write the PNGs and index.html into out_dir; returns the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gt = ground_truth if isinstance(ground_truth, GroundTruth) else load_ground_truth(ground_truth)
    gt_by_id = gt.by_frame()
    frames_in = {}
    for fr in (answer.get("predictions") or {}).get("frames") or []:
        if isinstance(fr, dict) and isinstance(fr.get("frame_id"), int):
            frames_in[fr["frame_id"]] = fr

    pictures: list[tuple[str, str]] = []
    for name, fig in (("components.png", components_figure(ev)), ("timeline.png", timeline_figure(ev))):
        fig.savefig(out / name, dpi=90)
        pictures.append((name, name.split(".")[0]))

    obj_ids = _pick_object_frames(ev)
    kp_ids = _pick_keypoint_frames(ev) if ev.gate_passed else []
    wanted = set(obj_ids) | set(kp_ids)
    if wanted:
        with VideoReader(video) as reader:
            for fid, frame in reader.frames():
                if fid in obj_ids and fid in gt_by_id:
                    g = gt_by_id[fid]
                    gt_img = _draw_gt_frame(frame, g)
                    row = next((f for f in ev.objects_frames if f.frame_id == fid), None)
                    stats = (f"placement {row.placement:.2f} cat {row.categorisation:.2f} team {row.team:.2f}"
                             if row else "")
                    img = tile([gt_img, _draw_answer_frame(frame, frames_in.get(fid))], cols=2, tile_width=640,
                               titles=[f"ground truth, frame {fid}", f"prediction, frame {fid}: {stats}"])
                    save_image(img, out / f"objects_{fid:05d}.png")
                    pictures.append((f"objects_{fid:05d}.png", f"objects, frame {fid}"))
                if fid in kp_ids:
                    k = ev.keypoint_frames[fid]
                    fr = frames_in.get(fid) or {}
                    masks = line_masks(frame, fr.get("keypoints") or [], template) if k.rule != "keypoint_count" else None
                    why = k.rule or "scored"
                    img = tile([_overlay_expected(_draw_answer_frame(frame, {"keypoints": fr.get("keypoints")}), masks),
                                _mask_picture(frame, masks)], cols=2, tile_width=640,
                               titles=[f"frame {fid}: keypoints {k.score:.3f}", f"expected (green) seen (red) both (yellow): {why}"])
                    save_image(img, out / f"keypoints_{fid:05d}.png")
                    pictures.append((f"keypoints_{fid:05d}.png", f"keypoints, frame {fid}: {k.detail or 'scored'}"))
                if fid >= max(wanted):
                    break

    page = out / "index.html"
    page.write_text(_html(ev, pictures))
    (out / "evaluation.json").write_text(json.dumps(ev.to_dict(), indent=1, default=str))
    return page


def _html(ev: Evaluation, pictures: list[tuple[str, str]]) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(k)}</td><td>{v:.4f}</td></tr>" for k, v in ev.breakdown.items())
    zr = ev.zero_reasons()
    total = max(1, len(ev.keypoint_frames))
    zero_rows = "".join(f"<tr><td>{e(r)}</td><td>{n}</td><td>{n / total:.1%}</td></tr>" for r, n in zr.most_common())
    spread = ""
    if ev.spread:
        s = ev.spread.final
        spread = (f"<p>Validator-mode final over all {ev.spread.n_windows} three-frame windows: "
                  f"min {s['min']:.4f}, p10 {s['p10']:.4f}, median {s['median']:.4f}, p90 {s['p90']:.4f}, "
                  f"max {s['max']:.4f} (std {s['std']:.4f}).</p>")
    gate = "" if ev.gate_passed else f"<p class=bad>Gate failed: {e(ev.gate_reason)}. Every component is 0.</p>"
    imgs = "".join(f"<figure><img src='{e(p)}'><figcaption>{e(c)}</figcaption></figure>" for p, c in pictures)
    return f"""<!doctype html><html><head><meta charset=utf-8><title>Turbo Vision evaluation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse}}
td{{border:1px solid #ccc;padding:2px 8px}}img{{max-width:100%}}.bad{{color:#c62828;font-weight:bold}}</style>
</head><body><h1>Evaluation ({e(ev.mode)} mode)</h1>{gate}
<table>{rows}</table>
<p>{ev.n_frames_total} frames; objects scored on {len(ev.scored_frames)} ground-truth frame(s); keypoints on
{len(ev.keypoint_frames)} predicted frames.</p>{spread}
<h2>Keypoint frames zeroed by a rule</h2>
<table><tr><td>rule</td><td>frames</td><td>share</td></tr>{zero_rows or '<tr><td colspan=3>none</td></tr>'}</table>
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
    keys = [k for k in (*BREAKDOWN_KEYS, "latency_score") if k in current and k in earlier]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(keys))
    ax.bar(x - 0.2, [earlier[k] for k in keys], 0.4, label=labels[0], color="#9e9e9e")
    ax.bar(x + 0.2, [current[k] for k in keys], 0.4, label=labels[1], color="#1e88e5")
    for i, k in enumerate(keys):
        d = current[k] - earlier[k]
        ax.text(i, max(current[k], earlier[k]) + 0.02, f"{d:+.3f}", ha="center", fontsize=8,
                color="#2e7d32" if d > 0 else "#c62828" if d < 0 else "#555")
    ax.set_xticks(x, [k.replace("_", "\n") for k in keys], fontsize=8)
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
    """One frame for the explorer: ground truth | prediction with expected lines, and its scores."""
    frame = frames[fid]
    if frame is None:
        return np.zeros((ev.height or 540, ev.width or 960, 3), np.uint8), f"frame {fid}: not in the video"
    fr = next((f for f in (answer.get("predictions") or {}).get("frames") or []
               if isinstance(f, dict) and f.get("frame_id") == fid), None)
    g = gt.by_frame().get(fid)
    left = frame if g is None else _draw_gt_frame(frame, g)
    masks = line_masks(frame, (fr or {}).get("keypoints") or []) if fr else None
    right = _overlay_expected(_draw_answer_frame(frame, fr), masks)
    row = next((f for f in ev.objects_frames if f.frame_id == fid), None)
    k = ev.keypoint_frames.get(fid)
    parts = [f"frame {fid}"]
    if row:
        parts.append(f"placement {row.placement:.3f}, categorisation {row.categorisation:.3f}, team {row.team:.3f}, "
                     f"enumeration {row.enumeration:.3f} ({row.n_gt} true, {row.n_pred} predicted boxes)")
    if k:
        parts.append(f"keypoints {k.score:.3f}" + (f", zeroed: {k.detail}" if k.rule else ""))
    return tile([left, right], cols=2, tile_width=640, titles=["ground truth", "prediction + expected lines"]), "; ".join(parts)


def explorer(ev: Evaluation, answer: dict[str, Any], ground_truth: GroundTruth | str | os.PathLike,
             video: str | os.PathLike):
    """An ipywidgets slider over frames showing the overlay and that frame's scores.

    Headless (papermill, nbval) it still builds; the notebook shows static pictures beside it.
    """
    import ipywidgets as w

    gt = ground_truth if isinstance(ground_truth, GroundTruth) else load_ground_truth(ground_truth)
    frames = FrameSource(video)
    ids = sorted(ev.keypoint_frames) or [f.frame_id for f in ev.objects_frames] or [0]
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
