"""Reference Turbo Vision (subnet 44) miner: boxes with teams and 32 pitch keypoints per frame.

This file is the Hugging Face bundle's entry point. The chute imports it by path and calls

    miner = Miner(path_hf_repo)                       # once, at start-up
    miner.predict_batch(frames, offset, n_keypoints)  # batches of BGR frames, in clip order

It is self-contained on purpose: the chute image has numpy, OpenCV, onnxruntime, Pillow and
pydantic but not the kit; the validator's chute imports only stdlib and site-packages
modules, and the compliance loop refuses network and process modules and calls such as
`open(`, `eval(` or `os.remove(` in this file (read files with `Path.read_text`).

What `predict_batch` returns: one pydantic `FrameResult` per image, never a dict. The chute
every miner must deploy (the validator's template) calls `.model_dump()` on each result, so a
dict fails every challenge. A box's `cls_id` indexes the element's `objects` (the manifest's
class names; `tvkit package --element ID` writes them into `miner.json`), and a player's team
travels as `team_id` (1 or 2).

Everything below is plain numpy/OpenCV around two ONNX models that live beside this file:

- `detect.onnx`: a YOLO detector, classes 0 ball, 1 goalkeeper, 2 player, 3 referee;
- `pose.onnx`: a YOLO pose model, one "pitch" object whose 32 keypoints are the template's;
- `ball.onnx` (optional): the ball's heatmap at stride 4 with a sub-pixel offset and a size per
  cell (kit.ball.model). Without it the detector's ball class is used.

Per frame: letterbox, run, decode, NMS. Then, over the clip (the Miner object is reused for
every batch of one clip; `offset == 0` starts a new clip):

- **teams**: players' torso colours (Lab, grass pixels masked out) are clustered in two on the
  first batch with enough players; the centres are kept and only drift slowly, so team 1
  stays team 1 for the whole clip, and every track votes, so a player keeps one team;
- **the ball** (with `ball.onnx`): the frame at the work size (no letterbox to 640: a ball is
  3-7 px there), the heatmap's local peaks as candidates, each placed to a fraction of a pixel
  by the regressed offset and sized by the regressed width and height; those more than
  `ball_off_pitch` metres off the pitch by the frame's own keypoints dropped (`on_pitch`: the
  stands; 69 of the 302 wrong balls on the five reference clips were there); then one path through
  the batch's frames (`ball_path`, a Viterbi pass): a candidate that moves on from the previous
  frame's earns `ball_bonus`, a jump costs `ball_jump`, a frame may have no ball. A weak peak on
  the ball's path is kept, a strong lone one elsewhere is not;
- **tracking**: a greedy IoU tracker per object type with an alpha-beta filter on the box
  (centre and size), which removes detector jitter without the lag of a plain EMA, and
  fills a gap of up to `max_gap` frames when a tracked object is missed;
- **keypoints, scored before they are sent**: the validator's keypoint metric needs no
  ground truth, only the frame and the 32 points (upstream non_vlm_scoring/keypoints.py at
  ea7412f; `kit.evaluate.keypoints` is the kit's copy, a test keeps the two equal), so `FrameView`
  computes it here, rule for rule, on the validator's own template (`draw_template` paints
  it pixel for pixel: a bundle may not carry a .png, the compliance loop refuses the suffix).
  Per frame a few candidate homographies (template -> frame) compete: the previous frame's
  (the camera moves smoothly, so a locked-on pitch is tracked; when it scores at least
  `trust_score` the pose model is not even run), the pose model's RANSAC fit and, when
  nothing scores well, its left-right mirror and a looser fit. Each candidate is first
  aligned with the frame's line edges (`refine_homography`: ICP from template line points
  to the nearest top-hat/Canny edge, over a slowly shrinking radius), then projected to the
  32 points (in-frame ones; (0, 0) elsewhere; never a twisted pitch)
  and scored; the best is sent. A candidate that a rule zeroes (a square line blob, often
  a few clipped pixels) gets 1-pixel nudges; all (0, 0) only when nothing scores.
  A frame larger than 960 x 540 (`work_px`) is aligned and ranked on a downscaled copy, so its
  cost stays that of 960 x 540; the winner is then aligned once more, projected and scored at
  the frame's own size, the size the validator scores (its rules depend on it).
"""

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from PIL import Image as PILImage
from PIL import ImageDraw as PILDraw
from pydantic import BaseModel

#: The detector's classes by name. An answer's `cls_id` indexes the element's `objects` (the
#: manifest's class names): `objects` in `miner.json` maps these names onto it; a class the
#: element does not list is not sent.
CLASS_NAMES = ("ball", "goalkeeper", "player", "referee")

# --- settings (a miner tunes these; `miner.json` beside this file may override any of them) ---
SETTINGS = {
    "threads": 2,              # onnxruntime intra-op threads (the compliance box has 2 vCPUs)
    "det_conf": 0.30,          # detector score threshold
    "det_iou": 0.55,           # NMS IoU threshold (per class)
    "ball_conf": 0.20,         # the ball is small and scored once per frame: a lower bar, top-1 only
    "ball_thr": 0.30,          # ball.onnx: a candidate's heat must beat this (less the path's bonuses) to be sent
    "ball_min": 0.05,          # ... candidates below this heat are not considered at all
    "ball_topk": 5,            # ... peaks per frame considered
    "ball_link": 0.04,         # ... a move of at most this share of the frame width per frame links two frames
    "ball_bonus": 0.15,        # ... what a link earns each of the two candidates
    "ball_jump": 0.15,         # ... what a jump between two sent balls costs
    "ball_off_pitch": 10.0,    # ... a candidate more than this many metres off the pitch (by the frame's keypoints)
                               # is dropped: the stands, the boards; a lofted ball lands a few metres out. <0: off
    "kpt_conf": 0.30,          # keypoint visibility threshold (measured: 0.3 beats 0.15, 0.5, 0.7)
    "pitch_conf": 0.25,        # pose model's pitch score below which its keypoints are not used
    "ransac_px": 6.0,          # homography RANSAC reprojection threshold, frame pixels
    "refine": 1,               # align the homography with the frame's line edges (ICP); 0: off
    "refine_radii": (48, 38, 30, 24, 19, 15, 12, 10, 8, 6, 5, 4, 3),  # ICP rounds from a fresh start: pair
                               # template line points with edges this close (px); slowly shrinking: a wide basin
    "refine_stop_px": 0.25,    # a round that moves the view less than this (px) ...
    "refine_stop_radius": 8,   # ... at a radius this small or smaller: converged, stop
    "refine_min_pairs": 30,    # fewer pairs than this: stop refining
    "refine_max_move": 0.25,   # a refinement moving the view more than this share of the width is dropped
    "dup_px": 3.0,             # pose fit within this of the tracked homography: not a separate candidate
    "trust_score": 0.9,        # tracked homography scoring at least this: the pose model is skipped
    "retry_below": 0.5,        # best score below this: also try the mirrored and the loose pose fits
    "retry_kpt_conf": 0.1,     # ... the loose fit's keypoint threshold
    "retry_ransac_px": 15.0,   # ... and its RANSAC threshold
    "hold_frames": 25,         # frames the last good homography stays a candidate when nothing scores
    "work_px": 960 * 540,      # frames with more pixels are aligned and their candidates ranked on a copy
                               # downscaled to this area (16:9: 960 x 540, where the settings above were tuned);
                               # the answer is then projected and checked at the frame's own size
    "polish_radii": (6, 4, 3), # ... after a last alignment there (`polish_homography`, radii in frame px; (): off)
    "track_iou": 0.30,         # detection-to-track match threshold
    "alpha": 0.65,             # alpha-beta filter gains (position, velocity)
    "beta": 0.15,
    "max_gap": 2,              # frames a missed track is carried on its prediction
    "min_hits": 2,             # detections before a track is reported (one-frame false positives never show)
    "team_min_players": 48,    # player crops (3-5 frames) before the two kit colours are fitted (24 split one
                               # tune clip wrongly: team .60 -> .92 there at 48, no change on five others)
    "team_drift": 0.02,        # how fast the team colour centres follow the clip
    "vote_decay": 0.8,         # per-frame decay of a track's team votes
    "objects": list(CLASS_NAMES),  # the element's class names in its order (`tvkit package --element` writes them)
}

