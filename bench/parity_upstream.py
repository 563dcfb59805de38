"""Parity of the kit's scoring with the validator's own code (turbovision ea7412f), answer by answer.

Usage: .venv/bin/python bench/parity_upstream.py --turbovision /tmp/tv [--seed 11] [--n 300]
       [--upstream-python /tmp/tvenv/bin/python] [--json OUT]

Random and adversarial answers for every element kind the kit scores (PlayerDetect-like boxes with
teams and polygons, a ball element, pitch keypoints on 1280x720 and 960x540 clips, PlayerDetect
with keypoints_iou, Detect image elements) are scored twice: by the kit (`kit.evaluate.evaluate`
for clips, `kit.images.score.score_image` for photos) and by upstream's `post_vlm_ranking` (the
function a validator calls: answer gate, `parse_miner_prediction`, every registered pillar, the
element's gates). It prints max |kit - upstream| per pillar, for S, gated and final, and the worst
cases; exit code 1 when any difference exceeds --tol (1e-9).

Upstream runs in a worker process (`--worker`) of `--upstream-python` (default: this interpreter).
Give it a throwaway venv with upstream's pins (uv.lock at ea7412f) to compare against the library
versions validators run; OpenCV's version matters to the keypoint metric:

    git -C /work/.mirror/score-technologies+turbovision/repo archive ea7412f scorevision | tar -x -C /tmp/tv
    python3.12 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install numpy==2.2.6 opencv-python-headless==4.12.0.88 \
        scipy==1.15.3 pydantic==2.11.7 python-dotenv==1.1.1 pynacl==1.5.0 ruamel.yaml==0.18.16 pillow==11.3.0 \
        aiohttp==3.14.1

(opencv-python-headless is the same OpenCV build as upstream's opencv-python, without GUI.)
The only shim: `scorevision/__init__.py` is skipped (a bare package module stands in), because it
imports the CLI and with it bittensor; every scoring module is upstream's own file, imported for
real. Images (Detect) get a frame store that returns a black image of the photo's size (upstream
reads only its shape there); clips use upstream's real `FrameStore` on the same mp4 the kit reads.

Ground truth is the kit's reading of it (`reference_frames`, `truth_dets`) handed to upstream as
`PseudoGroundTruth` frames: the comparison is of scoring and answer reading, not of how the kit
stands in for SAM3. Cases where upstream raises (it does for some malformed answers) are listed
apart with what the kit gives.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PILLAR_SETS = {  # weights summing to exactly 1.0 in floats (upstream Metrics refuses anything else)
    "PlayerDetect": [{"iou": 0.5, "count": 0.5}, {"role": 0.25, "palette": 0.25, "iou": 0.25, "smoothness": 0.25},
                     {"map50": 0.6, "false_positive": 0.4}, {"precision": 0.25, "recall": 0.25, "map50": 0.5},
                     {"iou": 0.4, "count": 0.2, "palette": 0.2, "role": 0.1, "smoothness": 0.1},
                     {"iou": 0.5, "keypoints_iou": 0.5}],
    "Detect": [{"map50": 0.6, "false_positive": 0.4}, {"iou": 0.5, "count": 0.5},
               {"precision": 0.25, "recall": 0.25, "map50": 0.25, "false_positive": 0.25}],
}
FOOTBALL = ["ball", "goalkeeper", "player", "referee"]
DETECT_NAMES = [["fire", "smoke", "fire extinguisher"], ["car", "truck", "bus", "motorcycle"], ["person"]]


# --- upstream side (worker) -----------------------------------------------------------------------

def _import_upstream(tv: Path) -> dict[str, Any]:
    """Upstream's scoring modules, with `scorevision/__init__.py` (the CLI, bittensor) skipped."""
    sys.path.insert(0, str(tv))
    pkg = types.ModuleType("scorevision")
    pkg.__path__ = [str(tv / "scorevision")]
    sys.modules["scorevision"] = pkg
    import numpy as np
    from scorevision.miner.open_source.chute_template.schemas import TVPredictInput
    from scorevision.utils.data_models import SVChallenge, SVRunOutput
    from scorevision.utils.evaluate import post_vlm_ranking
    from scorevision.utils.manifest import ChallengeType, Element, Manifest
    from scorevision.utils.video_processing import FrameStore
    from scorevision.vlm_pipeline.utils.data_models import PseudoGroundTruth
    from scorevision.vlm_pipeline.utils.response_models import BoundingBox, FrameAnnotation, ShirtColor
    return dict(np=np, TVPredictInput=TVPredictInput, SVChallenge=SVChallenge, SVRunOutput=SVRunOutput,
                post_vlm_ranking=post_vlm_ranking, ChallengeType=ChallengeType, Element=Element, Manifest=Manifest,
                FrameStore=FrameStore, PseudoGroundTruth=PseudoGroundTruth, BoundingBox=BoundingBox,
                FrameAnnotation=FrameAnnotation, ShirtColor=ShirtColor)


