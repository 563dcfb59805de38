"""Detect elements: the model runs once per photo, every setting after that is a filter.

Usage: `obj = ImageObjective(miner, element, truths, images)`; `obj.finals({"conf": 0.3,
"nms_iou": 0.5, "max_det": 100})` -> each counted photo's final score, exactly as
`predict_images` + `evaluate_images` would give at that setting.

Why a filter is exact (the bundle's miner, chute_template/detect/miner.py, `candidates`,
`select_indices`, `boxes`): the miner keeps the candidates at or above their class's threshold,
runs greedy NMS per class in descending score, sorts what is kept by score and cuts at max_det.
Greedy NMS decides a box from the higher-scored boxes only, so raising a class's threshold
removes a tail and leaves every decision above it unchanged; sorting and cutting keep that
order. Hence, per NMS IoU, the answer at any thresholds and max_det is the floor run's kept list
(lowest threshold, no cut) filtered by score and cut: computed once per photo, then a numpy mask
per setting. The one case where this breaks (more candidates than the miner's `pre_nms_topk`
at the floor) runs the miner's own `select_indices` per setting instead. `tests/test_tune.py`
checks the filter against `select_indices` on real photos.

Each distinct answer of a photo is scored once (memo keyed by the indices it keeps) by
`kit.images.score.score_image`, the same function `tvkit evaluate` uses.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import KitError
from ..contract import answer_ok
from ..evaluate.objects import detection_metrics
from ..images.labels import Obj
from ..images.predict import IMAGE_FRAME_ID, N_KEYPOINTS, decode
from ..images.score import UNSCORED, score_image
from ..manifest import Element

__all__ = ["ImageObjective", "image_space", "miner_setting", "photo_pass", "PhotoPass", "image_passes",
           "CONF_GRID", "NMS_GRID", "MAX_DET_GRID"]

#: Score thresholds tried (0.05 steps from 0.05 to 0.80; the floor run keeps everything above 0.05).
CONF_GRID = [round(0.05 * i, 2) for i in range(1, 17)]
NMS_GRID = [0.3, 0.4, 0.5, 0.6, 0.7]
MAX_DET_GRID = [5, 10, 20, 50, 100]
NO_CUT = 10 ** 9


def miner_setting(cfg: dict[str, Any], objects: list[str]) -> dict[str, Any]:
    """The flat setting a Detect miner.json holds: `conf` (default), `conf:<object>` (None: the
    default), `nms_iou`, `max_det`."""
    conf = cfg.get("conf", 0.25)
    conf = conf if isinstance(conf, dict) else {"default": float(conf)}
    out: dict[str, Any] = {"conf": float(conf.get("default", 0.25))}
    for o in objects:
        out[f"conf:{o}"] = float(conf[o]) if o in conf else None
    out["nms_iou"], out["max_det"] = float(cfg.get("nms_iou", 0.5)), int(cfg.get("max_det", 100))
    return out


def miner_json_values(setting: dict[str, Any], objects: list[str]) -> dict[str, Any]:
    """A flat setting back as miner.json keys (a class at the default threshold is left out)."""
    conf = {"default": setting["conf"]}
    conf.update({o: setting[f"conf:{o}"] for o in objects if setting.get(f"conf:{o}") is not None})
    return {"conf": conf, "nms_iou": setting["nms_iou"], "max_det": int(setting["max_det"])}


def image_space(default: dict[str, Any], objects: list[str], seen: list[str]) -> Any:
    """The Detect sweep: global threshold x NMS IoU x max_det, then the threshold of each class
    the tune photos have (a class without truth there has nothing to decide it)."""
    from .search import Space

    def with_default(grid: list, v: Any) -> list:
        return sorted(set(grid) | {v})

    joint = {"conf": with_default(CONF_GRID, default["conf"]), "nms_iou": with_default(NMS_GRID, default["nms_iou"]),
             "max_det": with_default(MAX_DET_GRID, default["max_det"])}
    each = {f"conf:{o}": [None, *CONF_GRID] for o in objects if o in seen}
    return Space(joint, each, default)


def photo_pass(miner: Any, items: list[tuple[str, str]], floor: float, nms_values: list[float],
               progress: Any = None) -> list[dict[str, Any]]:
    """The model once per photo: (name, path) -> its size, candidates above `floor`, whether it
    overflows `pre_nms_topk`, the kept list per NMS IoU, and the model's seconds."""
    floor_t = np.where(miner.out_cls >= 0, floor, np.inf).astype(np.float32)
    out = []
    for name, path in items:
        img = decode(Path(path))
        t0 = time.perf_counter()
        cand = miner.candidates(img, floor=floor)
        seconds = time.perf_counter() - t0
        kept = {}
        for v in nms_values:
            idx = np.asarray(miner.select_indices(cand, floor_t, v, NO_CUT), dtype=np.int64)
            kept[v] = (idx, cand["scores"][idx], cand["cls"][idx])
        out.append({"name": name, "size": (int(img.shape[1]), int(img.shape[0])), "cand": cand, "kept": kept,
                    "slow": len(cand["scores"]) > int(miner.cfg["pre_nms_topk"]), "seconds": seconds})
        if progress:
            progress(len(out))
    return out