TEMPLATE_KEYPOINTS = np.array(
    [(5, 5), (5, 140), (5, 250), (5, 430), (5, 540), (5, 675), (55, 250), (55, 430), (110, 340), (165, 140),
     (165, 270), (165, 410), (165, 540), (527, 5), (527, 253), (527, 433), (527, 675), (888, 140), (888, 270),
     (888, 410), (888, 540), (940, 340), (998, 250), (998, 430), (1045, 5), (1045, 140), (1045, 250), (1045, 430),
     (1045, 540), (1045, 675), (435, 340), (615, 340)], dtype=np.float64)

# The pitch corners bottom-left, bottom-right, top-right, top-left: the twist (bowtie) test's.
TWIST_CORNERS = (6, 30, 25, 1)

BALL, GOALKEEPER, PLAYER, REFEREE = 0, 1, 2, 3
#: The ball model's output stride (kit.ball.model.STRIDE).
BALL_STRIDE = 4


# --- the answer: pydantic models, because the validator's chute calls .model_dump() on each -----
# No `from __future__ import annotations` in this file: the compliance runner executes it
# without registering it in sys.modules, and pydantic then cannot resolve string annotations
# ("`FrameResult` is not fully defined"), so the miner would fail to load there.

class Box(BaseModel):
    x1: int
    y1: int
    x2: int
    y2: int
    cls_id: int                 # index into the element's `objects`
    conf: float
    team_id: int | None = None  # players: 1 or 2 (the validator also reads "team1", cluster_id ...)


class FrameResult(BaseModel):
    frame_id: int               # offset + i: the chute sends it as is for a video, replaces it for frames
    boxes: list[Box]
    keypoints: list[list[int]]  # exactly n_keypoints [x, y] pairs, [0, 0] for "not visible"


# --- model plumbing -------------------------------------------------------------------------------

class OnnxModel:
    """An onnxruntime session with a static (1, 3, H, W) input; letterbox in, raw output out."""

    def __init__(self, path: Path, threads: int):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: model file missing from the bundle (package it beside miner.py)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle threads must not spin after a run: on 2 cores they slow the next model and the pitch search
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        self.h = int(shape[2]) if isinstance(shape[2], int) else 640
        self.w = int(shape[3]) if isinstance(shape[3], int) else 640

    def letterbox(self, img: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """Resize keeping the aspect ratio, pad centred with grey 114 (as ultralytics trains)."""
        H, W = img.shape[:2]
        r = min(self.h / H, self.w / W)
        nw, nh = max(1, int(round(W * r))), max(1, int(round(H * r)))
        resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (W, H) else img
        px, py = (self.w - nw) / 2, (self.h - nh) / 2
        top, left = int(round(py - 0.1)), int(round(px - 0.1))
        canvas = cv2.copyMakeBorder(resized, top, self.h - nh - top, left, self.w - nw - left,
                                    cv2.BORDER_CONSTANT, value=(114, 114, 114))
        blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True)  # NCHW float32 RGB
        return blob, r, left, top

    def __call__(self, img: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        blob, r, px, py = self.letterbox(img)
        out = self.session.run(None, {self.input_name: blob})[0]
        return out[0], r, px, py


class BallModel:
    """`ball.onnx` (kit.ball.model): frame in at the work size, ball candidates out in frame pixels."""

    def __init__(self, path: Path, threads: int, work_px: int):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # its threads must not spin after a run: they would take the 2 cores from the next model
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.work_px = work_px

    def candidates(self, frame: np.ndarray, k: int, min_heat: float) -> np.ndarray:
        """(m, 5) x1, y1, x2, y2, heat of the `k` strongest local peaks, strongest first."""
        H, W = frame.shape[:2]
        s = min(1.0, float(np.sqrt(self.work_px / (H * W))))
        w, h = max(4, int(round(W * s))), max(4, int(round(H * s)))
        img = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != (W, H) else frame
        img = cv2.copyMakeBorder(img, 0, -h % 4, 0, -w % 4, cv2.BORDER_REPLICATE)
        blob = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)
        out = self.session.run(None, {self.input_name: blob})[0][0]
        return decode_ball(out, k, min_heat) / np.array([s, s, s, s, 1.0])


def decode_ball(out: np.ndarray, k: int, min_heat: float) -> np.ndarray:
    """(m, 5) x1, y1, x2, y2, heat in input pixels from the ball model's (5, h, w) output: the `k`
    strongest 3 x 3 local peaks of heat at least `min_heat`, each centred by its cell's offset
    and sized by its log width and height (kit.ball.model.targets encodes them so)."""
    heat = out[0]
    peaks = (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))) & (heat >= min_heat)
    iy, ix = np.nonzero(peaks)
    order = np.argsort(-heat[iy, ix], kind="stable")[:k]
    iy, ix = iy[order], ix[order]
    cx = (ix + out[1, iy, ix] + 0.5) * BALL_STRIDE
    cy = (iy + out[2, iy, ix] + 0.5) * BALL_STRIDE
    bw, bh = np.exp(out[3, iy, ix]), np.exp(out[4, iy, ix])
    return np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, heat[iy, ix]], 1).astype(np.float64)


def on_pitch(cands: np.ndarray, kp: np.ndarray, metres: float) -> np.ndarray:
    """The ball candidates whose centre lies within `metres` of the pitch: each centre is taken to
    the template (10 px a metre) by the homography of the frame's own keypoints (`kp`, (32, 2),
    (0, 0) where unseen), so the stands and what is above the horizon drop out. A ball in the air
    is seen above the ground it flies over: near the far touchline a high one lands some metres
    out, hence the margin. All candidates kept with fewer than 4 keypoints or `metres` < 0.
    The homography is refitted from the keypoints (a fraction of a millisecond), not taken from the
    tracked pitch, so `tvkit tune`'s replay, which hands back recorded keypoints, masks the same."""
    seen = kp.any(axis=1)
    if metres < 0 or not len(cands) or seen.sum() < 4:
        return cands
    Hf, _ = cv2.findHomography(kp[seen].astype(np.float64), TEMPLATE_KEYPOINTS[seen].astype(np.float64))
    if Hf is None:
        return cands
    t = np.c_[(cands[:, :2] + cands[:, 2:4]) / 2, np.ones(len(cands))] @ Hf.T
    ground = np.sign(np.r_[kp[seen].mean(axis=0), 1.0] @ Hf[2])   # the sign of w on the pitch's side
    m = 10.0 * metres
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = t[:, 0] / t[:, 2], t[:, 1] / t[:, 2]
    return cands[(t[:, 2] * ground > 0) & (x >= -m) & (x <= 1050 + m) & (y >= -m) & (y <= 680 + m)]


