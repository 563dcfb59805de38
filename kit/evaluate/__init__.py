"""Score an answer the way today's validator does: per element of a manifest, pillar by pillar.

Usage: `ev = evaluate(answer, "clip.json", "clip.mp4")` (the kit's example manifest), then
`ev.final`, `ev.elements["PlayerDetect_v1@1.0"].pillars["iou"].raw`, `print(format_breakdown(ev))`.

    >>> ev = evaluate(answer, gt, video, manifest="live", elements=["PlayerDetect_v1@1.0"],
    ...               latency_ms=180)                                   # doctest: +SKIP
    >>> ev.to_dict()["elements"]["PlayerDetect_v1@1.0"]["final"]       # doctest: +SKIP
    0.5731

The validator at ea7412f (upstream scorevision/utils/evaluate.py `post_vlm_ranking`,
`get_element_scores`) does, and so does this module:

1. The answer gate: 0 unless `success` is true and the answer lists at least
   `min_frames_required` frames (the challenge meta sends its frame pick, 3 in video mode)
   and at most the video's frame count (evaluate.py:238). Frames are counted as listed,
   duplicates included. An answer upstream's scoring raises on (`answer.validator_raises`)
   gets no score at all from a validator; the kit reports it as a failed gate with the reason.
2. Per element: the answer read with the element's `objects` (`answer.py`), each pillar of
   `metrics.pillars` by the function the validator registers for the element's category and
   that pillar name (`REGISTERED_PILLARS`; PitchCalib's `iou` is the keypoint metric), the
   weighted sum `S`, then the gates `beta x max(max(S - baseline_theta, 0), delta_floor)`
   (manifest.py `Element.weight_score`). A pillar the category does not register is an error
   (upstream raises NotImplementedError).
3. The latency gate, when a p95 latency is given: `rtf = p95_ms / 10000 x service_rate_fps / 5`
   (rtf.py:28; its docstring says / 1000, the code divides by 10000, and the kit follows the
   code), `rtf > 1` forces the element's score to 0. Without a latency the gate is skipped, as
   upstream skips it when the latency is missing.
4. The overall `final` is the mean of the elements' finals; a validator scores one element per
   challenge, for which this is exactly its number.

Which elements: those named, else every CLIP element of the manifest (`Element.kind`); an
image element (Detect, one photo per challenge) is scored by `kit.images.score`, so adding one
to a manifest leaves a football run's elements and final unchanged.

Which frames: the object pillars use the reference (ground-truth) frames: all of them in
`full` mode, 3 consecutive ones picked with `seed` in `validator` mode (upstream challenges.py
picks SCOREVISION_VLM_SELECT_N_FRAMES = 3 consecutive frames); `smoothness` and the keypoint
pillars use every answered frame in both modes. `spread` shows how the element scores move over
every 3-frame window of the clip.

Speed: keypoint frames are scored on `threads` threads while the main thread decodes (OpenCV
releases the GIL, its own pool is paused meanwhile), a frame's edges are computed only when no
earlier rule zeroed it, and the box pillars of every element run beside all that. Results do
not depend on the thread count (tested).
"""

from __future__ import annotations

import math
import os
import random
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .. import KitError
from ..contract import GroundTruth, load_ground_truth, read_json
from ..datasets import VideoReader
from ..manifest import EVALUATE_MODES, REGISTERED_PILLARS, Element, EvaluateMode, Manifest, load_manifest
from .answer import ReadFrame, RefFrame, frame_count, read_frames, reference_frames, validator_raises
from .keypoints import RULES, KeypointScore, score_keypoints, seen_edges
from .objects import (
    DETECTION_PILLARS,
    FRAME_PILLARS,
    FrameDetections,
    FrameRow,
    detection_metrics,
    frame_detections,
    frame_row,
    smoothness,
)

__all__ = ["evaluate", "Evaluation", "ElementScore", "PillarScore", "Spread", "Mode", "MODES", "load_answer",
           "format_breakdown", "KeypointScore", "RULES", "KEYPOINT_PILLARS"]

