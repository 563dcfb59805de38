"""Score the reference bundle on fresh synthetic clips (seeds never used in training), full mode.

Run from the repo root: `.venv/bin/python chute_template/reference/evaluate_reference.py [--clips 5]`.
Clips come from EVAL_SEED of train_reference.py (clip i: clip_seed(EVAL_SEED, i)); the
breakdown of every clip and the mean go into `evaluation.json` beside this script, and the
run record (run.json) gets the mean.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from kit.bundle import package, predict_video  # noqa: E402
from kit.chute_rules import load_miner  # noqa: E402
from kit.evaluate import BREAKDOWN_KEYS, evaluate  # noqa: E402
from kit.synth import generate_clips  # noqa: E402

from train_reference import EVAL_SEED  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=5)
    ap.add_argument("--seed", type=int, default=EVAL_SEED, help="clip seed (default EVAL_SEED; others do not "
                    "touch run.json)")
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--clips-dir", default=str(HERE.parents[1] / "data" / "ref_eval"))
    ap.add_argument("--bundle", help="default: package the committed reference models")
    ap.add_argument("--out", default=str(HERE / "evaluation.json"))
    a = ap.parse_args()
    clips_dir = Path(a.clips_dir)
    have = sorted(clips_dir.glob("clip_*.json"))
    if len(have) < a.clips:
        generate_clips(clips_dir, a.clips, a.frames, a.seed, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(a.bundle) if a.bundle else package(Path(tmp) / "bundle")
        miner = load_miner(bundle)
        rows = []
        for i in range(a.clips):
            video, truth = clips_dir / f"clip_{i:03d}.mp4", clips_dir / f"clip_{i:03d}.json"
            pred = predict_video(miner, video)
            ev = evaluate(pred.answer, truth, video, mode="full")
            row = {k: round(ev.breakdown[k], 4) for k in BREAKDOWN_KEYS}
            row.update(clip=video.name, predict_seconds=round(pred.seconds, 2), tracking_groups=ev.tracking_groups,
                       keypoint_zero_rules=dict(ev.zero_reasons()))
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("clip", *BREAKDOWN_KEYS)}), flush=True)
    mean = {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in BREAKDOWN_KEYS}
    out = {"eval_seed": a.seed, "n_clips": a.clips, "frames_per_clip": a.frames, "mode": "full", "mean": mean,
           "clips": rows}
    Path(a.out).write_text(json.dumps(out, indent=2))
    run = HERE / "run.json"
    if run.is_file() and not a.bundle and a.seed == EVAL_SEED:
        rec = json.loads(run.read_text())
        rec["evaluation"] = {"eval_seed": EVAL_SEED, "n_clips": a.clips, "frames_per_clip": a.frames, "mean": mean}
        run.write_text(json.dumps(rec, indent=2, default=str))
    print("mean", json.dumps(mean))


if __name__ == "__main__":
    main()
