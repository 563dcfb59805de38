"""`tvkit search`: a training hyper-parameter search on Ray Tune, by the element's exact score.

Usage: `p = sub.add_parser("search", ...); add_search_arguments(p); p.set_defaults(func=run_search)`;
then `tvkit search --element kit-example/Detect-fire --data data/fire/data.yaml --trials 8 --epochs 3
--space lr0=1e-4:1e-2:log --space imgsz=320,416` (a clip element: `--data DS/detect/data.yaml
--val-clips clips/`). The search opens its own MLflow run (kind `search`, trials nested), so the
command need not be in kit.cli's TRACKED (it would add a command run above it).
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_search_arguments", "run_search"]


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    from ..cli_args import add_default, add_element_arg, add_json_arg, add_manifest_arg
    from ..runs_ray import add_ray_arguments

    add_element_arg(parser, "the element whose exact score decides (`tvkit elements list`)", required=True)
    add_manifest_arg(parser)
    parser.add_argument("--data", required=True, help="the training data.yaml (Detect: `tvkit dataset import "
                                                      "--element`'s; clip: the detect dataset)")
    parser.add_argument("--val", help="Detect: the split the trials are scored on (default val)")
    parser.add_argument("--val-clips", metavar="DIR", help="clip elements: the clips the trials are scored on "
                                                           "(<name>.mp4 + <name>.json)")
    parser.add_argument("--pose-model", help="clip elements: the pitch model of the trials' bundles (default the "
                                             "reference)")
    parser.add_argument("--trials", type=int, default=8, help="how many trials (default 8)")
    parser.add_argument("--epochs", type=int, help="each trial's epochs (default the preset's; ASHA stops poor "
                                                   "trials early when there are several)")
    add_default(parser, "preset", choices=True, help="what the space does not set; none: the profile's, smoke")
    parser.add_argument("--space", action="append", metavar="KEY=SPEC|FILE",
                        help="change the kind's default space: lr0=1e-4:1e-2:log, scale=0.2:0.8, imgsz=320,416, "
                             "mosaic=0.5 (fixed), KEY=default (dropped), or a YAML file of them; repeatable")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--fraction", type=float, help="share of the training photos each trial uses")
    parser.add_argument("--device", default="cpu")
    st = parser.add_mutually_exclusive_group()
    st.add_argument("--start", help="Detect: the pretrained start (default the kit's smartrail-yolov8n)")
    st.add_argument("--init", metavar="PT", help="start every trial from this ultralytics checkpoint")
    st.add_argument("--from-scratch", action="store_true", help="Detect: random weights (yolov8n.yaml)")
    parser.add_argument("--start-wheel", metavar="WHL", help="Detect: the start's wheel, for offline machines")
    parser.add_argument("--grace", type=int, default=1, help="ASHA: epochs every trial gets (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="Optuna's seed (default 0)")
    parser.add_argument("--no-latency", action="store_true", help="score without the RTF gate (latency measured "
                                                                  "while trials share the machine is pessimistic)")
    parser.add_argument("--out", default="runs/search", help="searches go to OUT/NAME (default runs/search)")
    parser.add_argument("--name", help="the search's folder name (default ELEMENT-DATE)")
    add_json_arg(parser, "the result as one JSON object")
    add_ray_arguments(parser, "trial")


def _train_kw(args: argparse.Namespace, kind: str) -> dict:
    from .. import KitError

    kw = {k: v for k, v in (("batch", args.batch), ("fraction", args.fraction)) if v is not None}
    kw["device"] = args.device
    photo_only = {"start": args.start, "start_wheel": args.start_wheel, "from_scratch": args.from_scratch}
    if kind == "image":
        kw.update({k: v for k, v in photo_only.items() if v})
        if args.init:
            kw["init"] = args.init
    else:
        given = [f"--{k.replace('_', '-')}" for k, v in photo_only.items() if v]
        if given:
            raise KitError(f"{', '.join(given)}: for Detect elements; a clip element's detector starts from --init "
                           "PT or from scratch")
        if args.init:
            kw["init"] = args.init
    return kw


def run_search(args: argparse.Namespace) -> int:
    from ..defaults import default
    from . import _element, search

    el = _element(args.element, args.manifest or None)
    preset = args.preset or default("profile")  # the table's preset is empty: the profile's
    r = search(el, args.data, trials=args.trials, epochs=args.epochs, preset=preset, space=args.space,
               val=args.val_clips if el.kind == "clip" else args.val, manifest=args.manifest or None,
               pose_model=args.pose_model, cpus_per_trial=args.cpus_per_trial, ray_address=args.ray_address,
               out=args.out, name=args.name, grace=args.grace, seed=args.seed, latency=not args.no_latency,
               log=(lambda s: None) if args.json else print, **_train_kw(args, el.kind))
    if args.json:
        print(json.dumps(r.to_dict(), default=str))
    else:
        print(r)
        print(f"  table and figures: {r.folder / 'trials.md'}, {r.folder / 'search.json'}")
    return 0 if r.best is not None else 1