Mode = EvaluateMode
MODES = EVALUATE_MODES
WINDOW = 3                       # upstream SCOREVISION_VLM_SELECT_N_FRAMES default
MIN_FRAMES_REQUIRED = 3          # the meta's min_frames_required in video mode (= the frame pick)
#: (category, pillar) pairs that are the keypoint metric (upstream keypoints.py:344)
KEYPOINT_PILLARS = {("PitchCalib", "iou"), ("PlayerDetect", "keypoints_iou")}


def load_answer(path: str | os.PathLike) -> dict[str, Any]:
    """A saved /predict answer (JSON); ContractError names a missing file or broken JSON."""
    return read_json(path, "no such predictions file (save the chute's /predict answer, or run `tvkit predict`)")


@dataclass
class PillarScore:
    """One pillar of one element: raw value, weight, contribution (raw x weight), the manifest's
    target and baseline for it (None when the manifest gives none)."""

    name: str
    raw: float
    weight: float
    target: float | None = None
    baseline: float | None = None

    @property
    def contribution(self) -> float:
        return self.raw * self.weight

    def to_dict(self) -> dict[str, Any]:
        return {"raw": self.raw, "weight": self.weight, "contribution": self.contribution, "target": self.target,
                "baseline": self.baseline,
                "to_target": None if self.target is None else self.raw - self.target,
                "to_baseline": None if self.baseline is None else self.raw - self.baseline}


@dataclass
class Spread:
    """An element's gated score over every 3-frame window of reference frames (validator picks)."""

    n_windows: int
    final: dict[str, float]
    score: dict[str, float]

    @staticmethod
    def stats(values: np.ndarray) -> dict[str, float]:
        return {"min": float(values.min()), "p10": float(np.percentile(values, 10)),
                "median": float(np.median(values)), "mean": float(values.mean()),
                "p90": float(np.percentile(values, 90)), "max": float(values.max()), "std": float(values.std())}


@dataclass
class ElementScore:
    """How one element scored: pillars, weighted sum `score`, `gated`, latency gate, `final`,
    and the per-frame views behind them."""

    element: Element
    pillars: dict[str, PillarScore]
    score: float
    gated: float
    final: float
    rtf: float | None = None
    latency_pass: bool = True
    frames: list[FrameRow] = field(default_factory=list)               # per reference frame (iou, count, ...)
    detections: list[FrameDetections] = field(default_factory=list)    # per reference frame (map50 ...)
    detection_summary: dict[str, Any] = field(default_factory=dict)
    smoothness_groups: dict[str, float] = field(default_factory=dict)
    keypoint_frames: dict[int, KeypointScore] = field(default_factory=dict)
    spread: Spread | None = None

    @property
    def to_baseline(self) -> float:
        """S - baseline_theta: positive above the baseline gate."""
        return self.score - self.element.baseline_theta

    def zero_reasons(self) -> Counter:
        return Counter(k.rule for k in self.keypoint_frames.values() if k.rule)

    def frame_table(self) -> list[dict[str, Any]]:
        """One row per frame: per-frame pillars on reference frames, detection counts, keypoints."""
        rows: dict[int, dict[str, Any]] = {}
        for r in self.frames:
            rows.setdefault(r.frame_id, {"frame_id": r.frame_id}).update(r.values, n_ref=r.n_ref, n_pred=r.n_pred)
        for d in self.detections:
            rows.setdefault(d.frame_id, {"frame_id": d.frame_id}).update(tp=d.tp, fp=d.fp, fn=d.n_refs - d.tp)
        for fid, k in self.keypoint_frames.items():
            rows.setdefault(fid, {"frame_id": fid}).update(keypoints=k.score, keypoint_rule=k.rule,
                                                           keypoint_detail=k.detail)
        return [rows[f] for f in sorted(rows)]

    def to_dict(self, frames: bool = False) -> dict[str, Any]:
        e = self.element
        d = {"category": e.category, "pillars": {n: p.raw for n, p in self.pillars.items()},
             "pillar_details": {n: p.to_dict() for n, p in self.pillars.items()},
             "score": self.score, "baseline_theta": e.baseline_theta, "to_baseline": self.to_baseline,
             "delta_floor": e.delta_floor, "beta": e.beta, "gated": self.gated, "rtf": self.rtf,
             "latency_pass": self.latency_pass, "final": self.final,
             "smoothness_groups": self.smoothness_groups,
             "detections": {k: v for k, v in self.detection_summary.items()},
             "keypoint_zero_rules": dict(self.zero_reasons()),
             "spread": None if self.spread is None else {"n_windows": self.spread.n_windows,
                                                          "final": self.spread.final, "score": self.spread.score}}
        if frames:
            d["frames"] = self.frame_table()
        return d


