"""The miner bundle: package it, and answer a video through it exactly as the chute would.

`package` copies `chute_template/bundle/` (miner.py, chute_config.yml) and two ONNX models
(the committed reference models by default) into a folder, checks it against the validator's
compliance rules (`kit.comply.gate`: the repo rules, then a load and one frame in the
sandboxed compliance worker) and only then puts the folder in place: a bundle that breaks a
rule is refused with the rule's name, file and line, and an earlier bundle at that path stays
as it was. Nothing with a refused suffix is written (the miner draws its pitch template
itself; a .png would be `unsupported_artifact_suffix`).

`predict_video` is the chute's /predict path without HTTP: the miner is loaded from the
bundle by file path (importlib, as the chute's load step does), the video is decoded with
OpenCV in batches of `batch_size` (64, the validator's meta.batch_size), and the frames come
back in the answer shape of `kit.contract.answer_ok` / `answer_error`. Local evaluation,
the latency check and the chute therefore run one code path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import KitError
from .comply import load_miner
from .comply.gate import ComplianceError, ensure_compliant
from .comply.rules import DEFAULT_MAX_MODEL_SIZE_MB

BundleError = ComplianceError   # the name callers catch; it lists each rule, file and line

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = REPO_ROOT / "chute_template" / "bundle"
REFERENCE_DIR = REPO_ROOT / "chute_template" / "reference"
MODEL_NAMES = {"detect": "detect.onnx", "pose": "pose.onnx"}

def package(out: str | os.PathLike, detect_model: str | os.PathLike | None = None,
            pose_model: str | os.PathLike | None = None, template: str | os.PathLike | None = None,
            extra_files: list[str | os.PathLike] | None = None, run_self_test: bool = True,
            max_model_size_mb: float | None = DEFAULT_MAX_MODEL_SIZE_MB, element: Any = None) -> Path:
    """Write a checked bundle to `out`: miner.py, chute_config.yml, detect.onnx and pose.onnx.

    The bundle must pass the compliance runner's repo rules (kit.comply.rules: suffixes,
    size against `max_model_size_mb`, an .onnx, the AST scan of miner.py, the interface) and,
    with `run_self_test`, load in the sandboxed compliance worker and answer one frame
    (kit.comply.gate). Nothing the rules refuse is written: the template folder's other
    files are copied only if their suffix is allowed, and a refused bundle never replaces
    `out`.

    Args:
        out: the bundle folder to write (replaced only by a bundle that passes).
        detect_model, pose_model: ONNX models (default: the committed reference models).
        template: the folder with miner.py and chute_config.yml (default chute_template/bundle).
        extra_files: more files to ship beside them (their suffixes must be allowed).
        run_self_test: load the miner in the compliance worker and answer one frame.
        max_model_size_mb: the element's limit on the whole repo (30 MiB by default).
        element: the element the miner competes in (an id of the kit's example manifest, or an
            `Element`): its `objects` go into `miner.json` (the miner sends each class's index
            in that list as `cls_id`) and its `max_model_size_mb` applies.
    Returns:
        The bundle folder.
    Raises:
        KitError: a missing model or template file; ComplianceError (= BundleError) naming each
        broken rule with its file and line.

    Example:
        >>> out = package("build/bundle")          # the reference models
        >>> sorted(p.name for p in out.iterdir())
        ['chute_config.yml', 'detect.onnx', 'miner.py', 'pose.onnx']
    """
    from .comply.rules import ALLOWED_SUFFIXES

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
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise KitError(f"{out}: exists and is not a folder; pass a folder for the bundle")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for f in template.iterdir():
            if f.is_file() and f.suffix.lower() in ALLOWED_SUFFIXES and not f.name.startswith("."):
                shutil.copy2(f, tmp / f.name)
        for task, path in models.items():
            shutil.copy2(path, tmp / MODEL_NAMES[task])
        for f in extra_files or []:
            shutil.copy2(f, tmp / Path(f).name)
        if element is not None:
            max_model_size_mb = _write_element(tmp, element) or max_model_size_mb
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


def _write_element(bundle: Path, element: Any) -> float | None:
    """The element's class names into the bundle's miner.json (merged); its size limit, if any."""
    import json

    if isinstance(element, str):
        from .manifest import example_manifest

        element = example_manifest().element(element)
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
