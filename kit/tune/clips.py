"""Football (clip) elements: the models run once per frame, the miner's logic re-runs per setting.

Usage: `obj = ClipObjective(miner, element, [("a.mp4", "a.json"), ...])`; `obj.finals({"det_conf":
0.3, "det_iou": 0.55, "ball_conf": 0.2})` -> each clip's final score of the element, exactly as
`tvkit predict` + `tvkit evaluate` (full mode) give at that setting.

Why replay and not a filter: the football miner (chute_template/bundle/miner.py) feeds its
detections to a tracker that reports a track only after `min_hits` detections, carries it
through gaps and votes teams along it, so a threshold changes more than a tail. What does not
change with the thresholds is what costs: the detector's raw output per frame (its ONNX run) and
the pitch keypoints (`Miner.keypoints`, which reads only the frame and the pitch settings). The
first pass records both per frame; every setting then re-runs `predict_batch` on the decoded
frames with those two replayed in call order, so the tracker, team votes and box output are the
miner's own code at the new setting. `tests/test_tune.py` checks a replay against a fresh miner.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import KitError
from ..contract import answer_ok, frame_dict, load_ground_truth
from ..manifest import Element

__all__ = ["ClipObjective", "ClipPass", "clip_passes", "clip_space", "clip_knobs", "find_clips", "tune_clips",
           "CLIP_KNOBS", "BALL_MODEL_KNOBS"]

#: The football miner's knobs a sweep changes, and their grids: the detector's two, and the ball's
#: bar (`ball_thr` of the ball model's heat when the bundle has ball.onnx, else `ball_conf` of the
#: detector's ball class; `clip_knobs`).
CLIP_KNOBS = {"det_conf": [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5], "det_iou": [0.45, 0.55, 0.65, 0.75],
              "ball_conf": [0.05, 0.1, 0.15, 0.2, 0.3, 0.4]}
BALL_MODEL_KNOBS = {"ball_thr": [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]}
#: Decoded frames kept in memory at most (a 1280 x 720 frame is 2.8 MB).
MAX_FRAMES = 3000


class _Replay:
    """Records a callable's results in call order on the first pass, replays them after."""

    def __init__(self, fn: Any):
        self.fn, self.tape, self.pos, self.recording = fn, [], 0, True

    def rewind(self, recording: bool = False) -> None:
        self.pos, self.recording = 0, recording
        if recording:
            self.tape = []

    def __call__(self, *args: Any) -> Any:
        if self.recording:
            self.tape.append(self.fn(*args))
            return self.tape[-1]
        if self.pos >= len(self.tape):
            raise KitError("replay ran past its recording: the miner called its model more often than on the "
                           "first pass (a knob outside the sweep's changed how it runs)")
        self.pos += 1
        return self.tape[self.pos - 1]


