"""Reference Turbo Vision (subnet 44) miner: boxes with teams and 32 pitch keypoints per frame.

This file is the Hugging Face bundle's entry point. The chute imports it by path and calls

    miner = Miner(path_hf_repo)                       # once, at start-up
    miner.predict_batch(frames, offset, n_keypoints)  # batches of BGR frames, in clip order

It is self-contained on purpose: the chute image has numpy, OpenCV and onnxruntime but not
the kit, and the chute rules allow only stdlib and site-packages imports, no subprocesses and
no network. Everything below is plain numpy/OpenCV around two ONNX models that live beside
this file:

- `detect.onnx`: a YOLO detector, classes 0 ball, 1 goalkeeper, 2 player, 3 referee;
- `pose.onnx`: a YOLO pose model, one "pitch" object whose 32 keypoints are the template's.

Per frame: letterbox, run, decode, NMS. Then, over the clip (the Miner object is reused for
every batch of one clip; `offset == 0` starts a new clip):

- **teams**: players' torso colours (Lab, grass pixels masked out) are clustered in two on the
  first batch with enough players; the centres are kept and only drift slowly, so team 1
  stays team 1 for the whole clip, and every track votes, so a player keeps one team;
- **tracking**: a greedy IoU tracker per object type with an alpha-beta filter on the box
  (centre and size), which removes detector jitter without the lag of a plain EMA, and
  fills a gap of up to `MAX_GAP` frames when a tracked object is missed;
- **keypoint hygiene**: confident, in-frame points fit a homography (RANSAC) from the
  template, all 32 template points are re-projected, those outside the frame become (0, 0),
  and a frame whose points would form a degenerate subset or a twisted projection (both
  zeroed by the validator) or that has fewer than 4 confident points sends all (0, 0);
  consecutive homographies that agree are averaged, so the points do not jitter.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

# --- settings (a miner tunes these; `miner.json` beside this file may override any of them) ---
SETTINGS = {
    "threads": 2,              # onnxruntime intra-op threads (the compliance box has 2 vCPUs)
    "det_conf": 0.30,          # detector score threshold
    "det_iou": 0.55,           # NMS IoU threshold (per class)
    "ball_conf": 0.20,         # the ball is small and scored once per frame: a lower bar, top-1 only
    "kpt_conf": 0.30,          # keypoint visibility threshold (measured: 0.3 beats 0.15, 0.5, 0.7)
    "ransac_px": 6.0,          # homography RANSAC reprojection threshold, frame pixels
    "kpt_smooth": 0.5,         # weight of the previous frame's homography (0: no smoothing)
    "kpt_jump_px": 40.0,       # larger frame-corner disagreement: a cut, no smoothing
    "refine": 1,               # refine the homography on the frame's painted lines (ECC); 0: off
    "refine_scale": 0.5,       # ... at this fraction of the frame size
    "refine_iters": 10,        # ECC iterations (10 keeps nearly all the gain of 25 at a third of the cost)
    "track_iou": 0.30,         # detection-to-track match threshold
    "alpha": 0.65,             # alpha-beta filter gains (position, velocity)
    "beta": 0.15,
    "max_gap": 2,              # frames a missed track is carried on its prediction
    "min_hits": 2,             # detections before a track is reported (one-frame false positives never show)
    "team_min_players": 24,    # player crops (2-3 frames) before the two kit colours are fitted
    "team_drift": 0.02,        # how fast the team colour centres follow the clip
    "vote_decay": 0.8,         # per-frame decay of a track's team votes
}

TEMPLATE_KEYPOINTS = np.array(
    [(5, 5), (5, 140), (5, 250), (5, 430), (5, 540), (5, 675), (55, 250), (55, 430), (110, 340), (165, 140),
     (165, 270), (165, 410), (165, 540), (527, 5), (527, 253), (527, 433), (527, 675), (888, 140), (888, 270),
     (888, 410), (888, 540), (940, 340), (998, 250), (998, 430), (1045, 5), (1045, 140), (1045, 250), (1045, 430),
     (1045, 540), (1045, 675), (435, 340), (615, 340)], dtype=np.float64)

# SCORING.md step 3: a frame whose visible ids all lie in one of these groups, with the group's
# first two points near a shared frame edge, scores 0.
DEGENERATE_GROUPS = (
    (23, 24, 27, 28), (7, 8, 3, 4), (2, 10, 1, 14), (18, 26, 14, 25), (5, 13, 6, 17), (21, 29, 17, 30),
    (10, 11, 2, 3), (10, 11, 2, 7), (12, 13, 4, 5), (12, 13, 5, 8), (18, 19, 26, 27), (18, 19, 26, 23),
    (20, 21, 24, 29), (20, 21, 28, 29), (8, 4, 5, 13), (3, 7, 2, 10), (23, 27, 18, 26), (24, 28, 21, 29))
EDGE_MARGIN = 100
TWIST_CORNERS = (6, 30, 25, 1)

BALL, GOALKEEPER, PLAYER, REFEREE, TEAM1, TEAM2 = 0, 1, 2, 3, 6, 7


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


# --- keypoints ------------------------------------------------------------------------------------

def _cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    return (orient(p1, p2, q1) * orient(p1, p2, q2) < 0) and (orient(q1, q2, p1) * orient(q1, q2, p2) < 0)


def _degenerate(points: np.ndarray, W: int, H: int) -> bool:
    visible = {i + 1 for i in range(len(points)) if points[i, 0] != 0 or points[i, 1] != 0}
    for g in DEGENERATE_GROUPS:
        if visible and visible <= set(g):
            edges = []
            for pid in g[:2]:
                x, y = points[pid - 1]
                e = set()
                if x <= EDGE_MARGIN:
                    e.add("l")
                if x >= W - EDGE_MARGIN:
                    e.add("r")
                if y <= EDGE_MARGIN:
                    e.add("t")
                if y >= H - EDGE_MARGIN:
                    e.add("b")
                edges.append(e)
            if edges[0] & edges[1]:
                return True
    return False


def fit_homography(kpts: np.ndarray, W: int, H: int, cfg: dict) -> np.ndarray | None:
    """Template -> frame homography from the confident, in-frame points of a (32, 3) output."""
    conf = kpts[:, 2]
    xy = kpts[:, :2].astype(np.float64)
    ok = (conf >= cfg["kpt_conf"]) & (xy[:, 0] >= 0) & (xy[:, 1] >= 0) & (xy[:, 0] < W) & (xy[:, 1] < H)
    if ok.sum() < 4:
        return None
    method = cv2.RANSAC if ok.sum() >= 6 else 0
    Hm, _ = cv2.findHomography(TEMPLATE_KEYPOINTS[ok], xy[ok], method, cfg["ransac_px"])
    if Hm is None or not np.all(np.isfinite(Hm)) or abs(Hm[2, 2]) < 1e-12:
        return None
    return Hm / Hm[2, 2]


def project_keypoints(Hm: np.ndarray | None, W: int, H: int) -> np.ndarray:
    """(32, 2) int frame points of the template under Hm; (0, 0) outside the frame, and all
    (0, 0) when the validator would zero the frame anyway (twisted corners, fewer than 4
    points, a degenerate subset)."""
    zeros = np.zeros((32, 2), dtype=np.int64)
    if Hm is None:
        return zeros
    proj = cv2.perspectiveTransform(TEMPLATE_KEYPOINTS.reshape(-1, 1, 2), Hm).reshape(-1, 2)
    corners = [proj[i - 1] for i in TWIST_CORNERS]
    if _cross(corners[0], corners[1], corners[2], corners[3]) or _cross(corners[1], corners[2], corners[3], corners[0]):
        return zeros
    # behind-the-camera points project with a negative w: drop them
    w = (Hm @ np.c_[TEMPLATE_KEYPOINTS, np.ones(32)].T)[2]
    pts = np.rint(np.nan_to_num(proj, nan=-1.0, posinf=-1.0, neginf=-1.0)).astype(np.int64)
    inside = (w > 0) & (pts[:, 0] >= 1) & (pts[:, 1] >= 1) & (pts[:, 0] < W) & (pts[:, 1] < H)
    pts[~inside] = 0
    if inside.sum() < 4 or _degenerate(pts, W, H):
        return zeros
    return pts


def pitch_keypoints(kpts: np.ndarray, W: int, H: int, cfg: dict) -> np.ndarray:
    """(32, 2) int frame points from the pose model's (32, 3) output; (0, 0) where unsure."""
    return project_keypoints(fit_homography(kpts, W, H, cfg), W, H)