@dataclass
class Evaluation:
    """The whole evaluation: the manifest used, each element's score, the overall final."""

    manifest: Manifest
    elements: dict[str, ElementScore]
    final: float
    mode: str
    seed: int | None
    gate_passed: bool
    gate_reason: str
    n_frames_total: int
    n_answer_frames: int
    scored_frames: list[int]
    latency_ms: float | None = None
    width: int = 0
    height: int = 0

    @property
    def breakdown(self) -> dict[str, float]:
        """A flat table for run ledgers: `final`, then per element `<id>/final`, `<id>/score`,
        `<id>/<pillar>` (raw values)."""
        out = {"final": self.final}
        for eid, es in self.elements.items():
            out[f"{eid}/final"] = es.final
            out[f"{eid}/score"] = es.score
            out.update({f"{eid}/{n}": p.raw for n, p in es.pillars.items()})
        return out

    @property
    def keypoint_frames(self) -> dict[int, KeypointScore]:
        """The keypoint metric per answered frame (shared by every keypoint pillar), if scored."""
        return next((es.keypoint_frames for es in self.elements.values() if es.keypoint_frames), {})

    def zero_reasons(self) -> Counter:
        """How many answered frames each keypoint rule zeroed."""
        return Counter(k.rule for k in self.keypoint_frames.values() if k.rule)

    def to_dict(self, frames: bool = False) -> dict[str, Any]:
        return {"final": self.final, "mode": self.mode, "seed": self.seed,
                "gate": {"passed": self.gate_passed, "reason": self.gate_reason},
                "manifest": {"source": self.manifest.source, "window_id": self.manifest.window_id,
                             "example": self.manifest.example},
                "n_frames_total": self.n_frames_total, "n_answer_frames": self.n_answer_frames,
                "scored_frames": self.scored_frames, "latency_ms": self.latency_ms,
                "elements": {eid: es.to_dict(frames) for eid, es in self.elements.items()},
                "breakdown": self.breakdown}


# --- helpers ------------------------------------------------------------------------------------

@contextmanager
def _opencv_threads(n: int | None):
    """OpenCV's own pool off while our threads run frames in parallel; restored afterwards."""
    if n is None:
        yield
        return
    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _pick_window(ids: list[int], seed: int | None) -> list[int]:
    if len(ids) <= WINDOW:
        return ids
    start = random.Random(seed).randrange(len(ids) - WINDOW + 1)
    return ids[start:start + WINDOW]


def frame_store_positions(keys: list[Any]) -> dict[Any, int | None]:
    """Which decoded video frame upstream's `FrameStore.get_frame` (utils/video_processing.py:149)
    returns for each answered frame id, asked in this order: an int `n` is frame n; any other
    value follows its seek logic, `CAP_PROP_POS_FRAMES` truncating toward zero and clamping at 0
    (1.5 and 1.9 read frame 1, -8 frame 0, measured with OpenCV 4.12), a value within one after
    the last asked is the next frame in decode order, and a value OpenCV cannot seek to (a
    string, a bool) is no frame (the metric then scores 0, keypoints.py:363-382). Starts like a
    fresh store; only odd ids (non-integer floats, negatives) could depend on that."""
    out: dict[Any, int | None] = {}
    current: Any = None
    last = -1
    for key in keys:
        if key in out:
            continue  # a cached frame (dict equality, as the store's cache)
        try:
            seek = current is None or key < current or key > current + 1
            if seek:
                if isinstance(key, bool) or not isinstance(key, (int, float)) or not math.isfinite(key):
                    raise TypeError(key)
                last = max(0, int(key))
            else:
                last += 1
        except TypeError:
            out[key] = None
            continue
        current = key
        out[key] = last
    return out