def find_clips(folder: str | Path) -> list[tuple[Path, Path]]:
    """(video, truth) pairs of a folder: `<name>.mp4` beside `<name>.json`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KitError(f"{folder}: no such folder of clips (`tvkit synth --clips 6 --out DIR` makes some)")
    pairs = [(v, v.with_suffix(".json")) for v in sorted(folder.glob("*.mp4")) if v.with_suffix(".json").is_file()]
    if not pairs:
        raise KitError(f"{folder}: no <name>.mp4 with its <name>.json ground truth")
    return pairs


class ClipObjective:
    """The element's exact score over labelled clips for any football miner setting (module doc)."""

    def __init__(self, miner: Any, element: Element, clips: list[tuple[Path, Path]], manifest: Any = None,
                 tapes: list[tuple[list, list, float]] | None = None):
        from ..datasets import iter_frames

        self.knobs = clip_knobs(miner)
        missing = [k for k in self.knobs if k not in getattr(miner, "cfg", {})]
        if missing or not hasattr(miner, "detector") or not hasattr(miner, "keypoints"):
            raise KitError(f"the bundle's miner has no {missing or 'detector/keypoints'}: clip tuning needs the kit's "
                           "football miner (chute_template/bundle/miner.py)")
        self.miner, self.element, self.manifest = miner, element, manifest
        self.clips, self.frames, self.truths, self.tapes = list(clips), [], [], []
        total = 0
        for video, truth in self.clips:
            frames = [f for _, f in iter_frames(video)]
            total += len(frames)
            if total > MAX_FRAMES:
                raise KitError(f"the clips hold more than {MAX_FRAMES} frames: tuning keeps them decoded in memory; "
                               "give fewer or shorter clips")
            self.frames.append(frames)
            self.truths.append(load_ground_truth(truth))
        self.replays = _replays(miner)
        t0 = time.perf_counter()
        if tapes is None:
            for i in range(len(self.clips)):
                for r in self.replays:
                    r.rewind(recording=True)
                self._predict(i)
                self.tapes.append(tuple(r.tape for r in self.replays))
            self.model_seconds = time.perf_counter() - t0
        else:   # recorded elsewhere (ClipPass, in Ray tasks): (its models' tapes, seconds) per clip
            if len(tapes) != len(self.clips):
                raise KitError(f"{len(tapes)} recorded clips for {len(self.clips)} clips (a chunk went missing)")
            self.tapes = [tuple(clip[0]) for clip in tapes]
            self.model_seconds = float(sum(sec for _, sec in tapes))
        self.n = len(self.clips)
        self.memo: dict[tuple, Any] = {}

    def _predict(self, i: int) -> dict[str, Any]:
        results = self.miner.predict_batch(self.frames[i], 0, 32)
        return answer_ok([frame_dict(r) for r in results])

    def answer(self, i: int, setting: dict[str, Any]) -> dict[str, Any]:
        """Clip i's answer at this setting (the miner's own code, its models replayed)."""
        self.miner.cfg.update(setting)
        for r, tape in zip(self.replays, self.tapes[i]):
            r.tape = tape
            r.rewind()
        return self._predict(i)

    def _score(self, i: int, setting: dict[str, Any]) -> Any:
        from ..evaluate import evaluate
        from .search import setting_key

        key = (i, setting_key(setting))
        if key not in self.memo:
            ev = evaluate(self.answer(i, setting), self.truths[i], self.clips[i][0], self.manifest,
                          [self.element.id], spread=False)
            self.memo[key] = ev.elements[self.element.id]
        return self.memo[key]

    def finals(self, setting: dict[str, Any]) -> np.ndarray:
        return np.array([self._score(i, setting).final for i in range(self.n)], dtype=float)

    def proxy(self, setting: dict[str, Any]) -> float:
        """0.6 x mAP50 + 0.4 x precision pooled over the clips' frames (the community's proxy)."""
        from ..evaluate.objects import detection_metrics

        fds = [fd for i in range(self.n) for fd in (self._score(i, setting).detections or [])]
        m = detection_metrics(fds)
        return 0.6 * float(m["map50"]) + 0.4 * float(m["precision"])


class ClipPass:
    """The models once per clip of a chunk (a Ray task): the bundle's miner loaded in the worker, its
    models recorded as ClipObjective records them; (the tapes, seconds) per clip, in the chunk's order."""

    def __init__(self, bundle: str):
        self.bundle = str(bundle)

    def __call__(self, clips: list[tuple[str, str]]) -> list[tuple[tuple, float]]:
        from ..comply import load_miner
        from ..datasets import iter_frames

        miner = load_miner(self.bundle)
        replays = _replays(miner)
        out = []
        for video, _ in clips:
            frames = [f for _, f in iter_frames(Path(video))]
            for r in replays:
                r.rewind(recording=True)
            t0 = time.perf_counter()
            miner.predict_batch(frames, 0, 32)
            out.append((tuple(r.tape for r in replays), time.perf_counter() - t0))
        return out


