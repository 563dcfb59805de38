"""`tvkit ball train` and `tvkit ball evaluate`: the football miner's ball model, trained and measured.

Usage: tvkit ball train --real ../shared/data/real/football-players-detection-v1 --hold-out reference \
           --out data/ball/run
       tvkit ball evaluate --bundle build/bundle --real ../shared/data/real/football-players-detection-v1 --clips 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .. import KitError

#: Synthetic training clips come from this seed; `tvkit ball evaluate --clips` uses EVAL_SEED.
TRAIN_SEED, EVAL_SEED = 101, 202


def _cmd_train(args: argparse.Namespace) -> int:
    from .data import groups_arg, real_frames, synthetic_frames
    from .train import train_ball

    t0 = time.perf_counter()
    held_out = groups_arg(args.hold_out)
    real = [f for root in args.real or [] for f in real_frames(root, exclude=held_out)]
    synth = (synthetic_frames(args.synthetic_clips, args.frames, seed=TRAIN_SEED, stride=args.clip_stride)
             if args.synthetic_clips else [])
    if not real and not synth:
        raise KitError("nothing to train on: pass --real DIR (a YOLO export with a ball class) or --synthetic-clips N")
    print(f"frames: {len(real)} real ({sum(len(f.boxes) for f in real)} balls), {len(synth)} synthetic "
          f"({sum(len(f.boxes) for f in synth)} balls), read in {time.perf_counter() - t0:.0f} s", flush=True)
    r = train_ball(real + synth, args.out, steps=args.steps, batch=args.batch, lr=args.lr, threads=args.threads,
                   channels=args.channels, stem_channels=args.stem_channels, log=lambda line: print(line, flush=True))
    meta = json.loads((Path(args.out) / "train.json").read_text())
    meta["data"] = {"real": args.real or [], "held_out_groups": sorted(held_out or []), "real_frames": len(real),
                    "real_balls": int(sum(len(f.boxes) for f in real)), "synthetic_seed": TRAIN_SEED,
                    "synthetic_clips": args.synthetic_clips, "clip_frames": args.frames,
                    "clip_stride": args.clip_stride, "synthetic_frames": len(synth),
                    "synthetic_balls": int(sum(len(f.boxes) for f in synth))}
    (Path(args.out) / "train.json").write_text(json.dumps(meta, indent=1))
    print(f"{r.onnx} ({r.seconds:.0f} s); package it with `tvkit package --ball-model {r.onnx}`")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..comply import load_miner
    from .data import groups_arg, real_frames
    from .evaluate import clip_scores, frame_report, miss_gallery

    miner = load_miner(args.bundle)
    report: dict = {"bundle": str(args.bundle), "real": []}
    out = Path(args.report) if args.report else None
    groups = groups_arg(args.groups)
    for root in args.real or []:
        frames = real_frames(root, groups=groups)
        what = f"{Path(root).name} ({'clips ' + args.groups if groups else 'every frame'})"
        r = frame_report(miner, frames, what)
        print(r, flush=True)
        entry = {**r.to_dict(), "groups": sorted(groups or [])}
        if out is not None:
            g = miss_gallery(frames, r, out / f"misses_{Path(root).name}.png")
            entry["gallery"] = str(g) if g else None
        report["real"].append(entry)
    for pattern in args.look or []:
        report.setdefault("looked", []).append(_look(miner, pattern, out))
    if args.clips:
        from ..synth import generate_clips

        clips_dir = (out or Path(args.bundle).parent / "ball-eval") / "clips"
        clips = generate_clips(clips_dir, args.clips, args.clip_frames, EVAL_SEED, progress=False)
        report["synthetic"] = clip_scores(miner, clips, args.manifest)
        m = report["synthetic"]["mean"]
        print(f"{report['synthetic']['element']} on {args.clips} synthetic clips (seed {EVAL_SEED}): "
              f"final {m['final']:.3f}  "
              + "  ".join(f"{k} {v:.3f}" for k, v in m["pillars"].items()))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "ball.json").write_text(json.dumps(report, indent=1))
        print(f"report: {out / 'ball.json'}")
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


def _look(miner, pattern: str, out: Path | None) -> dict:
    """Unlabelled frames (a folder, or a glob such as 'dir/worldcup2_*'): each one's ball answer, enlarged."""
    import glob

    import cv2

    from .data import IMAGE_SUFFIXES, WORK_H, WORK_W, BallFrame
    from .evaluate import answer_gallery

    p = Path(pattern)
    files = sorted(f for f in (p.iterdir() if p.is_dir() else map(Path, glob.glob(pattern)))
                   if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise KitError(f"--look {pattern}: no images there (a folder or a glob of .jpg/.png frames)")
    frames = [BallFrame(cv2.resize(cv2.imread(str(f)), (WORK_W, WORK_H), interpolation=cv2.INTER_LINEAR), name=f.name)
              for f in files]
    where = (out or Path(".")) / f"look_{p.name.replace('*', '') or 'frames'}.png"
    gallery, answers = answer_gallery(miner, frames, where)
    n = sum(a["ball"] is not None for a in answers)
    print(f"{pattern}: a ball answered on {n} of {len(frames)} unlabelled frames; judge them in {gallery}")
    return {"pattern": pattern, "frames": len(frames), "answered": n, "gallery": str(gallery) if gallery else None,
            "answers": answers}


def add_ball_commands(sub) -> None:
    from ..cli_args import add_default, add_manifest_arg

    b = sub.add_parser("ball", help="the football miner's ball model: train it, measure it")
    bs = b.add_subparsers(dest="ball_command", required=True, metavar="ACTION")
    t = bs.add_parser("train", help="train the ball heatmap model on labelled real frames and synthetic clips; "
                                    "writes ball.onnx")
    t.add_argument("--real", action="append", help="a YOLO export with a ball class (repeatable)")
    t.add_argument("--hold-out", help="clips of the real sets never trained on: names (a file name less its "
                                      "frame number, as `tvkit dataset import` groups) comma-separated, or "
                                      "'reference' (the reference detector's 10 held-out clips, from its run.json)")
    t.add_argument("--synthetic-clips", type=int, default=36, help="synthetic clips to draw frames from (0: none; "
                                                                     "each clip draws its own kits and camera)")
    add_default(t, "frames", help="frames rendered per synthetic clip")
    t.add_argument("--clip-stride", type=int, default=2, help="every Nth of them is a training frame")
    t.add_argument("--steps", type=int, default=3500)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--channels", type=int, default=32, help="the network's channels at stride 4 (24 with "
                                                             "--stem-channels 8: 40%% less time a frame, README)")
    t.add_argument("--stem-channels", type=int, default=16, help="the network's channels at stride 2")
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the kit trains on a CPU)")
    t.add_argument("--out", required=True, help="folder for ball.onnx, ball.pt and train.json")
    t.set_defaults(func=_cmd_train)
    e = bs.add_parser("evaluate", help="a bundle's ball: recall and precision at the validator's threshold on "
                                       "labelled frames, the ball element's score on synthetic clips, a gallery of "
                                       "misses")
    e.add_argument("--bundle", required=True, help="a football bundle with ball.onnx (`tvkit package`)")
    e.add_argument("--real", action="append", help="a YOLO export with a ball class (repeatable)")
    e.add_argument("--groups", default="reference", help="the clips scored (every split): names comma-separated, "
                                                          "'reference' (the held-out clips, default) or '' (all)")
    add_default(e, "clips", help="fresh synthetic clips to score the ball element on (0: none)")
    add_manifest_arg(e, help="the manifest whose ball element (the clip element of one object, the ball) scores "
                             "the clips (default: the kit's example manifest; 'live')")
    add_default(e, "clip_frames", help="frames per synthetic clip")
    e.add_argument("--look", action="append", help="unlabelled frames (a folder or a quoted glob; repeatable): "
                                                   "each one's answer enlarged in a gallery, to judge by eye")
    e.add_argument("--report", help="folder for ball.json and the galleries")
    e.add_argument("--json", action="store_true", help="the report as one JSON object")
    e.set_defaults(func=_cmd_evaluate)
