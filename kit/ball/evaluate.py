"""How well a football bundle finds the ball: per-frame precision and recall at the validator's
adaptive IoU threshold on labelled frames, the `DetectBall` element score on clips, a gallery of
misses.

Decisions:
- The bundle's own miner answers (`Miner.balls`), so what is measured is what ships: the same
  decoding, thresholds and path. Labelled real frames are single photos (Roboflow's random
  frames of a clip, not consecutive), so each is answered alone and the path cannot help; on
  clips the whole clip goes through `predict_video` and the validator's scorer
  (`kit.evaluate.evaluate`) on the manifest's ball element (`ball_element`: the clip element
  whose one object is the ball, `DetectBall_v1@1.0` in the kit's example manifest).
- Matching is the validator's: `kit.evaluate.objects.frame_detections` (greedy by confidence, a
  match needs the reference's adaptive threshold, 0.30 for a box this small) and
  `detection_metrics` (precision, recall, map50 as VOC AP).
- The gallery shows each miss and each false ball enlarged 6 times (48 x 48 px around it):
  truth green, the answer red, so a reader sees whether the model missed, misplaced or
  mis-sized it.

Usage: from kit.ball.evaluate import frame_report; print(frame_report("build/bundle", frames))
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..evaluate.answer import Det, ReadFrame, RefFrame
from ..evaluate.objects import detection_metrics, frame_detections
from .data import BallFrame

CROP, ZOOM = 48, 6


@dataclass
class BallFrameReport:
    """Per-frame ball figures on labelled frames (each answered alone)."""

    source: str
    frames: int
    n_ref: int
    tp: int
    fp: int
    precision: float
    recall: float
    map50: float
    misses: list[tuple[int, np.ndarray | None, np.ndarray]] = field(default_factory=list, repr=False)
    false_balls: list[tuple[int, np.ndarray, np.ndarray | None]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("source", "frames", "n_ref", "tp", "fp", "precision", "recall",
                                               "map50")}

    def __str__(self) -> str:
        return (f"{self.source}: {self.frames} frames, {self.n_ref} balls: recall {self.recall:.3f}, precision "
                f"{self.precision:.3f}, map50 {self.map50:.3f} ({self.tp} found, {self.fp} false, "
                f"{self.n_ref - self.tp} missed; adaptive IoU threshold)")


def _det(b: np.ndarray, score: float | None = None) -> Det:
    return Det(int(round(b[0])), int(round(b[1])), int(round(b[2])), int(round(b[3])), "ball", score)


def _miner(bundle_or_miner: Any):
    if isinstance(bundle_or_miner, (str, os.PathLike)):
        from ..comply import load_miner

        return load_miner(bundle_or_miner)
    return bundle_or_miner


def frame_report(bundle_or_miner: Any, frames: list[BallFrame], source: str = "frames") -> BallFrameReport:
    """Answer each frame alone with the bundle's miner; score its ball at the validator's threshold."""
    miner = _miner(bundle_or_miner)
    if getattr(miner, "ball", None) is None:
        from .. import KitError

        raise KitError("this bundle has no ball.onnx: package one with `tvkit package --ball-model ball.onnx` "
                       "(the reference bundle carries chute_template/reference/ball/ball.onnx)")
    rows, misses, false_balls = [], [], []
    for k, fr in enumerate(frames):
        (ball,) = miner.balls([fr.image])
        preds = [_det(ball[:4], float(ball[4]))] if ball is not None else []
        ref = RefFrame(k, [_det(b) for b in fr.boxes], fr.image.shape[1], fr.image.shape[0])
        row = frame_detections(ref, ReadFrame(k, preds))
        rows.append(row)
        matched = [r for _, r in row.pairs.get("ball", []) if r is not None]
        for b in fr.boxes:
            if not any(r.box == _det(b).box for r in matched):
                misses.append((k, None if ball is None else ball[:4], b))
        for p, r in row.pairs.get("ball", []):
            if r is None:
                false_balls.append((k, ball[:4], fr.boxes[0] if len(fr.boxes) else None))
    m = detection_metrics(rows)
    return BallFrameReport(source, len(frames), int(m["n_ref"]), int(m["tp"]), int(m["fp"]), float(m["precision"]),
                           float(m["recall"]), float(m["map50"]), misses, false_balls)


def _tile(img: np.ndarray, centre: np.ndarray, truth: np.ndarray | None, answer: np.ndarray | None,
          caption: str) -> np.ndarray:
    cx, cy = int(round(centre[0])), int(round(centre[1]))
    x0, y0 = cx - CROP // 2, cy - CROP // 2
    pad = cv2.copyMakeBorder(img, CROP, CROP, CROP, CROP, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    crop = pad[y0 + CROP:y0 + 2 * CROP, x0 + CROP:x0 + 2 * CROP]
    big = cv2.resize(crop, (CROP * ZOOM, CROP * ZOOM), interpolation=cv2.INTER_NEAREST)
    for box, colour in ((truth, (0, 200, 0)), (answer, (0, 0, 255))):
        if box is not None:
            p1 = (int((box[0] - x0) * ZOOM), int((box[1] - y0) * ZOOM))
            p2 = (int((box[2] - x0) * ZOOM), int((box[3] - y0) * ZOOM))
            cv2.rectangle(big, p1, p2, colour, 2)
    cv2.putText(big, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return big


def miss_gallery(frames: list[BallFrame], report: BallFrameReport, path: str | os.PathLike,
                 limit: int = 24) -> Path | None:
    """A PNG grid: each missed ball (green truth; red the answer when it was near) and each false
    ball (red; green the truth of that frame when near), enlarged. None when there is nothing."""
    tiles = []
    for k, answer, truth in report.misses[:limit]:
        centre = (truth[:2] + truth[2:]) / 2
        near = answer is not None and np.abs((answer[:2] + answer[2:]) / 2 - centre).max() < CROP / 2
        tiles.append(_tile(frames[k].image, (truth[:2] + truth[2:]) / 2, truth, answer if near else None,
                           f"miss {frames[k].name[:22]}"))
    for k, answer, truth in report.false_balls[:max(0, limit - len(tiles))]:
        tiles.append(_tile(frames[k].image, (answer[:2] + answer[2:]) / 2, truth, answer,
                           f"false {frames[k].name[:21]}"))
    return _write_grid(tiles, path)


def _write_grid(tiles: list[np.ndarray], path: str | os.PathLike, cols: int = 6) -> Path | None:
    """The tiles as a PNG grid of `cols` columns (the last row filled with black); None without tiles."""
    if not tiles:
        return None
    tiles = tiles + [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack([np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)]))
    return path


def answer_gallery(bundle_or_miner: Any, frames: list[BallFrame], path: str | os.PathLike,
                   cols: int = 6) -> tuple[Path | None, list[dict[str, Any]]]:
    """Unlabelled frames (another camera, another match): each frame's ball answer, enlarged, with
    its heat, for a person to judge; and per frame the answer (None when the miner sent no ball)."""
    miner = _miner(bundle_or_miner)
    tiles, answers = [], []
    for fr in frames:
        (ball,) = miner.balls([fr.image])
        answers.append({"frame": fr.name, "ball": None if ball is None else [round(float(v), 2) for v in ball]})
        if ball is not None:
            tiles.append(_tile(fr.image, (ball[:2] + ball[2:4]) / 2, None, ball[:4],
                               f"{len(tiles)}: {ball[4]:.2f} {fr.name[:18]}"))
    return _write_grid(tiles, path, cols), answers


def ball_element(manifest: Any = None) -> Any:
    """The manifest's ball element (the kit's example manifest when None): the clip element whose one
    object is the ball. KitError lists the clip elements when none is."""
    from .. import KitError
    from ..manifest import load_manifest

    m = load_manifest(manifest)
    clips = [e for e in m.elements if e.kind == "clip"]
    for e in clips:
        if [str(o).lower() for o in e.objects or []] == ["ball"]:
            return e
    raise KitError(f"{m.describe()}: no clip element whose one object is the ball (clip elements: "
                   f"{[e.id for e in clips]}); give a manifest that has one (--manifest)")


def clip_scores(bundle: str | os.PathLike, clips: list[tuple[Path, Path]], manifest: Any = None) -> dict[str, Any]:
    """The manifest's ball element (`ball_element`) on each clip (video, truth) as the validator scores
    it: final and pillars, and their means."""
    from ..bundle import predict_video
    from ..evaluate import evaluate
    from ..manifest import load_manifest

    manifest = load_manifest(manifest)
    eid = ball_element(manifest).id
    miner = _miner(bundle)
    per_clip = []
    for video, truth in clips:
        pred = predict_video(miner, video)
        es = evaluate(pred.answer, truth, video, manifest, elements=[eid]).elements[eid]
        per_clip.append({"clip": Path(video).name, "final": es.final,
                         "pillars": {k: p.raw for k, p in es.pillars.items()}})
    mean = {"final": float(np.mean([c["final"] for c in per_clip]))}
    mean["pillars"] = {k: float(np.mean([c["pillars"][k] for c in per_clip])) for k in per_clip[0]["pillars"]}
    return {"element": eid, "clips": per_clip, "mean": mean}
