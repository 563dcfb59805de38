"""Training a Detect element's detector: exactly its objects, from a pretrained start, photo augmentation, ONNX.

Usage: `r = train_element(el, "data/fire/data.yaml", preset="cpu")` -> `r.onnx` (then
`r.package("build/fire")` for the bundle); CLI: `tvkit train --element ID --data data.yaml
[--start smartrail-yolov8n | --init PT | --from-scratch] [--start-wheel WHL] --preset smoke|cpu|gpu`.

Decisions:
- **Exactly the element's objects, in its order.** A box's cls_id indexes the element's
  `objects` (the validator reads it so, SCORING.md), so the dataset's names must be those
  objects, by name (`kit.images.labels.name_key`) and in order; any other data.yaml is
  refused with both lists, pointing at `tvkit dataset import --element`, which writes one.
- **From a pretrained start by default** (`kit.images.starts`): the kit obtains and verifies
  `smartrail-yolov8n` itself (cache, `--start-wheel`, or PyPI) and builds the element's
  detector from it by name (`zero_shot`): objects the start knows keep its class channels,
  the others start at ultralytics' low prior, every other layer is the start's (backbone,
  neck, box branch). When no name matches, that is simply the start's backbone, neck and box
  branch with a new class branch. `init=PT` does the same from any ultralytics detector of
  the user's; `from_scratch=True` starts from `yolov8n.yaml`, the default start's architecture
  with random weights (so "from the start" and "from scratch" compare like with like).
- **Photo augmentation and presets** (`kit.train.PHOTO_AUG`, `PHOTO_PRESETS`): the training
  itself is `kit.train.train(aug="photo")`, the same engine the football wing uses. `smoke`
  (1 epoch at 320) proves the pipeline; `cpu` is 12 epochs at 512, export 288 x 512, the
  training scale (measured: one epoch of 731 photos takes 11 min on one core of a 2-core
  machine, so ~2 h 15 min for 12; give `time=` hours to fit the schedule to a budget, as the
  reference fire model did: 6 epochs in 1.1 h; the 288 x 512 export of its weights scored
  0.376 vs 0.370 at 384 x 640 on held-out scenes, p95 77 vs 101 ms); `gpu` is 100 epochs at
  960, export 544 x 960 (an ESTIMATE, not measured: 20-40 min on one H100).
- **The record** (`record.json` in the run folder): element, objects, data (yaml, names,
  images per split), start (name, sha256, licence, what carried over), every training
  argument, metrics, seconds, the ONNX and its sha256, and the bundle when one was made.
- **Bundling** is a separate, optional step (`ElementTraining.package(out)` or the `bundle=`
  callback), so a training run never depends on the packager.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError
from .labels import name_key
from .starts import DEFAULT_START, ZeroShot, obtain_start, sha256_file, zero_shot

#: From scratch: the default start's architecture (ultralytics builds it by name, nothing downloaded).
SCRATCH_ARCH = "yolov8n.yaml"

__all__ = ["train_element", "ElementTraining", "check_element_data", "element_start"]


@dataclass
class ElementTraining:
    """What `train_element` left: the ONNX, the run folder, the record it wrote."""

    element: Any
    onnx: Path
    run_dir: Path
    record: dict[str, Any]
    result: Any = None  # kit.train.TrainResult
    bundle: Path | None = None
    notes: list[str] = field(default_factory=list)

    def package(self, out: str | os.PathLike, **kw: Any) -> Path:
        """Bundle this detector for the element (`kit.bundle.package(out, element=..., model=onnx)`)."""
        from ..bundle import package

        self.bundle = Path(package(out, element=self.element, model=self.onnx, **kw))
        return self.bundle

    def format(self) -> str:
        m = self.record.get("metrics", {})
        mets = "  ".join(f"{k} {v:.4f}" for k, v in m.items() if "mAP" in k)
        start = self.record["start"]
        return (f"{self.record['element']}: {self.record['seconds']:.0f} s  {mets}\n"
                f"  start {start.get('name') or start.get('path')}: {start.get('zero_shot') or 'from scratch'}\n"
                f"  run {self.run_dir}\n  onnx {self.onnx}")


def check_element_data(element: Any, data: str | os.PathLike):
    """The dataset at `data` (a `kit.datasets.YoloDataset`) when its names are the element's objects in order."""
    from ..datasets import read_data_yaml

    objects = list(element.objects or [])
    if not objects:
        raise KitError(f"element {element.id} lists no objects; `tvkit train --element` trains Detect elements "
                       "(clip elements: `tvkit train --task detect|pose|both`)")
    ds = read_data_yaml(data)
    if ds.kpt_shape:
        raise KitError(f"{ds.yaml_path}: a pose dataset (kpt_shape); a Detect element needs a detect dataset")
    names = [ds.names[i] for i in sorted(ds.names)]
    if [name_key(n) for n in names] != [name_key(o) for o in objects]:
        raise KitError(f"{ds.yaml_path}: its names {names} are not {element.id}'s objects {objects} in that order "
                       f"(a box's cls_id indexes the objects). Import the photos onto the element: `tvkit dataset "
                       f"import --element {element.id} --src DIR --out DIR [--map A=B] [--drop NAME]`")
    if not ds.splits.get("train") or not ds.splits.get("val"):
        raise KitError(f"{ds.yaml_path}: needs train and val splits (it has {sorted(ds.splits)}); "
                       "`tvkit dataset import --element` writes both")
    return ds