def score_keypoint_frames(video: str | os.PathLike, keypoints_by_frame: dict[Any, Any],
                          template: np.ndarray | None = None,
                          threads: int = 2) -> tuple[dict[Any, KeypointScore], int, int, int]:
    """The keypoint metric for every answered frame: decode once, score on `threads` threads.
    `keypoints_by_frame` is keyed by the answer's frame ids as sent (`frame_store_positions`
    says which video frame each one is scored on).

    Returns (scores by frame id, OpenCV frame count, width, height).
    """
    out: dict[Any, KeypointScore] = {}
    pending: deque[tuple[Any, Future]] = deque()
    limit = 4 * max(1, threads)  # frames in flight: keeps the workers busy, bounds the memory held
    wanted: dict[int, list[Any]] = {}
    for key, pos in frame_store_positions(list(keypoints_by_frame)).items():
        if pos is not None:
            wanted.setdefault(pos, []).append(key)

    def work(frame: np.ndarray, kps: Any) -> KeypointScore:
        fh, fw = frame.shape[:2]
        return score_keypoints(kps, fw, fh, lambda: seen_edges(frame), template)

    with VideoReader(video) as reader, ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        info = reader.info()
        n_total, w, h = info.n_frames, info.width, info.height
        for fid, frame in reader.frames(max_frames=max(wanted, default=-1) + 1):
            for key in wanted.get(fid, ()):
                pending.append((key, pool.submit(work, frame, keypoints_by_frame[key])))
            while len(pending) >= limit:  # wait for the oldest only, so decoding never stalls on a batch
                pkey, fut = pending.popleft()
                out[pkey] = fut.result()
        for pkey, fut in pending:
            out[pkey] = fut.result()
    for key in keypoints_by_frame:
        if key not in out:
            out[key] = score_keypoints(keypoints_by_frame[key], w, h, None)  # no such frame
    return {key: out[key] for key in keypoints_by_frame}, n_total, w, h


def check_elements(elements: list[Element]) -> None:
    """Refuse what the validator cannot score: no pillars, a pillar its category does not
    register (upstream raises NotImplementedError), a keypoint pillar without the football template."""
    for e in elements:
        if not e.pillars:
            raise KitError(f"element {e.id!r} has no metrics.pillars: the validator cannot score it "
                           "(private-track elements are scored elsewhere)")
        known = REGISTERED_PILLARS.get(e.category, ())
        for p in e.pillars:
            if p not in known:
                raise KitError(f"element {e.id!r}: the validator has no metric for pillar {p!r} in category "
                               f"{e.category} (it raises NotImplementedError); {e.category} pillars: "
                               f"{', '.join(known) or 'none'}")
            if (e.category, p) in KEYPOINT_PILLARS and e.keypoint_template != "football":
                raise KitError(f"element {e.id!r}: pillar {p!r} needs keypoint_template: football (got "
                               f"{e.keypoint_template!r}); the kit scores the football template only")


def clip_elements(man: Manifest, ids: list[str] | None) -> list[Element]:
    """The elements a clip is scored on: those named, else every clip element of the manifest
    (a Detect image element scores one photo, not a clip, so a football run never includes it).
    Naming an image element is an error that says where it is scored."""
    if not ids:
        return [e for e in man.elements if e.kind == "clip"]
    chosen = man.select(ids)
    for e in chosen:
        if e.kind != "clip":
            raise KitError(f"element {e.id!r} is an image element (one photo per challenge), not a clip: score it with "
                           "`tvkit evaluate --element ID --images ... --truth ... --answer ...` "
                           "(kit.images.score.evaluate_images)")
    return chosen


def _zero_element(e: Element) -> ElementScore:
    ps = {n: PillarScore(n, 0.0, w, e.targets.get(n), e.baselines.get(n)) for n, w in e.pillars.items()}
    return ElementScore(e, ps, 0.0, 0.0, 0.0)


