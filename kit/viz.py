"""Pictures of data: supervision drawings on frames, image grids, matplotlib plots of dataset checks.

Drawings take and return BGR images (OpenCV's order, what `cv2.imwrite` saves and
`supervision.plot_image` shows). Plots are `matplotlib.figure.Figure` objects made without
pyplot, so library calls leave no global figure state behind; a notebook shows one with
`display(fig)` and saves it with `fig.savefig(path)`.

Nothing here downloads anything: supervision's labels use OpenCV's built-in Hershey font
(its `assets` module, which fetches sample videos, is never used).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import supervision as sv
from matplotlib.figure import Figure

from . import KitError
from .contract import GTFrame, load_ground_truth
from .datasets import WIRE_CLASS_NAMES, DatasetStats, VideoReader, iter_labeled, read_data_yaml
from .pitch import fit_homography, outline_polylines, visible_mask

#: One colour per class name, so a class looks the same in every picture of the kit.
CLASS_COLORS: dict[str, str] = {
    "ball": "#FFD400",
    "goalkeeper": "#FF8A00",
    "player": "#F5F5F5",
    "referee": "#D500F9",
    "player team 1": "#E53935",
    "player team 2": "#1E88E5",
    "pitch": "#00E676",
}
#: Labels short enough for a player's box at broadcast scale; the colour says the rest.
SHORT_NAMES = {"ball": "ball", "goalkeeper": "GK", "player": "P", "referee": "ref", "player team 1": "T1",
               "player team 2": "T2", "pitch": "pitch"}
_FALLBACK = sv.ColorPalette.DEFAULT
KEYPOINT_COLOR = sv.Color.from_hex("#00E5FF")
PITCH_LINE_BGR = (255, 0, 255)


def _palette(names: dict[int, str]) -> sv.ColorPalette:
    """A palette indexed by class id that gives each known class name its kit colour."""
    n = max(names, default=-1) + 1
    colors = [sv.Color.from_hex(CLASS_COLORS[names[i]]) if names.get(i) in CLASS_COLORS else _FALLBACK.by_idx(i)
              for i in range(n)]
    return sv.ColorPalette(colors or [_FALLBACK.by_idx(0)])


def _text_color(color: sv.Color) -> sv.Color:
    return sv.Color.BLACK if 0.299 * color.r + 0.587 * color.g + 0.114 * color.b > 140 else sv.Color.WHITE


def draw_detections(image: np.ndarray, xyxy: np.ndarray, class_ids: Sequence[int], names: dict[int, str],
                    labels: list[str] | None = None, scale: float = 1.0) -> np.ndarray:
    """Boxes and labels (class names unless `labels` given) on a copy of a BGR image."""
    out = image.copy()
    if len(class_ids) == 0:
        return out
    det = sv.Detections(xyxy=np.asarray(xyxy, dtype=np.float32).reshape(-1, 4),
                        class_id=np.asarray(class_ids, dtype=int))
    palette = _palette(names)
    thickness = max(1, round(2 * scale))
    out = sv.BoxAnnotator(color=palette, thickness=thickness).annotate(out, det)
    text = labels if labels is not None else [names.get(int(c), str(c)) for c in det.class_id]
    # The label's text colour follows its box colour so it stays readable on yellow and on blue.
    lab = sv.LabelAnnotator(color=palette, text_color=sv.ColorPalette([_text_color(c) for c in palette.colors]),
                            text_scale=0.4 * scale, text_padding=max(1, round(3 * scale)),
                            text_position=sv.Position.TOP_LEFT)
    return lab.annotate(out, det, labels=text)


def draw_keypoints(image: np.ndarray, xy: np.ndarray, visible: np.ndarray | None = None, ids: bool = True,
                   scale: float = 1.0) -> np.ndarray:
    """Pitch keypoints (pixels, (K, 2)) on a copy of a BGR image, each labelled with its id (1-based).

    Without `visible`, (0, 0) means not visible (the wire format's rule).
    """
    out = image.copy()
    xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    vis = visible_mask(xy) if visible is None else np.asarray(visible, bool)
    if not vis.any():
        return out
    kp = sv.KeyPoints(xy=xy[None], visible=vis[None])
    out = sv.VertexAnnotator(color=KEYPOINT_COLOR, radius=max(2, round(4 * scale))).annotate(out, kp)
    if ids:
        # Labels sit just above their point so the dot itself stays visible.
        lifted = sv.KeyPoints(xy=(xy - np.array([0, 11 * scale], np.float32))[None], visible=vis[None])
        out = sv.VertexLabelAnnotator(color=KEYPOINT_COLOR, text_color=sv.Color.BLACK, text_scale=0.32 * scale,
                                      text_padding=max(1, round(2 * scale))).annotate(
            out, lifted, labels=[str(i + 1) for i in range(len(xy))])
    return out


def draw_pitch_lines(image: np.ndarray, keypoints: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The template's markings projected through the homography of the visible keypoints.

    A check that keypoints agree with each other and with the picture: if the projected
    lines land on the painted ones, the labels are consistent. Returns a copy; unchanged
    with fewer than 4 visible points.
    """
    out = image.copy()
    pts = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    H = fit_homography(pts)
    if H is None:
        return out
    overlay = out.copy()
    lim = 4 * max(image.shape[:2])
    for line in outline_polylines():
        ph = np.c_[line, np.ones(len(line))] @ H.T
        ok = ph[:, 2] > 1e-9  # in front of the camera
        xy = np.clip(ph[:, :2] / np.where(ok, ph[:, 2], 1.0)[:, None], -lim, lim)
        # split where the line passes behind the camera, so no segment wraps across the frame
        run: list[np.ndarray] = []
        for p, good in zip(xy, ok):
            if good:
                run.append(p)
            elif run:
                _polyline(overlay, run)
                run = []
        _polyline(overlay, run)
    return cv2.addWeighted(overlay, alpha, out, 1 - alpha, 0)


def _polyline(img: np.ndarray, pts: list[np.ndarray]) -> None:
    if len(pts) >= 2:
        cv2.polylines(img, [np.round(np.array(pts)).astype(np.int32)], False, PITCH_LINE_BGR, 2, cv2.LINE_AA)


def draw_ground_truth(frame: np.ndarray, gt: GTFrame, teams: bool = True, pitch_lines: bool = True,
                      scale: float = 1.0) -> np.ndarray:
    """A ground-truth frame drawn: boxes by wire class (teams split if `teams`), track ids, keypoints.

    Labels are `SHORT_NAMES` (T1, T2, GK, ref, ball) with the track id.
    """
    out = draw_pitch_lines(frame, gt.keypoints) if pitch_lines else frame.copy()
    if gt.boxes:
        xyxy = np.array([[b.x1, b.y1, b.x2, b.y2] for b in gt.boxes])
        cls = [b.wire_cls if teams else b.cls_id for b in gt.boxes]
        labels = [SHORT_NAMES[WIRE_CLASS_NAMES[c]] + (f" #{b.track_id}" if b.track_id is not None else "")
                  for c, b in zip(cls, gt.boxes)]
        out = draw_detections(out, xyxy, cls, WIRE_CLASS_NAMES, labels=labels, scale=scale)
    return draw_keypoints(out, np.asarray(gt.keypoints), scale=scale)


def tile(images: Sequence[np.ndarray], cols: int = 3, tile_width: int = 320,
         titles: Sequence[str] | None = None, gap: int = 4) -> np.ndarray:
    """BGR images resized to one width and laid out in a grid, each with an optional title bar."""
    if not images:
        raise KitError("nothing to tile: no images given")
    tiles = []
    for i, img in enumerate(images):
        h = max(1, round(img.shape[0] * tile_width / img.shape[1]))
        t = cv2.resize(img, (tile_width, h), interpolation=cv2.INTER_AREA)
        if titles is not None:
            bar = np.full((18, tile_width, 3), 32, np.uint8)
            cv2.putText(bar, str(titles[i])[:60], (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                        cv2.LINE_AA)
            t = np.vstack([bar, t])
        tiles.append(t)
    cell_h = max(t.shape[0] for t in tiles)
    cols = max(1, min(cols, len(tiles)))
    rows = -(-len(tiles) // cols)
    grid = np.full((rows * cell_h + (rows - 1) * gap, cols * tile_width + (cols - 1) * gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = r * (cell_h + gap), c * (tile_width + gap)
        grid[y:y + t.shape[0], x:x + tile_width] = t
    return grid


def clip_preview(video: str | os.PathLike, gt_json: str | os.PathLike, n: int = 4, cols: int = 2,
                 tile_width: int = 480, teams: bool = True) -> np.ndarray:
    """`n` evenly spaced frames of a clip with their ground truth drawn, side by side."""
    gt = load_ground_truth(gt_json)
    by_id = gt.by_frame()
    wanted = set(np.linspace(0, len(gt.frames) - 1, num=min(n, len(gt.frames))).round().astype(int).tolist())
    shots, titles = [], []
    scale = _label_scale(gt.width, tile_width)
    with VideoReader(video) as reader:
        for fid, frame in reader.frames():
            if fid in wanted and fid in by_id:
                shots.append(draw_ground_truth(frame, by_id[fid], teams=teams, scale=scale))
                titles.append(f"{Path(video).name} frame {fid}: {len(by_id[fid].boxes)} boxes, "
                              f"{int(visible_mask(by_id[fid].keypoints).sum())} keypoints")
            if fid >= max(wanted):
                break
    return tile(shots, cols=cols, tile_width=tile_width, titles=titles)


def _label_scale(image_width: int, tile_width: int) -> float:
    """Drawing scale that keeps labels legible once the image is shrunk to its tile."""
    return max(1.0, 0.8 * image_width / tile_width)


def sample_grid(data_yaml: str | os.PathLike, split: str = "train", n: int = 9, cols: int = 3,
                tile_width: int = 320, seed: int = 0, pitch_lines: bool = True) -> np.ndarray:
    """A seeded sample of a YOLO dataset's images with their labels drawn (what the model will see).

    Labels are read back from the files, so this shows what was written, not what was meant;
    our classes are labelled with `SHORT_NAMES`, others with their full name.
    """
    ds = read_data_yaml(data_yaml)
    files = ds.images(split)
    if not files:
        raise KitError(f"{ds.yaml_path}: split {split!r} has no images")
    rng = np.random.default_rng(seed)
    pick = set(rng.choice(len(files), size=min(n, len(files)), replace=False).tolist())
    tiles, titles = [], []
    for i, li in enumerate(iter_labeled(ds, split)):
        if i not in pick:
            continue
        img = cv2.imread(str(li.image))
        if img is None:
            raise KitError(f"{li.image}: not a readable image")
        h, w = img.shape[:2]
        scale = _label_scale(w, tile_width)
        cx, cy, bw, bh = (li.boxes.T * np.array([[w], [h], [w], [h]])) if len(li.boxes) else np.zeros((4, 0))
        xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        if li.keypoints is not None:
            for kp in li.keypoints:
                xy = kp[:, :2] * [w, h]
                vis = kp[:, 2] > 0
                if pitch_lines and len(kp) == 32:
                    img = draw_pitch_lines(img, np.where(vis[:, None], xy, 0))
                img = draw_keypoints(img, xy, vis, scale=scale)
        labels = [SHORT_NAMES.get(ds.names[int(c)], ds.names[int(c)]) for c in li.classes]
        img = draw_detections(img, xyxy, li.classes, ds.names, labels=labels, scale=scale)
        tiles.append(img)
        titles.append(f"{li.image.name} ({len(li.classes)} labels)")
    return tile(tiles, cols=cols, tile_width=tile_width, titles=titles)


# --- plots of dataset checks --------------------------------------------------------------------

def _mpl_color(name: str, i: int) -> str:
    if name in CLASS_COLORS and name != "player":
        return CLASS_COLORS[name]
    return "#6d6d6d" if name == "player" else _FALLBACK.by_idx(i).as_hex()


def plot_counts(stats: DatasetStats) -> Figure:
    """Instances per class and split (bars), with images per split in the legend."""
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.add_subplot()
    names = list(stats.names.values())
    splits = list(stats.images)
    width = 0.8 / max(1, len(splits))
    x = np.arange(len(names))
    top = 0
    for j, s in enumerate(splits):
        vals = [stats.instances[s][n] for n in names]
        top = max(top, *vals)
        bars = ax.bar(x + (j - (len(splits) - 1) / 2) * width, vals, width,
                      label=f"{s}: {stats.images[s]} images ({stats.empty_images[s]} without labels)")
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x, [n.replace(" team ", "\nteam ") for n in names])
    ax.set_ylim(0, max(1, top) * 1.3)
    ax.set_ylabel("instances")
    ax.set_title(f"{stats.task}: instances per class and split")
    ax.legend(fontsize=8, loc="upper center", ncols=len(splits), frameon=False)
    return fig


def plot_box_sizes(stats: DatasetStats) -> Figure:
    """Box height in pixels per class, one strip per class on shared log-spaced bins.

    The question it answers: are the balls (and far players) big enough for the model's
    input size? Strips, not overlaid curves, so one class never hides another.
    """
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter

    present = {n: v for n, v in stats.box_heights.items() if len(v)}
    fig = Figure(figsize=(7, 0.5 + 0.75 * max(1, len(present))), layout="constrained")
    if not present:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no boxes", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    lo = max(1.0, min(v.min() for v in present.values()))
    hi = max(v.max() for v in present.values())
    bins = np.geomspace(lo * 0.8, hi * 1.25 + 1, 40)
    axes = fig.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, (n, v)) in enumerate(zip(axes, present.items())):
        ax.hist(v, bins=bins, color=_mpl_color(n, i), edgecolor="#333333", linewidth=0.4)
        ax.set_yticks([])
        ax.set_ylabel(f"{n}\nn={len(v)}, median {np.median(v):.0f} px", rotation=0, ha="right", va="center",
                      fontsize=8)
        ax.set_xscale("log")
    ticks = [t for t in 2.0 ** np.arange(0, 13) if bins[0] <= t <= bins[-1]]
    axes[-1].xaxis.set_major_locator(FixedLocator(ticks))
    axes[-1].xaxis.set_major_formatter(ScalarFormatter())
    axes[-1].xaxis.set_minor_locator(NullLocator())
    axes[-1].xaxis.set_minor_formatter(NullFormatter())
    axes[-1].set_xlabel("box height (pixels of the source image)")
    axes[0].set_title("box sizes per class")
    return fig


def plot_keypoint_visibility(stats: DatasetStats) -> Figure:
    """How many of the keypoints each instance shows, and how often each keypoint id is visible."""
    if stats.visible_per_image is None:
        raise KitError(f"{stats.data_yaml}: not a pose dataset (no kpt_shape), no keypoint visibility to plot")
    fig = Figure(figsize=(11, 3.2), layout="constrained")
    a, b = fig.subplots(1, 2, width_ratios=[1, 1.6])
    k = len(stats.visible_per_keypoint)
    a.bar(np.arange(k + 1), stats.visible_per_image, color="#00A86B")
    a.axvline(3.5, color="#c62828", linestyle="--", linewidth=1, label="a homography needs 4")
    a.legend(fontsize=7, loc="upper right")
    a.set_xlim(-0.8, k + 0.8)
    a.set_xlabel("visible keypoints per instance")
    a.set_ylabel("instances")
    a.set_title(f"visible keypoints ({stats.pose_instances} instances)")
    frac = stats.visible_per_keypoint / max(stats.pose_instances, 1)
    b.bar(np.arange(1, k + 1), frac, color="#0277BD")
    b.set_xticks(np.arange(1, k + 1), [str(i) for i in range(1, k + 1)], fontsize=7)
    b.set_ylim(0, 1)
    b.set_xlabel("keypoint id")
    b.set_ylabel("fraction visible")
    b.set_title("how often each keypoint is visible")
    return fig


def dataset_figures(stats: DatasetStats) -> dict[str, Figure]:
    """The check plots that apply to a dataset's task, by a short name usable as a file stem."""
    figs = {"counts": plot_counts(stats)}
    if stats.task == "pose":
        figs["keypoint_visibility"] = plot_keypoint_visibility(stats)
    else:
        figs["box_sizes"] = plot_box_sizes(stats)
    return figs


def save_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a BGR image (format from the extension); KitError if OpenCV cannot."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise KitError(f"{path}: could not write the image (is the extension .png or .jpg?)")
    return path
