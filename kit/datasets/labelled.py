"""A bundle's miner on real labelled frames: does a model that scores on synthetic clips transfer?

Usage: `ev = evaluate_labelled("data/real/pose/data.yaml", "build/bundle", split="test")`, then
`print(format_labelled(ev))`, `ev.summary`; `tvkit dataset evaluate --data D --split test --bundle DIR`.

Per labelled frame the miner answers (loaded as the compliance worker loads it,
`kit.comply.load_miner`) and the answer is compared with the labels:

- **keypoints** (pose datasets): the pixel error of each labelled point (v > 0 only; v = 0
  points are not labelled) the miner also answered; the frame's error is their median (a frame
  where the miner answers none of them counts as a miss, error infinite). Overall: the median
  over frames and the share of frames within `WITHIN_PX` (15 px at 960 x 540). Also the
  validator's keypoint score (`kit.evaluate.keypoints.score_frame`, ground-truth free) of the
  miner's points and of the labelled points, the upper bound a perfect miner reaches.
- **boxes** (detect datasets): per class, and for "person" (goalkeeper, player and referee as
  one class), precision, recall and F1 at IoU 0.5 and at the validator's adaptive threshold
  (`kit.evaluate.objects.adaptive_iou_threshold`, which needs more overlap from large boxes
  than from small ones). Matching is the validator's: predictions by descending confidence,
  each to the unmatched label with the highest IoU.

Decisions a reader should know about:

- **One size.** Every frame is resized to `size` (960 x 540 by default, the size of the
  issue's figures); labels are normalised, so a stretched square export is restored to 16:9
  by the same resize. Errors are in pixels of that size.
- **A still clip per frame.** The miner tracks objects over a clip and reports a track after
  `min_hits` detections (the reference miner: 2), so a single frame would show no boxes. Each
  labelled frame is given as a clip of `repeat` identical frames (offset 0: a new clip) and
  the last answer is scored; a still camera is what such a clip is.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import supervision as sv

from .. import KitError
from ..contract import BALL, GOALKEEPER, PLAYER, REFEREE, frame_dicts
from .core import WIRE_CLASS_NAMES, iter_labeled, read_data_yaml, resolve_mapping
from .exports import group_of

WITHIN_PX = 15.0
IOU_FIXED = 0.5
DEFAULT_SIZE = (960, 540)
PERSON = "person"
#: The miner's class names when it does not say (the reference miner's CLASS_NAMES).
DEFAULT_OBJECTS = ("ball", "goalkeeper", "player", "referee")
CLASSES = tuple(WIRE_CLASS_NAMES[c] for c in (BALL, GOALKEEPER, PLAYER, REFEREE))
PERSON_CLASSES = ("goalkeeper", "player", "referee")


@dataclass
class LabelledFrame:
    """One labelled frame: keypoint errors and scores, box matches per class and threshold."""

    image: str
    group: str
    kp_labelled: int = 0
    kp_answered: int = 0                       # labelled points the miner also answered
    kp_error_px: float | None = None           # median error; inf when none answered; None: no keypoint labels
    kp_score: float | None = None              # validator keypoint score of the miner's points
    kp_score_labels: float | None = None       # ... of the labelled points
    kp_rule: str | None = None                 # the rule that zeroed the miner's frame, if any
    boxes: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # threshold -> class -> [tp, fp, fn]
    seconds: float = 0.0
    path: str = ""
    answer: dict[str, Any] = field(default_factory=dict, repr=False)   # the miner's frame (for pictures)
    labels: Any = field(default=None, repr=False)                        # keypoints (K, 3) or boxes, in pixels

    def f1(self, threshold: str = "adaptive") -> float | None:
        tp, fp, fn = (sum(v[i] for v in self.boxes.get(threshold, {}).values() if v) for i in range(3))
        return None if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("answer", "labels")}
        if d["kp_error_px"] is not None and not math.isfinite(d["kp_error_px"]):
            d["kp_error_px"] = None
            d["kp_missed"] = True
        return d


@dataclass
class LabelledEvaluation:
    data_yaml: Path
    split: str
    bundle: Path
    size: tuple[int, int]
    frames: list[LabelledFrame]
    summary: dict[str, Any]
    pictures: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"data_yaml": str(self.data_yaml), "split": self.split, "bundle": str(self.bundle),
                "size": list(self.size), "summary": self.summary, "pictures": {k: str(v) for k, v in
                                                                               self.pictures.items()},
                "frames": [f.to_dict() for f in self.frames]}


# --- matching --------------------------------------------------------------------------------

def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    return sv.box_iou_batch(np.asarray(a, float), np.asarray(b, float))


def match_boxes(pred: np.ndarray, conf: np.ndarray, ref: np.ndarray, need: np.ndarray) -> tuple[int, int, int]:
    """(tp, fp, fn): predictions by descending confidence, each to the unmatched reference with
    the highest IoU (IoU > 0), a match when that IoU reaches the reference's `need`
    (the validator's greedy matching, upstream polygons.py:481)."""
    iou = _iou(pred, ref)
    matched = np.zeros(len(ref), bool)
    tp = 0
    for i in np.argsort(-conf, kind="stable"):
        cand = np.where(matched, -1.0, iou[i]) if len(ref) else np.array([])
        if not len(cand) or cand.max() <= 0:
            continue
        j = int(cand.argmax())
        if cand[j] >= need[j]:
            matched[j] = True
            tp += 1
    return tp, len(pred) - tp, len(ref) - tp


def _box_counts(pred: list[tuple[str, np.ndarray, float]], ref: list[tuple[str, np.ndarray]],
                size: tuple[int, int]) -> dict[str, dict[str, list[int]]]:
    from ..evaluate.objects import adaptive_iou_threshold

    out: dict[str, dict[str, list[int]]] = {"iou50": {}, "adaptive": {}}
    groups = {c: ({c}) for c in CLASSES}
    groups[PERSON] = set(PERSON_CLASSES)
    for name, members in groups.items():
        p = [(b, c) for n, b, c in pred if n in members]
        r = np.array([b for n, b in ref if n in members], np.float64).reshape(-1, 4)
        pb = np.array([b for b, _ in p], np.float64).reshape(-1, 4)
        pc = np.array([c for _, c in p], np.float64)
        if not len(pb) and not len(r):
            continue
        out["iou50"][name] = list(match_boxes(pb, pc, r, np.full(len(r), IOU_FIXED)))
        need = np.array([adaptive_iou_threshold(tuple(b), size[0], size[1]) for b in r])
        out["adaptive"][name] = list(match_boxes(pb, pc, r, need))
    return out


# --- one frame -------------------------------------------------------------------------------

def _answer(miner: Any, frame: np.ndarray, repeat: int, n_keypoints: int) -> dict[str, Any]:
    results = frame_dicts(miner.predict_batch([frame] * repeat, 0, n_keypoints))
    if len(results) != repeat:
        raise KitError(f"the miner answered {len(results)} frames for {repeat}; predict_batch must answer each")
    return results[-1]


def _keypoints(fr: LabelledFrame, frame: np.ndarray, labels: np.ndarray, answer: dict[str, Any]) -> None:
    from ..evaluate.keypoints import score_frame

    w, h = frame.shape[1], frame.shape[0]
    lab = labels.copy()
    lab[:, 0] *= w
    lab[:, 1] *= h
    vis = lab[:, 2] > 0
    pts = np.zeros((len(lab), 2))
    kps = answer.get("keypoints") or []
    for i, p in enumerate(kps[:len(lab)]):
        if p and len(p) >= 2:
            pts[i] = (float(p[0]), float(p[1]))
    answered = vis & ~((pts[:, 0] == 0) & (pts[:, 1] == 0))
    fr.kp_labelled, fr.kp_answered = int(vis.sum()), int(answered.sum())
    fr.labels = lab
    if vis.any():
        errs = np.linalg.norm(pts[answered] - lab[answered, :2], axis=1)
        fr.kp_error_px = float(np.median(errs)) if len(errs) else math.inf
    miner = score_frame(frame, [[int(round(x)), int(round(y))] for x, y in pts])
    labelled = score_frame(frame, [[int(round(x)), int(round(y))] if v else [0, 0] for x, y, v in lab])
    fr.kp_score, fr.kp_rule, fr.kp_score_labels = miner.score, miner.rule, labelled.score


def _miner_objects(miner: Any) -> tuple[str, ...]:
    cfg = getattr(miner, "cfg", None)
    objs = cfg.get("objects") if isinstance(cfg, dict) else None
    return tuple(str(o).lower() for o in objs) if objs else DEFAULT_OBJECTS


# --- the whole split --------------------------------------------------------------------------

def evaluate_labelled(data_yaml: str | os.PathLike, bundle: str | os.PathLike, split: str = "test", *,
                      size: tuple[int, int] = DEFAULT_SIZE, max_frames: int | None = None, repeat: int = 2,
                      report: str | os.PathLike | None = None, worst: int = 6, progress: bool = False,
                      miner: Any = None) -> LabelledEvaluation:
    """Run a bundle's miner on every labelled frame of a split and compare with the labels.

    Args:
        data_yaml: a YOLO data.yaml (an export as downloaded or one `tvkit dataset import`
            wrote): a pose dataset is scored on keypoints, a detect one on boxes.
        bundle: the bundle folder (miner.py and its models).
        split: train, val or test.
        size: every frame is resized to (W, H) before the miner sees it (labels follow).
        max_frames: at most this many frames, spread evenly over the split (None: all).
        repeat: each frame is sent as a still clip of this many frames; the last answer counts.
        report: a folder for evaluation.json and pictures of the worst frames.
        miner: an already loaded miner (else loaded from `bundle`).
    Returns:
        A `LabelledEvaluation`: per-frame results and `summary` (see `summarise`).
    Raises:
        KitError: a missing split, a broken label (file and line), a miner that fails a frame.

    Example:
        >>> ev = evaluate_labelled("data/real/pose/data.yaml", "build/bundle", max_frames=20)  # doctest: +SKIP
        >>> ev.summary["keypoints"]["median_px"]                                            # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from ..comply import load_miner

    ds = read_data_yaml(data_yaml)
    if split not in ds.splits:
        raise KitError(f"{ds.yaml_path}: no {split} split (it has {', '.join(ds.splits)})")
    if repeat < 1:
        raise KitError(f"repeat must be >= 1, got {repeat}")
    images = ds.images(split)
    if not images:
        raise KitError(f"{ds.yaml_path}: the {split} split has no images")
    if max_frames is not None and max_frames < len(images):
        idx = np.unique(np.linspace(0, len(images) - 1, max(1, max_frames)).round().astype(int))
        keep = {images[i] for i in idx}
    else:
        keep = set(images)
    cls_map = resolve_mapping(ds.names, ds.task) if ds.task == "detect" else {}
    bundle = Path(bundle)
    if miner is None:
        if not (bundle / "miner.py").is_file():
            raise KitError(f"{bundle}: no miner.py; pass a bundle folder (`tvkit package --out DIR` writes one)")
        miner = load_miner(bundle)
    objects = _miner_objects(miner)
    frames: list[LabelledFrame] = []
    for li in tqdm((li for li in iter_labeled(ds, split) if li.image in keep), total=len(keep),
                   desc=f"evaluating {split}", unit="frame", disable=not progress):
        frames.append(_one_frame(miner, li, ds.task, cls_map, objects, size, repeat))
    ev = LabelledEvaluation(ds.yaml_path, split, bundle, tuple(size), frames, summarise(frames))
    if report is not None:
        ev.pictures = write_labelled_report(ev, report, worst)
    return ev


def _one_frame(miner, li, task: str, cls_map: dict[int, int | None], objects: tuple[str, ...],
               size: tuple[int, int], repeat: int) -> LabelledFrame:
    img = cv2.imread(str(li.image), cv2.IMREAD_COLOR)
    if img is None:
        raise KitError(f"{li.image}: not a readable image")
    frame = cv2.resize(img, tuple(size), interpolation=cv2.INTER_AREA)
    fr = LabelledFrame(li.image.name, group_of(li.image), path=str(li.image))
    t0 = time.perf_counter()
    try:
        answer = _answer(miner, frame, repeat, 32)
    except KitError:
        raise
    except Exception as e:
        raise KitError(f"{li.image}: the miner failed on this frame ({type(e).__name__}: {e})") from e
    fr.seconds = (time.perf_counter() - t0) / repeat
    fr.answer = answer
    if task == "pose":
        if li.keypoints is not None and len(li.keypoints):
            _keypoints(fr, frame, li.keypoints[0], answer)
        return fr
    w, h = size
    ref = []
    for c, (cx, cy, bw, bh) in zip(li.classes, li.boxes):
        t = cls_map.get(int(c))
        if t is not None:
            ref.append((CLASSES[t] if t < len(CLASSES) else "player",
                        np.array([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])))
    pred = []
    for b in answer.get("boxes") or []:
        cid = int(b.get("cls_id", -1))
        name = objects[cid] if 0 <= cid < len(objects) else None
        if name in CLASSES:
            pred.append((name, np.array([b["x1"], b["y1"], b["x2"], b["y2"]], np.float64),
                         float(b.get("conf") or 1.0)))
    fr.boxes = _box_counts(pred, ref, size)
    fr.labels = ref
    return fr


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int | None]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def summarise(frames: list[LabelledFrame]) -> dict[str, Any]:
    """Overall figures: keypoints (median px, share within 15 px, scores) and boxes (P/R/F1 per class)."""
    out: dict[str, Any] = {"frames": len(frames),
                           "seconds_per_frame": float(np.mean([f.seconds for f in frames])) if frames else None}
    kp = [f for f in frames if f.kp_error_px is not None]
    if kp:
        errs = np.array([f.kp_error_px for f in kp])
        miner = float(np.mean([f.kp_score for f in kp]))
        labels = float(np.mean([f.kp_score_labels for f in kp]))
        out["keypoints"] = {
            "frames": len(kp), "median_px": _finite(np.median(errs)),  # None: most frames missed (infinite)
            "median_px_answered": float(np.median(errs[np.isfinite(errs)])) if np.isfinite(errs).any() else None,
            f"within_{WITHIN_PX:g}px": float(np.mean(
                errs <= WITHIN_PX)), "missed_frames": int(np.isinf(errs).sum()),
            "points_answered": float(sum(f.kp_answered for f in kp) / max(1, sum(f.kp_labelled for f in kp))),
            "score_miner": miner, "score_labels": labels, "score_ratio": miner / labels if labels > 0 else None,
            "by_group": _by_group(kp)}
    if any(f.boxes for f in frames):
        boxes: dict[str, dict[str, Any]] = {}
        for thr in ("iou50", "adaptive"):
            tot: dict[str, list[int]] = {}
            for f in frames:
                for c, v in f.boxes.get(thr, {}).items():
                    t = tot.setdefault(c, [0, 0, 0])
                    for i in range(3):
                        t[i] += v[i]
            boxes[thr] = {c: _prf(*tot[c]) for c in (*CLASSES, PERSON) if c in tot}
        out["boxes"] = boxes
    return out


def _finite(v: float) -> float | None:
    """JSON has no infinity: a median that is a miss becomes None."""
    return float(v) if math.isfinite(v) else None


def _by_group(kp: list[LabelledFrame]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[LabelledFrame]] = {}
    for f in kp:
        groups.setdefault(f.group, []).append(f)
    return {g: {"frames": len(v), "median_px": _finite(np.median([f.kp_error_px for f in v])),
                "within": float(np.mean([f.kp_error_px <= WITHIN_PX for f in v])),
                "score_miner": float(np.mean([f.kp_score for f in v])),
                "score_labels": float(np.mean([f.kp_score_labels for f in v]))} for g, v in sorted(groups.items())}


def _num(v: Any, fmt: str = ".3f") -> str:
    return "-" if v is None else format(v, fmt)


def format_labelled(ev: LabelledEvaluation) -> str:
    """The summary as a few lines of text, for the terminal and the notebook."""
    s = ev.summary
    lines = [f"{ev.data_yaml} [{ev.split}] through {ev.bundle}: {s['frames']} frames at {ev.size[0]} x {ev.size[1]}, "
             f"{_num(s['seconds_per_frame'] and s['seconds_per_frame'] * 1000, '.0f')} ms per frame"]
    k = s.get("keypoints")
    if k:
        median = "a miss (most frames answered no labelled point)" if k["median_px"] is None else \
            f"{k['median_px']:.1f} px"
        lines.append(f"keypoints: median error {median} ({_num(k['median_px_answered'], '.1f')} "
                     f"px over frames with an answered point), {k['within_15px']:.0%} of frames within 15 px, "
                     f"{k['missed_frames']} frames with no labelled point answered, "
                     f"{k['points_answered']:.0%} of labelled points answered")
        lines.append(f"validator keypoint score: miner {k['score_miner']:.3f}, labels {k['score_labels']:.3f} "
                     f"(ratio {_num(k['score_ratio'])})")
    b = s.get("boxes")
    if b:
        lines.append(f"  {'class':<11} {'P@0.5':>7} {'R@0.5':>7} {'F1@0.5':>7}   {'P@adapt':>7} {'R@adapt':>7} "
                     f"{'F1@adapt':>8}  {'labels':>6}")
        for c in (*CLASSES, PERSON):
            if c in b["iou50"]:
                x, y = b["iou50"][c], b["adaptive"][c]
                lines.append(f"  {c:<11} {_num(x['precision']):>7} {_num(x['recall']):>7} {_num(x['f1']):>7}   "
                             f"{_num(y['precision']):>7} {_num(y['recall']):>7} {_num(y['f1']):>8}  "
                             f"{x['tp'] + x['fn']:>6}")
    return "\n".join(lines)


# --- pictures -------------------------------------------------------------------------------------

def _frame_image(f: LabelledFrame, size: tuple[int, int]) -> np.ndarray:
    img = cv2.imread(f.path, cv2.IMREAD_COLOR)
    return cv2.resize(img, tuple(size), interpolation=cv2.INTER_AREA)


def draw_keypoint_frame(f: LabelledFrame, size: tuple[int, int]) -> np.ndarray:
    """Labelled points (green), the miner's (red) and a line from each label to the miner's point."""
    img = _frame_image(f, size)
    kps = f.answer.get("keypoints") or []
    for i, (x, y, v) in enumerate(f.labels if f.labels is not None else []):
        if v <= 0:
            continue
        p = kps[i] if i < len(kps) else [0, 0]
        if p and (p[0], p[1]) != (0, 0):
            cv2.line(img, (int(x), int(y)), (int(p[0]), int(p[1])), (0, 255, 255), 1, cv2.LINE_AA)
        cv2.circle(img, (int(x), int(y)), 5, (0, 200, 0), 2, cv2.LINE_AA)
        cv2.putText(img, str(i + 1), (int(x) + 6, int(y) - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 200, 0), 1,
                    cv2.LINE_AA)
    for p in kps:
        if p and (p[0], p[1]) != (0, 0):
            cv2.circle(img, (int(p[0]), int(p[1])), 4, (0, 0, 255), -1, cv2.LINE_AA)
    return img


def draw_box_frame(f: LabelledFrame, size: tuple[int, int]) -> np.ndarray:
    """Labelled boxes (green, thin) and the miner's (red, with class)."""
    img = _frame_image(f, size)
    for _, b in f.labels or []:
        cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (0, 200, 0), 1)
    for b in f.answer.get("boxes") or []:
        cv2.rectangle(img, (int(b["x1"]), int(b["y1"])), (int(b["x2"]), int(b["y2"])), (0, 0, 255), 1)
    return img