def _combine(e: Element, raw: dict[str, float]) -> tuple[float, float]:
    """(S, gated) of pillar values in the manifest's pillar order."""
    s = sum(raw[n] * w for n, w in e.pillars.items())
    return s, e.weight_score(s)


def _object_side(e: Element, answered: dict[int, ReadFrame], refs: list[RefFrame]) -> dict[str, Any]:
    """The pillars of one element that need no video frames, on every reference frame."""
    want = set(e.pillars)
    out: dict[str, Any] = {"rows": [], "dets": [], "smooth": (0.0, {})}
    if want & set(FRAME_PILLARS):
        out["rows"] = [frame_row(r, answered.get(r.frame_id), want) for r in refs]
    if want & set(DETECTION_PILLARS):
        out["dets"] = [frame_detections(r, answered.get(r.frame_id)) for r in refs]
    if "smoothness" in want:
        out["smooth"] = smoothness(answered)
    return out


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def _pillar_values(e: Element, side: dict[str, Any], idx: list[int], kp_mean: float | None) -> dict[str, float]:
    rows = [side["rows"][i] for i in idx] if side["rows"] else []
    det = detection_metrics([side["dets"][i] for i in idx]) if side["dets"] else {}
    vals: dict[str, float] = {}
    for n in e.pillars:
        if (e.category, n) in KEYPOINT_PILLARS:
            vals[n] = kp_mean or 0.0
        elif n == "role":  # upstream objects.py:557 averages each half over frames, then the halves
            vals[n] = ((_mean([r.values["role_class"] for r in rows]) + _mean([r.values["palette"] for r in rows])) / 2
                       if rows else 0.0)
        elif n in FRAME_PILLARS:
            vals[n] = _mean([r.values[n] for r in rows])
        elif n in DETECTION_PILLARS:
            vals[n] = float(det.get(n, 0.0))
        elif n == "smoothness":
            vals[n] = side["smooth"][0]
    return vals


def _spread(e: Element, side: dict[str, Any], n_refs: int, kp_mean: float | None, passed: bool) -> Spread | None:
    if n_refs < WINDOW:
        return None
    finals, scores = [], []
    for start in range(n_refs - WINDOW + 1):
        s, g = _combine(e, _pillar_values(e, side, list(range(start, start + WINDOW)), kp_mean))
        scores.append(s)
        finals.append(g if passed else 0.0)
    return Spread(len(scores), Spread.stats(np.array(finals)), Spread.stats(np.array(scores)))


def answer_gate(answer: Any, n_listed: int, min_frames_required: int, n_total: int) -> str:
    """Why the validator scores this answer 0 outright ("" when it passes; upstream evaluate.py:238)."""
    if not (isinstance(answer, dict) and answer.get("success") is True):
        return "the answer does not have success: true"
    if n_listed < min_frames_required:
        return f"the answer lists {n_listed} frames, fewer than min_frames_required {min_frames_required}"
    if n_total > 0 and n_listed > n_total:
        return f"the answer lists {n_listed} frames, more than the video's {n_total} (n_frames_total)"
    return ""


def _element_score(e: Element, side: dict[str, Any], idx: list[int], kp: dict[int, KeypointScore],
                   kp_mean: float | None, latency_ms: float | None, n_spread: int) -> ElementScore:
    """One element's pillars on the scored frames, its gates, and (n_spread > 0) its spread."""
    raw = _pillar_values(e, side, idx, kp_mean)
    s, g = _combine(e, raw)
    rtf = e.rtf(latency_ms) if latency_ms is not None else None
    passed = rtf is None or rtf <= 1.0
    es = ElementScore(e, {n: PillarScore(n, raw[n], wt, e.targets.get(n), e.baselines.get(n))
                          for n, wt in e.pillars.items()},
                      s, g, g if passed else 0.0, rtf, passed,
                      frames=[side["rows"][i] for i in idx] if side["rows"] else [],
                      detections=[side["dets"][i] for i in idx] if side["dets"] else [],
                      smoothness_groups=side["smooth"][1],
                      keypoint_frames=kp if any((e.category, p) in KEYPOINT_PILLARS for p in e.pillars) else {})
    if side["dets"]:
        es.detection_summary = {k: v for k, v in detection_metrics(es.detections).items()
                                if k in ("per_class_ap", "tp", "fp", "n_ref")}
    if n_spread:
        es.spread = _spread(e, side, n_spread, kp_mean, passed)
    return es


