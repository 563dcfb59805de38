"""The chute's /predict path, split: download, decode, inference, serialisation.

One validator-style challenge on a synthetic clip (750 frames by default) goes through a
dry run of the bundle under the real chutes runtime (`kit.chute.dryrun`); the chute logs
seconds per stage for every call, which this script reads back. It then answers the same
clip with `tvkit predict`'s path (`kit.bundle.predict_video`) and scores both answers with
the evaluator, so the figures also show that the chute and the local path give one score.

Run: .venv/bin/python bench/bench_predict_path.py [--frames 750] [--bundle DIR] [--json]
"""
import argparse
import json
import re
import tempfile
from pathlib import Path

from kit.bundle import package, predict_video
from kit.chute.dryrun import DryRun
from kit.chute.rehearse import rehearse
from kit.evaluate import evaluate
from kit.synth import generate_clip

STAGES = ("download", "decode", "inference", "serialise")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=750)
    ap.add_argument("--seed", type=int, default=6060)
    ap.add_argument("--bundle", help="default: the committed reference models, packaged")
    ap.add_argument("--clips", default="data/bench/predict_path", help="where the clip is generated (kept)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    clips = Path(a.clips)
    video, truth = clips / "clip_000.mp4", clips / "clip_000.json"
    if not truth.is_file() or json.loads(truth.read_text())["frames"].__len__() != a.frames:
        video, truth = generate_clip(clips, n_frames=a.frames, seed=a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(a.bundle) if a.bundle else package(f"{tmp}/bundle")
        with DryRun(bundle) as run:
            chute = rehearse(run.base_url, video, truth)
            log = run.log_text()
        line = [ln for ln in log.splitlines() if "/predict success=True" in ln][-1]
        split = {k: float(re.search(rf"{k}=([0-9.]+)s", line).group(1)) for k in STAGES}
        local = predict_video(bundle, video)
        local_score = evaluate(local.answer, truth, video, mode="full").breakdown["final"]
    overhead = split["download"] + split["decode"] + split["serialise"]
    out = {"frames": a.frames, "call_seconds": round(chute.seconds, 3), **{f"{k}_s": v for k, v in split.items()},
           "overhead_vs_inference": round(overhead / split["inference"], 4),
           "http_and_runtime_s": round(chute.seconds - sum(split.values()), 3),
           "chute_final": chute.breakdown["final"], "local_final": local_score,
           "same_answer": chute.answer == json.loads(json.dumps(local.answer)),
           "local_predict_s": round(local.seconds, 3)}
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"/predict on {a.frames} frames through `chutes run --dev`: {chute.seconds:.2f} s for the whole call")
    for k in STAGES:
        print(f"  {k:<10} {split[k]:8.3f} s  {100 * split[k] / split['inference']:6.2f}% of inference")
    print(f"  download + decode + serialise = {100 * out['overhead_vs_inference']:.2f}% of inference (bar: 10%)")
    print(f"  HTTP and runtime around it: {out['http_and_runtime_s']:.3f} s")
    print(f"score: chute {out['chute_final']:.4f} vs tvkit predict + evaluate {local_score:.4f}; "
          f"same answer: {out['same_answer']}; local predict {local.seconds:.2f} s")


if __name__ == "__main__":
    main()