def blend_homography(prev: np.ndarray | None, new: np.ndarray | None, W: int, H: int, cfg: dict) -> np.ndarray | None:
    """Temporal smoothing: average with the previous frame's homography when the two agree
    (frame corners mapped within `kpt_jump_px`), so keypoints do not jitter; a cut or a bad
    fit (they disagree) takes the new one as it is."""
    a = cfg["kpt_smooth"]
    if new is None or prev is None or a <= 0:
        return new
    box = np.array([[0, 0], [W, 0], [W, H], [0, H]], dtype=np.float64).reshape(-1, 1, 2)
    try:
        t_new = cv2.perspectiveTransform(box, np.linalg.inv(new)).reshape(-1, 2)
        t_prev = cv2.perspectiveTransform(box, np.linalg.inv(prev)).reshape(-1, 2)
    except np.linalg.LinAlgError:
        return new
    # compare in frame pixels: where the previous homography puts the new one's view
    back = cv2.perspectiveTransform(t_new.reshape(-1, 1, 2), prev).reshape(-1, 2)
    if not np.all(np.isfinite(back)) or not np.all(np.isfinite(t_prev)) or \
            np.abs(back - box.reshape(-1, 2)).max() > cfg["kpt_jump_px"]:
        return new
    out = a * prev + (1 - a) * new
    return out / out[2, 2]