def write_labelled_report(ev: LabelledEvaluation, folder: str | os.PathLike, worst: int = 6) -> dict[str, Path]:
    """evaluation.json and the worst frames as pictures (keypoints: largest error; boxes: lowest F1)."""
    from ..contract import write_json_atomic
    from ..viz import save_image, tile

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    pics: dict[str, Path] = {}
    kp = sorted((f for f in ev.frames if f.kp_error_px is not None), key=lambda f: -f.kp_error_px)[:worst]
    if kp:
        titles = [f"{f.group} {'miss' if math.isinf(f.kp_error_px) else f'{f.kp_error_px:.0f} px'} "
                  f"score {f.kp_score:.2f}/{f.kp_score_labels:.2f}" for f in kp]
        pics["worst_keypoints"] = save_image(tile([draw_keypoint_frame(f, ev.size) for f in kp], cols=2,
                                                  tile_width=480, titles=titles), out / "worst_keypoints.png")
    bx = sorted((f for f in ev.frames if f.boxes), key=lambda f: (f.f1() if f.f1() is not None else 1.0))[:worst]
    if bx:
        titles = [f"{f.group} F1 {_num(f.f1(), '.2f')} (adaptive)" for f in bx]
        pics["worst_boxes"] = save_image(tile([draw_box_frame(f, ev.size) for f in bx], cols=2, tile_width=480,
                                              titles=titles), out / "worst_boxes.png")
    write_json_atomic(out / "evaluation.json", {**ev.to_dict(), "pictures": {k: str(v) for k, v in pics.items()}},
                      indent=2)
    pics["json"] = out / "evaluation.json"
    return pics


__all__ = ["LabelledFrame", "LabelledEvaluation", "evaluate_labelled", "format_labelled", "match_boxes", "summarise",
           "write_labelled_report"]