def element_start(objects: list[str], run_dir: Path, start: str | None = DEFAULT_START,
                  init: str | os.PathLike | None = None, from_scratch: bool = False,
                  start_wheel: str | os.PathLike | None = None) -> tuple[Path | str, dict[str, Any]]:
    """(weights to train from or None for scratch, the start's record) for the element's objects."""
    given = [f for f, v in (("--start", start not in (None, DEFAULT_START) or start_wheel), ("--init", init),
                            ("--from-scratch", from_scratch)) if v]
    if len(given) > 1:
        raise KitError(f"{' and '.join(given)}: give one start: --start NAME [--start-wheel WHL] (default "
                       f"{DEFAULT_START}), --init PT or --from-scratch")
    if from_scratch:  # the default start's architecture with random weights: like for like with the start
        return SCRATCH_ARCH, {"name": None, "from_scratch": True, "arch": SCRATCH_ARCH, "zero_shot": None}
    if init:
        path = Path(init)
        if not path.is_file():
            raise KitError(f"{init}: no such checkpoint (--init takes an ultralytics detector .pt)")
        rec: dict[str, Any] = {"name": None, "path": str(path.resolve()), "sha256": sha256_file(path),
                               "licence": "unknown (the user's own checkpoint)"}
        source: Any = path
    else:
        s = obtain_start(start or DEFAULT_START, wheel=start_wheel)
        rec, source = s.record(), s
    z: ZeroShot = zero_shot(source, objects, run_dir / "start" / "zero-shot.pt")
    rec.update(zero_shot=z.format(), carried=z.carried, fresh=z.fresh, zero_shot_pt=str(z.path),
               zero_shot_sha256=sha256_file(z.path))
    return z.path, rec


def train_element(element: Any, data: str | os.PathLike, preset: str = "smoke", *, start: str | None = DEFAULT_START,
                  init: str | os.PathLike | None = None, from_scratch: bool = False,
                  start_wheel: str | os.PathLike | None = None, project: str | os.PathLike = "runs/train",
                  name: str | None = None, bundle: Callable[[Path, Any], Any] | None = None,
                  **train_kw: Any) -> ElementTraining:
    """Train a detector of exactly `element`'s objects on `data` and export it to ONNX (module docstring).

    Args:
        element: a Detect element (`load_manifest(M).element(ID)`).
        data: a data.yaml whose names are the element's objects in order (`tvkit dataset import --element`).
        preset: "smoke", "cpu" or "gpu" (`kit.train.PHOTO_PRESETS`).
        start / init / from_scratch / start_wheel: where the weights start (one of them; default the
            kit's `smartrail-yolov8n`, `start_wheel` a wheel of it downloaded by hand).
        bundle: optional `bundle(onnx, element) -> path`, called after the export (e.g.
            `lambda onnx, el: kit.bundle.package("build/x", element=el, model=onnx)`).
        train_kw: passed to `kit.train.train` (epochs, imgsz, batch, device, export_hw, ...).
    Returns:
        ElementTraining: `.onnx`, `.run_dir`, `.record` (also `record.json` in the run folder).
    Raises:
        KitError: a dataset that is not the element's objects, an unknown or unverifiable start.

    >>> r = train_element(el, "data/fire/data.yaml", "cpu")  # doctest: +SKIP
    >>> r.onnx.name, r.record["start"]["carried"]  # doctest: +SKIP
    ('detect.onnx', {})
    """
    from ..contract import write_json_atomic
    from ..train import train

    ds = check_element_data(element, data)
    objects = list(element.objects)
    name = name or f"{_slug(element.id)}-{preset}"
    run_dir = Path(project).resolve() / name
    started = time.perf_counter()
    weights, start_rec = element_start(objects, run_dir, start, init, from_scratch, start_wheel)
    train_kw.setdefault("export", True)
    if not train_kw["export"]:
        raise KitError("train_element exports ONNX (the miner runs it); leave export on")
    r = train("detect", ds.yaml_path, preset, project=run_dir.parent, name=name, weights=weights, aug="photo",
              **train_kw)
    record = {"element": element.id, "objects": objects, "preset": preset,
              "data": {"yaml": str(ds.yaml_path), "names": [ds.names[i] for i in sorted(ds.names)],
                       "images": _images_per_split(ds)},
              "start": start_rec, "args": r.params, "metrics": r.metrics,
              "seconds": round(time.perf_counter() - started, 1), "train_seconds": round(r.seconds, 1),
              "onnx": str(r.onnx), "onnx_sha256": sha256_file(r.onnx), "bundle": None}
    out = ElementTraining(element, Path(r.onnx), Path(r.run_dir), record, r)
    if bundle is not None:
        made = bundle(out.onnx, element)
        out.bundle = Path(made) if made else None
        record["bundle"] = str(made) if made else None
    write_json_atomic(out.run_dir / "record.json", record, indent=2)
    return out


def _images_per_split(ds) -> dict[str, int]:
    from .labels import IMAGE_SUFFIXES

    return {s: sum(1 for d in dirs for p in Path(d).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            for s, dirs in ds.splits.items()}


def _slug(element_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in element_id).strip("-")
