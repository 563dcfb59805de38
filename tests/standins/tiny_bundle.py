"""A small miner bundle that passes `tvkit comply`: the stand-in for a miner's real model in push tests.

`tiny_bundle(folder)` writes `miner.py` (a pydantic FrameResult per image, as the validator's
chute calls `.model_dump()` on it), a one-node ONNX model the miner runs on every frame (the
repo rules want at least one `.onnx`), and `chute_config.yml`. It answers no boxes, so it is
fast and its answers are the same in the sandbox and in the chute's code path.
"""

from __future__ import annotations

from pathlib import Path

MINER = '''"""A tiny miner for the kit's push tests: one ONNX node per frame, no boxes."""
from pathlib import Path

import numpy as np
import onnxruntime as ort
from pydantic import BaseModel


class BoundingBox(BaseModel):
    x1: int
    y1: int
    x2: int
    y2: int
    cls_id: int
    conf: float


class FrameResult(BaseModel):
    frame_id: int
    boxes: list[BoundingBox]
    keypoints: list[tuple[int, int]]


class Miner:
    def __init__(self, path_hf_repo: Path = Path(__file__).parent) -> None:
        self.session = ort.InferenceSession(str(Path(path_hf_repo) / "mean.onnx"), providers=["CPUExecutionProvider"])

    def predict_batch(self, batch_images, offset, n_keypoints):
        out = []
        for i, image in enumerate(batch_images):
            x = np.asarray(image[:8, :8, 0], dtype=np.float32)
            self.session.run(None, {"x": x})
            out.append(FrameResult(frame_id=offset + i, boxes=[], keypoints=[(0, 0)] * n_keypoints))
        return out
'''

CONFIG = """Image:
  from_base: parachutes/python:3.12
  run_command:
    - pip install --no-cache-dir "numpy>=1.26,<3" "onnxruntime==1.*" "pydantic>=2,<3"
NodeSelector:
  gpu_count: 1
  min_vram_gb_per_gpu: 16
Chute:
  concurrency: 2
"""


def tiny_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [])
    graph = helper.make_graph([helper.make_node("ReduceMean", ["x"], ["y"], keepdims=0)], "mean", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def tiny_bundle(folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "miner.py").write_text(MINER)
    (folder / "chute_config.yml").write_text(CONFIG)
    tiny_onnx(folder / "mean.onnx")
    return folder