class _ImageStore:
    """A photo's frame store: upstream reads only the image's shape from it (polygons.py:363)."""

    def __init__(self, np, width: int, height: int):
        self.image = np.zeros((height, width, 3), np.uint8)

    def get_frame(self, frame_number):
        return self.image


def _upstream_case(u: dict[str, Any], c: dict[str, Any], stores: dict) -> dict[str, Any]:
    np, e = u["np"], c["element"]
    el = u["Element"](id=e["id"], objects=e["objects"], metrics={"pillars": e["pillars"]},
                      baseline_theta=e["baseline_theta"], delta_floor=e["delta_floor"], beta=e["beta"],
                      keypoint_template=u["ChallengeType"].FOOTBALL if e.get("keypoints") else None)
    manifest = u["Manifest"].model_construct(elements=[el])
    pgts = []
    for f in c["truth"]:
        boxes = [u["BoundingBox"](bbox_2d=d["box"], label=d["label"], polygon=d["polygon"],
                                  cluster_id=u["ShirtColor"](d["team"]) if d["team"] else None) for d in f["dets"]]
        pgts.append(u["PseudoGroundTruth"](video_name="parity", frame_number=f["frame_number"],
                                           spatial_image=np.zeros((1, 1, 3), np.uint8), temporal_image=None,
                                           annotation=u["FrameAnnotation"].model_construct(bboxes=boxes)))
    if c["kind"] == "image":
        store = _ImageStore(np, c["width"], c["height"])
    else:
        key = c["video"]
        if key not in stores:
            stores[key] = u["FrameStore"](Path(key))
        store = stores[key]
    ans = c["answer"]
    run = u["SVRunOutput"](success=ans.get("success"), latency_ms=0.0, predictions=ans.get("predictions"),
                           error=None)
    payload = u["TVPredictInput"](url="parity", meta=c["meta"])
    challenge = u["SVChallenge"](env="parity", payload=payload, meta=c["meta"], prompt="", challenge_id="parity",
                                 frame_numbers=[], frames=[], dense_optical_flow_frames=[], challenge_type_id=0)
    ev = u["post_vlm_ranking"](payload=payload, miner_run=run, challenge=challenge, pseudo_gt_annotations=pgts,
                               frame_store=store, manifest=manifest, element_id=e["id"])
    per = ev.acc_breakdown.get(el.category, {}) if ev.acc_breakdown else {}
    out = {"pillars": {p: float(per[p]["score"]) for p in e["pillars"] if p in per},
           "S": float(per.get("total_weighted", 0.0)), "gated": float(per.get("total_weighted_and_gated", 0.0)),
           "final": float(ev.score)}
    return out


def worker(tv: Path) -> None:
    import logging
    logging.disable(logging.CRITICAL)
    u = _import_upstream(tv)
    cases = json.load(sys.stdin)
    stores: dict = {}
    results = []
    for c in cases:
        try:
            results.append(_upstream_case(u, c, stores))
        except Exception as ex:  # upstream raising is a result too
            results.append({"error": f"{type(ex).__name__}: {ex}"[:300]})
    json.dump(results, sys.stdout)