def ball_path(cands: list[np.ndarray], width: int, cfg: dict) -> list[np.ndarray | None]:
    """One ball (or none) per frame: the Viterbi path through each frame's candidates.

    A candidate's own value is its heat less `ball_thr`; "no ball" is worth 0. Two candidates in
    consecutive frames whose centres are within `ball_link` x width earn `ball_bonus` each (the
    ball moved on); two sent balls farther apart cost `ball_jump`. So a peak below the threshold
    that sits on the ball's path is sent, and a lone peak above it is sent only if nothing
    consistent competes with it.
    """
    if not cands:
        return []
    link, bonus, jump = cfg["ball_link"] * width, cfg["ball_bonus"], cfg["ball_jump"]
    # per frame: values of its states, state 0 = no ball, state j + 1 = candidate j
    score = np.concatenate([[0.0], cands[0][:, 4] - cfg["ball_thr"]])
    back = []
    for prev, cur in zip(cands, cands[1:]):
        own = np.concatenate([[0.0], cur[:, 4] - cfg["ball_thr"]])
        trans = np.zeros((len(prev) + 1, len(cur) + 1))
        if len(prev) and len(cur):
            cp = (prev[:, :2] + prev[:, 2:4]) / 2
            cc = (cur[:, :2] + cur[:, 2:4]) / 2
            d = np.linalg.norm(cp[:, None] - cc[None], axis=2)
            trans[1:, 1:] = np.where(d <= link, 2 * bonus, -jump)
        total = score[:, None] + trans
        back.append(np.argmax(total, axis=0))
        score = total.max(axis=0) + own
    state = int(np.argmax(score))
    path = [state]
    for b in reversed(back):
        state = int(b[state])
        path.append(state)
    path.reverse()
    return [c[j - 1] if j else None for c, j in zip(cands, path)]