# --- the evaluation -----------------------------------------------------------------------------

def _gate_reason(answer: Any, chosen: list[Element], n_listed: int, min_frames_required: int, n_total: int,
                 needs_kp: bool) -> str:
    """Why the answer scores 0 for every element ("" when it passes): the answer gate, or an answer
    on which the validator's own parser raises (it then writes no score)."""
    reason = answer_gate(answer, n_listed, min_frames_required, n_total)
    if not reason:
        raised = next((r for r in (validator_raises(answer, e.objects, needs_kp) for e in chosen) if r), "")
        reason = f"the validator raises on this answer and writes no score: {raised}" if raised else ""
    return reason


def _sides_and_keypoints(answer: Any, video: str | os.PathLike, chosen: list[Element], refs: dict[str, Any],
                         needs_kp: bool, template: np.ndarray | None, threads: int
                         ) -> tuple[dict[str, dict[str, Any]], dict[int, KeypointScore]]:
    """Each element's object side (boxes matched against its reference frames) on a second thread,
    while this one scores the keypoints of every answered frame (read the same whatever the
    element's objects)."""
    answered = {e.id: read_frames(answer, e.objects) for e in chosen}

    def object_side() -> dict[str, dict[str, Any]]:
        return {e.id: _object_side(e, answered[e.id], refs[e.id]) for e in chosen}

    kp: dict[int, KeypointScore] = {}
    with ThreadPoolExecutor(max_workers=1) as side_pool, _opencv_threads(1 if threads > 1 else None):
        side_future = side_pool.submit(object_side)
        if needs_kp:
            kp_in = {fid: fr.keypoints for fid, fr in read_frames(answer, None).items()}
            kp, _, _, _ = score_keypoint_frames(video, kp_in, template, threads)
        sides = side_future.result()
    return sides, kp


def evaluate(answer: Any, ground_truth: GroundTruth | str | os.PathLike, video: str | os.PathLike,
             manifest: Manifest | str | os.PathLike | None = None, elements: list[str] | None = None, *,
             mode: Mode = "full", seed: int | None = 0, latency_ms: float | None = None,
             min_frames_required: int = MIN_FRAMES_REQUIRED, template: np.ndarray | None = None,
             threads: int = 2, spread: bool = True) -> Evaluation:
    """Score a /predict answer against ground truth and the video, per element, as a validator does.

    Args:
        answer: the /predict answer (dict), as the chute returned it.
        ground_truth: a GroundTruth or the path of its JSON (boxes, optional polygons, keypoints).
        video: the clip the answer is for (frames decoded from 0).
        manifest: a Manifest, a manifest file, "live", or None for the kit's example.
        elements: element ids to score (default: every CLIP element of the manifest; image
            elements, one photo per challenge, are scored by `kit.images.score.evaluate_images`).
        mode: "full" (every reference frame) or "validator" (3 consecutive ones picked with seed).
        latency_ms: the p95 latency of the miner's calls, for the RTF gate (None: gate skipped).
        min_frames_required: the answer gate's minimum frame count (the challenge meta's).
    Returns:
        An Evaluation: `final`, `elements[id]` (pillars, score, gated, final), `breakdown`.
    Raises:
        KitError: unreadable inputs, unknown element ids (with a did-you-mean), a pillar the
            validator cannot score for that element.

    >>> ev = evaluate(answer, "clip.json", "clip.mp4", elements=["PitchCalib_v1@1.0"])  # doctest: +SKIP
    >>> ev.elements["PitchCalib_v1@1.0"].pillars["iou"].raw                            # doctest: +SKIP
    0.912
    """
    if mode not in MODES:
        raise KitError(f"mode {mode!r}: choose one of {', '.join(MODES)} (full: every ground-truth frame; "
                       "validator: 3 consecutive ones)")
    man = load_manifest(manifest)
    chosen = clip_elements(man, elements)
    check_elements(chosen)
    gt = ground_truth if isinstance(ground_truth, GroundTruth) else load_ground_truth(ground_truth)
    with VideoReader(video) as reader:
        info = reader.info()
    n_total, w, h = info.n_frames, info.width, info.height
    n_listed = frame_count(answer)
    needs_kp = any((e.category, p) in KEYPOINT_PILLARS for e in chosen for p in e.pillars)
    reason = _gate_reason(answer, chosen, n_listed, min_frames_required, n_total, needs_kp)
    gt_ids = sorted(gt.by_frame())
    scored = gt_ids if mode == "full" else _pick_window(gt_ids, seed)
    ev = Evaluation(man, {}, 0.0, mode, seed if mode == "validator" else None, not reason, reason, n_total,
                    n_listed, scored, latency_ms, w, h)
    if reason:
        ev.elements = {e.id: _zero_element(e) for e in chosen}
        return ev

    refs = {e.id: reference_frames(gt, e.objects, gt_ids, n_total, (w, h)) for e in chosen}
    sides, kp = _sides_and_keypoints(answer, video, chosen, refs, needs_kp, template, threads)
    kp_mean = float(sum(k.score for k in kp.values()) / len(kp)) if kp else (0.0 if needs_kp else None)

    position = {fid: i for i, fid in enumerate(gt_ids)}
    idx = [position[f] for f in scored]
    for e in chosen:
        ev.elements[e.id] = _element_score(e, sides[e.id], idx, kp, kp_mean, latency_ms,
                                           len(gt_ids) if spread else 0)
    ev.final = float(sum(es.final for es in ev.elements.values()) / len(ev.elements)) if ev.elements else 0.0
    return ev