# --- case generation (kit side) -------------------------------------------------------------------

def _odd_int(rng: random.Random, v: int, p: float) -> Any:
    """An integer as a sloppy miner might send it: int, float, numeric string, truncating float."""
    if rng.random() > p:
        return v
    return rng.choice([float(v), str(v), v + 0.7, f"{v}.0", str(float(v)), -v - 1, v + 0.5, True if v == 1 else v])


def _odd_cls(rng: random.Random, idx: int, n: int) -> Any:
    r = rng.random()
    if r < 0.55:
        return idx
    return rng.choice([str(idx), float(idx), idx + 0.7, idx + 0.999, f"{idx}.0", f" {idx} ", None, -1, n, n + 3,
                       "x", [idx], {"id": idx}, True, False, -0.5, float("nan"), float("inf"), 10 ** 30, "1e0",
                       "２", idx - 0.3])


def _odd_score(rng: random.Random) -> dict[str, Any]:
    r = rng.random()
    if r < 0.5:
        return {"conf": round(rng.random(), 3)}
    return rng.choice([{}, {"score": rng.random()}, {"conf": None}, {"score": None, "conf": 0.4}, {"conf": "0.25"},
                       {"conf": "abc"}, {"conf": True}, {"score": float("nan")}, {"conf": float("inf")},
                       {"conf": 10 ** 400}, {"conf": " 0.5 "}, {"conf": "1_0"}, {"conf": [0.3]}, {"conf": 0.5},
                       {"score": 0.5, "conf": 0.9}, {"conf": "nan"}, {"conf": "-inf"}])


def _odd_team(rng: random.Random, team: int | None) -> dict[str, Any]:
    r = rng.random()
    if r < 0.5:
        return {"team_id": team} if team else {}
    return rng.choice([{"cluster_id": team}, {"team_id": str(team)}, {"team_id": f"team{team}"}, {"team_id": 0},
                       {"team_id": "0"}, {"team_id": None}, {"cluster_id": "red"}, {"team_id": True},
                       {"team_id": "Team_2 "}, {"cluster_id": 2.0}, {"cluster_id": None, "team_id": 1},
                       {"team_id": "white"}, {"team_id": "BLACK"}, {"team_id": 3}])


