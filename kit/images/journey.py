"""The notebooks' steps for an image (Detect) element: one call per cell, the fallbacks decided here once.

Usage: `el = resolve_element(element, manifest)`; then per notebook `r = prepare_data(el, out_dir)`
(01), `t = train_detector(el, r.data_yaml, "smoke", out_dir)` and `bundle, source =
hand_on_bundle(el, t.package(out_dir / "bundle"), out_dir)` (02), `ev = score_images(bundle, el,
truth, out_dir)` and `tuned = tune_thresholds(bundle, el, truth, out_dir)` (03), `dry_run(bundle, el,
images)` / `comply_images(...)` (04), `size_check(bundle, el)` (05).

Decisions (issues 22 and 26: one journey for any element, thin notebooks):
- **One set of notebooks.** Notebooks 00-05 take `element` and `manifest`; `kit.journey` (one
  object per notebook, one method per cell) calls `resolve_element` once and these steps for an
  image element, the football ones for a clip element. `element = ""` is today's football journey
  (`DEFAULT_CLIP_ELEMENT` of the kit's example manifest), so `make run` and nbval are unchanged.
- **The fallbacks live here, not in the notebooks**: no data given -> the shared labelled set
  for the element's objects (`kit.images.sources.default_source`); no bundle given -> the
  committed reference model for the element (`bundle_for`); `hand_on = "auto"` -> the reference
  under the smoke preset, as the clip path does (a 1-epoch detector cannot score).
- **Smoke stays small**: the smoke preset trains on `SMOKE_FRACTION` of the training photos
  (1 epoch at 320), so notebook 02 proves the pipeline in about two minutes on two cores.
- **Everything a later notebook needs goes forward by metric name** (kit.runs): 01 writes
  `detect_data_yaml`, `images` (the held-out test photos) and `truth` (the data.yaml, split
  test); 02 writes `bundle`; 03 writes `breakdown` (kit.images.score's layout: `final`,
  `<id>/final`, `<id>/score`, `<id>/<pillar>`) and `per_class`, which the run summary tables.
- **Pictures by supervision** (`sv.DetectionDataset.from_yolo`, `sv.BoxAnnotator`,
  `sv.LabelAnnotator`) and matplotlib Figures (no pyplot state), so the notebooks only show them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import KitError

#: The element of today's football journey: what `element = ""` means in the notebooks.
DEFAULT_CLIP_ELEMENT = "PlayerDetect_v1@1.0"
#: Share of the training photos the smoke preset uses (one epoch at 320 stays near two minutes on 2 cores).
SMOKE_FRACTION = 0.1
#: What a challenge photo's object usually covers (detect_elements.md: boxes ~1% of a ~1408x768 frame).
CHALLENGE_BOX_AREA = 0.01

__all__ = ["DEFAULT_CLIP_ELEMENT", "resolve_element", "describe_element", "prepare_data", "class_counts_figure",
           "box_size_figure", "gallery", "held_out", "train_detector", "hand_on_bundle", "bundle_for",
           "latency_check", "latency_figure", "score_images", "score_metrics", "dry_run", "comply_images",
           "size_check"]


# --- 00: the element -------------------------------------------------------------------------------

def resolve_element(element: str = "", manifest: str = ""):
    """The notebooks' element: `element` from `manifest` (a file, "live", "" for the kit's example);
    "" is the football journey's `DEFAULT_CLIP_ELEMENT`.

    >>> resolve_element("kit-example/Detect-fire").kind, resolve_element().kind
    ('image', 'clip')
    """
    from ..manifest import load_manifest

    if not element:
        return load_manifest(None).element(DEFAULT_CLIP_ELEMENT)
    return load_manifest(manifest or None).element(element)  # unknown id: KitError with a did-you-mean


def describe_element(el: Any) -> str:
    """What the element asks for, in lines: kind, objects, pillars and weights, gates, latency and size."""
    kind = "image (one photo per challenge)" if el.kind == "image" else "clip (a video per challenge)"
    pillars = ", ".join(f"{n} {w:g}" for n, w in el.pillars.items()) or "none"
    lines = [f"element        {el.id}", f"kind           {kind}",
             f"objects        {list(el.objects or [])} (a box's cls_id indexes this list)",
             f"pillars        {pillars}",
             f"targets        {dict(el.targets) or '-'}", f"baselines      {dict(el.baselines) or '-'}",
             f"gate           beta {el.beta:g} x max(max(S - {el.baseline_theta:.4f}, 0), {el.delta_floor:g})"]
    if el.latency_p95_ms:
        lines.append(f"latency budget p95 {el.latency_p95_ms} ms per predict_batch call on CPU "
                     "(+10 ms tolerance in the compliance sandbox)")
    if el.max_model_size_mb:
        lines.append(f"size cap       {el.max_model_size_mb:g} MiB for the whole Hugging Face repo")
    return "\n".join(lines)


# --- 01: data --------------------------------------------------------------------------------------

def _source_folder(source: str | os.PathLike) -> Path:
    """A user's export folder as given, or the photos of a `tvkit dataset pull` folder (its `starter/`)."""
    p = Path(source)
    if not p.exists():
        raise KitError(f"source {source}: no such file or folder (an export of labelled photos, or the --out "
                       "folder of `tvkit dataset pull --element ID`)")
    return p / "starter" if (p / "starter").is_dir() and not (p / "data.yaml").is_file() else p


