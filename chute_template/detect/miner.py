"""Generic Turbo Vision (subnet 44) Detect miner: one ONNX detector, any element's objects.

This file is the Hugging Face bundle's entry point for an image ("Detect") element such as
`manak0/Detect-fire` [fire, smoke, fire extinguisher]. The chute imports it by path and calls

    miner = Miner(path_hf_repo)                       # once, at start-up
    miner.predict_batch(frames, offset, n_keypoints)  # BGR uint8 images (one per Detect challenge)

Everything it needs sits beside it: `miner.json` (written by `tvkit package --element ID`) and
the ONNX model it names. `miner.json` keys:

- `objects`: the element's objects in order; a box's `cls_id` indexes this list (the validator
  reads `objects[cls_id]`, upstream scorevision/utils/evaluate.py:88-138);
- `model`: the ONNX file name; `input`: [height, width] of its static input;
- `class_map`: model class index -> element cls_id, or null for a class the element does not
  list (its boxes are never sent: each costs 0.04 raw as a false positive);
- `conf`: `{"default": 0.25, "<object name>": 0.4, ...}`: the score threshold, per object;
- `nms_iou`: per-class NMS IoU; `max_det`: boxes per image at most; `threads`: onnxruntime
  intra-op threads (the compliance box has 2 vCPUs).

Decisions and their reasons:

- **CPU execution provider everywhere, FP32.** The validator's compliance loop re-runs this
  miner on 2 CPU cores with onnxruntime 1.26 and bans it when its boxes differ from the
  chute's (mean same-class IoU < 0.95, compliance.py:491-576). Running the same graph on the
  same provider in the chute makes that comparison exact; a small detector at 384 x 640
  needs tens of milliseconds there, far inside the chute's 50 s RTF gate.
- **Warm-up in __init__**: init time is not timed by the compliance loop, the first
  inference is (and it is slow: allocations, kernel selection).
- **Letterbox** at the model's input with grey 114 padding, centred, as ultralytics trains;
  the output is ultralytics YOLOv8/11's raw head `[1, 4 + nc, N]` (cx, cy, w, h in input
  pixels, then one score per class; no objectness), decoded here with one class per
  candidate (the best), then NMS per class in numpy.
- **Boxes back in the original image** as ints (rounded, clipped to the image; an empty box
  is dropped): the validator truncates with int() and compares in the original resolution.
- **keypoints**: `n_keypoints` [0, 0] pairs, as upstream's example miner sends when it has no
  keypoints (scorevision/miner/open_source/example_miner/miner.py); Detect pillars never read
  them, and every contract check accepts them.

Like the football miner it must load in the compliance worker: no `from __future__ import
annotations` (the worker does not register the module, and pydantic then cannot resolve
string annotations), no `open(` (read with Path.read_text), no imports of sibling files,
no network or process modules.

Usage: `tvkit package --element manak0/Detect-fire --out build/bundle`, then
`tvkit predict --bundle build/bundle --images photos/`.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from pydantic import BaseModel

DEFAULTS = {
    "model": "model.onnx",
    "input": None,        # [h, w]; None: read from the model's static input shape
    "class_map": None,    # None: model class i -> cls_id i
    "conf": {"default": 0.25},
    "nms_iou": 0.5,
    "max_det": 100,
    "threads": 2,
    "pre_nms_topk": 3000,  # candidates kept before NMS (the highest scores)
}


# --- the answer: pydantic models, because the validator's chute calls .model_dump() on each -----

class Box(BaseModel):
    x1: int
    y1: int
    x2: int
    y2: int
    cls_id: int      # index into the element's `objects`
    conf: float


class FrameResult(BaseModel):
    frame_id: int                  # offset + i; the chute replaces it with the payload's id
    boxes: list[Box]
    keypoints: list[list[int]]     # n_keypoints [0, 0] pairs: a Detect element has no keypoints


# --- helpers --------------------------------------------------------------------------------------

def letterbox(img: np.ndarray, h: int, w: int) -> tuple[np.ndarray, float, int, int]:
    """(NCHW float32 RGB blob, scale, left pad, top pad): resize keeping the aspect, pad grey 114."""
    H, W = img.shape[:2]
    r = min(h / H, w / W)
    nw, nh = max(1, int(round(W * r))), max(1, int(round(H * r)))
    resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (W, H) else img
    left, top = int(round((w - nw) / 2 - 0.1)), int(round((h - nh) / 2 - 0.1))
    canvas = cv2.copyMakeBorder(resized, top, h - nh - top, left, w - nw - left, cv2.BORDER_CONSTANT,
                                value=(114, 114, 114))
    blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True)
    return blob, r, left, top


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy NMS of (N, 4) xyxy boxes, highest score first; indices kept."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        union = areas[i] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        order = rest[overlap <= iou]
    return keep


def as_bgr(frame) -> np.ndarray:
    """uint8 H x W x 3 BGR from whatever the chute hands over (grey or BGRA converted)."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = cv2.cvtColor(a, cv2.COLOR_BGRA2BGR)
    elif a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"image of shape {a.shape}: expected H x W x 3 BGR uint8")
    return np.ascontiguousarray(a)


# --- the miner -----------------------------------------------------------------------------------

