"""Does the miner's tracker (IoU association + alpha-beta smoothing + gap filling) raise tracking
stability without costing F1? Noisy detections (ground truth with jittered corners, missed boxes
and spurious players, as `kit.evaluate.perturb` makes them) are scored raw and after the
tracker of chute_template/bundle/miner.py, with the validator's scorer (full mode).

Run: .venv/bin/python bench/bench_tracking.py [--clips 2] [--frames 150]
"""
import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np

from kit.comply import load_miner_module
from kit.contract import load_ground_truth
from kit.evaluate import evaluate
from kit.evaluate.perturb import perturbed_answer
from kit.synth import generate_clips

REPO = Path(__file__).resolve().parents[1]
ELEMENT = "PlayerDetect_v1@1.0"
KEYS = ("iou", "count", "palette", "role", "smoothness", "map50", "score")


def tracked(answer, mod, cfg):
    out = copy.deepcopy(answer)
    tracker = mod.Tracker(cfg)
    teams: dict[int, object] = {}
    for fr in out["predictions"]["frames"]:
        bx = fr["boxes"]
        xyxy = np.array([[b["x1"], b["y1"], b["x2"], b["y2"]] for b in bx], float).reshape(-1, 4)
        cls = np.array([b["cls_id"] for b in bx], dtype=np.int64)
        conf = np.array([b["conf"] for b in bx], float)
        new = []
        for tr, d in tracker.step(xyxy, conf, cls):
            b = tr.box()
            if d >= 0:   # a coasting track keeps the team of its last detection
                teams[id(tr)] = bx[d].get("team_id")
            new.append({"x1": int(round(b[0])), "y1": int(round(b[1])), "x2": int(round(b[2])), "y2": int(round(b[3])),
                        "cls_id": int(tr.cls), "conf": float(tr.conf), "team_id": teams.get(id(tr))})
        fr["boxes"] = new
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--jitter", type=float, default=2.0)
    ap.add_argument("--miss", type=float, default=0.08)
    ap.add_argument("--fp", type=float, default=0.3)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a miner setting")
    a = ap.parse_args()
    mod = load_miner_module(REPO / "chute_template" / "bundle")
    cfg = dict(mod.SETTINGS)
    for kv in a.set:
        k, v = kv.split("=", 1)
        cfg[k] = type(cfg[k])(float(v)) if k in cfg else float(v)
    rows = {"raw": [], "tracked": []}
    with tempfile.TemporaryDirectory() as tmp:
        for video, truth in generate_clips(tmp, a.clips, a.frames, seed=555, progress=False):
            gt = load_ground_truth(truth)
            raw = perturbed_answer(gt, seed=1, box_jitter_px=a.jitter, miss_rate=a.miss, false_positives=a.fp)
            for name, ans in (("raw", raw), ("tracked", tracked(raw, mod, cfg))):
                ev = evaluate(ans, gt, video, elements=[ELEMENT], mode="full")
                rows[name].append({k: ev.breakdown[f"{ELEMENT}/{k}"] for k in KEYS})
    print(f"{ELEMENT} of the kit's example manifest; noise: corner jitter {a.jitter} px, miss rate {a.miss}, "
          f"{a.fp} false players/frame; {a.clips} clips x {a.frames} frames")
    print(f"{'':10}" + "".join(f"{k[:14]:>16}" for k in KEYS))
    for name, bs in rows.items():
        print(f"{name:10}" + "".join(f"{np.mean([b[k] for b in bs]):16.4f}" for k in KEYS))


if __name__ == "__main__":
    main()
