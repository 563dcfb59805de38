"""Score the reference bundle on fresh synthetic clips (seeds never used in training), full mode,
per element and pillar of a manifest (the kit's example by default).

Run from the repo root: `.venv/bin/python chute_template/reference/evaluate_reference.py [--clips 5]
[--manifest M] [--element ID ...]`. Clips come from EVAL_SEED of train_reference.py (clip i:
clip_seed(EVAL_SEED, i)); every clip's breakdown (`final`, `<element>/final`, `<element>/score`,
`<element>/<pillar>`) and the mean go into `evaluation.json` beside this script, the run record
(run.json) gets the mean, and a per-element table is printed (pillar means, S, gated, final).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from train_reference import EVAL_SEED  # noqa: E402

from kit.bundle import package, predict_video  # noqa: E402
from kit.comply import load_miner  # noqa: E402
from kit.evaluate import evaluate  # noqa: E402
from kit.manifest import load_manifest  # noqa: E402
from kit.synth import generate_clips  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=5)
    ap.add_argument("--seed", type=int, default=EVAL_SEED, help="clip seed (default EVAL_SEED; others do not "
                    "touch run.json)")
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--clips-dir", default=str(HERE.parents[1] / "data" / "ref_eval"))
    ap.add_argument("--bundle", help="default: package the committed reference models")
    ap.add_argument("--out", default=str(HERE / "evaluation.json"))
    ap.add_argument("--manifest", help="a manifest file or 'live' (default: the kit's example manifest)")
    ap.add_argument("--element", action="append", help="score only this element (repeatable)")
    a = ap.parse_args()
    manifest = load_manifest(a.manifest)
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
            ev = evaluate(pred.answer, truth, video, manifest=manifest, elements=a.element, mode="full", spread=False)
            keys = list(ev.breakdown)
            row = {k: round(v, 4) for k, v in ev.breakdown.items()}
            row.update(clip=video.name, predict_seconds=round(pred.seconds, 2),
                       smoothness_groups={eid: es.smoothness_groups for eid, es in ev.elements.items()},
                       keypoint_zero_rules=dict(ev.zero_reasons()))
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("clip", "final")}), flush=True)
    mean = {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in keys}
    out = {"eval_seed": a.seed, "n_clips": a.clips, "frames_per_clip": a.frames, "mode": "full",
           "manifest": manifest.describe(), "mean": mean, "clips": rows}
    Path(a.out).write_text(json.dumps(out, indent=2))
    run = HERE / "run.json"
    if run.is_file() and not a.bundle and a.seed == EVAL_SEED:
        rec = json.loads(run.read_text())
        rec["evaluation"] = {"eval_seed": EVAL_SEED, "n_clips": a.clips, "frames_per_clip": a.frames, "mean": mean}
        run.write_text(json.dumps(rec, indent=2, default=str))
    print(table(manifest, mean))


def table(manifest, mean: dict[str, float]) -> str:
    """The mean per element: each pillar's raw value and weight, then S, gated and final (markdown)."""
    lines = ["| element | pillar | weight | mean raw |", "|---|---|---|---|"]
    for e in manifest.elements:
        if f"{e.id}/final" not in mean:
            continue
        lines += [f"| {e.id} | {p} | {w:g} | {mean[f'{e.id}/{p}']:.4f} |" for p, w in e.pillars.items()]
        lines.append(f"| {e.id} | **S** (weighted sum) | | {mean[f'{e.id}/score']:.4f} |")
        lines.append(f"| {e.id} | **final** (beta x max(S - {e.baseline_theta:g}, {e.delta_floor:g})) | | "
                     f"{mean[f'{e.id}/final']:.4f} |")
    lines.append(f"| all | **final** (mean over elements) | | {mean['final']:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