def _nms(boxes_xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Class-aware NMS (boxes of different classes never suppress each other)."""
    if len(boxes_xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    shifted = boxes_xyxy + (classes.astype(np.float32) * 8192.0)[:, None]
    xywh = np.concatenate([shifted[:, :2], shifted[:, 2:] - shifted[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (N, 4) and (M, 4) xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


# --- tracking -------------------------------------------------------------------------------------

class Track:
    """One object over time: an alpha-beta filter on (cx, cy, w, h) and team votes."""

    __slots__ = ("tid", "cls", "state", "vel", "conf", "hits", "missed", "votes")

    def __init__(self, tid: int, cls: int, box: np.ndarray, conf: float):
        self.tid, self.cls = tid, cls
        self.state = _to_cxcywh(box)
        self.vel = np.zeros(4)
        self.conf = conf
        self.hits, self.missed = 1, 0
        self.votes = np.zeros(2)

    def predicted(self) -> np.ndarray:
        return self.state + self.vel

    def update(self, box: np.ndarray, conf: float, alpha: float, beta: float) -> None:
        pred = self.predicted()
        resid = _to_cxcywh(box) - pred
        self.state = pred + alpha * resid
        self.vel = self.vel + beta * resid
        self.vel[2:] *= 0.5  # sizes change slowly: damp their velocity
        self.conf, self.hits, self.missed = conf, self.hits + 1, 0

    def coast(self) -> None:
        self.state = self.predicted()
        self.vel *= 0.7
        self.missed += 1

    def box(self) -> np.ndarray:
        return _to_xyxy(self.state)


def _to_cxcywh(b: np.ndarray) -> np.ndarray:
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]], dtype=np.float64)


def _to_xyxy(s: np.ndarray) -> np.ndarray:
    return np.array([s[0] - s[2] / 2, s[1] - s[3] / 2, s[0] + s[2] / 2, s[1] + s[3] / 2])


class Tracker:
    """Greedy IoU association per object type; keeps tracks across the batches of a clip."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.tracks: list[Track] = []
        self.next_id = 1

    def step(self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> list[tuple[Track, int]]:
        """Update with one frame's detections; returns (track, detection index or -1) to report."""
        cfg = self.cfg
        out: list[tuple[Track, int]] = []
        matched_tracks: set[int] = set()
        used = np.zeros(len(boxes), dtype=bool)
        for cls in np.unique(np.concatenate([classes, np.array([t.cls for t in self.tracks], dtype=classes.dtype)])):
            t_idx = [i for i, t in enumerate(self.tracks) if t.cls == cls]
            d_idx = np.flatnonzero(classes == cls)
            if t_idx and len(d_idx):
                preds = np.stack([_to_xyxy(self.tracks[i].predicted()) for i in t_idx])
                m = _iou(preds, boxes[d_idx])
                while True:
                    k = int(np.argmax(m))
                    ti, di = divmod(k, m.shape[1])
                    if m[ti, di] < cfg["track_iou"]:
                        break
                    tr = self.tracks[t_idx[ti]]
                    tr.update(boxes[d_idx[di]], float(scores[d_idx[di]]), cfg["alpha"], cfg["beta"])
                    matched_tracks.add(t_idx[ti])
                    used[d_idx[di]] = True
                    out.append((tr, int(d_idx[di])))
                    m[ti, :] = -1
                    m[:, di] = -1
        survivors = []
        for i, tr in enumerate(self.tracks):
            if i in matched_tracks:
                survivors.append(tr)
            elif tr.missed < cfg["max_gap"] and tr.hits >= 2:
                tr.coast()
                survivors.append(tr)
                out.append((tr, -1))
        for di in np.flatnonzero(~used):
            tr = Track(self.next_id, int(classes[di]), boxes[di], float(scores[di]))
            self.next_id += 1
            survivors.append(tr)
            out.append((tr, int(di)))
        self.tracks = survivors
        return [(t, d) for t, d in out if t.hits >= cfg["min_hits"]]


# --- teams ----------------------------------------------------------------------------------------

def _torso_colour(frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Mean Lab colour of a player's torso, grass pixels masked out; None if too small."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    H, W = frame.shape[:2]
    cx1, cx2 = int(max(0, x1 + 0.2 * w)), int(min(W, x2 - 0.2 * w))
    cy1, cy2 = int(max(0, y1 + 0.15 * h)), int(min(H, y1 + 0.5 * h))
    if cx2 - cx1 < 2 or cy2 - cy1 < 2:
        return None
    crop = frame[cy1:cy2, cx1:cx2]
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    grass = (hsv[..., 0] >= 35) & (hsv[..., 0] <= 85) & (hsv[..., 1] >= 60) & (hsv[..., 2] >= 40)
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(np.float32)
    keep = ~grass.reshape(-1)
    if keep.sum() >= 4:
        lab = lab[keep]
    return np.median(lab, axis=0)


class TeamModel:
    """Two kit-colour centres, fitted once per clip, then followed slowly."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.centres: np.ndarray | None = None
        self.pending: list[np.ndarray] = []

    def assign(self, feats: list[np.ndarray]) -> np.ndarray:
        """0 / 1 per feature (team 1 / team 2); -1 while the model is not fitted yet."""
        if not feats:
            return np.zeros(0, dtype=np.int64)
        X = np.stack(feats).astype(np.float32)
        if self.centres is None:
            self.pending.extend(X)
            if len(self.pending) < self.cfg["team_min_players"]:
                return self._provisional(X)
            self._fit(np.stack(self.pending))
            self.pending = []
        d = np.linalg.norm(X[:, None, :] - self.centres[None], axis=2)
        lab = np.argmin(d, axis=1)
        rate = self.cfg["team_drift"]
        for k in (0, 1):
            if np.any(lab == k):
                self.centres[k] = (1 - rate) * self.centres[k] + rate * X[lab == k].mean(axis=0)
        return lab

    def _provisional(self, X: np.ndarray) -> np.ndarray:
        if len(self.pending) < 2:
            return np.zeros(len(X), dtype=np.int64)
        P = np.stack(self.pending)
        far = np.argmax(np.linalg.norm(P - P[0], axis=1))
        c = np.stack([P[0], P[far]])
        return np.argmin(np.linalg.norm(X[:, None, :] - c[None], axis=2), axis=1)

    def _fit(self, X: np.ndarray) -> None:
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.5)
        cv2.setRNGSeed(0)
        _, labels, centres = cv2.kmeans(X.astype(np.float32), 2, None, crit, 5, cv2.KMEANS_PP_CENTERS)
        # team 1 = the cluster with more players in the fitting sample (stable, deterministic)
        counts = np.bincount(labels.reshape(-1), minlength=2)
        self.centres = centres[np.argsort(-counts, kind="stable")].astype(np.float32)


# --- keypoints: geometry --------------------------------------------------------------------------

def _ccw(a, b, c) -> bool:
    return (c[1] - a[1]) * (b[0] - a[0]) > (b[1] - a[1]) * (c[0] - a[0])


def _intersect(p1, p2, q1, q2) -> bool:
    return (_ccw(p1, q1, q2) != _ccw(p2, q1, q2)) and (_ccw(p1, p2, q1) != _ccw(p1, p2, q2))


def _twisted(Hm: np.ndarray) -> bool:
    """The validator's bowtie test: the projected corners 6, 30, 25, 1 (float32) fold over."""
    c = cv2.perspectiveTransform(TEMPLATE_KEYPOINTS[[i - 1 for i in TWIST_CORNERS]].astype(np.float32)
                                 .reshape(-1, 1, 2), Hm.astype(np.float64)).reshape(-1, 2)
    return _intersect(c[0], c[1], c[2], c[3]) or _intersect(c[1], c[2], c[3], c[0])


def _valid(Hm) -> bool:
    return Hm is not None and bool(np.all(np.isfinite(Hm))) and abs(Hm[2, 2]) > 1e-12


def fit_homography(kpts: np.ndarray, W: int, H: int, cfg: dict) -> np.ndarray | None:
    """Template -> frame homography from the confident, in-frame points of a (32, 3) output."""
    conf = kpts[:, 2]
    xy = kpts[:, :2].astype(np.float64)
    ok = (conf >= cfg["kpt_conf"]) & (xy[:, 0] >= 0) & (xy[:, 1] >= 0) & (xy[:, 0] < W) & (xy[:, 1] < H)
    if ok.sum() < 4:
        return None
    method = cv2.RANSAC if ok.sum() >= 6 else 0
    Hm, _ = cv2.findHomography(TEMPLATE_KEYPOINTS[ok], xy[ok], method, cfg["ransac_px"])
    if not _valid(Hm):
        return None
    return Hm / Hm[2, 2]


def project_keypoints(Hm: np.ndarray | None, W: int, H: int) -> np.ndarray:
    """(32, 2) int frame points of the template under Hm; (0, 0) outside the frame, and all
    (0, 0) when the validator would zero the frame anyway (twisted corners, fewer than 4 points)."""
    zeros = np.zeros((32, 2), dtype=np.int64)
    if not _valid(Hm) or _twisted(Hm):
        return zeros
    proj = cv2.perspectiveTransform(TEMPLATE_KEYPOINTS.reshape(-1, 1, 2), Hm).reshape(-1, 2)
    # behind-the-camera points project with a negative w: drop them
    w = (Hm @ np.c_[TEMPLATE_KEYPOINTS, np.ones(32)].T)[2]
    pts = np.rint(np.nan_to_num(proj, nan=-1.0, posinf=-1.0, neginf=-1.0)).astype(np.int64)
    inside = (w > 0) & (pts[:, 0] >= 1) & (pts[:, 1] >= 1) & (pts[:, 0] < W) & (pts[:, 1] < H)
    pts[~inside] = 0
    if inside.sum() < 4:
        return zeros
    return pts


def pitch_keypoints(kpts: np.ndarray, W: int, H: int, cfg: dict) -> np.ndarray:
    """(32, 2) int frame points from the pose model's (32, 3) output; (0, 0) where unsure."""
    return project_keypoints(fit_homography(kpts, W, H, cfg), W, H)


def _moved_px(Ha: np.ndarray, Hb: np.ndarray, W: int, H: int) -> float:
    """How far (frame pixels) the frame corners move from the view of Ha to the view of Hb."""
    box = np.array([[0, 0], [W, 0], [W, H], [0, H]], dtype=np.float64).reshape(-1, 1, 2)
    try:
        back = cv2.perspectiveTransform(cv2.perspectiveTransform(box, np.linalg.inv(Ha)), Hb).reshape(-1, 2)
    except (cv2.error, np.linalg.LinAlgError):
        return float("inf")
    if not np.all(np.isfinite(back)):
        return float("inf")
    return float(np.abs(back - box.reshape(-1, 2)).max())


# --- keypoints: the template the validator warps ---------------------------------------------------

def draw_template() -> np.ndarray:
    """The validator's 1050 x 680 BGR pitch template, pixel for pixel (`kit.pitch` draws the
    same; a kit test keeps the two identical). Exactness matters: the square-blob rule turns on
    single pixels. Straight lines are 3 px bands with square ends, the border a 7 px OpenCV
    rectangle on the image edge, the spots discs of radius 3.5, and the circle and arcs as
    Pillow paints a 3 px arc inward from its bounding box (centre +- (radius + 1))."""
    img = np.empty((680, 1050, 3), np.uint8)
    img[:] = (0, 128, 0)
    white = (255, 255, 255)
    cv2.rectangle(img, (0, 0), (1050, 680), white, 7, cv2.LINE_8)
    for (x0, y0), (x1, y1) in _SEGMENTS[:13]:
        img[max(int(min(y0, y1)) - 1, 0):int(max(y0, y1)) + 2,
            max(int(min(x0, x1)) - 1, 0):int(max(x0, x1)) + 2] = white
    for cx, cy in ((110.0, 340.0), (940.0, 340.0)):
        yy, xx = np.mgrid[336:345, int(cx) - 4:int(cx) + 5]
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= 3.5 * 3.5
        img[yy[inside], xx[inside]] = white
    canvas = PILImage.new("L", (1050, 680), 0)
    pen = PILDraw.Draw(canvas)
    for (cx, cy), r, a0, a1 in _ARCS:
        pen.arc([cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1], a0, a1, fill=255, width=3)
    img[np.asarray(canvas) > 0] = white
    return img


# centres of the painted lines, template pixels (the border band is 5 px inside the image edge)
_SEGMENTS = (((525, 0), (525, 679)), ((0, 139), (164, 139)), ((0, 540), (164, 540)), ((164, 139), (164, 540)),
             ((0, 249), (54, 249)), ((0, 430), (54, 430)), ((54, 249), (54, 430)), ((886, 139), (1049, 139)),
             ((886, 540), (1049, 540)), ((886, 139), (886, 540)), ((996, 249), (1049, 249)),
             ((996, 430), (1049, 430)), ((996, 249), (996, 430)),
             ((2, 2), (1047.5, 2)), ((2, 677.5), (1047.5, 677.5)), ((2, 2), (2, 677.5)), ((1047.5, 2), (1047.5, 677.5)))
_ARCS = (((524.5, 339.5), 90.5, 0, 360), ((109.5, 339.5), 90.5, -50, 50), ((939.5, 339.5), 90.5, 130, 230))


def _line_samples(step: float = 4.0) -> np.ndarray:
    """Points every `step` template pixels along the centres of the painted lines, (N, 2)."""
    pts = []
    for a, b in _SEGMENTS:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        n = max(2, int(np.linalg.norm(b - a) / step) + 1)
        pts.append(a + (b - a) * np.linspace(0, 1, n)[:, None])
    for (cx, cy), r, a0, a1 in _ARCS:
        n = max(8, int(np.radians(a1 - a0) * r / step))
        t = np.radians(np.linspace(a0, a1, n, endpoint=a1 - a0 < 360))
        pts.append(np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1))
    return np.concatenate(pts)


_LINE_SAMPLES = _line_samples()
_TOPHAT = cv2.getStructuringElement(cv2.MORPH_RECT, (31, 31))
_DILATE = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


# --- keypoints: the validator's score, on the miner's side ---------------------------------------

class FrameView:
    """One frame as the keypoint metric sees it (no ground truth needed).

    `score(points)` is the validator's score of 32 integer points on this frame, rule for rule;
    `edges` (top-hat + Canny, before the ground mask) and the edge-distance map used to align
    the lines are computed once per frame, on first use.
    """

    def __init__(self, frame: np.ndarray, template: np.ndarray):
        self.frame, self.template = frame, template
        self.H, self.W = frame.shape[:2]
        self._edges = None
        self._dist = None

    @property
    def edges(self) -> np.ndarray:
        """Canny 30/100 of the blurred 31 x 31 top-hat of the grey frame (uint8 0/255)."""
        if self._edges is None:
            grey = cv2.cvtColor(self.frame, cv2.COLOR_BGR2GRAY)
            tophat = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, _TOPHAT)
            self._edges = cv2.Canny(cv2.GaussianBlur(tophat, (5, 5), 0), 30, 100)
        return self._edges

    def edge_distance(self) -> np.ndarray | None:
        """Distance (float32, H x W) from every pixel to the nearest edge pixel; None without edges."""
        if self._dist is None:
            if not self.edges.any():
                return None
            self._dist = cv2.distanceTransform((self.edges == 0).astype(np.uint8), cv2.DIST_L2, 3)
        return self._dist

    def score(self, pts: np.ndarray) -> float:
        """The validator's keypoint score of (32, 2) integer frame points on this frame."""
        try:
            return self._score(np.asarray(pts, dtype=np.float64).reshape(-1, 2))
        except (cv2.error, ValueError, ZeroDivisionError, np.linalg.LinAlgError):
            return 0.0  # the validator scores a frame that raises 0

    def _score(self, pts: np.ndarray) -> float:
        W, H = self.W, self.H
        pts = pts.copy()
        outside = (pts[:, 0] < 0) | (pts[:, 1] < 0) | (pts[:, 0] >= W) | (pts[:, 1] >= H)
        pts[outside] = 0
        vis = ~((pts[:, 0] == 0) & (pts[:, 1] == 0))
        if vis.sum() < 4:                                                 # at least 4 points
            return 0.0
        Hm, _ = cv2.findHomography(TEMPLATE_KEYPOINTS[vis].astype(np.float32), pts[vis].astype(np.float32))
        if Hm is None or _twisted(Hm):                                    # steps 4, 5
            return 0.0
        grey = cv2.cvtColor(cv2.warpPerspective(self.template, Hm, (W, H)), cv2.COLOR_BGR2GRAY)
        _, ground = cv2.threshold(grey, 10, 1, cv2.THRESH_BINARY)
        _, lines = cv2.threshold(grey, 200, 1, cv2.THRESH_BINARY)
        n_ground = cv2.countNonZero(ground)                               # step 6
        if n_ground == 0 or n_ground >= 0.9 * W * H:
            return 0.0
        if cv2.connectedComponents(ground, connectivity=8)[0] > 2:
            return 0.0
        n_lines = cv2.countNonZero(lines)
        if n_lines == 0 or n_lines == W * H or _square_blob(lines):
            return 0.0
        _, _, lw, lh = cv2.boundingRect(lines)                            # step 8
        if (lw - 1) * (lh - 1) < 0.2 * W * H:
            return 0.0
        vx, vy = pts[vis, 0], pts[vis, 1]                                 # step 9
        if vx.max() - vx.min() > 2 * W or vy.max() - vy.min() > 2 * H:
            return 0.0
        seen = cv2.dilate(cv2.bitwise_and(self.edges, self.edges, mask=ground), _DILATE, iterations=3)
        n_seen = cv2.countNonZero(seen)                                   # steps 7, 10, 11
        hit = cv2.countNonZero(cv2.bitwise_and(seen, seen, mask=lines))
        union = n_seen + n_lines - hit
        if union == 0 or (n_seen - hit) / union > 0.9:
            return 0.0
        return hit / (n_lines + 1e-8)


def _square_blob(lines: np.ndarray) -> bool:
    """The wide-line rule: an external contour of the projected line mask with a square bounding box."""
    contours, _ = cv2.findContours(lines, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for c in contours:
        _, _, w, h = cv2.boundingRect(c)
        if w == h:
            return True
    return False


# --- keypoints: aligning the template's lines with the frame's ------------------------------------

def refine_homography(view: FrameView, Hm: np.ndarray | None, cfg: dict) -> np.ndarray | None:
    """Pull the template's line centres onto the nearest edges seen in the frame (ICP).

    Each round projects points along the template's painted lines, pairs every point with the
    frame edge pixel nearest to it (within a radius that shrinks round by round, so players
    and boards far from any line do not pull), and refits the homography to those pairs by
    least squares. The metric asks exactly this: expected line pixels within a few pixels of
    seen edges. A result that moves the view far from the start is not used.
    """
    if not _valid(Hm) or not cfg["refine"]:
        return Hm
    dist = view.edge_distance()
    if dist is None:
        return Hm
    W, H = view.W, view.H
    src = _LINE_SAMPLES
    start = Hm
    for radius in cfg["refine_radii"]:
        w = Hm[2, 0] * src[:, 0] + Hm[2, 1] * src[:, 1] + Hm[2, 2]   # < 0: behind the camera
        q = cv2.perspectiveTransform(src.reshape(-1, 1, 2), Hm).reshape(-1, 2)
        qi = np.rint(q).astype(np.int64)
        ok = (w > 0) & (qi[:, 0] >= 1) & (qi[:, 1] >= 1) & (qi[:, 0] < W - 1) & (qi[:, 1] < H - 1)
        x, y = qi[ok, 0], qi[ok, 1]
        d = dist[y, x]
        pair = d <= radius
        if pair.sum() < cfg["refine_min_pairs"]:
            break
        x, y, d = x[pair], y[pair], d[pair]
        # the nearest edge lies d pixels down the distance map's slope
        g = np.stack([dist[y, x + 1] - dist[y, x - 1], dist[y + 1, x] - dist[y - 1, x]], 1)
        g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-6)
        dst = np.stack([x, y], 1) - d[:, None] * g
        Hn, _ = cv2.findHomography(src[ok][pair], dst, 0)
        if not _valid(Hn):
            break
        Hn = Hn / Hn[2, 2]
        step = _moved_px(Hm, Hn, W, H)
        Hm = Hn
        if step < cfg["refine_stop_px"] and radius <= cfg["refine_stop_radius"]:
            break   # converged
    if _moved_px(start, Hm, W, H) > cfg["refine_max_move"] * W:
        return start
    return Hm


def polish_homography(edges: np.ndarray, Hm: np.ndarray, radii, min_pairs: int) -> np.ndarray:
    """A few ICP rounds at the frame's own size, for a homography aligned on a downscaled copy.

    No distance map (its cost grows with the frame): every projected template line point looks
    for edge pixels within `radius` and is pulled to their mean, which is the middle of a painted
    line when both its borders are in reach (a line is several pixels wide on a large frame).
    """
    H, W = edges.shape[:2]
    src = _LINE_SAMPLES
    for r in radii:
        oy, ox = np.mgrid[-r:r + 1, -r:r + 1]
        disc = np.hypot(ox, oy).ravel() <= r
        ox, oy = ox.ravel()[disc], oy.ravel()[disc]
        w = Hm[2, 0] * src[:, 0] + Hm[2, 1] * src[:, 1] + Hm[2, 2]
        qi = np.rint(cv2.perspectiveTransform(src.reshape(-1, 1, 2), Hm).reshape(-1, 2)).astype(np.int64)
        ok = (w > 0) & (qi[:, 0] >= r) & (qi[:, 1] >= r) & (qi[:, 0] < W - r) & (qi[:, 1] < H - r)
        x, y = qi[ok, 0], qi[ok, 1]
        hits = edges[y[:, None] + oy[None], x[:, None] + ox[None]] > 0
        n = hits.sum(1)
        has = n > 0
        if has.sum() < min_pairs:
            break
        n = np.maximum(n, 1)
        dst = np.stack([x + (hits * ox).sum(1) / n, y + (hits * oy).sum(1) / n], 1)
        Hn, _ = cv2.findHomography(src[ok][has], dst[has], 0)
        if not _valid(Hn):
            break
        Hm = Hn / Hn[2, 2]
    return Hm


def _nudged(pts: np.ndarray, W: int, H: int):
    """Variants of a keypoint list shifted by a pixel (a square line blob is often a few pixels
    at the frame edge or a shrunken penalty spot; a 1-pixel shift reshapes it)."""
    vis = np.any(pts != 0, axis=1)
    for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, -1), (2, 0), (0, 2)):
        out = pts.copy()
        out[vis] += (dx, dy)
        ok = (out[:, 0] >= 1) & (out[:, 1] >= 1) & (out[:, 0] < W) & (out[:, 1] < H)
        out[~ok] = 0
        yield out