def _rand_box(rng: random.Random, w: int, h: int) -> list[int]:
    bw, bh = rng.randint(4, max(5, w // 4)), rng.randint(4, max(5, h // 3))
    x1, y1 = rng.randint(-10, w - 5), rng.randint(-10, h - 5)
    return [x1, y1, x1 + bw, y1 + bh]


def _jitter(rng: random.Random, box: list[int], s: float) -> list[float]:
    return [v + rng.gauss(0, s) for v in box]


def _poly_in(rng: random.Random, box: list[int]) -> list[list[int]]:
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    k = rng.randint(3, 8)
    return [[int(cx + (x2 - x1) / 2 * math.cos(a) * rng.uniform(0.5, 1.0)),
             int(cy + (y2 - y1) / 2 * math.sin(a) * rng.uniform(0.5, 1.0))]
            for a in sorted(rng.uniform(0, 2 * math.pi) for _ in range(k))]


def _answer_boxes(rng: random.Random, dets: list[dict], objects: list[str], w: int, h: int, adv: float):
    boxes, polys = [], []
    n = len(objects)
    for d in dets:
        if rng.random() < 0.2:
            continue  # a miss
        idx = objects.index(d["label"]) if d["label"] in objects else rng.randrange(n)
        if rng.random() < 0.1:
            idx = rng.randrange(n)  # a wrong class
        jb = _jitter(rng, d["box"], rng.choice([0.5, 2, 6, 15]))
        coords = [int(v) if rng.random() > adv else round(v, 2) for v in jb]
        entry = {"cls_id": _odd_cls(rng, idx, n) if rng.random() < adv else idx, **_odd_score(rng)}
        entry.update(_odd_team(rng, d.get("team_no")))
        if rng.random() < 0.15:
            pts = _poly_in(rng, [int(v) for v in jb])
            polys.append({"cls_id": entry["cls_id"], "points": pts,
                          **{k: v for k, v in entry.items() if k != "cls_id"}})
        else:
            entry.update(dict(zip(("x1", "y1", "x2", "y2"), coords)))
            if rng.random() < adv * 0.2:
                entry[rng.choice(["x1", "y2"])] = rng.choice(["12.5", "7", None, 3.9, -2.2])
            boxes.append(entry)
    for _ in range(rng.choice([0, 0, 1, 2, 5])):  # false positives
        b = _rand_box(rng, w, h)
        boxes.append({"x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3], "cls_id": _odd_cls(rng, rng.randrange(n), n),
                      **_odd_score(rng), **_odd_team(rng, rng.choice([1, 2, None]))})
    return boxes, polys


def _clip_truth(rng: random.Random, n_frames: int, w: int, h: int):
    """Kit ground truth frames with moving boxes (players with teams) and a few polygons."""
    from kit.contract import GTBox, GTFrame, GTPolygon
    n_obj = rng.randint(0, 9)
    objs = [(_rand_box(rng, w, h), rng.choice([0, 1, 2, 2, 2, 3]), rng.choice([1, 2, None])) for _ in range(n_obj)]
    frames = []
    for fid in range(n_frames):
        boxes, polys = [], []
        for (b, cls, team) in objs:
            dx, dy = rng.randint(-6, 6) * fid, rng.randint(-3, 3) * fid
            bb = [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy]
            if rng.random() < 0.85:
                boxes.append(GTBox(*bb, cls_id=cls, team=team if cls == 2 else None))
            elif rng.random() < 0.5:
                polys.append(GTPolygon(_poly_in(rng, bb), FOOTBALL[cls], team if cls == 2 else None))
        frames.append(GTFrame(fid, boxes, polygons=polys))
    return frames


def _ser_det(d) -> dict[str, Any]:
    return {"box": list(d.box), "label": d.label, "team": d.team,
            "polygon": [list(p) for p in d.polygon] if d.polygon else None}


def make_videos(rng: random.Random, out: Path) -> list[dict[str, Any]]:
    """Short mp4 clips of a warped pitch template (noise, clutter) at 1280x720 and 960x540, with the
    true keypoints of each frame."""
    import cv2
    import numpy as np

    from kit.pitch import KEYPOINTS, render_template
    out.mkdir(parents=True, exist_ok=True)
    vids = []
    for i, (w, h) in enumerate([(1280, 720), (960, 540), (1280, 720), (960, 540)]):
        path = out / f"parity_{i}_{w}x{h}.mp4"
        nrng = np.random.default_rng(rng.randrange(2 ** 31))
        base = np.float32([[0, 0], [1050, 0], [1050, 680], [0, 680]])
        zoom = rng.uniform(1.1, 2.2)
        cx, cy = rng.uniform(0.2, 0.8) * 1050, rng.uniform(0.3, 0.7) * 680
        kps_all = []
        wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
        for f in range(8):
            sx = w * zoom / 1050
            top = 0.35 + 0.1 * rng.random()
            dst = np.float32([[(x - cx - 3 * f) * sx * (top if y == 0 else 1.0) + w / 2,
                               (y - cy) * sx * (0.45 if y == 0 else 0.8) + h / 2] for x, y in base])
            H = cv2.getPerspectiveTransform(base, dst)
            tpl = cv2.warpPerspective(render_template(), H, (w, h))
            frame = (nrng.normal(60, 20, (h, w, 3)) + tpl * 0.7).clip(0, 255).astype(np.uint8)
            for _ in range(3):
                p, q = nrng.integers(0, [w, h], 2), nrng.integers(0, [w, h], 2)
                cv2.line(frame, tuple(int(v) for v in p), tuple(int(v) for v in q), (230, 230, 230), 2)
            wr.write(frame)
            kps_all.append(cv2.perspectiveTransform(KEYPOINTS[None].astype(np.float64), H)[0].tolist())
        wr.release()
        vids.append({"path": str(path), "width": w, "height": h, "n_frames": 8, "kps": kps_all})
    return vids


def _answer_keypoints(rng: random.Random, true_kps: list[list[float]], w: int, h: int, adv: float) -> Any:
    s = rng.choice([0.0, 0.5, 2.0, 5.0, 12.0, 40.0])
    out = []
    for x, y in true_kps:
        if not (0 <= x < w and 0 <= y < h) and rng.random() < 0.7:
            out.append([0, 0])
            continue
        if rng.random() < 0.15:
            out.append([0, 0])
            continue
        px, py = x + rng.gauss(0, s), y + rng.gauss(0, s)
        out.append(rng.choice([[px, py], [round(px, 1), round(py, 1)], [int(px), int(py)]]))
    r = rng.random()
    if r < adv * 0.4:
        i = rng.randrange(len(out))
        out[i] = rng.choice([[str(out[i][0]), out[i][1]], [None, None], [0.0, 0.0], [True, 5], [-3, 10],
                             [w, h - 1], [0, 7]])
    elif r < adv * 0.5:
        out = out[:-1]
    elif r < adv * 0.55:
        out = rng.choice([None, [], "x"])
    return out


def _clip_case(rng: random.Random, vid: dict[str, Any], i: int, adv: float):
    from kit.contract import GroundTruth
    w, h, n = vid["width"], vid["height"], vid["n_frames"]
    kp_only = rng.random() < 0.25
    if kp_only:
        eid, objects, pillars = "PitchCalib_v1@1.0", None, {"iou": 1.0}
    else:
        eid = rng.choice(["PlayerDetect_v1@1.0", "PlayerDetect_ball@1.0"])
        objects = list(FOOTBALL) if rng.random() < 0.6 else rng.sample(FOOTBALL, rng.randint(1, 4))
        if rng.random() < 0.1:
            objects.append(rng.choice(["", "Player", "corner flag"]))
        pillars = rng.choice(PILLAR_SETS["PlayerDetect"])
    gt = GroundTruth("parity", w, h, 25.0, _clip_truth(rng, n, w, h))
    gt_ids = [f.frame_id for f in gt.frames]
    from kit.evaluate.answer import reference_frames
    refs = reference_frames(gt, objects, gt_ids, n, (w, h))
    frames = []
    answered = sorted(rng.sample(range(n), rng.randint(3, n)))
    for fid in answered:
        fr: dict[str, Any] = {"frame_id": _odd_int(rng, fid, adv * 0.3)}
        if objects:
            ref = refs[fid]
            dets = [dict(_ser_det(d), team_no={"white": 1, "black": 2}.get(d.team)) for d in ref.dets]
            fr["boxes"], polys = _answer_boxes(rng, dets, objects, w, h, adv)
            if polys:
                fr["polygons"] = polys
        if any(p in pillars for p in ("keypoints_iou",)) or kp_only or rng.random() < 0.3:
            fr["keypoints"] = _answer_keypoints(rng, vid["kps"][fid], w, h, adv)
        frames.append(fr)
    if rng.random() < adv * 0.1 and frames:
        frames.append(dict(frames[0]))  # a duplicate frame id
    answer = {"success": rng.random() > 0.03, "predictions": {"frames": frames}, "error": None}
    element = {"id": eid, "objects": objects, "pillars": pillars, "keypoints": True,
               "baseline_theta": rng.choice([0.0, 0.2, 0.39326]), "delta_floor": rng.choice([0.0, 0.01]),
               "beta": rng.choice([1.0, 1.5])}
    return {"kind": "clip", "id": i, "element": element, "answer": answer, "video": vid["path"],
            "meta": {"n_frames_total": n, "min_frames_required": 3},
            "truth": [{"frame_number": r.frame_id, "dets": [_ser_det(d) for d in r.dets]} for r in refs],
            "_gt": gt}


def _image_case(rng: random.Random, i: int, adv: float):
    from kit.images.labels import Obj
    from kit.images.score import truth_dets
    w, h = rng.choice([(1408, 768), (1408, 768), (640, 480), (1920, 1080)])
    objects = list(rng.choice(DETECT_NAMES))
    truth = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 6])):
        b = _rand_box(rng, w, h)
        if rng.random() < 0.3:  # small objects: the adaptive IoU threshold's low end
            b = [b[0], b[1], b[0] + rng.randint(3, 30), b[1] + rng.randint(3, 30)]
        name = rng.choice(objects)
        name = rng.choice([name, name.upper(), f" {name} "]) if rng.random() < 0.2 else name
        poly = _poly_in(rng, b) if rng.random() < 0.2 else None
        truth.append(Obj(name, tuple(float(v) + rng.choice([0, 0.4, 0.9]) for v in b), poly))
    dets = truth_dets(truth)
    sd = [dict(_ser_det(d), team_no=None) for d in dets]
    for d in sd:
        d["label"] = d["label"].strip().lower() if d["label"].strip().lower() in objects else d["label"]
    boxes, polys = _answer_boxes(rng, sd, objects, w, h, adv)
    fr: dict[str, Any] = {"frame_id": 0, "boxes": boxes}
    if polys:
        fr["polygons"] = polys
    answer = {"success": True, "predictions": {"frames": [fr]}, "error": None}
    eid = rng.choice(["manak0/Detect-fire", "Detect-detect-vehicle", "kit/Detect-person"])
    element = {"id": eid, "objects": objects, "pillars": rng.choice(PILLAR_SETS["Detect"]),
               "baseline_theta": rng.choice([0.39326, 0.0]), "delta_floor": 0.01, "beta": 1.0}
    return {"kind": "image", "id": i, "element": element, "answer": answer, "width": w, "height": h,
            "meta": {"n_frames_total": 1, "min_frames_required": 1},
            "truth": [{"frame_number": 0, "dets": [_ser_det(d) for d in dets]}], "_truth": truth}


