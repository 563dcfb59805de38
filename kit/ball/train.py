"""Train the ball network on crops of labelled frames (real and synthetic), export it to ONNX.

Decisions:
- Crops, not whole frames: a 128 x 128 crop holds a ball and its context (the network sees about
  70 px around a cell), and costs 1/30th of a frame. Of the crops, 55% hold a ball (anywhere but
  the 12 px border), 25% are centred on a person's feet (white boots and socks were the first
  model's false balls), 20% are anywhere: grass, lines, crowds and heads teach precision.
- Augmentation for what a broadcast does to a ball: scale (0.7-1.5: other cameras, other zooms),
  motion blur along a random direction (a kicked ball smears over 3-9 px), an occluder over up to
  40% of the ball (a leg, a head; the label stays: the validator's truth keeps a partly hidden
  ball), brightness and contrast, a horizontal flip.
- AdamW with cosine decay; one thread by default (the kit's CPU rule: ultralytics trains on
  `cpu_count - 1`).

Usage: from kit.ball.train import train_ball; result = train_ball(frames, "data/ball", steps=3000)
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .data import BallFrame
from .model import BallNet, export_onnx, loss, targets

CROP = 128


@dataclass
class BallTraining:
    """What `train_ball` made: the ONNX model, the torch weights and the loss curve."""

    onnx: Path
    weights: Path
    steps: int
    seconds: float
    curve: list[dict[str, float]]
    config: dict


def _motion_blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(3, 10))
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1.0 / n
    rot = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), float(rng.uniform(0, 180)), 1.0)
    k = cv2.warpAffine(k, rot, (n, n))
    return cv2.filter2D(img, -1, k / max(k.sum(), 1e-6))


def _occlude(img: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> None:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    share = rng.uniform(0.15, 0.4)
    ow, oh = max(1, int(round(w * (share if rng.random() < 0.5 else 1.0)))), max(1, int(round(h * share)))
    ox = int(round(x1 + (w - ow) * rng.random()))
    oy = int(round(y1 + (h - oh) * rng.random()))
    img[max(oy, 0):max(oy + oh, 0), max(ox, 0):max(ox + ow, 0)] = rng.integers(0, 255, 3)


def sample_crop(fr: BallFrame, rng: np.random.Generator, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One augmented CROP x CROP crop of a frame ("ball": holding one of its balls, "feet": around a
    person's feet, else anywhere) and its ball boxes in crop pixels."""
    s = float(np.exp(rng.uniform(np.log(0.7), np.log(1.5))))
    src = CROP / s                                  # the crop's size in frame pixels
    H, W = fr.image.shape[:2]
    if where == "ball" and len(fr.boxes):
        b = fr.boxes[rng.integers(len(fr.boxes))]
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        m = 12 / s
        x0 = cx - rng.uniform(m, src - m)
        y0 = cy - rng.uniform(m, src - m)
    elif where == "feet" and len(fr.people):
        p = fr.people[rng.integers(len(fr.people))]
        x0 = (p[0] + p[2]) / 2 - src * rng.uniform(0.25, 0.75)
        y0 = p[3] - src * rng.uniform(0.3, 0.7)
    else:
        x0, y0 = rng.uniform(0, max(W - src, 1)), rng.uniform(0, max(H - src, 1))
    M = np.float32([[s, 0, -x0 * s], [0, s, -y0 * s]])
    crop = cv2.warpAffine(fr.image, M, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    boxes = (fr.boxes - np.float32([x0, y0, x0, y0])) * s
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    boxes = boxes[(c >= 0).all(1) & (c < CROP).all(1)]
    if rng.random() < 0.5:
        crop = crop[:, ::-1].copy()
        boxes = np.stack([CROP - boxes[:, 2], boxes[:, 1], CROP - boxes[:, 0], boxes[:, 3]], 1)
    if len(boxes) and rng.random() < 0.15:
        _occlude(crop, boxes[0], rng)
    if rng.random() < 0.3:
        crop = _motion_blur(crop, rng)
    crop = np.clip(crop.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25), 0, 255)
    return crop, boxes.reshape(-1, 4)


def _batch(frames: list[BallFrame], with_ball: list[int], rng: np.random.Generator, n: int):
    imgs, boxes = [], []
    for _ in range(n):
        u = rng.random()
        where = "ball" if u < 0.55 and with_ball else "feet" if u < 0.8 else "anywhere"
        fr = frames[with_ball[rng.integers(len(with_ball))]] if where == "ball" else frames[rng.integers(len(frames))]
        img, b = sample_crop(fr, rng, where)
        imgs.append(img.transpose(2, 0, 1))
        boxes.append(b)
    return torch.from_numpy(np.stack(imgs)), targets(boxes, (CROP, CROP))


def train_ball(frames: list[BallFrame], out: str | os.PathLike, steps: int = 3000, batch: int = 32,
               lr: float = 3e-3, seed: int = 0, threads: int = 1, log=print, channels: int = 32,
               stem_channels: int = 16) -> BallTraining:
    """Train on `frames`, write `out`/ball.pt, ball.onnx and train.json; return what was made."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = BallNet(channels, stem_channels)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    with_ball = [i for i, f in enumerate(frames) if len(f.boxes)]
    curve, started, running = [], time.perf_counter(), None
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        x, t = _batch(frames, with_ball, rng, batch)
        total, parts = loss(net(x), t)
        opt.zero_grad()
        total.backward()
        opt.step()
        running = parts if running is None else {k: 0.98 * running[k] + 0.02 * v for k, v in parts.items()}
        if (step + 1) % 100 == 0 or step + 1 == steps:
            curve.append({"step": step + 1, **{k: round(v, 4) for k, v in running.items()}})
            if log:
                log(f"ball step {step + 1}/{steps}: " + ", ".join(f"{k} {v:.3f}" for k, v in running.items())
                    + f" ({time.perf_counter() - started:.0f} s)")
    torch.save(net.state_dict(), out / "ball.pt")
    onnx = export_onnx(net, out / "ball.onnx")
    config = {"steps": steps, "batch": batch, "lr": lr, "seed": seed, "channels": channels,
              "stem_channels": stem_channels, "crop": CROP,
              "frames": len(frames), "frames_with_ball": len(with_ball)}
    result = BallTraining(onnx, out / "ball.pt", steps, round(time.perf_counter() - started, 1), curve, config)
    (out / "train.json").write_text(json.dumps({**asdict(result), "onnx": str(onnx), "weights": str(result.weights)},
                                               indent=1))
    return result