class PhotoPass:
    """`photo_pass` over a chunk of photos with the bundle's miner, loaded in the worker (a Ray task)."""

    def __init__(self, bundle: str, floor: float, nms_values: list[float]):
        self.bundle, self.floor, self.nms_values = str(bundle), float(floor), list(nms_values)

    def __call__(self, items: list[tuple[str, str]]) -> list[dict[str, Any]]:
        from ..comply import load_miner

        return photo_pass(load_miner(self.bundle), items, self.floor, self.nms_values)


def image_passes(bundle: Path, miner: Any, truths: Mapping[str, list[Obj]], images: Mapping[str, Path],
                 workers: int = 1, ray_address: str | None = None, log: Any = print) -> list[dict[str, Any]] | None:
    """The model pass in `workers` chunks as Ray tasks (kit.runs_ray.map_chunks), or None: in process
    (one worker, no address). Same floor and NMS values as ImageObjective's own pass."""
    from .. import runs_ray

    if workers <= 1 and not runs_ray.ray_address(ray_address):
        return None
    items = [(name, str(images[name])) for name, objs in truths.items() if objs]
    nms = sorted(set(NMS_GRID) | {float(miner.cfg["nms_iou"])})
    return runs_ray.map_chunks(PhotoPass(str(bundle), min(CONF_GRID), nms), items, workers, ray_address,
                      log=log or (lambda s: None))