class _Candidate:
    """A keypoint answer for one frame: its score on the frame, points, homography, origin."""

    __slots__ = ("score", "pts", "h", "name")

    def __init__(self, score: float = 0.0, pts: np.ndarray | None = None, h: np.ndarray | None = None,
                 name: str = "none"):
        self.score, self.h, self.name = score, h, name
        self.pts = np.zeros((32, 2), dtype=np.int64) if pts is None else pts

    def better(self, other: "_Candidate") -> "_Candidate":
        return other if other.score > self.score or (self.h is None and other.h is not None) else self


def _remap(S: np.ndarray | None, Hm: np.ndarray) -> np.ndarray:
    """A template -> frame homography carried through the pixel map S (None: unchanged)."""
    if S is None:
        return Hm
    Hn = S @ Hm
    return Hn / Hn[2, 2]


# template -> mirrored template (x -> 1050 - x): the other half of the pitch in the same place
_MIRROR = np.array([[-1.0, 0.0, 1050.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


# --- per-clip state ----------------------------------------------------------------------------------

class _ClipState:
    """What a miner remembers within one clip: tracks, team colours, the tracked pitch."""

    def __init__(self, cfg: dict, size):
        self.tracker = Tracker(cfg)
        self.teams = TeamModel(cfg)
        self.size = size
        self.next_frame = None
        self.prev_h = None
        self.prev_age = 0
        self.kp_source = ("none", 0.0)


class _PerClip:
    """A Miner attribute that lives in the calling thread's `_ClipState`."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, miner, owner=None):
        return self if miner is None else getattr(miner._clip(), self.name)

    def __set__(self, miner, value):
        setattr(miner._clip(), self.name, value)


# --- the miner ------------------------------------------------------------------------------------

class Miner:
    """Loads `detect.onnx` and `pose.onnx` from the bundle folder; answers batches of frames."""

    def __init__(self, path_hf_repo: Path):
        self.path = Path(path_hf_repo)
        self.cfg = dict(SETTINGS)
        extra = self.path / "miner.json"
        if extra.is_file():
            self.cfg.update(json.loads(extra.read_text()))
        threads = int(os.environ.get("MINER_THREADS", self.cfg["threads"]))
        cv2.setNumThreads(1)
        self.detector = OnnxModel(self.path / "detect.onnx", threads)
        self.pose = OnnxModel(self.path / "pose.onnx", threads)
        ball = self.path / "ball.onnx"
        self.ball = BallModel(ball, threads, int(self.cfg["work_px"])) if ball.is_file() else None
        self.template = draw_template()
        self._reset(None)
        # start-up self-test, as the chute does: one random 540 x 960 frame must answer
        frame = np.random.default_rng(0).integers(0, 256, (540, 960, 3), dtype=np.uint8)
        self.out_cls = {i: self.cfg["objects"].index(n) for i, n in enumerate(CLASS_NAMES) if n in self.cfg["objects"]}
        res = self.predict_batch([frame], 0, 32)
        if len(res) != 1 or len(res[0].keypoints) != 32:
            raise RuntimeError("miner self-test failed: predict_batch on one random frame gave a wrong answer")
        self._reset(None)

    def __repr__(self) -> str:
        return (f"Miner({self.path}, detect {self.detector.w}x{self.detector.h}, "
                f"pose {self.pose.w}x{self.pose.h}, ball {'ball.onnx' if self.ball else 'from the detector'})")

    # per-clip state, one per thread -------------------------------------------------------------
    # The chutes runtime answers concurrent challenges (the chute's `concurrency`) in parallel
    # threads on this one Miner object, so a clip's tracker, team colours and tracked pitch live
    # in thread-local state: one challenge's batches never touch another's (measured: with
    # shared state, 4 concurrent challenges gave answers that differed from a lone one).
    tracker = _PerClip()
    teams = _PerClip()
    size = _PerClip()
    next_frame = _PerClip()
    prev_h = _PerClip()
    prev_age = _PerClip()
    kp_source = _PerClip()

    def _clip(self) -> "_ClipState":
        local = self.__dict__.setdefault("_local", threading.local())
        clip = getattr(local, "clip", None)
        if clip is None:
            clip = local.clip = _ClipState(self.cfg, None)
        return clip

    def _reset(self, size) -> None:
        self.__dict__.setdefault("_local", threading.local()).clip = _ClipState(self.cfg, size)

    # one frame through both models -------------------------------------------------------------
    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boxes xyxy float, scores, classes 0-3) in frame pixels, after NMS."""
        out, r, px, py = self.detector(frame)
        nc = out.shape[0] - 4
        scores_all = out[4:]
        cls = np.argmax(scores_all, axis=0)
        score = scores_all[cls, np.arange(out.shape[1])]
        thr = np.where(cls == BALL, self.cfg["ball_conf"], self.cfg["det_conf"])
        keep = score >= thr
        if self.ball is not None:
            keep &= cls != BALL   # the ball model finds the ball (`balls`)
        if not keep.any():
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
        cxcywh, score, cls = out[:4, keep].T, score[keep], cls[keep]
        if nc > 4:  # a detector trained with team classes: 4 -> player (teams come from colour here)
            cls = np.where(cls >= 4, PLAYER, cls)
        xyxy = np.empty_like(cxcywh)
        xyxy[:, 0] = (cxcywh[:, 0] - cxcywh[:, 2] / 2 - px) / r
        xyxy[:, 1] = (cxcywh[:, 1] - cxcywh[:, 3] / 2 - py) / r
        xyxy[:, 2] = (cxcywh[:, 0] + cxcywh[:, 2] / 2 - px) / r
        xyxy[:, 3] = (cxcywh[:, 1] + cxcywh[:, 3] / 2 - py) / r
        H, W = frame.shape[:2]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, W - 1)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, H - 1)
        idx = _nms(xyxy, score, cls, self.cfg["det_iou"])
        xyxy, score, cls = xyxy[idx], score[idx], cls[idx]
        # one ball per frame: keep the most confident
        balls = np.flatnonzero(cls == BALL)
        if len(balls) > 1:
            drop = balls[np.argsort(-score[balls])[1:]]
            mask = np.ones(len(cls), dtype=bool)
            mask[drop] = False
            xyxy, score, cls = xyxy[mask], score[mask], cls[mask]
        return xyxy.astype(np.float64), score.astype(np.float64), cls.astype(np.int64)

    def keypoints(self, frame: np.ndarray) -> np.ndarray:
        """(32, 2) int keypoints of one frame: the best-scoring of a few candidate homographies.

        Candidates: the previous frame's homography (the camera moves smoothly, so once locked
        on, the pitch is tracked) and the pose model's fit; when neither scores well, the pose
        fit's left-right mirror (the model confuses the two halves) and a looser fit. Each is
        aligned with the frame's lines (`refine_homography`) and scored exactly as the
        validator will score it (`FrameView.score`, no ground truth needed); when all score 0,
        1-pixel nudges (`_nudged`) often clear a square-blob rule; all (0, 0) only when
        nothing scores.

        A frame larger than `work_px` is worked on downscaled (`_work_view`): alignment and the
        ranking of the candidates happen on the small copy (the settings' pixel values were tuned
        at 960 x 540, and the cost no longer grows with the frame), then the winner is projected
        and scored at the frame's own size, the size the validator scores (`_finish`).
        """
        cfg = self.cfg
        full = FrameView(frame, self.template)
        view, S = self._work_view(full)
        W, H = view.W, view.H
        best = _Candidate()
        cands: list[_Candidate] = []
        if self.prev_h is not None:
            best = best.better(self._candidate(view, _remap(S, self.prev_h), "prev"))
            cands.append(best)
            if best.score >= cfg["trust_score"]:
                done = best if S is None else self._at_full(full, S, best)
                if done.score > 0:
                    return self._keep(done)   # tracked well: the pose model is not needed
        k = self.pose_points(frame)
        if k is not None and S is not None:
            k = k.copy()
            k[:, :2] = k[:, :2] * (S[0, 0], S[1, 1]) + (S[0, 2], S[1, 2])
        Hp = fit_homography(k, W, H, cfg) if k is not None else None
        if Hp is not None and (best.h is None or _moved_px(best.h, Hp, W, H) > cfg["dup_px"]):
            cands.append(self._candidate(view, Hp, "pose"))
            best = best.better(cands[-1])
        if best.score < cfg["retry_below"] and k is not None:
            loose = fit_homography(k, W, H, dict(cfg, kpt_conf=cfg["retry_kpt_conf"], ransac_px=cfg["retry_ransac_px"]))
            for name, Hc in (("mirror", None if Hp is None else Hp @ _MIRROR), ("loose", loose),
                             ("loose_mirror", None if loose is None else loose @ _MIRROR)):
                if Hc is not None:
                    cands.append(self._candidate(view, Hc, name))
                    best = best.better(cands[-1])
        if S is None:
            if best.score <= 0:
                best = best.better(self._nudge(view, best))
            return self._keep(best)
        return self._keep(self._finish(full, S, best, cands))

    def _work_view(self, full: FrameView) -> tuple[FrameView, np.ndarray | None]:
        """The view candidates are aligned and ranked on: the frame itself when it has at most
        `work_px` pixels (S None), else an INTER_AREA copy of that area and S, the 3 x 3 map
        from frame pixels to the copy's (pixel centres kept: x' = sx (x + 0.5) - 0.5)."""
        W, H = full.W, full.H
        s = float(np.sqrt(self.cfg["work_px"] / float(W * H)))
        if s >= 1.0:
            return full, None
        w, h = max(8, int(round(W * s))), max(8, int(round(H * s)))
        if w >= W or h >= H:
            return full, None
        sx, sy = w / W, h / H
        small = cv2.resize(full.frame, (w, h), interpolation=cv2.INTER_AREA)
        S = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
        return FrameView(small, self.template), S

    def _at_full(self, full: FrameView, S: np.ndarray, cand: "_Candidate") -> "_Candidate":
        """A working-copy candidate at the frame's own size: aligned there once more
        (`polish_homography`), projected and scored (exact rules); unpolished if that scores 0."""
        if cand.h is None:
            return _Candidate(name=cand.name)
        Hf = _remap(np.linalg.inv(S), cand.h)
        if self.cfg["polish_radii"] and full.edges.any():
            Hp = polish_homography(full.edges, Hf, self.cfg["polish_radii"], self.cfg["refine_min_pairs"])
            if Hp is not Hf and _moved_px(Hf, Hp, full.W, full.H) <= self.cfg["refine_max_move"] * full.W:
                pts = project_keypoints(Hp, full.W, full.H)
                s = full.score(pts) if pts.any() else 0.0
                if s > 0:
                    return _Candidate(s, pts, Hp, cand.name + "+polish")
        pts = project_keypoints(Hf, full.W, full.H)
        return _Candidate(full.score(pts) if pts.any() else 0.0, pts, Hf, cand.name)

    def _finish(self, full: FrameView, S: np.ndarray, best: "_Candidate", cands: list) -> "_Candidate":
        """The answer for a downscaled frame: the working copy's winner, if it scores at full size
        (rules such as a square line blob or the 100 px edge band depend on the size); else its
        1-pixel nudges at full size; else the next candidates that scored on the copy."""
        first = self._at_full(full, S, best)
        if first.score > 0:
            return first
        if first.h is not None and first.pts.any():
            nudged = self._nudge(full, first)
            if nudged.score > 0:
                return nudged
        for c in sorted((c for c in cands if c is not best and c.score > 0), key=lambda c: -c.score):
            f = self._at_full(full, S, c)
            if f.score > 0:
                return f
        return first

    def _keep(self, best: "_Candidate") -> np.ndarray:
        """Remember the answer's homography for the next frame (a while, if nothing scored)."""
        self.kp_source = (best.name, round(best.score, 4))
        if best.score > 0:
            self.prev_h, self.prev_age = best.h, 0
            return best.pts
        self.prev_age += 1
        if self.prev_age > self.cfg["hold_frames"]:
            self.prev_h = None
        return np.zeros((32, 2), dtype=np.int64)

    def _candidate(self, view: FrameView, Hm: np.ndarray, name: str) -> "_Candidate":
        """A homography aligned with the frame's lines, projected, and scored as the validator will."""
        Hr = refine_homography(view, Hm, self.cfg)
        pts = project_keypoints(Hr, view.W, view.H)
        return _Candidate(view.score(pts) if pts.any() else 0.0, pts, Hr, name)

    def _nudge(self, view: FrameView, cand: "_Candidate") -> "_Candidate":
        """The first 1-pixel shift of a zeroed candidate's points that scores."""
        if cand.h is None or not cand.pts.any():
            return _Candidate()
        for pts in _nudged(cand.pts, view.W, view.H):
            s = view.score(pts)
            if s > 0:
                return _Candidate(s, pts, cand.h, cand.name + "+nudge")
        return _Candidate()

    def pose_points(self, frame: np.ndarray) -> np.ndarray | None:
        """The pose model's (32, 3) keypoints (x, y frame pixels, confidence); None if no pitch."""
        out, r, px, py = self.pose(frame)
        best = int(np.argmax(out[4]))
        if out[4, best] < self.cfg["pitch_conf"]:
            return None
        k = out[5:, best].reshape(-1, 3).astype(np.float64)
        k[:, 0] = (k[:, 0] - px) / r
        k[:, 1] = (k[:, 1] - py) / r
        return k

    # the contract ------------------------------------------------------------------------------
    def predict_batch(self, batch_images: list[np.ndarray], offset: int, n_keypoints: int) -> list[FrameResult]:
        """One `FrameResult` per image: frame_id = offset + i, boxes by the element's objects, n_keypoints [x, y]."""
        frames = [_as_bgr(f) for f in batch_images]
        # The models that keep no per-clip state (the detector, the ball's candidates) run in a second
        # thread while this one fits the pitch: onnxruntime and OpenCV release the GIL, so on 2 cores
        # a frame costs about the longer of the two, not their sum (`bench/bench_ball.py` times it).
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="miner-models")
        try:
            models = [ahead.submit(self._stateless, f) for f in frames]
            return self._answer(frames, models, int(offset), int(n_keypoints))
        finally:
            ahead.shutdown(wait=True, cancel_futures=True)

    def _stateless(self, frame: np.ndarray) -> tuple:
        """What needs no per-clip state: the detector's boxes and, with ball.onnx, the ball's candidates."""
        return self.detect(frame), (self._ball_candidates(frame) if self.ball is not None else None)

    def _answer(self, frames: list[np.ndarray], models: list, offset: int, n_keypoints: int) -> list[FrameResult]:
        results, cands = [], []
        for i, frame in enumerate(frames):
            fid = offset + i
            size = frame.shape[:2]
            if fid == 0 or size != self.size or (self.next_frame is not None and fid != self.next_frame):
                self._reset(size)
            self.next_frame = fid + 1
            kp = self.keypoints(frame)
            (boxes, scores, classes), ball_cands = models[i].result()
            reported = self.tracker.step(boxes, scores, classes)
            self._vote_teams(frame, boxes, reported)
            H, W = size
            out_boxes = []
            for tr, _ in reported:
                b = tr.box()
                x1, y1 = int(round(max(0.0, b[0]))), int(round(max(0.0, b[1])))
                x2, y2 = int(round(min(W - 1.0, b[2]))), int(round(min(H - 1.0, b[3])))
                if x2 <= x1 or y2 <= y1:
                    continue
                if tr.cls not in self.out_cls:
                    continue
                team = None
                if tr.cls == PLAYER and tr.votes.sum() > 0:
                    team = 1 if tr.votes[0] >= tr.votes[1] else 2
                out_boxes.append(Box(x1=x1, y1=y1, x2=x2, y2=y2, cls_id=self.out_cls[tr.cls],
                                     conf=round(float(tr.conf), 4), team_id=team))
            kps = [[int(x), int(y)] for x, y in kp[:n_keypoints]]
            kps += [[0, 0]] * (n_keypoints - len(kps))
            results.append(FrameResult(frame_id=fid, boxes=out_boxes, keypoints=kps))
            cands.append(None if ball_cands is None else on_pitch(ball_cands, kp, self.cfg["ball_off_pitch"]))
        self._send_balls(results, cands, frames)
        return results

    def _ball_candidates(self, frame: np.ndarray) -> np.ndarray:
        return self.ball.candidates(frame, int(self.cfg["ball_topk"]), float(self.cfg["ball_min"]))

    def _send_balls(self, results: list, cands: list, frames: list[np.ndarray]) -> None:
        """Each frame's ball on the batch's path, appended to its boxes (after the tracked ones)."""
        if self.ball is None or BALL not in self.out_cls or not frames:
            return
        for res, frame, ball in zip(results, frames, ball_path(cands, frames[0].shape[1], self.cfg)):
            if ball is None:
                continue
            H, W = frame.shape[:2]
            x1, y1 = int(round(max(0.0, ball[0]))), int(round(max(0.0, ball[1])))
            x2, y2 = int(round(min(W - 1.0, ball[2]))), int(round(min(H - 1.0, ball[3])))
            if x2 > x1 and y2 > y1:
                res.boxes.append(Box(x1=x1, y1=y1, x2=x2, y2=y2, cls_id=self.out_cls[BALL],
                                     conf=round(float(ball[4]), 4), team_id=None))

    def balls(self, frames: list[np.ndarray]) -> list:
        """Per frame the ball sent (x1, y1, x2, y2, heat) or None, the frames taken as one new clip:
        `ball_path` over the frames' candidates on the pitch, as `predict_batch` sends them. All None
        without ball.onnx (the detector's ball goes through the tracker)."""
        if self.ball is None or not frames:
            return [None] * len(frames)
        self._reset(frames[0].shape[:2])
        cands = [on_pitch(self._ball_candidates(f), self.keypoints(f), self.cfg["ball_off_pitch"]) for f in frames]
        return ball_path(cands, frames[0].shape[1], self.cfg)

    def _vote_teams(self, frame: np.ndarray, boxes: np.ndarray, reported: list) -> None:
        players = [(tr, d) for tr, d in reported if tr.cls == PLAYER and d >= 0]
        feats, owners = [], []
        for tr, d in players:
            f = _torso_colour(frame, boxes[d])
            if f is not None:
                feats.append(f)
                owners.append(tr)
        labels = self.teams.assign(feats)
        fitted = self.teams.centres is not None
        decay = self.cfg["vote_decay"]
        for tr, lab in zip(owners, labels):
            # decayed votes: a track that jumps to another player (a swap in a crowd) follows
            # the new player's kit within a few frames instead of keeping the old team
            tr.votes *= decay
            tr.votes[int(lab)] += 1.0 if fitted else 0.25


def _as_bgr(frame) -> np.ndarray:
    """uint8 H x W x 3 BGR from whatever the chute hands over (grey or BGRA frames converted)."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = cv2.cvtColor(a, cv2.COLOR_BGRA2BGR)
    elif a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"frame of shape {a.shape}: expected H x W x 3 BGR uint8")
    return np.ascontiguousarray(a)
