"""`tvkit evaluate`: score /predict answers as a validator does, a clip (clip elements) or photos
(an image element); every pillar and gate goes into the command's MLflow run.

Usage: `tvkit evaluate --answer A.json --truth GT.json --video V.mp4`, or `tvkit evaluate --element
kit-example/Detect-fire --images DIR --truth DIR --answer answers.json`.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import KitError
from .cli_args import add_answer_arg, add_default, add_element_arg, add_json_arg, add_manifest_arg, add_truth_arg


def _image_form(args: argparse.Namespace) -> bool:
    """Whether `tvkit evaluate` scores photos (an image element) rather than a clip: --images given,
    or no --video and the one --element named is an image element."""
    if args.images:
        return True
    if args.video or not args.element or len(args.element) != 1:
        return False
    from .manifest import load_manifest

    return load_manifest(args.manifest, block=args.block).element(args.element[0]).kind == "image"


def _cmd_evaluate_images(args: argparse.Namespace) -> int:
    from .images.score import evaluate_image_files

    if len(args.element or []) > 1:
        raise KitError("photos are scored for one element: give --element ID once")
    if not (args.truth and args.answer):
        raise KitError("scoring photos needs --truth (an API ground-truth JSON, a folder of them, or a YOLO dataset) "
                       "and --answer (a /predict answer, or an answers file for a folder)")
    ev = evaluate_image_files(args.element[0] if args.element else None, args.truth, args.answer, images=args.images,
                              manifest=args.manifest, latency_ms=args.latency_ms, split=args.split, block=args.block)
    if args.report:
        from .images.report import write_image_report

        files = write_image_report(ev, args.report)
        print(f"report: {files['html']}", file=sys.stderr)
    _track_scores(ev.breakdown, args.report)
    print(json.dumps(ev.to_dict(), indent=2) if args.json else str(ev))
    return 0


def _track_scores(breakdown: dict, report: str | None) -> None:
    """Every pillar and gate of every element scored, and the report, into the command's MLflow run."""
    from . import track

    track.log_metrics(breakdown)
    if report:
        track.log_artifact(report, folder="report")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_breakdown, load_answer

    if _image_form(args):
        return _cmd_evaluate_images(args)
    missing = [n for n, v in (("--answer", args.answer), ("--truth", args.truth), ("--video", args.video)) if not v]
    if missing:
        raise KitError(f"evaluate: missing {', '.join(missing)} "
                       "(a clip: --answer A.json --truth GT.json --video V.mp4; "
                       "photos: --element ID --images PATH --truth PATH --answer PATH)")
    args.predictions, args.ground_truth = args.answer, args.truth
    answer = load_answer(args.predictions)
    manifest = None
    if args.manifest:
        from .manifest import load_manifest

        manifest = load_manifest(args.manifest, block=args.block)
    ev = evaluate(answer, args.ground_truth, args.video, manifest=manifest, elements=args.element, mode=args.mode,
                  seed=args.seed, latency_ms=args.latency_ms, min_frames_required=args.min_frames)
    if args.report:
        from .evaluate.report import write_report

        page = write_report(ev, answer, args.ground_truth, args.video, args.report)
        print(f"report: {page}", file=sys.stderr)
    _track_scores(ev.breakdown, args.report)
    if args.json:
        print(json.dumps(ev.to_dict(), indent=2))
    else:
        print(format_breakdown(ev))
    return 0


def add_evaluate_command(sub) -> None:
    """`evaluate`: a clip (--video) or photos of an image element (--images)."""
    e = sub.add_parser("evaluate", help="score /predict answers per manifest element, as a validator does: a clip "
                       "(--video) or photos of an image element (--images) (SCORING.md)")
    add_answer_arg(e, "the answer JSON (what /predict returned); for a folder of photos, an answers file {element, "
                   "answers: {image name: answer}, latency_ms}")
    add_truth_arg(e, "a clip's ground-truth JSON; for photos: an API ground-truth JSON, a folder of <image "
                  "stem>.json, or a YOLO dataset (data.yaml)")
    e.add_argument("--video", help="the challenge video (decoded with OpenCV, frames from 0)")
    e.add_argument("--images", help="photos (an image element): one image file, or a folder of them")
    e.add_argument("--split", help="with a YOLO dataset as --truth: the split to score (train, val, test)")
    add_manifest_arg(e)
    e.add_argument("--block", type=int, help="with --manifest live: the chain block to pick the manifest for")
    add_element_arg(e, "score only this element (repeatable); default: every clip element (`tvkit elements "
                    "list`); photos: the one image element", repeat=True)
    add_default(e, "mode", choices=True)
    add_default(e, "seed")
    e.add_argument("--latency-ms", type=float, help="p95 latency of the /predict calls, for the RTF gate "
                   "(p95/10000 x service_rate_fps/5 > 1 scores 0)")
    add_default(e, "min_frames")
    e.add_argument("--report", metavar="DIR", help="also write the visual report (PNGs and index.html) here")
    add_json_arg(e, "print the evaluation as JSON: per element pillars, score, gated, final; the overall final")
    e.set_defaults(func=_cmd_evaluate)


def add_beside_command(sub) -> None:
    """`beside`: a Detect bundle's answers beside the winners' on pulled challenge photos (kit.images.beside)."""
    from .images.beside import add_arguments, run

    b = sub.add_parser("beside", help="your Detect bundle's answers beside each pulled challenge's winner's: "
                       "pictures and agreement with the winner (pseudo-truth; not a score)")
    add_arguments(b)
    b.set_defaults(func=run)

