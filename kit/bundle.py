"""The miner bundle: package it, and answer a video through it exactly as the chute would.

`package` copies `chute_template/bundle/` (miner.py, chute_config.yml) and two ONNX models
(the committed reference models by default) into a folder, checks it against the validator's
compliance rules (`kit.comply.gate`: the repo rules, then a load and one frame in the
sandboxed compliance worker) and only then puts the folder in place: a bundle that breaks a
rule is refused with the rule's name, file and line, and an earlier bundle at that path stays
as it was. Nothing with a refused suffix is written (the miner draws its pitch template
itself; a .png would be `unsupported_artifact_suffix`).

For an image ("Detect") element (`Element.kind == "image"`) `package` writes the generic Detect
miner instead (`chute_template/detect/`: miner.py, chute_config.yml), ONE ONNX detector as
`model.onnx` and `miner.json`. The model's class names are read from its ultralytics
metadata (`names`) and matched to the element's objects BY NAME (`kit.images.labels.
name_key`: case, separator and plural do not matter): a model that finds none of the
element's objects is refused (the football detector for `manak0/Detect-fire` was bundled
silently before), one that finds only some is packaged with the missing objects named. The
whole repo as the Hub will hold it (every file pushed, plus the ~1.5 kB `.gitattributes` the
Hub adds; upstream miner_registry.py:812-843 sums `list_repo_tree`) must fit the element's
`max_model_size_mb`; over it, the refusal lists every file and its size. Without `model`,
the committed reference `chute_template/reference/fire/model.onnx` is used when its classes
match the element's objects by name.

`predict_video` is the chute's /predict path without HTTP: the miner is loaded from the
bundle by file path (importlib, as the chute's load step does), the video is decoded with
OpenCV in batches of `batch_size` (64, the validator's meta.batch_size), and the frames come
back in the answer shape of `kit.contract.answer_ok` / `answer_error`. Local evaluation,
the latency check and the chute therefore run one code path.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import KitError
from .comply import load_miner
from .comply.gate import ComplianceError, ensure_compliant
from .comply.rules import DEFAULT_MAX_MODEL_SIZE_MB, HF_GITATTRIBUTES_BYTES

BundleError = ComplianceError   # the name callers catch; it lists each rule, file and line

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = REPO_ROOT / "chute_template" / "bundle"
DETECT_TEMPLATE_DIR = REPO_ROOT / "chute_template" / "detect"
REFERENCE_DIR = REPO_ROOT / "chute_template" / "reference"
IMAGE_REFERENCE_MODEL = REFERENCE_DIR / "fire" / "model.onnx"
MODEL_NAMES = {"detect": "detect.onnx", "pose": "pose.onnx", "ball": "ball.onnx"}
#: The reference ball model (`tvkit ball train`; chute_template/reference/ball/train.json and run.json record it).
BALL_REFERENCE = REFERENCE_DIR / "ball" / "ball.onnx"
IMAGE_MODEL_NAME = "model.onnx"
#: miner.json defaults of the Detect miner that `package` writes (the miner reads them).
DETECT_DEFAULTS = {"conf": {"default": 0.25}, "nms_iou": 0.5, "max_det": 100, "threads": 2}

def package(out: str | os.PathLike, detect_model: str | os.PathLike | None = None,
            pose_model: str | os.PathLike | None = None, template: str | os.PathLike | None = None,
            extra_files: list[str | os.PathLike] | None = None, run_self_test: bool = True,
            max_model_size_mb: float | None = DEFAULT_MAX_MODEL_SIZE_MB, element: Any = None,
            model: str | os.PathLike | None = None, manifest: Any = None,
            ball_model: str | os.PathLike | None = None) -> Path:
    """Write a checked bundle to `out`: miner.py, chute_config.yml, detect/pose/ball.onnx (a clip
    element, or none); miner.py, chute_config.yml, model.onnx, miner.json (an image element).

    The bundle must pass the compliance runner's repo rules (kit.comply.rules: suffixes,
    size against `max_model_size_mb`, an .onnx, the AST scan of miner.py, the interface) and,
    with `run_self_test`, load in the sandboxed compliance worker and answer one frame
    (kit.comply.gate). Nothing the rules refuse is written: the template folder's other
    files are copied only if their suffix is allowed, and a refused bundle never replaces
    `out`.

    Args:
        out: the bundle folder to write (replaced only by a bundle that passes).
        detect_model, pose_model, ball_model: ONNX models (default: the committed reference models;
            ball_model "none": no ball.onnx, the miner uses the detector's ball class).
        template: the folder with miner.py and chute_config.yml (default chute_template/bundle).
        extra_files: more files to ship beside them (their suffixes must be allowed).
        run_self_test: load the miner in the compliance worker, answer one frame.
        max_model_size_mb: the element's limit on the whole repo (30 MiB by default).
        element: the element the miner competes in (an id of `manifest`, the kit's example by
            default, or an `Element`): its `objects` go into `miner.json` (the miner sends each
            class's index in that list as `cls_id`) and its `max_model_size_mb` applies.
        model: an image element's ONNX detector (ultralytics export; default: the reference
            fire model, when its classes are the element's objects).
        manifest: where an element id is looked up (a file, 'live', a Manifest).
    Returns:
        The bundle folder.
    Raises:
        KitError: a missing model or template file, a model whose classes are none of the
        element's objects, a repo over the element's size; ComplianceError (= BundleError)
        naming each broken rule with its file and line.

    Example:
        >>> out = package("build/bundle")          # the reference models
        >>> sorted(p.name for p in out.iterdir())
        ['ball.onnx', 'chute_config.yml', 'detect.onnx', 'miner.py', 'pose.onnx']
        >>> sorted(p.name for p in package("build/fire", element="manak0/Detect-fire", manifest=M).iterdir())
        ['chute_config.yml', 'miner.json', 'miner.py', 'model.onnx']
    """
    element = _element(element, manifest)
    if element is not None and element.kind == "image":
        return package_image(out, element, model or detect_model, template, extra_files, run_self_test,
                             max_model_size_mb)
    template, models = _clip_inputs(detect_model, pose_model, template, model, element)
    models |= _ball_input(ball_model)

    def fill(tmp: Path) -> float | None:
        _copy_template(template, tmp)
        for task, path in models.items():
            shutil.copy2(path, tmp / MODEL_NAMES[task])
        for f in extra_files or []:
            shutil.copy2(f, tmp / Path(f).name)
        return _write_element(tmp, element) if element is not None else None

    return _install(out, fill, max_model_size_mb, run_self_test)


def _clip_inputs(detect_model: str | os.PathLike | None, pose_model: str | os.PathLike | None,
                template: str | os.PathLike | None, model: str | os.PathLike | None,
                element: Any) -> tuple[Path, dict[str, Path]]:
    """The football miner's template folder and its two ONNX models (the reference ones by default),
    checked: KitError names a single `model` given for a clip element, a missing model, one not
    exported to ONNX, or a template file missing."""
    if model is not None:
        raise KitError(f"model={model}: a single detector is for image elements; element "
                       f"{getattr(element, 'id', None)} is a clip element: pass detect_model and pose_model "
                       "(--detect-model/--pose-model)")
    template = Path(template) if template else TEMPLATE_DIR
    models = {"detect": Path(detect_model) if detect_model else REFERENCE_DIR / MODEL_NAMES["detect"],
              "pose": Path(pose_model) if pose_model else REFERENCE_DIR / MODEL_NAMES["pose"]}
    for task, path in models.items():
        if not path.is_file():
            hint = ("train one with `tvkit train` and pass --" + task + "-model F.onnx"
                    if (detect_model if task == "detect" else pose_model) else
                    "the reference model is not in this checkout; train one with `tvkit train` and pass "
                    f"--{task}-model F.onnx")
            raise KitError(f"{path}: no {task} model there; {hint}")
        if path.suffix != ".onnx":
            raise KitError(f"{path}: the reference miner runs ONNX models; export it with `tvkit train` "
                           "(or kit.train.export_onnx) and pass the .onnx")
    for name in ("miner.py", "chute_config.yml"):
        if not (template / name).is_file():
            raise KitError(f"{template / name}: missing from the bundle template")
    return template, models


def _ball_input(ball_model: str | os.PathLike | None) -> dict[str, Path]:
    """{"ball": path} of the ball model to ship, or {} ("none", or no reference in this checkout)."""
    if ball_model is not None and str(ball_model).lower() == "none":
        return {}
    if ball_model is None:
        return {"ball": BALL_REFERENCE} if BALL_REFERENCE.is_file() else {}
    path = Path(ball_model)
    if not path.is_file() or path.suffix != ".onnx":
        raise KitError(f"{path}: no ONNX ball model there; train one with `tvkit ball train` (kit.ball) and pass "
                       "its ball.onnx, or --ball-model none to use the detector's ball class")
    return {"ball": path}


def _copy_template(template: Path, dest: Path) -> None:
    """The template folder's files whose suffix the compliance rules allow (no dotfiles)."""
    from .comply.rules import ALLOWED_SUFFIXES

    for f in template.iterdir():
        if f.is_file() and f.suffix.lower() in ALLOWED_SUFFIXES and not f.name.startswith("."):
            shutil.copy2(f, dest / f.name)


def _install(out: str | os.PathLike, fill, max_model_size_mb: float | None, run_self_test: bool,
             check=None) -> Path:
    """Build the bundle in a temporary sibling of `out` (`fill(tmp)` writes it and may return the
    element's size limit), run `check(tmp, limit)` and the compliance gate, then swap it in."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise KitError(f"{out}: exists and is not a folder; pass a folder for the bundle")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        max_model_size_mb = fill(tmp) or max_model_size_mb
        if check is not None:
            check(tmp, max_model_size_mb)
        try:
            ensure_compliant(tmp, max_model_size_mb=max_model_size_mb, self_test_frame=run_self_test)
        except ComplianceError as e:
            raise ComplianceError(out, e.findings) from None
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _element(element: Any, manifest: Any = None) -> Any:
    """An Element from an id (looked up in `manifest`, the kit's example by default), or as given."""
    if not isinstance(element, str):
        return element
    from .manifest import load_manifest

    return load_manifest(manifest).element(element)


# --- image elements: one ONNX detector, classes matched to the element's objects by name ------

@dataclass
class ModelClasses:
    """An ONNX detector's classes and how they map onto an element's objects."""

    names: list[str]                  # the model's class names, by class index
    class_map: list[int | None]       # model class index -> element cls_id (None: not sent)
    missing: list[str]                # element objects no model class maps to
    input_hw: tuple[int, int] | None  # the static input (h, w), when the graph says


def onnx_class_names(model: str | os.PathLike) -> tuple[list[str], dict[str, str], list[Any], list[Any]]:
    """(class names, metadata, input shape, output shape) of an ultralytics ONNX export.

    Ultralytics writes `names` as a Python dict literal (`{0: 'fire', 1: 'smoke'}`) in the
    graph's metadata_props; a model without it cannot be matched by name and is refused."""
    import ast

    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own error types
        raise KitError(f"{model}: onnxruntime cannot load it ({type(e).__name__}: {e}); export a single-file ONNX "
                       "with kit.train.export_onnx") from None
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    try:
        raw = ast.literal_eval(meta.get("names", ""))
    except (ValueError, SyntaxError):
        raw = None
    if isinstance(raw, dict):
        names = [str(raw[k]) for k in sorted(raw, key=int)]
    elif isinstance(raw, (list, tuple)):
        names = [str(n) for n in raw]
    else:
        raise KitError(f"{model}: no class names in its metadata (ultralytics writes `names`); export it with "
                       "kit.train.export_onnx (`tvkit train`) so the kit can match its classes to the element's "
                       "objects by name")
    return names, meta, list(sess.get_inputs()[0].shape), list(sess.get_outputs()[0].shape)


def match_model_classes(model: str | os.PathLike, element: Any) -> ModelClasses:
    """The model's classes mapped BY NAME onto the element's objects (kit.images.labels.name_key).

    Raises KitError, with both lists, when no class is one of the objects."""
    from .images.labels import did_you_mean, name_key

    names, meta, in_shape, out_shape = onnx_class_names(model)
    objects = list(element.objects or [])
    by_key = {name_key(o): i for i, o in enumerate(objects)}
    class_map = [by_key.get(name_key(n)) for n in names]
    if not any(c is not None for c in class_map):
        hints = "".join(f"; {n!r}{h}" for n in names if (h := did_you_mean(n, objects)))
        raise KitError(f"{model}: its classes {names} cover none of {element.id}'s objects {objects}{hints}. "
                       "Train a detector of the element's objects (a photo set imported onto them with "
                       "kit.images.importer.import_images, then `tvkit train`) and pass it with --model F.onnx")
    if str(meta.get("end2end", "False")).lower() == "true":
        raise KitError(f"{model}: an end-to-end export (NMS inside the graph, output {out_shape}); the Detect miner "
                       "decodes the raw head: export with kit.train.export_onnx (nms=False, end2end off)")
    if len(out_shape) == 3 and isinstance(out_shape[1], int) and out_shape[1] != 4 + len(names):
        raise KitError(f"{model}: output {out_shape} is not ultralytics' raw head [1, 4 + {len(names)}, N]; "
                       "export with kit.train.export_onnx (nms=False)")
    hw = (int(in_shape[2]), int(in_shape[3])) if all(isinstance(d, int) for d in in_shape[2:4]) else None
    missing = [o for i, o in enumerate(objects) if i not in class_map]
    return ModelClasses(names, class_map, missing, hw)


def repo_files(bundle: str | os.PathLike) -> list[tuple[str, int]]:
    """(path, bytes) of every file the Hub repo will hold: what a push uploads (kit.deploy.hub)
    plus the `.gitattributes` the Hub adds."""
    from .deploy.hub import bundle_files

    root = Path(bundle)
    files = [(p.relative_to(root).as_posix(), p.stat().st_size) for p in bundle_files(root)]
    return files + [(".gitattributes (added by the Hub)", HF_GITATTRIBUTES_BYTES)]


def check_repo_size(bundle: str | os.PathLike, max_model_size_mb: float | None) -> None:
    """KitError listing every file and its size when the whole repo is over `max_model_size_mb` MiB
    (the registry's rule, miner_registry.py:812-843: such a miner is never challenged)."""
    if not max_model_size_mb:
        return
    files = repo_files(bundle)
    total = sum(n for _, n in files)
    if total / 2 ** 20 > max_model_size_mb:
        rows = "\n".join(f"  {n / 2 ** 20:9.3f} MiB  {name}" for name, n in sorted(files, key=lambda f: -f[1]))
        raise KitError(f"the repo would be {total / 2 ** 20:.3f} MiB, over the element's max_model_size_mb "
                       f"{max_model_size_mb:g} (the registry never challenges it):\n{rows}\nuse a smaller model "
                       "(a nano YOLO at FP32 is about 12 MiB) or fewer files")


def package_image(out: str | os.PathLike, element: Any, model: str | os.PathLike | None = None,
                  template: str | os.PathLike | None = None, extra_files: list[str | os.PathLike] | None = None,
                  run_self_test: bool = True, max_model_size_mb: float | None = DEFAULT_MAX_MODEL_SIZE_MB) -> Path:
    """An image element's bundle: the Detect miner, `model` as model.onnx and miner.json.

    >>> package_image("build/fire", load_manifest(M).element("manak0/Detect-fire")).name
    'fire'
    """
    if not element.objects:
        raise KitError(f"element {element.id} lists no objects, so a detector's cls_ids cannot index them")
    model = _image_model(element, model)
    classes = match_model_classes(model, element)
    if classes.missing:
        print(f"note: {Path(model).name} finds {len(element.objects) - len(classes.missing)} of {element.id}'s "
              f"{len(element.objects)} objects; it cannot find {classes.missing} (each scores AP 0 where it appears)",
              file=sys.stderr)
    template = Path(template) if template else DETECT_TEMPLATE_DIR
    for name in ("miner.py", "chute_config.yml"):
        if not (template / name).is_file():
            raise KitError(f"{template / name}: missing from the Detect bundle template")
    cfg = {"element_id": element.id, "objects": list(element.objects), "model": IMAGE_MODEL_NAME,
           "input": list(classes.input_hw) if classes.input_hw else None, "model_names": classes.names,
           "class_map": classes.class_map, **DETECT_DEFAULTS, **_tuned_settings(model, element)}

    def fill(tmp: Path) -> float | None:
        _copy_template(template, tmp)
        shutil.copy2(model, tmp / IMAGE_MODEL_NAME)
        for f in extra_files or []:
            shutil.copy2(f, tmp / Path(f).name)
        (tmp / "miner.json").write_text(json.dumps(cfg, indent=1) + "\n")
        return element.max_model_size_mb

    return _install(out, fill, max_model_size_mb, run_self_test, check=check_repo_size)


def _tuned_settings(model: Path, element: Any) -> dict[str, Any]:
    """The reference model's thresholds as `tvkit tune` chose them (its run.json `miner`), for
    a bundle of that model whose element has the same objects; {} for any other model."""
    run = Path(model).parent / "run.json"
    if Path(model).resolve() != IMAGE_REFERENCE_MODEL.resolve() or not run.is_file():
        return {}
    doc = json.loads(run.read_text())
    tuned = doc.get("miner") or {}
    if not tuned or [o.strip().lower() for o in element.objects] != [o.lower() for o in doc["data"]["objects"]]:
        return {}
    return dict(tuned)


def _image_model(element: Any, model: str | os.PathLike | None) -> Path:
    """The given ONNX, else the reference fire model when its classes are the element's objects."""
    if model is not None:
        path = Path(model)
        if not path.is_file():
            raise KitError(f"{path}: no such model file; export one with `tvkit train` (kit.train.export_onnx)")
        if path.suffix != ".onnx":
            raise KitError(f"{path}: the Detect miner runs an ONNX model; export it with kit.train.export_onnx")
        return path
    ref = IMAGE_REFERENCE_MODEL
    if ref.is_file():
        from .images.labels import name_key

        names = onnx_class_names(ref)[0]
        if {name_key(o) for o in element.objects} <= {name_key(n) for n in names}:
            return ref
        why = f"the reference model {ref.relative_to(REPO_ROOT)} detects {names}, not {list(element.objects)}"
    else:
        why = f"the reference model {ref} is not in this checkout"
    raise KitError(f"no model for {element.id}: {why}; pass --model F.onnx, a detector of "
                   f"{list(element.objects)} (train one with `tvkit train`)")


def _write_element(bundle: Path, element: Any) -> float | None:
    """The element's class names into the bundle's miner.json (merged); its size limit, if any."""
    element = _element(element)
    if not element.objects:
        raise KitError(f"element {element.id} lists no objects, so a detector's cls_ids cannot index them; pick a "
                       "detection element (`tvkit elements list`)")
    cfg_path = bundle / "miner.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    cfg.update(objects=list(element.objects), element_id=element.id)
    cfg_path.write_text(json.dumps(cfg, indent=1) + "\n")
    return element.max_model_size_mb


def bundle_bytes(bundle: str | os.PathLike) -> int:
    return sum(p.stat().st_size for p in Path(bundle).rglob("*") if p.is_file())


@dataclass
class Prediction:
    """An answer and how long it took: the whole call, and each batch of predict_batch."""

    answer: dict[str, Any]
    seconds: float
    batch_seconds: list[float] = field(default_factory=list)
    n_frames: int = 0


def predict_video(bundle_or_miner: Any, video: str | os.PathLike, batch_size: int = 64, n_keypoints: int = 32,
                  progress: bool = False) -> Prediction:
    """The chute's answer for a local video: batches of decoded frames through predict_batch.

    A failure inside the miner becomes `answer_error` (success false), as the chute reports
    it; a missing or unreadable video is the caller's mistake and raises KitError.
    """
    from tqdm.auto import tqdm

    from .contract import answer_error, answer_ok, frame_dicts
    from .datasets import VideoReader

    if batch_size < 1:
        raise KitError(f"batch size must be >= 1, got {batch_size}")
    miner = load_miner(bundle_or_miner) if isinstance(bundle_or_miner, (str, os.PathLike)) else bundle_or_miner
    frames_out: list[dict[str, Any]] = []
    batch_s: list[float] = []
    started = time.perf_counter()
    with VideoReader(video) as reader:
        n_total = reader.info().n_frames
        bar = tqdm(total=n_total if n_total > 0 else None, desc="predict", unit="frame", disable=not progress)
        batch: list = []
        offset = 0
        try:
            for fid, frame in reader.frames():
                batch.append(frame)
                if len(batch) == batch_size:
                    t0 = time.perf_counter()
                    frames_out += frame_dicts(miner.predict_batch(batch, offset, n_keypoints))
                    batch_s.append(time.perf_counter() - t0)
                    offset += len(batch)
                    bar.update(len(batch))
                    batch = []
            if batch:
                t0 = time.perf_counter()
                frames_out += frame_dicts(miner.predict_batch(batch, offset, n_keypoints))
                batch_s.append(time.perf_counter() - t0)
                bar.update(len(batch))
        except KitError:
            raise
        except Exception as e:
            return Prediction(answer_error(f"{type(e).__name__}: {e}"), time.perf_counter() - started, batch_s,
                              len(frames_out))
        finally:
            bar.close()
    return Prediction(answer_ok(frames_out), time.perf_counter() - started, batch_s, len(frames_out))
