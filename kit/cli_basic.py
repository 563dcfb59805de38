"""`tvkit doctor`, `template`, `synth` and `validate`: the machine, the pitch, synthetic clips, the wire.

Decisions: `synth`'s defaults are the defaults table's (kit.defaults: the clips a smoke run makes),
so `tvkit synth` and notebook 01 make the same clips; `--clips` is a count everywhere.

Usage: `add_basic_commands(sub)` in kit.cli.build_parser; `tvkit synth --clips 2 --out data/synth`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import KitError
from .cli_args import add_answer_arg, add_default, add_element_arg, add_json_arg, add_manifest_arg


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import checks_as_dicts, essentials_ok, format_checks, run_checks

    checks = run_checks(deploy=args.deploy_checks)
    if args.json:
        print(json.dumps({"essentials_ok": essentials_ok(checks), "checks": checks_as_dicts(checks)}, indent=2))
    else:
        print(format_checks(checks))
    return 0 if essentials_ok(checks) else 1


def _cmd_template(args: argparse.Namespace) -> int:
    import cv2

    from .pitch import draw_numbered_template, render_template

    img = draw_numbered_template(args.scale) if args.numbered else render_template()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), img):
        raise KitError(f"{out}: could not write the image (is the extension .png or .jpg?)")
    print(out)
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    import time

    from .synth import clip_seed, generate_clip

    if args.clips < 1:
        raise KitError(f"--clips must be at least 1, got {args.clips}")
    started = time.perf_counter()
    for i in range(args.clips):
        t0 = time.perf_counter()
        video, truth = generate_clip(args.out, i, args.frames, clip_seed(args.seed, i), args.width, args.height,
                                     args.fps, args.difficulty, progress=True)
        dt = time.perf_counter() - t0
        print(f"{video}  {truth.name}  {args.frames} frames  {dt:.1f} s  {args.frames / dt:.1f} frames/s", flush=True)
    total = time.perf_counter() - started
    n = args.clips * args.frames
    print(f"{args.clips} clip(s), {n} frames in {total:.1f} s: {n / total:.1f} frames/s, in {args.out}")
    return 0


def _video_geometry(path: str) -> tuple[int, int, int]:
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise KitError(f"{path}: OpenCV cannot open this video (missing file or not a video)")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    return n, w, h


def _cmd_validate(args: argparse.Namespace) -> int:
    from .contract import read_json, validate_answer

    if not args.answer:
        raise KitError("validate: give --answer FILE (the /predict answer saved as JSON)")
    path = Path(args.answer)
    answer = read_json(path, "no such file (pass the /predict answer saved as JSON)")
    if args.video:
        n, w, h = _video_geometry(args.video)
    else:
        if None in (args.n_frames, args.width, args.height):
            raise KitError("give --video V.mp4, or all of --n-frames, --width and --height")
        n, w, h = args.n_frames, args.width, args.height
    n_objects = None
    if args.element:
        from .manifest import load_manifest

        n_objects = len(load_manifest(args.manifest or None).element(args.element).objects or []) or None
    frame_ids = [int(f) for f in args.frame_ids.split(",")] if args.frame_ids else None
    problems = validate_answer(answer, n, w, h, frame_ids=frame_ids, n_objects=n_objects)
    if args.json:
        print(json.dumps({"ok": not problems, "n_frames": n, "width": w, "height": h,
                          "problems": [{"frame": p.frame, "path": p.path, "message": p.message} for p in problems]},
                         indent=2))
    else:
        for p in problems[: args.limit]:
            print(p)
        if len(problems) > args.limit:
            print(f"... and {len(problems) - args.limit} more (use --json for all)")
        print(f"{path}: {'OK' if not problems else f'{len(problems)} problem(s)'} "
              f"against {n} frames of {w} x {h}")
    return 0 if not problems else 1


def add_basic_commands(sub) -> None:
    """`doctor`, `template`, `synth`, `validate`."""
    d = sub.add_parser("doctor", help="check this machine and your credentials, with the next step for each gap")
    d.add_argument("--deploy", dest="deploy_checks", action="store_true",
                   help="also require what shipping needs (credentials, wallet)")
    add_json_arg(d, "machine-readable output")
    d.set_defaults(func=_cmd_doctor)

    t = sub.add_parser("template", help="draw the 1050 x 680 pitch template (optionally with numbered keypoints)")
    t.add_argument("--out", default="pitch_template.png")
    t.add_argument("--numbered", action="store_true", help="mark and number the 32 keypoints")
    t.add_argument("--scale", type=float, default=1.0)
    t.set_defaults(func=_cmd_template)

    sy = sub.add_parser("synth", help="generate synthetic broadcast clips with exact ground truth (mp4 + JSON)")
    add_default(sy, "clips")
    add_default(sy, "frames", help="frames per clip")
    add_default(sy, "seed", help="same seed, same clips")
    sy.add_argument("--out", default="data/synth",
                    help="folder for clip_XXX.mp4 and clip_XXX.json (default data/synth)")
    add_default(sy, "width")
    add_default(sy, "height")
    add_default(sy, "fps")
    add_default(sy, "difficulty")
    sy.set_defaults(func=_cmd_synth)

    v = sub.add_parser("validate", help="check a /predict answer against the wire contract")
    add_answer_arg(v, "the answer JSON (what /predict returned; required)")
    v.add_argument("--video", help="the challenge video (frame count and size read with OpenCV)")
    v.add_argument("--n-frames", type=int)
    v.add_argument("--width", type=int)
    v.add_argument("--height", type=int)
    add_element_arg(v, "the element whose objects the answer's cls_ids index (checks their range)")
    add_manifest_arg(v)
    v.add_argument("--frame-ids", help="a frames challenge: the payload's frame ids, comma-separated")
    v.add_argument("--limit", type=int, default=50, help="problems to print (default 50)")
    add_json_arg(v)
    v.set_defaults(func=_cmd_validate)