def prepare_data(element: Any, out_dir: str | os.PathLike, source: str = "", seed: int = 0,
                 mapping: dict[str, str] | None = None, drop: list[str] | None = None):
    """Import the element's labelled photos into `out_dir/dataset` (a YOLO set of exactly its objects).

    Args:
        source: an export (YOLO, COCO, VOC, API truth) or a pulled starter pack; "" the shared set
            for the element's objects with its known renames and drops (`default_source`), split as
            the reference model that trained on it was (its test scenes are unseen; `seed` unused).
        mapping / drop: source class -> object, source classes to drop (added to the default's).
    Returns:
        kit.images.importer.ImageImport (`print(r)`: counts before and after, splits by scene).

    >>> r = prepare_data(el, "runs/x")  # doctest: +SKIP
    >>> r.after_total()  # doctest: +SKIP
    {'fire': 384, 'smoke': 533, 'fire extinguisher': 0}
    """
    from .importer import import_images
    from .sources import default_source

    split: dict[str, Any] = {"seed": seed}
    if source:
        src, base_map, base_drop = _source_folder(source), {}, []
    else:  # the shared set; split as the reference model's record says, so its test scenes are unseen
        d = default_source(element)
        src, base_map, base_drop = d.path, d.mapping, d.drop
        split = d.split or split
    return import_images(src, Path(out_dir) / "dataset", list(element.objects or []),
                         mapping={**base_map, **(mapping or {})}, drop=[*base_drop, *(drop or [])], progress=False,
                         **split)


def class_counts_figure(r: Any):
    """Boxes per class in the source (its own names) and in the element's dataset (its objects)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2), layout="constrained")
    after = r.after_total()
    for ax, (title, counts, color) in zip(fig.subplots(1, 2), (
            ("source (its class names)", r.before, "#90a4ae"),
            ("element dataset (its objects, all splits)", after, "#3949ab"))):
        names = list(counts)
        ax.bar(range(len(names)), [counts[n] for n in names], color=color)
        ticks = [f"{n}\n(dropped)" if counts is r.before and r.mapping.get(n, "") is None else n for n in names]
        ax.set_xticks(range(len(names)), ticks, fontsize=8)
        for i, n in enumerate(names):
            ax.text(i, counts[n], str(counts[n]), ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("boxes")
    return fig


def _box_areas(data_yaml: str | os.PathLike) -> dict[str, list[float]]:
    """Per class, each box's area as a share of its photo (YOLO labels are normalised: w x h)."""
    from ..datasets import read_data_yaml

    ds = read_data_yaml(data_yaml)
    out: dict[str, list[float]] = {ds.names[i]: [] for i in sorted(ds.names)}
    for lab in Path(ds.root).glob("labels/*/*.txt"):
        for line in lab.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5 and int(float(parts[0])) in ds.names:
                out[ds.names[int(float(parts[0]))]].append(float(parts[3]) * float(parts[4]))
    return out


