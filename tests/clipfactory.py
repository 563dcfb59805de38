"""A tiny broadcast-like clip with exact ground truth, for evaluator tests (no kit.synth needed)."""
from __future__ import annotations

import cv2
import numpy as np

from kit import pitch
from kit.contract import GroundTruth, GTBox, GTFrame, save_ground_truth
from kit.evaluate.perturb import perturbed_answer

W, H = 960, 540


def camera(t: float) -> np.ndarray:
    src = np.float32([[0, 0], [1050, 0], [1050, 680], [0, 680]])
    dst = np.float32([[120 - 4 * t, 150], [840 - 4 * t, 150], [1300 - 4 * t, 620], [-340 - 4 * t, 620]])
    return cv2.getPerspectiveTransform(src, dst)


def make_clip(directory, n_frames: int = 12, seed: int = 0):
    """Write clip.mp4 and clip.json; returns (video path, gt path, GroundTruth)."""
    rng = np.random.default_rng(seed)
    video = directory / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (W, H))
    people = [  # (cls, team, x, y, vx) in frame pixels
        (2, 1, 200, 300, 3), (2, 1, 420, 360, 2), (2, 2, 600, 280, -2), (2, 2, 700, 400, -3),
        (3, None, 500, 320, 1), (1, None, 120, 330, 0),
    ]
    colours = {1: (40, 40, 220), 2: (220, 220, 220), None: (20, 20, 20)}
    frames = []
    for i in range(n_frames):
        Hm = camera(i)
        img = np.full((H, W, 3), (60, 60, 70), np.uint8)
        inside = cv2.warpPerspective(np.full((680, 1050), 255, np.uint8), Hm, (W, H)) > 0
        img[inside] = pitch.warp_template(Hm, W, H)[inside]
        boxes = []
        for track, (cls, team, x, y, vx) in enumerate(people):
            x1, y1 = x + vx * i, y
            x2, y2 = x1 + 22, y1 + 50
            cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), colours[team] if cls == 2 else (0, 200, 200), -1)
            boxes.append(GTBox(x1, y1, x2, y2, cls, team, track))
        bx = 300 + 6 * i
        cv2.circle(img, (bx + 4, 450), 4, (250, 250, 250), -1)
        boxes.append(GTBox(bx, 446, bx + 9, 455, 0, None, 99))
        img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
        writer.write(img)
        frames.append(GTFrame(i, boxes, pitch.project_keypoints(Hm, W, H)))
    writer.release()
    gt = GroundTruth(video.name, W, H, 25.0, frames)
    gt_path = save_ground_truth(gt, directory / "clip.json")
    return video, gt_path, gt


def perfect_answer(gt: GroundTruth) -> dict:
    return perturbed_answer(gt)