# --- text ---------------------------------------------------------------------------------------

def format_breakdown(ev: Evaluation) -> str:
    """The evaluation as a person reads it: per element, pillars with weights and contributions,
    the gates in numbers, then the overall final."""
    lines = [f"manifest: {ev.manifest.describe()}"]
    if not ev.gate_passed:
        lines.append(f"ANSWER GATE FAILED: {ev.gate_reason}; every element scores 0")
    for eid, es in ev.elements.items():
        e = es.element
        lines.append(f"element {eid} ({e.category})")
        lines.append(f"  {'pillar':<15}{'raw':>8}{'weight':>8}{'contrib':>9}{'target':>8}{'baseline':>9}")
        for n, p in es.pillars.items():
            t = "-" if p.target is None else f"{p.target:.2f}"
            b = "-" if p.baseline is None else f"{p.baseline:.2f}"
            lines.append(f"  {n:<15}{p.raw:>8.4f}{p.weight:>8.2f}{p.contribution:>9.4f}{t:>8}{b:>9}")
        lines.append(f"  S = {es.score:.4f}; gated = {e.beta:g} x max(max(S - {e.baseline_theta:g}, 0), "
                     f"{e.delta_floor:g}) = {es.gated:.4f}")
        if es.rtf is not None:
            lines.append(f"  latency: p95 {ev.latency_ms:.0f} ms x {e.service_rate_fps} fps -> rtf {es.rtf:.3f} "
                         f"({'pass' if es.latency_pass else 'FAIL: rtf > 1 scores 0'})")
        lines.append(f"  final {es.final:.4f}")
        zr = es.zero_reasons()
        if zr:
            total = len(es.keypoint_frames)
            lines.append("  keypoint frames zeroed by rule: " + ", ".join(f"{r} {n} ({n / total:.0%})"
                                                                        for r, n in zr.most_common()))
        if es.spread:
            s = es.spread.final
            lines.append(f"  validator picks (3 frames) over {es.spread.n_windows} windows: final min {s['min']:.4f}, "
                         f"median {s['median']:.4f}, max {s['max']:.4f}")
    where = ("every ground-truth frame" if ev.mode == "full"
             else f"ground-truth frames {ev.scored_frames} (seed {ev.seed})")
    lines.append(f"mode {ev.mode}: object pillars on {where}; smoothness and keypoints on every answered frame")
    lines.append(f"final (mean over {len(ev.elements)} element(s)): {ev.final:.4f}")
    return "\n".join(lines)