def box_size_figure(data_yaml: str | os.PathLike):
    """Histogram of box area / photo area per class (log scale), with what a challenge photo's boxes cover."""
    from matplotlib.figure import Figure

    areas = {k: v for k, v in _box_areas(data_yaml).items() if v}
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.add_subplot()
    bins = np.logspace(-4, 0, 33)
    for name, vals in areas.items():
        ax.hist(vals, bins=bins, histtype="step", lw=1.8, label=f"{name} (median {np.median(vals):.1%})")
    ax.axvline(CHALLENGE_BOX_AREA, color="#e53935", ls="--", label="challenge photos: ~1% of the frame")
    ax.set_xscale("log")
    ax.set_xlabel("box area / photo area")
    ax.set_ylabel("boxes")
    ax.set_title("How much of the photo each box covers")
    ax.legend(fontsize=8)
    return fig


def gallery(data_yaml: str | os.PathLike, split: str = "train", n: int = 6, seed: int = 0,
            tile_width: int = 400) -> np.ndarray:
    """A seeded sample of `split`'s photos with their labels drawn by supervision (BGR grid)."""
    import supervision as sv

    from ..datasets import read_data_yaml
    from ..viz import tile

    ds = read_data_yaml(data_yaml)
    root = Path(ds.root)
    sub = sv.DetectionDataset.from_yolo(str(root / "images" / split), str(root / "labels" / split), str(ds.yaml_path))
    if not len(sub):
        raise KitError(f"{ds.yaml_path}: split {split!r} has no photos")
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(sub), size=min(n, len(sub)), replace=False).tolist())
    tiles, titles = [], []
    for i in pick:
        path, img, dets = sub[i]
        scale = max(1, round(img.shape[1] / tile_width))
        labels = [sub.classes[c] for c in dets.class_id]
        img = sv.BoxAnnotator(thickness=2 * scale).annotate(img.copy(), dets)
        img = sv.LabelAnnotator(text_scale=0.5 * scale, text_thickness=scale).annotate(img, dets, labels=labels)
        tiles.append(img)
        titles.append(f"{Path(path).name.split('.rf.')[0][:40]}  ({len(dets)} boxes)")
    return tile(tiles, cols=3, tile_width=tile_width, titles=titles)


def held_out(r: Any, split: str = "test") -> dict[str, str]:
    """What later notebooks score on: `images` (the split's photos) and `truth` (the data.yaml)."""
    folder = Path(r.data_yaml).parent / "images" / split
    if not folder.is_dir():
        raise KitError(f"{r.data_yaml}: no {split} split to hold out (import with split='group')")
    return {"images": str(folder), "truth": str(r.data_yaml)}


# --- 02: train, package, hand on, latency ----------------------------------------------------------

def train_detector(element: Any, data_yaml: str | os.PathLike, preset: str, out_dir: str | os.PathLike,
                   epochs: int = 0, imgsz: int = 0, device: str = "cpu", **kw: Any):
    """`kit.images.train.train_element` into `out_dir/train`; the smoke preset on `SMOKE_FRACTION` of the photos.

    >>> t = train_detector(el, "data.yaml", "smoke", "runs/x")  # doctest: +SKIP
    >>> t.onnx.name  # doctest: +SKIP
    'best.onnx'
    """
    from .train import train_element

    if not data_yaml:  # notebook 02 on its own: import the element's default photos first
        data_yaml = prepare_data(element, out_dir).data_yaml
    if preset == "smoke":
        kw.setdefault("fraction", SMOKE_FRACTION)
    return train_element(element, data_yaml, preset, project=Path(out_dir) / "train", epochs=epochs or None,
                         imgsz=imgsz or None, device=device, **kw)


