"""Answers made from ground truth, with controlled damage: what is a pixel of jitter worth?

Usage: `answer = perturbed_answer(gt, box_jitter_px=2.0, miss_rate=0.1)`

`perturbed_answer(gt)` is the perfect answer, in today's form: each box's `cls_id` indexes the
element's `objects` by name (default the football objects, ball, goalkeeper, player, referee,
which the kit's example elements use), a player's team goes as `team_id` 1 or 2, a confidence
as `conf`, and every frame has its 32 keypoints. Its knobs add box jitter, missed and spurious
boxes, keypoint jitter, dropped keypoints and swapped team ids, all seeded. Scoring these
shows a miner which error costs most under the validator's pillars (teams are swap-invariant,
smoothness punishes jitter, the keypoint rules punish partial point sets) before any model
is trained, and gives the notebooks a baseline to compare a model against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..contract import OBJECT_TYPES, PLAYER, GroundTruth, answer_ok

#: The football class names the validator's football scoring expects ("player" carries teams).
FOOTBALL_OBJECTS = ("ball", "goalkeeper", "player", "referee")


def perturbed_answer(gt: GroundTruth, seed: int = 0, box_jitter_px: float = 0.0, miss_rate: float = 0.0,
                     false_positives: float = 0.0, keypoint_jitter_px: float = 0.0, keypoint_drop_rate: float = 0.0,
                     swap_teams: bool = False, conf: float = 0.9,
                     objects: tuple[str, ...] | list[str] = FOOTBALL_OBJECTS) -> dict[str, Any]:
    """The /predict answer a model with these errors would give on this clip (wire format).

    objects: the element's class names; a box's cls_id is its name's index there, and ground
    truth of a class the list lacks is left out (spurious boxes are players, when listed).

    box_jitter_px: std of Gaussian noise on each box corner; miss_rate: share of true boxes
    left out; false_positives: mean spurious player boxes per frame (Poisson); keypoint_jitter_px:
    std of noise on visible keypoints; keypoint_drop_rate: share of visible keypoints sent as
    (0, 0); swap_teams: team 1 and team 2 exchanged (the validator scores both mappings).
    """
    # one stream per kind of damage, so turning one knob leaves the others' draws unchanged
    box_rng, miss_rng, fp_rng, kp_rng, drop_rng = (np.random.default_rng(s)
                                                   for s in np.random.SeedSequence(seed).spawn(5))
    W, H = gt.width, gt.height
    index = {name: i for i, name in enumerate(objects)}
    frames = []
    for f in gt.frames:
        boxes = []
        for b in f.boxes:
            if miss_rate and miss_rng.random() < miss_rate:
                continue
            name = OBJECT_TYPES.get(b.cls_id)
            x1, y1, x2, y2 = (np.array([b.x1, b.y1, b.x2, b.y2], float)
                              + box_rng.normal(0, box_jitter_px, 4) * (box_jitter_px > 0))
            x1, x2 = sorted((float(np.clip(x1, 0, W)), float(np.clip(x2, 0, W))))
            y1, y2 = sorted((float(np.clip(y1, 0, H)), float(np.clip(y2, 0, H))))
            if name not in index:
                continue
            team = b.team if b.cls_id == PLAYER else None
            if swap_teams and team in (1, 2):
                team = 3 - team
            box = {"x1": int(round(x1)), "y1": int(round(y1)), "x2": int(round(x2)), "y2": int(round(y2)),
                   "cls_id": index[name], "conf": conf}
            if team in (1, 2):
                box["team_id"] = team
            boxes.append(box)
        for _ in range(fp_rng.poisson(false_positives) if false_positives else 0):
            w, h = fp_rng.uniform(10, 30), fp_rng.uniform(25, 70)
            x, y = fp_rng.uniform(0, W - w), fp_rng.uniform(0, H - h)
            if "player" in index:
                boxes.append({"x1": int(x), "y1": int(y), "x2": int(x + w), "y2": int(y + h),
                              "cls_id": index["player"], "conf": round(float(fp_rng.uniform(0.3, 0.6)), 3)})
        kps = []
        for x, y in f.keypoints:
            if (x, y) == (0, 0) or (keypoint_drop_rate and drop_rng.random() < keypoint_drop_rate):
                kps.append([0, 0])
                continue
            if keypoint_jitter_px:
                x, y = x + kp_rng.normal(0, keypoint_jitter_px), y + kp_rng.normal(0, keypoint_jitter_px)
            xi, yi = int(round(x)), int(round(y))
            kps.append([xi, yi] if 0 <= xi < W and 0 <= yi < H else [0, 0])
        frames.append({"frame_id": f.frame_id, "boxes": boxes, "keypoints": kps})
    return answer_ok(frames)