def _template_lines() -> np.ndarray:
    """The pitch markings (1050 x 680, float32 0/1): what the validator warps and compares."""
    img = np.zeros((680, 1050), np.uint8)
    segs = [((525, 0), (525, 679)), ((0, 139), (164, 139)), ((0, 540), (164, 540)), ((164, 139), (164, 540)),
            ((0, 249), (54, 249)), ((0, 430), (54, 430)), ((54, 249), (54, 430)), ((886, 139), (1049, 139)),
            ((886, 540), (1049, 540)), ((886, 139), (886, 540)), ((996, 249), (1049, 249)), ((996, 430), (1049, 430)),
            ((996, 249), (996, 430)), ((0, 0), (1049, 0)), ((0, 679), (1049, 679)), ((0, 0), (0, 679)),
            ((1049, 0), (1049, 679))]
    for a, b in segs:
        cv2.line(img, a, b, 1, 5)
    cv2.circle(img, (525, 340), 91, 1, 5)
    cv2.ellipse(img, (110, 340), (91, 91), 0, -50, 50, 1, 5)
    cv2.ellipse(img, (940, 340), (91, 91), 0, 130, 230, 1, 5)
    return img.astype(np.float32)


_LINES = _template_lines()
_TOPHAT = cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15))


def refine_homography(frame: np.ndarray, Hm: np.ndarray | None, cfg: dict) -> np.ndarray | None:
    """Align the warped template lines with the lines painted on the frame (ECC, homography).

    The pose model puts the pitch roughly in place; the validator scores how well the warped
    template's lines land on the painted ones, pixel by pixel. ECC maximises exactly that
    overlap, on a half-size top-hat line image, starting from the model's homography. A
    refinement that fails to converge or moves the view a lot is not used.
    """
    if Hm is None or not cfg["refine"]:
        return Hm
    H, W = frame.shape[:2]
    sc = cfg["refine_scale"]
    w, h = max(32, int(W * sc)), max(32, int(H * sc))
    S = np.diag([w / W, h / H, 1.0])
    grey = cv2.cvtColor(cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    seen = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, _TOPHAT).astype(np.float32)
    seen = cv2.GaussianBlur(seen, (5, 5), 0)
    Hs = S @ Hm
    model = cv2.warpPerspective(_LINES, Hs, (w, h), flags=cv2.INTER_LINEAR)
    if model.sum() < 50 or seen.max() <= 0:
        return Hm
    model = cv2.GaussianBlur(model, (5, 5), 0)
    warp = np.eye(3, dtype=np.float32)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, int(cfg["refine_iters"]), 1e-4)
    try:
        _, warp = cv2.findTransformECC(seen, model, warp, cv2.MOTION_HOMOGRAPHY, crit, None, 1)
    except cv2.error:
        return Hm
    try:
        Hn = np.linalg.inv(S) @ np.linalg.inv(warp.astype(np.float64)) @ Hs
    except np.linalg.LinAlgError:
        return Hm
    if not np.all(np.isfinite(Hn)) or abs(Hn[2, 2]) < 1e-12:
        return Hm
    Hn = Hn / Hn[2, 2]
    box = np.array([[0, 0], [W, 0], [W, H], [0, H]], dtype=np.float64).reshape(-1, 1, 2)
    try:
        moved = cv2.perspectiveTransform(cv2.perspectiveTransform(box, np.linalg.inv(Hm)), Hn).reshape(-1, 2)
    except (cv2.error, np.linalg.LinAlgError):
        return Hm
    if not np.all(np.isfinite(moved)) or np.abs(moved - box.reshape(-1, 2)).max() > 0.25 * W:
        return Hm
    return Hn


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
        self._reset(None)
        # start-up self-test, as the chute does: one random 540 x 960 frame must answer
        frame = np.random.default_rng(0).integers(0, 256, (540, 960, 3), dtype=np.uint8)
        res = self.predict_batch([frame], 0, 32)
        if len(res) != 1 or len(res[0]["keypoints"]) != 32:
            raise RuntimeError("miner self-test failed: predict_batch on one random frame gave a wrong answer")
        self._reset(None)

    def __repr__(self) -> str:
        return (f"Miner({self.path}, detect {self.detector.w}x{self.detector.h}, "
                f"pose {self.pose.w}x{self.pose.h})")

    def _reset(self, size) -> None:
        self.tracker = Tracker(self.cfg)
        self.teams = TeamModel(self.cfg)
        self.size = size
        self.next_frame = None
        self.prev_h = None

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
        """(32, 2) int keypoints of one frame (see `pitch_keypoints`)."""
        out, r, px, py = self.pose(frame)
        H, W = frame.shape[:2]
        best = int(np.argmax(out[4]))
        if out[4, best] < 0.25:
            self.prev_h = None
            return np.zeros((32, 2), dtype=np.int64)
        k = out[5:, best].reshape(-1, 3).astype(np.float64)
        k[:, 0] = (k[:, 0] - px) / r
        k[:, 1] = (k[:, 1] - py) / r
        Hm = refine_homography(frame, fit_homography(k, W, H, self.cfg), self.cfg)
        Hm = blend_homography(self.prev_h, Hm, W, H, self.cfg)
        self.prev_h = Hm
        return project_keypoints(Hm, W, H)

    # the contract ------------------------------------------------------------------------------
    def predict_batch(self, batch_images: list[np.ndarray], offset: int, n_keypoints: int) -> list[dict]:
        """One result per image: frame_id = offset + i, boxes with wire cls ids, n_keypoints [x, y]."""
        results = []
        for i, frame in enumerate(batch_images):
            frame = _as_bgr(frame)
            fid = int(offset) + i
            size = frame.shape[:2]
            if fid == 0 or size != self.size or (self.next_frame is not None and fid != self.next_frame):
                self._reset(size)
            self.next_frame = fid + 1
            boxes, scores, classes = self.detect(frame)
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
                cls = tr.cls
                if cls == PLAYER and tr.votes.sum() > 0:
                    cls = TEAM1 if tr.votes[0] >= tr.votes[1] else TEAM2
                out_boxes.append({"x1": x1, "y1": y1, "x2": x2, "y2": y2, "cls_id": int(cls),
                                  "conf": round(float(tr.conf), 4)})
            kp = self.keypoints(frame)
            kps = [[int(x), int(y)] for x, y in kp[:n_keypoints]]
            kps += [[0, 0]] * (int(n_keypoints) - len(kps))
            results.append({"frame_id": fid, "boxes": out_boxes, "keypoints": kps})
        return results

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
