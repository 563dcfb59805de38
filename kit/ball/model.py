"""The ball network: a small fully convolutional heatmap model at stride 4, its training targets,
its loss and its ONNX export.

Why this shape (the validator's terms: a 960 x 540 broadcast ball is 3-7 px, and the adaptive IoU
threshold for a box that small is 0.30, so a 6 px ball predicted 2 px off already misses):
- native resolution, no letterbox to 640 and no stride-8 head: the frame goes in at 960 x 544
  and every 4 x 4 cell says how likely it holds the ball's centre;
- sub-pixel position: two channels regress the centre's offset inside its cell, so the box is
  placed to a fraction of a pixel, not to the cell's 4 px;
- the size: two channels regress log width and height (a ball far from the camera is smaller),
  trained on the labelled boxes themselves;
- context without cost: depthwise 3 x 3 convolutions dilated 1, 2, 4, 8 see about 70 px around
  each cell (a white sock or a line crossing looks like a ball until the player or the line is
  in view) for about 0.5 GMAC a frame (23.7 ms p50 on 2 cores, bench/bench_ball.py);
- the heat channel is trained with CenterNet's penalty-reduced focal loss on a Gaussian around
  the centre; the offset and size with L1 at the centre cell only.
The network ends in a sigmoid over the heat channel; the ONNX model's one output is
(1, 5, H/4, W/4): heat, dx, dy, log w, log h. The miner decodes it (miner.py `BallModel`).

Usage: from kit.ball.model import BallNet, export_onnx; export_onnx(BallNet(), "ball.onnx")
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

#: Output stride of the heatmap.
STRIDE = 4
#: Gaussian sigma of the heat target, in cells.
SIGMA = 1.0
#: Dilations of the context blocks.
DILATIONS = (1, 2, 4, 8, 1)


def _conv(cin: int, cout: int, k: int = 3, s: int = 1, d: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, d * (k // 2), dilation=d, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _Context(nn.Module):
    """Depthwise dilated 3 x 3 then pointwise 1 x 1, with a residual."""

    def __init__(self, c: int, d: int):
        super().__init__()
        self.dw = _conv(c, c, 3, 1, d, groups=c)
        self.pw = _conv(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw(self.dw(x))


class BallNet(nn.Module):
    """BGR 0-255 float input (N, 3, H, W), H and W multiples of 4 -> (N, 5, H/4, W/4)."""

    def __init__(self, channels: int = 32, stem_channels: int = 16):
        super().__init__()
        c, s = channels, stem_channels
        self.stem = nn.Sequential(_conv(3, s, 3, 2), _conv(s, s, 3, 1, groups=s), _conv(s, c, 3, 2))
        self.context = nn.Sequential(*(_Context(c, d) for d in DILATIONS))
        self.head = nn.Sequential(_conv(c, c, 1), nn.Conv2d(c, 5, 1))
        nn.init.constant_(self.head[-1].bias, 0.0)
        with torch.no_grad():
            self.head[-1].bias[0] = -math.log((1 - 0.01) / 0.01)   # start predicting "no ball" everywhere
            self.head[-1].bias[3:] = math.log(6.0)                  # and a 6 px ball

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.context(self.stem(x / 255.0 - 0.5)))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The exported output: the heat channel through a sigmoid."""
        y = self.forward(x)
        return torch.cat([torch.sigmoid(y[:, :1]), y[:, 1:]], 1)


class _Exported(nn.Module):
    def __init__(self, net: BallNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.predict(x)


def targets(boxes: list[np.ndarray], size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """Training targets for a batch: per image, its balls' boxes (x1, y1, x2, y2) in input pixels.

    heat (N, 1, h, w) Gaussian peaks of 1 at each centre cell; mask (N, h, w) 1 at centre cells;
    reg (N, 4, h, w) the centre's offset in its cell and log width, log height there."""
    h, w = size[0] // STRIDE, size[1] // STRIDE
    n = len(boxes)
    heat = np.zeros((n, 1, h, w), np.float32)
    mask = np.zeros((n, h, w), np.float32)
    reg = np.zeros((n, 4, h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for k, bs in enumerate(boxes):
        for x1, y1, x2, y2 in bs:
            cx, cy = (x1 + x2) / 2 / STRIDE - 0.5, (y1 + y2) / 2 / STRIDE - 0.5   # cell centres at integers
            ix, iy = int(round(cx)), int(round(cy))
            if not (0 <= ix < w and 0 <= iy < h):
                continue
            g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * SIGMA ** 2))
            heat[k, 0] = np.maximum(heat[k, 0], g)
            heat[k, 0, iy, ix] = 1.0
            mask[k, iy, ix] = 1.0
            reg[k, :, iy, ix] = (cx - ix, cy - iy, math.log(max(x2 - x1, 1.0)), math.log(max(y2 - y1, 1.0)))
    return {"heat": torch.from_numpy(heat), "mask": torch.from_numpy(mask), "reg": torch.from_numpy(reg)}


def loss(out: torch.Tensor, t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """CenterNet focal loss on heat (alpha 2, beta 4) + L1 on offset and log size at centre cells."""
    p = torch.sigmoid(out[:, :1]).clamp(1e-4, 1 - 1e-4)
    pos = t["heat"].eq(1).float()
    n_pos = pos.sum().clamp(min=1.0)
    focal = -(pos * (1 - p) ** 2 * torch.log(p)
              + (1 - pos) * (1 - t["heat"]) ** 4 * p ** 2 * torch.log(1 - p)).sum() / n_pos
    m = t["mask"].unsqueeze(1)
    off = (F.l1_loss(out[:, 1:3], t["reg"][:, :2], reduction="none") * m).sum() / n_pos
    size = (F.l1_loss(out[:, 3:5], t["reg"][:, 2:], reduction="none") * m).sum() / n_pos
    total = focal + off + 0.5 * size
    return total, {"focal": focal.item(), "offset": off.item(), "size": size.item()}


def export_onnx(net: BallNet, path: str | os.PathLike, height: int = 544, width: int = 960) -> Path:
    """The network as a single-file ONNX model with dynamic height and width (opset 17)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    dummy = torch.zeros(1, 3, height, width)
    torch.onnx.export(_Exported(net), (dummy,), str(path), input_names=["images"], output_names=["ball"],
                      opset_version=17, dynamo=False,
                      dynamic_axes={"images": {0: "n", 2: "h", 3: "w"}, "ball": {0: "n", 2: "gh", 3: "gw"}})
    return path
