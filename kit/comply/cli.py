"""`tvkit comply`: the validator's compliance loop on a bundle, before the upload.

Usage:
    tvkit comply --bundle DIR [--element ID] [--clips-dir DIR | --images DIR] [--chute-answers DIR]
        [--python PATH] [--json]

Exit status: 0 when the verdict is one of `--accept` (PASS by default), 1 for any other
verdict, 2 for bad input (no bundle, unknown element, unreadable clips or answers).
"""

from __future__ import annotations

import argparse
import json

from .challenges import REPLAY_MODES
from .core import VERDICTS


def _cmd_comply(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import KitError
    from .core import comply, format_report

    if not Path(args.bundle).is_dir():
        raise KitError(f"{args.bundle}: no such bundle folder; `tvkit package --out DIR` writes one")
    if args.images and args.clips_dir:
        raise KitError("--images and --clips-dir both name challenge sources; pass one")
    report = comply(args.bundle, element=args.element, clips=args.images or args.clips_dir,
                    chute_answers=args.chute_answers,
                    python=args.python, mode=args.mode, manifest=args.manifest, max_challenges=args.challenges,
                    frames_per_challenge=args.frames_per_challenge,
                    previous_latency_failures=args.previous_latency_failures)
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    return 0 if report.verdict in args.accept else 1


def add_comply_commands(sub) -> None:
    from ..cli_args import add_clips_dir_arg

    p = sub.add_parser("comply", help="run a bundle through the validator's compliance loop (rules, sandbox, "
                                      "latency, parity)",
                       description="Repo rules, a sandboxed replay of up to 10 challenges, p95 latency and output "
                                   "parity with the chute, as the validator's compliance runner checks a top "
                                   "miner; one verdict in its words.")
    p.add_argument("--bundle", required=True, help="the bundle folder (`tvkit package` writes one)")
    p.add_argument("--element", help="element id: the budgets come from the element, its max_model_size_mb "
                                     "(the repo cap) and latency_p95_ms (+ 10 ms); with none, the validator's "
                                     "fallbacks (30 MiB, 100 ms)")
    p.add_argument("--manifest", help="manifest for --element (default: the kit's example; 'live', a file or URL)")
    add_clips_dir_arg(p, "folder (or video/image) to cut challenges from (default: a synthetic clip)")
    p.add_argument("--images", help="photo or folder of photos, one image challenge each (an image element's default: "
                                    "its test photos from ../shared/data/detect)")
    p.add_argument("--chute-answers", help="the chute's answers to the same challenges: a JSON file or a folder of "
                                           "<clip stem>.json / <challenge id>.json (default: the chute's code path, "
                                           "run here unsandboxed)")
    p.add_argument("--python", help="interpreter for the sandboxed worker (e.g. a venv with onnxruntime 1.26)")
    p.add_argument("--mode", choices=REPLAY_MODES, default="frames",
                   help="frames: the validator's replay (default); video: the chute's 64-frame batches")
    p.add_argument("--challenges", type=int, default=10, help="challenges to replay (default 10, as the validator)")
    p.add_argument("--frames-per-challenge", type=int, default=1, help="frames per challenge in frames mode "
                                                                        "(default 1: an image challenge)")
    p.add_argument("--previous-latency-failures", type=int, default=0,
                   help="latency misses in a row before this run (3 in all make FAIL_LATENCY)")
    p.add_argument("--accept", nargs="+", choices=VERDICTS, default=["PASS"], metavar="VERDICT",
                   help=f"verdicts that exit 0 (default PASS; choices: {', '.join(VERDICTS)})")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=_cmd_comply)
