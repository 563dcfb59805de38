"""`tvkit`: the kit's command line. Every command's output is redacted of secrets."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import KitError, __version__


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import checks_as_dicts, essentials_ok, format_checks, run_checks

    checks = run_checks(deploy=args.deploy)
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
    from .contract import validate_answer

    path = Path(args.answer)
    if not path.is_file():
        raise KitError(f"{path}: no such file (pass the /predict answer saved as JSON)")
    try:
        answer = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise KitError(f"{path}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from e
    if args.video:
        n, w, h = _video_geometry(args.video)
    else:
        if None in (args.n_frames, args.width, args.height):
            raise KitError("give --video V.mp4, or all of --n-frames, --width and --height")
        n, w, h = args.n_frames, args.width, args.height
    problems = validate_answer(answer, n, w, h)
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


def _cmd_run(args: argparse.Namespace) -> int:
    from .runs import parse_overrides, run_suite

    only = [o for chunk in (args.only or []) for o in chunk.split(",") if o]
    result = run_suite(args.profile, parse_overrides(args.param or []), only or None)
    print()
    for nb in result.notebooks:
        line = f"  {nb.name:<24} {nb.status:<7} {nb.seconds:6.1f} s"
        if nb.error:
            line += f"  cell {nb.error['cell']}: {nb.error['ename']}: {nb.error['evalue']}"
        print(line)
    for name, metrics in result.metrics.items():
        print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in metrics.items() if not isinstance(v, (dict, list))))
    print(f"run {result.status}: {result.run_id}")
    print(result.run_dir)
    return 0 if result.status == "ok" else 1


def _cmd_runs_list(args: argparse.Namespace) -> int:
    from .runs import read_index

    rows = read_index()
    if not rows:
        print("no runs yet: `tvkit run --profile smoke` makes one")
        return 0
    for r in rows[-args.last:]:
        print(f"{r['run_id']:<32} {r['status']:<7} {r['seconds']:7.1f} s  {r['dir']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tvkit", description="Turbo Vision (subnet 44) miner kit.")
    p.add_argument("--version", action="version", version=f"tvkit {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("doctor", help="check this machine and your credentials, with the next step for each gap")
    d.add_argument("--deploy", action="store_true", help="also require what shipping needs (credentials, wallet)")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=_cmd_doctor)

    t = sub.add_parser("template", help="draw the 1050 x 680 pitch template (optionally with numbered keypoints)")
    t.add_argument("--out", default="pitch_template.png")
    t.add_argument("--numbered", action="store_true", help="mark and number the 32 keypoints")
    t.add_argument("--scale", type=float, default=1.0)
    t.set_defaults(func=_cmd_template)

    v = sub.add_parser("validate", help="check a /predict answer against the wire contract")
    v.add_argument("--answer", required=True, help="the answer JSON (what /predict returned)")
    v.add_argument("--video", help="the challenge video (frame count and size read with OpenCV)")
    v.add_argument("--n-frames", type=int)
    v.add_argument("--width", type=int)
    v.add_argument("--height", type=int)
    v.add_argument("--limit", type=int, default=50, help="problems to print (default 50)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_validate)

    r = sub.add_parser("run", help="run the notebook suite headless with papermill into papermill_runs/")
    r.add_argument("--profile", default="smoke", help="smoke (minutes on a CPU), cpu or gpu")
    r.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="override a notebook parameter")
    r.add_argument("--only", action="append", metavar="NN[,NN]", help="run only these notebooks, e.g. 00,01")
    r.set_defaults(func=_cmd_run)

    rs = sub.add_parser("runs", help="the run ledger")
    rs_sub = rs.add_subparsers(dest="runs_command", required=True, metavar="SUBCOMMAND")
    rl = rs_sub.add_parser("list", help="the latest runs")
    rl.add_argument("--last", type=int, default=20)
    rl.set_defaults(func=_cmd_runs_list)
    return p


def main(argv: list[str] | None = None) -> int:
    from .settings import install_redaction, load_settings

    install_redaction()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_redaction()  # again, for the handler basicConfig just added
    try:
        load_settings()  # registers the secrets of .env for redaction
        return args.func(args)
    except KitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