def make_cases(seed: int, n: int, videos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        adv = rng.choice([0.0, 0.3, 0.8])
        if rng.random() < 0.4:
            cases.append(_image_case(rng, i, adv))
        else:
            cases.append(_clip_case(rng, rng.choice(videos), i, adv))
    return cases


def _kit_element(e: dict[str, Any]):
    from kit.manifest import Element
    return Element(e["id"], objects=e["objects"], pillars=dict(e["pillars"]),
                   keypoint_template="football" if e.get("keypoints") else None,
                   baseline_theta=e["baseline_theta"], delta_floor=e["delta_floor"], beta=e["beta"])


def kit_case(c: dict[str, Any]) -> dict[str, Any]:
    from kit.evaluate import evaluate
    from kit.images.score import score_image
    from kit.manifest import Manifest
    el = _kit_element(c["element"])
    if c["kind"] == "image":
        row = score_image(c["answer"], c["_truth"], c["width"], c["height"], el)
        if row.status == "unscored":
            return {"unscored": True}
        return {"pillars": dict(row.pillars), "S": row.score, "gated": row.gated, "final": row.final}
    man = Manifest("parity", 1.0, 0, [el])
    ev = evaluate(c["answer"], c["_gt"], c["video"], manifest=man, elements=[el.id], mode="full",
                  min_frames_required=c["meta"]["min_frames_required"], threads=1, spread=False)
    if ev.gate_reason.startswith("the validator raises"):
        return {"error": ev.gate_reason}
    es = ev.elements[el.id]
    return {"pillars": {n: p.raw for n, p in es.pillars.items()}, "S": es.score, "gated": es.gated, "final": ev.final}


# --- comparison -----------------------------------------------------------------------------------

def compare(cases, kit_res, up_res, tol: float) -> tuple[dict[str, float], list, list]:
    worst: dict[str, float] = {}
    rows, raised = [], []
    for c, k, u in zip(cases, kit_res, up_res):
        if k.get("unscored"):
            continue  # upstream writes no shard for an image without truth objects
        if "error" in u or "error" in k:
            raised.append((c, k, u))
            if ("error" in u) != ("error" in k):
                rows.append((float("inf"), c["id"], "raises", k.get("final", float("nan")),
                             u.get("final", float("nan"))))
            continue
        keys = [f"{c['kind']}:{p}" for p in c["element"]["pillars"]] + ["S", "gated", "final"]
        missing = 0.0 if not u["pillars"] else float("nan")  # a failed gate: upstream's breakdown is empty
        vals = [(k["pillars"].get(p, 0.0), u["pillars"].get(p, missing)) for p in c["element"]["pillars"]]
        vals += [(k["S"], u["S"]), (k["gated"], u["gated"]), (k["final"], u["final"])]
        for key, (a, b) in zip(keys, vals):
            d = abs(a - b) if not (math.isnan(a) or math.isnan(b)) else float("inf")
            worst[key] = max(worst.get(key, 0.0), d)
            if d > tol:
                rows.append((d, c["id"], key, a, b))
    rows.sort(reverse=True)
    return worst, rows, raised


def run_upstream(cases, tv: Path, python: str) -> list[dict[str, Any]]:
    wire = [{k: v for k, v in c.items() if not k.startswith("_")} for c in cases]
    p = subprocess.run([python, str(Path(__file__).resolve()), "--worker", "--turbovision", str(tv)],
                       input=json.dumps(wire), capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    if p.returncode != 0:
        raise SystemExit(f"upstream worker failed ({python}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turbovision", required=True, type=Path,
                    help="a turbovision checkout (ea7412f) with scorevision/")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--upstream-python", default=sys.executable, help="interpreter with upstream's pinned libraries")
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--show", type=int, default=12, help="worst cases to print")
    ap.add_argument("--json", type=Path, help="write every case with both results here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(a.turbovision)
        return 0
    sys.path.insert(0, str(ROOT))
    rng = random.Random(a.seed)
    videos = make_videos(rng, Path("/tmp/parity_videos") / f"seed{a.seed}")
    cases = make_cases(a.seed, a.n, videos)
    kit_res = []
    for c in cases:
        try:
            kit_res.append(kit_case(c))
        except Exception as ex:
            kit_res.append({"error": f"{type(ex).__name__}: {ex}"[:300]})
    up_res = run_upstream(cases, a.turbovision, a.upstream_python)
    worst, rows, raised = compare(cases, kit_res, up_res, a.tol)
    kinds = {k: sum(c["kind"] == k for c in cases) for k in ("clip", "image")}
    print(f"seed {a.seed}: {len(cases)} cases ({kinds}), upstream python {a.upstream_python}")
    print(f"{'quantity':<28}{'max |kit - upstream|':>22}")
    for key in sorted(worst):
        print(f"{key:<28}{worst[key]:>22.3e}")
    print(f"{len(rows)} differences above {a.tol:g}; upstream or kit raised on {len(raised)} case(s)")
    for d, cid, key, kv, uv in rows[:a.show]:
        print(f"  case {cid} {key}: kit {kv:.9f} upstream {uv:.9f} (|d| {d:.2e})")
    for c, k, u in raised[:a.show]:
        print(f"  case {c['id']} raised: upstream {u.get('error', 'ok')} | kit {k.get('error') or k.get('final')}")
    if a.json:
        a.json.write_text(json.dumps([{"case": {k: v for k, v in c.items() if not k.startswith("_")}, "kit": k,
                                       "upstream": u} for c, k, u in zip(cases, kit_res, up_res)], default=str))
    return 1 if rows else 0


if __name__ == "__main__":
    sys.exit(main())
