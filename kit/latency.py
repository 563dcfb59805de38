"""Latency of a miner bundle, measured the way the subnet's compliance loop measures it, judged against the element.

Usage: `r = measure("build/bundle", element="PlayerDetect_v1@1.0", frames=30, per_frame=20)`;
`print(format_report(r))`; `r.p95_ok`, `r.limit_ms` (the element's latency_p95_ms + 10 ms)

The budget comes from the element, never from a constant here: the compliance loop allows a
whole `predict_batch` call the element's `latency_p95_ms` plus `CHECKER_LATENCY_TOLERANCE_MS`
(10 ms), and falls back to `CHECKER_LATENCY_P95_MS` (100 ms) for an element without a budget
(upstream compliance.py:908-945, settings.py:458-459; `kit.comply.core.element_limits`,
`LATENCY_TOLERANCE_MS`). `measure(element=...)` takes an element id (of `manifest`), a
`kit.manifest.Element` or a budget in ms; none means the football journey's element,
`kit.images.journey.DEFAULT_CLIP_ELEMENT` of the kit's example manifest. The verdict compares
numpy's interpolated p95 with the limit: never below the loop's own p95 (the sorted value at
index int(0.95 (n-1)), `kit.comply.p95`), so an OK here is an OK there on the same times.

This module pins the process to two CPU cores (`os.sched_setaffinity`), gives torch and
onnxruntime two threads, and times on 960 x 540 synthetic broadcast frames:

- **per frame**: `predict_batch([frame], i, 32)` one frame at a time, in clip order (so the
  tracker and team model do their real per-frame work); p50, p95 and max in ms;
- **whole clip**: the `/predict` path of `kit.bundle.predict_video` over an mp4 of `frames`
  frames (750 like a challenge) in batches of 64: decode, predict, answer; seconds;
- **baseline**: the same clip through a naive miner like the subnet's example: two separate
  ultralytics models (detector and pose) called on every batch with ultralytics' own
  pre/post-processing (torch, imgsz 640); seconds, and our time as a ratio of it.

The baseline uses the weights given (a detect and a pose `.pt`), else the same architectures
built from `.yaml` (random weights: the arithmetic, and so the time, is that of a trained
model of that size; NMS has fewer boxes to sort, which favours the baseline slightly).
Photos of a Detect element are timed by `kit.images.journey.latency_check` (one photo per call).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import KitError


@dataclass(frozen=True)
class Budget:
    """What a call may take: the element's p95 budget plus the compliance sandbox's tolerance."""

    element: str | None  # the element id (None: a budget given as a number)
    p95_ms: float  # the element's latency_p95_ms (100, upstream's fallback, when it has none)
    tolerance_ms: float  # CHECKER_LATENCY_TOLERANCE_MS

    @property
    def limit_ms(self) -> float:
        return self.p95_ms + self.tolerance_ms

    def describe(self) -> str:
        whose = f"{self.element}'s latency_p95_ms" if self.element else "the budget"
        return f"{self.limit_ms:g} ms = {whose} {self.p95_ms:g} + {self.tolerance_ms:g} ms tolerance"


def budget_of(element: Any = None, manifest: Any = None) -> Budget:
    """The latency budget of `element`: an id (looked up in `manifest`, "" / None the kit's example), a
    `kit.manifest.Element`, or a p95 budget in ms; None: `kit.images.journey.DEFAULT_CLIP_ELEMENT`.

    >>> budget_of().describe()   # the example manifest gives PlayerDetect_v1@1.0 200 ms
    "210 ms = PlayerDetect_v1@1.0's latency_p95_ms 200 + 10 ms tolerance"
    >>> budget_of(150).limit_ms
    160.0
    """
    from .comply.core import LATENCY_TOLERANCE_MS, element_limits

    if isinstance(element, bool) or (isinstance(element, (int, float)) and element <= 0):
        raise KitError(f"latency budget {element!r}: give the element (id or Element) or its p95 budget in ms (> 0)")
    if isinstance(element, (int, float)):
        return Budget(None, float(element), LATENCY_TOLERANCE_MS)
    if element is None:
        from .images.journey import DEFAULT_CLIP_ELEMENT

        element, manifest = DEFAULT_CLIP_ELEMENT, None
    element_id, _, p95_ms = element_limits(element, manifest)  # unknown id: KitError with a did-you-mean
    return Budget(element_id, p95_ms, LATENCY_TOLERANCE_MS)


@dataclass
class LatencyReport:
    p50_ms: float
    p95_ms: float
    max_ms: float
    mean_ms: float
    per_frame_n: int
    clip_seconds: float
    clip_frames: int
    clip_fps: float
    baseline_seconds: float | None
    ratio_vs_baseline: float | None   # our clip seconds / baseline clip seconds (< 1: faster)
    speedup_vs_baseline: float | None
    cores: list[int]
    threads: int
    width: int
    height: int
    batch_size: int
    p95_ok: bool  # p95_ms <= limit_ms
    bundle: str
    element: str | None = None  # whose budget judged it (None: a budget given in ms)
    budget_ms: float = 0.0  # the element's latency_p95_ms
    limit_ms: float = 0.0  # budget_ms + the sandbox's tolerance: what p95_ms is judged against

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def pinned(cores: int = 2, threads: int = 2):
    """Pin this process to `cores` CPUs and set torch/OpenCV/onnxruntime threads; restore after."""
    have = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    chosen = have[:cores]
    old_env = {k: os.environ.get(k) for k in ("MINER_THREADS", "OMP_NUM_THREADS")}
    torch_threads = None
    try:
        if chosen and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, chosen)
        os.environ["MINER_THREADS"] = str(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        try:
            import torch

            torch_threads = torch.get_num_threads()
            torch.set_num_threads(threads)
        except ImportError:
            pass
        yield chosen
    finally:
        if have and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, have)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if torch_threads is not None:
            import torch

            torch.set_num_threads(torch_threads)


def synthetic_clip(path: Path, n_frames: int, width: int = 960, height: int = 540, seed: int = 7) -> Path:
    """An mp4 of synthetic broadcast frames (kit.synth), for timing on realistic content."""
    from .synth import generate_clip

    video, _ = generate_clip(path, 0, n_frames, seed, width, height)
    return video


def _read_frames(video: Path, n: int) -> list[np.ndarray]:
    from .datasets import VideoReader

    with VideoReader(video) as r:
        return [f for _, f in r.frames(max_frames=n)]


class NaiveBaseline:
    """Two ultralytics models called one after the other on every batch, like the example miner."""

    def __init__(self, detect_weights: str | None = None, pose_weights: str | None = None, imgsz: int = 640):
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ.setdefault("YOLO_AUTOINSTALL", "False")
        from ultralytics import YOLO

        self.det = YOLO(detect_weights or "yolo11n.yaml", task="detect")
        self.pose = YOLO(pose_weights or "yolo11n-pose.yaml", task="pose")
        self.imgsz = imgsz

    def predict_batch(self, batch_images: list[np.ndarray], offset: int, n_keypoints: int) -> list[dict]:
        dets = self.det.predict(batch_images, imgsz=self.imgsz, device="cpu", verbose=False)
        poses = self.pose.predict(batch_images, imgsz=self.imgsz, device="cpu", verbose=False)
        out = []
        for i, (d, p) in enumerate(zip(dets, poses)):
            boxes = [{"x1": int(b[0]), "y1": int(b[1]), "x2": int(b[2]), "y2": int(b[3]), "cls_id": int(c),
                      "conf": float(s)} for b, c, s in zip(d.boxes.xyxy.tolist(), d.boxes.cls.tolist(),
                                                            d.boxes.conf.tolist())]
            kps = [[0, 0]] * n_keypoints
            if p.keypoints is not None and len(p.keypoints.xy):
                kps = [[int(x), int(y)] for x, y in p.keypoints.xy[0].tolist()][:n_keypoints]
                kps += [[0, 0]] * (n_keypoints - len(kps))
            out.append({"frame_id": offset + i, "boxes": boxes, "keypoints": kps})
        return out


def measure(bundle: str | os.PathLike, frames: int = 750, per_frame: int | None = 200, width: int = 960,
            height: int = 540, cores: int = 2, threads: int = 2, batch_size: int = 64, baseline: bool = True,
            baseline_weights: tuple[str | None, str | None] = (None, None), video: str | os.PathLike | None = None,
            progress: bool = False, element: Any = None, manifest: Any = None) -> LatencyReport:
    """Per-frame p50/p95/max, the whole-clip predict path, and the naive baseline, in one run.

    `per_frame` frames (default 200; None: all) are timed one at a time after two warm-up
    calls; the whole clip is `frames` frames (a synthetic mp4 unless `video` is given). The p95
    is judged against `element`'s budget (`budget_of(element, manifest)`: an id, an Element or
    ms; None the football journey's element) plus the sandbox's 10 ms.
    """
    from .bundle import predict_video
    from .comply import load_miner

    budget = budget_of(element, manifest)  # before the work: a wrong element fails fast
    bundle = Path(bundle)
    if frames < 2:
        raise KitError(f"frames must be at least 2, got {frames}")
    with tempfile.TemporaryDirectory(prefix="tvkit-latency-") as tmp, pinned(cores, threads) as chosen:
        clip = Path(video) if video else synthetic_clip(Path(tmp), frames, width, height)
        miner = load_miner(bundle)  # after pinning: MINER_THREADS is read at load
        imgs = _read_frames(clip, per_frame or frames)
        if not imgs:
            raise KitError(f"{clip}: no frames decoded")
        h, w = imgs[0].shape[:2]
        for i in range(2):
            miner.predict_batch([imgs[i % len(imgs)]], i, 32)
        times = []
        for i, img in enumerate(imgs):
            t0 = time.perf_counter()
            miner.predict_batch([img], i, 32)
            times.append((time.perf_counter() - t0) * 1000.0)
        ms = np.array(times)
        pred = predict_video(miner, clip, batch_size=batch_size, progress=progress)
        if not pred.answer["success"]:
            raise KitError(f"{bundle}: the miner failed on the clip: {pred.answer['error']}")
        base_s = None
        if baseline:
            naive = NaiveBaseline(*baseline_weights)
            naive.predict_batch([imgs[0]], 0, 32)  # warm-up (model fuse, first-call allocations)
            base = predict_video(naive, clip, batch_size=batch_size, progress=progress)
            base_s = base.seconds
    ratio = pred.seconds / base_s if base_s else None
    return LatencyReport(
        p50_ms=float(np.percentile(ms, 50)), p95_ms=float(np.percentile(ms, 95)), max_ms=float(ms.max()),
        mean_ms=float(ms.mean()), per_frame_n=len(ms), clip_seconds=pred.seconds, clip_frames=pred.n_frames,
        clip_fps=pred.n_frames / pred.seconds, baseline_seconds=base_s, ratio_vs_baseline=ratio,
        speedup_vs_baseline=(1 / ratio if ratio else None), cores=list(chosen), threads=threads, width=w, height=h,
        batch_size=batch_size, p95_ok=bool(np.percentile(ms, 95) <= budget.limit_ms), bundle=str(bundle),
        element=budget.element, budget_ms=budget.p95_ms, limit_ms=budget.limit_ms)


def format_report(r: LatencyReport) -> str:
    budget = Budget(r.element, r.budget_ms, r.limit_ms - r.budget_ms)
    lines = [f"bundle {r.bundle}: {r.width} x {r.height} frames, cores {r.cores}, {r.threads} threads",
             f"per frame ({r.per_frame_n} frames): p50 {r.p50_ms:.1f} ms  p95 {r.p95_ms:.1f} ms  max {r.max_ms:.1f} ms"
             f"  ({'OK' if r.p95_ok else 'OVER'} the p95 limit {budget.describe()})",
             f"whole clip ({r.clip_frames} frames, batches of {r.batch_size}): {r.clip_seconds:.1f} s "
             f"({r.clip_fps:.1f} frames/s)"]
    if r.baseline_seconds is not None:
        lines.append(f"naive baseline (two ultralytics models per batch): {r.baseline_seconds:.1f} s; ours is "
                     f"{r.ratio_vs_baseline:.2f}x its time ({r.speedup_vs_baseline:.2f}x faster)")
    return "\n".join(lines)