def bundle_for(bundle: str | os.PathLike | None, element: Any, out_dir: str | os.PathLike,
               name: str = "reference_bundle") -> Path:
    """`bundle` when given, else the committed reference model for the element packaged in `out_dir/name`."""
    if bundle:
        if not (Path(bundle) / "miner.py").is_file():
            raise KitError(f"bundle {bundle}: no miner.py there (`tvkit package --element ID --out DIR` writes one)")
        return Path(bundle)
    from ..bundle import package

    return Path(package(Path(out_dir) / name, element=element))


def hand_on_bundle(element: Any, trained_bundle: str | os.PathLike, out_dir: str | os.PathLike,
                   hand_on: str = "auto", preset: str = "smoke") -> tuple[Path, str]:
    """(the bundle later notebooks get, "trained" or "reference"): with "auto", the reference under smoke."""
    if hand_on not in ("auto", "trained", "reference"):
        raise KitError(f"hand_on = {hand_on!r}: choose 'auto', 'trained' or 'reference'")
    if hand_on == "reference" or (hand_on == "auto" and preset == "smoke"):
        return bundle_for(None, element, out_dir), "reference"
    return Path(trained_bundle), "trained"


def latency_check(bundle: str | os.PathLike, element: Any, images: str | os.PathLike = "", n: int = 8):
    """The bundle's miner on the first `n` photos of `images` ("" the element's test photos), one
    predict_batch call each, as the chute calls it."""
    from .predict import element_images, find_images, predict_images

    photos = find_images(images) if images else element_images(element)
    return predict_images(bundle, photos[:max(1, n)], element=element.id)