def _replays(miner: Any) -> list[_Replay]:
    """The miner's costly calls that no knob changes, wrapped to record then replay: the detector's
    raw output, the pitch keypoints and, with ball.onnx, the ball candidates per frame."""
    out = [_Replay(miner.detector), _Replay(miner.keypoints)]
    miner.detector, miner.keypoints = out
    if getattr(miner, "ball", None) is not None:
        out.append(_Replay(miner.ball.candidates))
        miner.ball.candidates = out[-1]
    return out


def clip_knobs(miner: Any) -> dict[str, list[float]]:
    """The knobs a sweep of this miner changes, with their grids (`CLIP_KNOBS`, `BALL_MODEL_KNOBS`)."""
    knobs = {k: v for k, v in CLIP_KNOBS.items() if k != "ball_conf"}
    return {**knobs, **(BALL_MODEL_KNOBS if getattr(miner, "ball", None) is not None
                        else {"ball_conf": CLIP_KNOBS["ball_conf"]})}


def clip_passes(bundle: Path, clips: list[tuple[Path, Path]], workers: int = 1, ray_address: str | None = None,
                log: Any = print) -> list[tuple[tuple, float]] | None:
    """The clips' model pass in `workers` chunks as Ray tasks, or None (in process: ClipObjective records)."""
    from .. import runs_ray

    if not clips or (workers <= 1 and not runs_ray.ray_address(ray_address)):
        return None
    return runs_ray.map_chunks(ClipPass(str(bundle)), [(str(v), str(t)) for v, t in clips], workers, ray_address,
                               log=log or (lambda s: None))


def clip_space(miner: Any) -> Any:
    from .search import Space

    knobs = clip_knobs(miner)
    default = {k: miner.cfg[k] for k in knobs}
    grid = {k: sorted(set(v) | {default[k]}) for k, v in knobs.items()}
    ball = next(k for k in knobs if k.startswith("ball_"))
    return Space({"det_conf": grid["det_conf"], "det_iou": grid["det_iou"]}, {ball: grid[ball]}, default)


def tune_clips(bundle: Path, element: Element, data: Any, holdout: bool, min_clips: int, log: Any = print,
               manifest: Any = None, workers: int = 1, ray_address: str | None = None) -> Any:
    """`tune_bundle` for a football element: clips alternate into tune and held-out halves."""
    from ..comply import load_miner
    from .result import TuneResult
    from .search import check_size, compare, search

    if data is None:
        raise KitError(f"tune {element.id}: give --data, a folder of labelled clips (<name>.mp4 + <name>.json)")
    pairs = find_clips(data)
    tune, held = (pairs[0::2], pairs[1::2]) if holdout else (pairs, [])   # 1st, 3rd, ... / 2nd, 4th, ...
    check_size(len(tune), min_clips, "clips")
    try:
        miner = load_miner(bundle)
    except Exception as e:  # noqa: BLE001 - the miner's own error, whatever it is
        raise KitError(f"{bundle}/miner.py does not load: {type(e).__name__}: {e}") from e
    objective = ClipObjective(miner, element, tune, manifest, clip_passes(bundle, tune, workers, ray_address, log))
    if log:
        log(f"{len(tune)} tune clips through the models once ({objective.model_seconds:.1f} s)")
    hold = ClipObjective(load_miner(bundle), element, held, manifest,
                         clip_passes(bundle, held, workers, ray_address, log)) if held else None
    space = clip_space(miner)
    sweep = search(objective, space)
    figures = compare(objective, hold, sweep, "det_conf", space.joint["det_conf"])
    return TuneResult(element.id, "clip", bundle, str(data), "odd" if holdout else "all", "even" if holdout else None,
                      objective.n, hold.n if hold else 0, sweep, figures["proxy"],
                      figures["tune"], figures.get("holdout", {}), figures["interval"],
                      objective.model_seconds + (hold.model_seconds if hold else 0.0), dict)
