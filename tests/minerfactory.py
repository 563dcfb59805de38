"""Tiny real ONNX models (random weights, the reference architectures) and bundles built from them.

The miner contract does not depend on what the weights learned, so the contract tests run on
untrained yolo11n models exported at a small input size: real ultralytics exports and real
onnxruntime sessions, built in seconds, no training and no download.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

from conftest import REPO  # noqa: E402

BUNDLE_TEMPLATE = REPO / "chute_template" / "bundle"


def export_untrained(out_dir: Path, hw=(192, 320)) -> tuple[Path, Path]:
    """detect.onnx (4 classes) and pose.onnx (1 class, 32 keypoints) with random weights."""
    import yaml
    from ultralytics import YOLO
    from ultralytics.nn.tasks import yaml_model_load

    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for task, cfg, extra in (("detect", "yolo11n.yaml", {"nc": 4}),
                             ("pose", "yolo11n-pose.yaml", {"nc": 1, "kpt_shape": [32, 3]})):
        d = yaml_model_load(cfg)
        d.update(extra)
        d.pop("yaml_file", None)
        # ultralytics writes the export beside the working folder under the arch's name: one name per
        # process, so two pytest workers exporting at once never write the same file
        arch = out_dir / cfg.replace(".yaml", f"-kit-{os.getpid()}.yaml")
        arch.write_text(yaml.safe_dump(d))
        f = Path(YOLO(str(arch), task=task).export(format="onnx", imgsz=hw, simplify=True, batch=1, device="cpu",
                                                    verbose=False))
        dest = out_dir / f"{task}.onnx"
        shutil.move(f, dest)
        made.append(dest)
    return made[0], made[1]


def make_bundle(dest: Path, detect: Path, pose: Path, miner_source: str | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("miner.py", "chute_config.yml"):
        shutil.copy2(BUNDLE_TEMPLATE / name, dest / name)
    if miner_source is not None:
        (dest / "miner.py").write_text(miner_source)
    shutil.copy2(detect, dest / "detect.onnx")
    shutil.copy2(pose, dest / "pose.onnx")
    return dest


_CACHE: dict[str, tuple[Path, Path]] = {}


def untrained_models(root: Path) -> tuple[Path, Path]:
    """export_untrained once per test process (a few seconds), reused by every test module."""
    if "models" not in _CACHE:
        _CACHE["models"] = export_untrained(root / "untrained-models")
    return _CACHE["models"]