def latency_figure(pred: Any, element: Any):
    """Per-photo predict_batch time against the element's p95 budget (and the sandbox's +10 ms)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 2.8), layout="constrained")
    ax = fig.add_subplot()
    ms = list(pred.latency_ms.values())
    ax.bar(range(len(ms)), ms, color="#00897b")
    budget = float(element.latency_p95_ms or 0)
    if budget:
        ax.axhline(budget, color="#e53935", ls="--", label=f"budget p95 {budget:g} ms")
        ax.axhline(budget + 10, color="#e53935", ls=":", label="+10 ms sandbox tolerance")
    ax.axhline(pred.p95_ms, color="#37474f", label=f"p95 here {pred.p95_ms:.0f} ms")
    ax.set_xlabel("photo")
    ax.set_ylabel("ms per call")
    ax.set_title(f"{element.id}: one predict_batch call per photo", fontsize=10)
    ax.legend(fontsize=8)
    return fig


# --- 03: score ------------------------------------------------------------------------------------

def score_images(bundle: str | os.PathLike, element: Any, truth: str | os.PathLike, out_dir: str | os.PathLike,
                 images: str | os.PathLike = "", split: str = "test", latency_ms: float | None = None):
    """Predict the held-out photos with the bundle's miner and score them exactly (kit.images.score).

    Args:
        bundle: the bundle to score ("" the committed reference model for the element).
        truth: a YOLO data.yaml (01 writes one; `split` picks the photos), an API truth JSON or a
            folder of them; "" the default photos' held-out split (imported into `out_dir`).
        images: the photos (for API truth; with a data.yaml, keeps only those names); "" the split's own.
        latency_ms: a p95 for the RTF gate (None: no latency gate; 02 and 04 measure latency).
    Returns:
        ImageEvaluation; the answers are written to `out_dir/answers.json`.

    >>> ev = score_images("bundle", el, "dataset/data.yaml", "runs/x")  # doctest: +SKIP
    >>> sorted(ev.breakdown)[:2]  # doctest: +SKIP
    ['final', 'kit-example/Detect-fire/false_positive']
    """
    import warnings

    from .predict import predict_images
    from .score import evaluate_images, load_truth

    if not truth:  # notebook 03 on its own: the held-out split of the element's default photos
        truth, images = prepare_data(element, out_dir).data_yaml, ""
    bundle = bundle_for(bundle, element, out_dir)
    notes: list[str] = []
    truths, paths = load_truth(truth, images or None, split, element, notes)
    if not truths:
        raise KitError(f"{truth}: no {split} photos to score")
    pred = predict_images(bundle, [paths[n] for n in truths], element=element.id)
    pred.write(Path(out_dir) / "answers.json")
    with warnings.catch_warnings():  # the same remarks land in ev.notes, printed with the evaluation
        warnings.simplefilter("ignore")
        ev = evaluate_images(pred.answers, truths, paths, element, latency_ms)
    ev.notes[:0] = notes
    return ev


def score_metrics(ev: Any) -> dict[str, Any]:
    """What notebook 03 records for an image element: the breakdown the run tables, per class, counts."""
    d = ev.to_dict(rows=False)
    return {"breakdown": ev.breakdown, "per_class": ev.per_class, "elements": d["elements"],
            "n_images": d["n_images"], "n_scored": d["n_scored"], "n_failed": d["n_failed"],
            "gate_passed": d["gate"]["passed"], "notes": d["notes"]}


def tune_thresholds(bundle: str | os.PathLike, element: Any, data: str | os.PathLike, out_dir: str | os.PathLike,
                    write: bool = True, min_images: int = 30):
    """The bundle's thresholds swept by the exact score (kit.tune): chosen on `data`'s val split,
    reported on its test split; written into the bundle's miner.json when `write` and the val
    split decides. `data` "" is the element's default photos (imported into `out_dir`)."""
    from ..tune import tune_bundle

    if not data:
        data = prepare_data(element, out_dir).data_yaml
    result = tune_bundle(bundle_for(bundle, element, out_dir), element, data, min_images=min_images, log=None)
    if write and result.decided:
        result.write()
    result.figure().savefig(Path(out_dir) / "tune.png", dpi=100)
    return result


# --- 04: dry run and compliance --------------------------------------------------------------------

def dry_run(bundle: str | os.PathLike, element: Any, images: str | os.PathLike = "", max_images: int = 3):
    """`kit.chute.imagerun.dry_run_images` on the held-out photos (default: the element's test photos)."""
    from ..chute.imagerun import dry_run_images

    return dry_run_images(bundle, element, images=images or None, max_images=max_images)


def comply_images(bundle: str | os.PathLike, element: Any, images: str | os.PathLike = ""):
    """The compliance loop with the element's photos as image challenges (`tvkit comply --images`)."""
    from ..comply import comply

    return comply(bundle, element=element, clips=images or None)


# --- 05: deploy -----------------------------------------------------------------------------------

def size_check(bundle: str | os.PathLike | None, element: Any) -> str:
    """The bundle's size against the element's cap on the whole repo, in one line."""
    from ..bundle import bundle_bytes

    if not bundle:
        return "no bundle given: the push packages the reference model, checked against the cap then"
    if element is None:
        return f"bundle {bundle}: {bundle_bytes(Path(bundle)) / 2**20:.1f} MiB (no element chosen: no cap to check)"
    mb = bundle_bytes(Path(bundle)) / 2**20
    cap = element.max_model_size_mb
    if not cap:
        return f"bundle {bundle}: {mb:.1f} MiB ({element.id} sets no size cap)"
    verdict = "fits" if mb <= cap else "TOO BIG: the validator refuses the repo"
    return f"bundle {bundle}: {mb:.1f} MiB of {element.id}'s {cap:g} MiB cap ({verdict})"