class Miner:
    """One ONNX detector; `predict_batch` answers one `FrameResult` per image."""

    def __init__(self, path_hf_repo) -> None:
        repo = Path(path_hf_repo)
        cfg_path = repo / "miner.json"
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{cfg_path}: missing; `tvkit package --element ID` writes it")
        self.cfg = dict(DEFAULTS, **json.loads(cfg_path.read_text()))
        self.objects = list(self.cfg.get("objects") or [])
        if not self.objects:
            raise ValueError(f"{cfg_path}: no `objects` (the element's object names, in order)")
        model = repo / self.cfg["model"]
        if not model.is_file():
            raise FileNotFoundError(f"{model}: the model named in miner.json is not in the bundle")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(self.cfg["threads"])
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.h, self.w = self._input_hw(inp.shape)
        self._set_classes()
        self.session.run(None, {self.input_name: np.full((1, 3, self.h, self.w), 114 / 255.0, np.float32)})

    def _input_hw(self, shape) -> tuple[int, int]:
        if self.cfg.get("input"):
            return int(self.cfg["input"][0]), int(self.cfg["input"][1])
        if isinstance(shape[2], int) and isinstance(shape[3], int):
            return int(shape[2]), int(shape[3])
        return 640, 640

    def _set_classes(self) -> None:
        """Per model class: its element cls_id (-1: not sent) and its score threshold."""
        dim = self.session.get_outputs()[0].shape[1]     # 4 + nc on a static export
        cmap = self.cfg.get("class_map")
        nc = int(dim) - 4 if isinstance(dim, int) else len(cmap or [])
        cmap = list(range(nc)) if cmap is None else list(cmap)
        if len(cmap) != nc:
            raise ValueError(f"miner.json class_map has {len(cmap)} entries, the model has {nc} classes")
        conf = self.cfg["conf"] if isinstance(self.cfg["conf"], dict) else {"default": float(self.cfg["conf"])}
        unknown = [k for k in conf if k != "default" and k not in self.objects]
        if unknown:
            raise ValueError(f"miner.json conf names {unknown}, not objects of this element {self.objects}")
        default = float(conf.get("default", 0.25))
        self.out_cls = np.array([-1 if c is None or not 0 <= int(c) < len(self.objects) else int(c) for c in cmap])
        self.thresholds = np.array([float(conf.get(self.objects[c], default)) if c >= 0 else np.inf
                                    for c in self.out_cls], dtype=np.float32)

    def candidates(self, img: np.ndarray, floor: float | None = None) -> dict:
        """One BGR image through the model: every candidate box at or above `floor` (default: the
        lowest threshold in use), before NMS, in the image's own pixels, with its model class and
        score. `select_indices` and `boxes` turn them into the answer; `tvkit tune` caches them and
        sweeps the thresholds, NMS IoU and max_det without running the model again."""
        H, W = img.shape[:2]
        blob, r, left, top = letterbox(img, self.h, self.w)
        out = self.session.run(None, {self.input_name: blob})[0][0]          # (4 + nc, N)
        scores_all = out[4:]
        cls = np.argmax(scores_all, axis=0)
        scores = scores_all[cls, np.arange(scores_all.shape[1])]
        lowest = float(np.min(self.thresholds)) if floor is None else float(floor)
        keep = scores >= lowest
        xywh, scores, cls = out[:4, keep].T, scores[keep], cls[keep]
        boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], axis=1)
        boxes = (boxes - np.array([left, top, left, top], np.float32)) / r
        return {"boxes": boxes, "scores": scores, "cls": cls, "size": (H, W)}

    def select_indices(self, cand: dict, thresholds: np.ndarray | None = None, nms_iou: float | None = None,
                       max_det: int | None = None) -> list[int]:
        """Which `candidates` answer, in answer order: per model class score threshold, top-k, NMS
        per class, highest scores first, at most `max_det` (None: miner.json's setting)."""
        thresholds = self.thresholds if thresholds is None else thresholds
        nms_iou = float(self.cfg["nms_iou"] if nms_iou is None else nms_iou)
        max_det = int(self.cfg["max_det"] if max_det is None else max_det)
        scores, cls = cand["scores"], cand["cls"]
        pool = np.flatnonzero(scores >= thresholds[cls])
        if len(pool) > self.cfg["pre_nms_topk"]:
            pool = pool[np.argsort(-scores[pool], kind="stable")[: int(self.cfg["pre_nms_topk"])]]
        kept = []
        for c in np.unique(cls[pool]):
            idx = pool[cls[pool] == c]
            kept += [int(idx[k]) for k in nms(cand["boxes"][idx], scores[idx], nms_iou)]
        kept.sort(key=lambda i: -float(scores[i]))
        return kept[:max_det]

    def boxes(self, cand: dict, indices) -> list[Box]:
        """These candidates as the answer's boxes: ints, clipped to the image, empty ones dropped."""
        H, W = cand["size"]
        out = []
        for i in indices:
            x1, y1, x2, y2 = (int(round(v)) for v in cand["boxes"][i])
            x1, x2 = min(max(x1, 0), W), min(max(x2, 0), W)
            y1, y2 = min(max(y1, 0), H), min(max(y2, 0), H)
            if x2 > x1 and y2 > y1:
                out.append(Box(x1=x1, y1=y1, x2=x2, y2=y2, cls_id=int(self.out_cls[cand["cls"][i]]),
                               conf=round(float(cand["scores"][i]), 4)))
        return out

    def detect(self, img: np.ndarray) -> list[Box]:
        """One BGR image: its boxes in the image's own pixels, by the element's cls_id."""
        cand = self.candidates(img)
        return self.boxes(cand, self.select_indices(cand))

    def predict_batch(self, batch_images: list[np.ndarray], offset: int, n_keypoints: int) -> list[FrameResult]:
        """One `FrameResult` per image, in order: frame_id = offset + i, boxes, n_keypoints [0, 0]."""
        n = max(0, int(n_keypoints))
        return [FrameResult(frame_id=int(offset) + i, boxes=self.detect(as_bgr(img)), keypoints=[[0, 0]] * n)
                for i, img in enumerate(batch_images)]

    def __repr__(self) -> str:
        return f"Detect miner: {self.cfg['model']} at {self.h}x{self.w}, objects {self.objects}"