class ImageObjective:
    """The element's exact score over labelled photos for any Detect miner setting (see module doc)."""

    def __init__(self, miner: Any, element: Element, truths: Mapping[str, list[Obj]], images: Mapping[str, Path],
                 nms_values: list[float] | None = None, floor: float | None = None, progress: Any = None,
                 passes: list[dict[str, Any]] | None = None):
        for need in ("candidates", "select_indices", "boxes", "out_cls"):
            if not hasattr(miner, need):
                raise KitError(f"the bundle's miner has no `{need}`: `tvkit tune` needs the kit's Detect miner "
                               "(chute_template/detect/miner.py: candidates, select_indices, boxes); re-package with "
                               "`tvkit package --element ID`")
        self.miner, self.element = miner, element
        self.objects = list(element.objects or [])
        self.floor = float(floor if floor is not None else min(CONF_GRID))
        self.nms_values = sorted(set(nms_values or NMS_GRID) | {float(miner.cfg["nms_iou"])})
        self.names: list[str] = []
        self.truths, self.sizes, self.cands, self.slow = [], [], [], []
        self.kept: dict[float, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {v: [] for v in self.nms_values}
        self.memo: dict[tuple, Any] = {}
        items = [(name, str(images[name])) for name, objs in truths.items() if objs]   # unscored: no truth
        if passes is None:
            passes = photo_pass(miner, items, self.floor, self.nms_values, progress)
        if [p["name"] for p in passes] != [name for name, _ in items]:
            raise KitError("the model pass does not cover the tune photos in their order (a chunk went missing)")
        for p in passes:
            self.names.append(p["name"])
            self.truths.append(list(truths[p["name"]]))
            self.sizes.append(p["size"])
            self.cands.append(p["cand"])
            self.slow.append(p["slow"])
            for v in self.nms_values:
                self.kept[v].append(p["kept"][v])
        self.model_seconds = float(sum(p["seconds"] for p in passes))
        self.n = len(self.names)

    # --- a setting -> each photo's answer ------------------------------------------------------------
    def thresholds(self, setting: dict[str, Any]) -> np.ndarray:
        """Per model class: the score threshold the setting gives it (inf: a class never sent)."""
        out = np.full(len(self.miner.out_cls), np.inf, dtype=np.float32)
        for c, e in enumerate(self.miner.out_cls):
            if e >= 0:
                own = setting.get(f"conf:{self.objects[e]}")
                out[c] = setting["conf"] if own is None else own
        if np.any(out[np.isfinite(out)] < self.floor):
            raise KitError(f"a threshold below the sweep's floor {self.floor}: the cached candidates stop there")
        return out

    def indices(self, i: int, setting: dict[str, Any], t: np.ndarray | None = None) -> np.ndarray:
        """Photo i's answer at this setting, as candidate indices in answer order."""
        t = self.thresholds(setting) if t is None else t
        nms_iou, max_det = float(setting["nms_iou"]), int(setting["max_det"])
        if self.slow[i] or nms_iou not in self.kept:
            return np.asarray(self.miner.select_indices(self.cands[i], t, nms_iou, max_det), dtype=np.int64)
        idx, scores, cls = self.kept[nms_iou][i]
        return idx[scores >= t[cls]][:max_det]

    def answer(self, i: int, sel: np.ndarray) -> dict[str, Any]:
        boxes = [b.model_dump() for b in self.miner.boxes(self.cands[i], sel)]
        return answer_ok([{"frame_id": IMAGE_FRAME_ID, "boxes": boxes, "keypoints": [[0, 0]] * N_KEYPOINTS}])

    def _row(self, i: int, setting: dict[str, Any], t: np.ndarray) -> Any:
        sel = self.indices(i, setting, t)
        key = (i, sel.tobytes())
        row = self.memo.get(key)
        if row is None:
            w, h = self.sizes[i]
            row = self.memo[key] = score_image(self.answer(i, sel), self.truths[i], w, h, self.element,
                                               name=self.names[i])
        return row

    # --- the objective ----------------------------------------------------------------------------------
    def finals(self, setting: dict[str, Any]) -> np.ndarray:
        t = self.thresholds(setting)
        rows = [self._row(i, setting, t) for i in range(self.n)]
        return np.array([r.final for r in rows if r.status != UNSCORED], dtype=float)

    def proxy(self, setting: dict[str, Any]) -> float:
        """The community's proxy: 0.6 x mAP50 + 0.4 x precision, pooled over the photos (not per
        photo, no gates), with the validator's matching."""
        t = self.thresholds(setting)
        fds = [r.detections for r in (self._row(i, setting, t) for i in range(self.n)) if r.detections is not None]
        m = detection_metrics(fds)
        return 0.6 * float(m["map50"]) + 0.4 * float(m["precision"])


def _split_truth(data: Path, split: str, element: Element) -> tuple[dict, dict]:
    from ..images.score import load_truth

    return load_truth(data, split=split, element=element, notes=[])


def tune_images(bundle: Path, element: Element, data: Any, split: str, holdout: str | None, min_images: int,
                log: Any = print, workers: int = 1, ray_address: str | None = None) -> Any:
    """`tune_bundle` for a Detect element (see kit.tune)."""
    from ..comply import load_miner
    from .result import TuneResult
    from .search import check_size, compare, search

    if data is None:
        raise KitError(f"tune {element.id}: give --data, the element's labelled YOLO dataset (data.yaml with a "
                       f"{split!r} split; `tvkit dataset import --element {element.id}` writes one)")
    data = Path(data)
    truths, images = _split_truth(data, split, element)
    check_size(sum(1 for objs in truths.values() if objs), min_images, f"{split} photos")
    held = _split_truth(data, holdout, element) if holdout else None
    try:
        miner = load_miner(bundle)
    except Exception as e:  # noqa: BLE001 - the miner's own error, whatever it is
        raise KitError(f"{bundle}/miner.py does not load: {type(e).__name__}: {e}") from e
    seen = {o.name.strip().lower() for objs in truths.values() for o in objs}
    objective = ImageObjective(miner, element, truths, images,
                               passes=image_passes(bundle, miner, truths, images, workers, ray_address, log))
    if log:
        log(f"{split}: {objective.n} scored photos through the model once ({objective.model_seconds:.1f} s)")
    hold = ImageObjective(miner, element, *held, passes=image_passes(bundle, miner, *held, workers, ray_address,
                                                                      log)) if held else None
    default = miner_setting(miner.cfg, objective.objects)
    space = image_space(default, objective.objects, [o for o in objective.objects if o.strip().lower() in seen])
    sweep = search(objective, space)
    figures = compare(objective, hold, sweep, "conf", space.joint["conf"])
    return TuneResult(element.id, "image", bundle, str(data), split, holdout, objective.n, hold.n if hold else 0,
                      sweep, figures["proxy"], figures["tune"], figures.get("holdout", {}), figures["interval"],
                      objective.model_seconds + (hold.model_seconds if hold else 0.0),
                      lambda s: miner_json_values(s, objective.objects))
