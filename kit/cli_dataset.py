"""`tvkit dataset build | import | pull | check | evaluate`: YOLO datasets in and out.

Decisions: `build`'s stride, split and teams are the defaults table's (kit.defaults), so the CLI
and notebook 01 build the same set; `--clips-dir` is a folder (the old `--clips DIR` is a hidden
alias), `--real-frames` the frames a bundle is checked on (the old `--frames`).

Usage: `add_dataset_commands(sub)`; `tvkit dataset build --clips-dir data/synth --out data/ds`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import KitError
from .cli_args import (
    add_bundle_arg,
    add_clips_dir_arg,
    add_default,
    add_element_arg,
    add_json_arg,
    add_manifest_arg,
    add_renamed,
)


def _cmd_dataset_build(args: argparse.Namespace) -> int:
    from .datasets import build_from_clips

    if not args.clips_dir:
        raise KitError("dataset build: give --clips-dir DIR (a folder of NAME.mp4 + NAME.json, e.g. `tvkit synth`'s "
                       "--out)")
    r = build_from_clips(args.clips_dir, args.out, task=args.task, stride=args.stride, val_fraction=args.val_fraction,
                         test_fraction=args.test_fraction, teams=args.teams,
                         min_visible_keypoints=args.min_visible_keypoints, seed=args.seed, progress=not args.json)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2))
        return 0
    for split in sorted(set(r.clip_splits.values())):
        print(f"{split}: clips {', '.join(n for n, s in r.clip_splits.items() if s == split)}")
    for task, path in r.data_yamls.items():
        print(f"{task}: " + ", ".join(f"{s} {n} images" for s, n in r.images[task].items()) + f"  {path}")
    for reason, n in r.skipped.items():
        print(f"skipped: {n} {reason}")
    return 0


def _image_element(args: argparse.Namespace):
    """The --element when it is an image (Detect) element, else None (the football import)."""
    if not getattr(args, "element", None):
        return None
    from .manifest import load_manifest

    element = load_manifest(args.manifest or None).element(args.element)
    return element if element.kind == "image" else None


def _name_pairs(groups: list[list[str]] | None, flag: str) -> dict[str, str]:
    out = {}
    for pair in (m for group in (groups or []) for m in group):
        src, sep, dst = pair.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise KitError(f"{flag} {pair!r}: expected SOURCE=OBJECT, e.g. {flag} bike=motorcycle "
                           "(quote names with spaces: \"fire_ext=fire extinguisher\")")
        out[src.strip()] = dst.strip()
    return out


def _cmd_dataset_import_images(args: argparse.Namespace, element) -> int:
    from .datasets.exports import parse_size
    from .images.importer import import_images

    r = import_images(args.src, args.out, list(element.objects or []), mapping=_name_pairs(args.map, "--map"),
                      drop=[d for group in (args.drop or []) for d in group], size=parse_size(args.size),
                      split=args.split, val_fraction=args.import_val_fraction, test_fraction=args.import_test_fraction,
                      seed=args.seed, test_groups=args.test_groups or (), fmt=args.format, progress=not args.json)
    print(json.dumps({"element": element.id, **r.to_dict()}, indent=2) if args.json else f"{element.id}\n{r}")
    return 0


def _cmd_dataset_import(args: argparse.Namespace) -> int:
    from .datasets.exports import FORMATS, import_export, parse_size

    element = _image_element(args)
    if element is not None:
        return _cmd_dataset_import_images(args, element)
    if args.drop:
        raise KitError("--drop names a class of an image element's source; give --element ID (a Detect element)")
    if args.format not in FORMATS:
        raise KitError(f"--format {args.format}: the football import reads {', '.join(FORMATS)}; voc and api are "
                       "for image elements (give --element ID)")
    mapping = [m for group in (args.map or []) for m in group]
    swaps = []
    for pair in args.swap_keypoints or []:
        try:
            a, b = (int(v) for v in pair.split(","))
        except ValueError:
            raise KitError(f"--swap-keypoints {pair!r}: expected two keypoint ids, e.g. 13,14") from None
        swaps.append((a, b))
    r = import_export(args.src, args.out, task=args.task, fmt=args.format, mapping=mapping, strict=args.strict,
                      teams=args.teams, split=args.split, group_by=args.group_by, group_pattern=args.group_pattern,
                      val_fraction=args.import_val_fraction, test_fraction=args.import_test_fraction,
                      test_groups=args.test_groups or (), seed=args.seed, size=parse_size(args.size),
                      swap_keypoints=swaps, mirror_keypoints=args.mirror_keypoints,
                      check_order=not args.no_order_check, progress=not args.json)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2))
        return 0
    for src, ours in r.mapping.items():
        print(f"  {src!r:>24} -> {ours if ours is not None else 'dropped'}")
    for name, n in r.dropped.items():
        print(f"dropped {n} instances of {name!r} (map it with --map {name.replace(' ', '_')}=ID if it is ours)")
    for note in r.notes:
        print(f"note: {note}")
    for split, groups in r.groups.items():
        print(f"{split}: {r.images[split]} images from {len(groups)} group(s): {', '.join(groups[:12])}"
              + (" ..." if len(groups) > 12 else ""))
    print(f"{r.data_yaml}")
    return 0


def _cmd_dataset_pull(args: argparse.Namespace) -> int:
    from .images.pull import pull_element

    objects = None
    if args.manifest:
        from .manifest import load_manifest

        objects = load_manifest(args.manifest).element(args.element).objects
    r = pull_element(args.element, args.out, objects=objects, lookback_days=args.lookback_days,
                     challenges=args.challenges, top=args.top, mapping=_name_pairs(args.map, "--map"),
                     drop=[d for group in (args.drop or []) for d in group], timeout=args.timeout,
                     progress=not args.json)
    print(json.dumps(r.to_dict(), indent=2) if args.json else r)
    return 0


def _cmd_dataset_evaluate(args: argparse.Namespace) -> int:
    from .datasets.exports import parse_size
    from .datasets.labelled import evaluate_labelled, format_labelled

    size = parse_size(args.size)
    if not isinstance(size, tuple):
        raise KitError(f"--size {args.size}: give WIDTHxHEIGHT (default 960x540)")
    ev = evaluate_labelled(args.data, args.bundle, args.real_split, size=size, max_frames=args.real_frames or None,
                           repeat=args.repeat, report=args.report, progress=not args.json)
    if args.report:
        print(f"report: {ev.pictures.get('json')}", file=sys.stderr)
    print(json.dumps(ev.to_dict() if args.all_frames else {**ev.to_dict(), "frames": None}, indent=2)
          if args.json else format_labelled(ev))
    return 0


def _cmd_dataset_check(args: argparse.Namespace) -> int:
    from .datasets import check_dataset, format_stats

    stats = check_dataset(args.data)
    if args.plots:
        from .viz import dataset_figures, sample_grid, save_image

        out = Path(args.plots)
        out.mkdir(parents=True, exist_ok=True)
        for name, fig in dataset_figures(stats).items():
            fig.savefig(out / f"{name}.png", dpi=100)
        save_image(sample_grid(stats.data_yaml, split="train"), out / "sample_grid.png")
        print(f"plots: {out}", file=sys.stderr)
    print(json.dumps(stats.to_dict(), indent=2) if args.json else format_stats(stats))
    return 0


def add_dataset_commands(sub) -> None:
    """`dataset build | import | pull | check | evaluate`."""
    ds = sub.add_parser("dataset", help="YOLO datasets: build from clips, import external ones, check")
    ds_sub = ds.add_subparsers(dest="dataset_command", required=True, metavar="SUBCOMMAND")
    _add_build(ds_sub)
    _add_import(ds_sub)
    _add_pull(ds_sub)
    dc = ds_sub.add_parser("check", help="check every label of a dataset and count images, classes, box sizes")
    dc.add_argument("--data", required=True, help="the dataset's data.yaml")
    dc.add_argument("--plots", metavar="DIR", help="also save the check plots and a sample grid as PNGs here")
    add_json_arg(dc)
    dc.set_defaults(func=_cmd_dataset_check)
    dv = ds_sub.add_parser("evaluate", help="run a bundle's miner on a labelled split (real frames): keypoint px "
                           "error and validator score, box P/R/F1 per class")
    dv.add_argument("--data", required=True, help="a data.yaml (an export, or one `dataset import` wrote)")
    add_bundle_arg(dv, required=True)
    add_default(dv, "real_split", "--split", choices=True)
    add_default(dv, "real_frames", help="at most this many frames, spread over the split (0: all)")
    add_renamed(dv, "--frames", "--real-frames", "real_frames", type=int)
    dv.add_argument("--size", default="960x540", help="frames are resized to this (default 960x540)")
    dv.add_argument("--repeat", type=int, default=2, help="each frame is a still clip of this many frames (the "
                    "miner's tracker reports an object from its 2nd detection); default 2")
    dv.add_argument("--report", metavar="DIR", help="write evaluation.json and pictures of the worst frames here")
    add_json_arg(dv, "print the summary as JSON")
    dv.add_argument("--all-frames", action="store_true", help="with --json: include every frame's figures")
    dv.set_defaults(func=_cmd_dataset_evaluate)


def _add_build(ds_sub) -> None:
    db = ds_sub.add_parser("build", help="detection and pose datasets from clips (NAME.mp4 + NAME.json)")
    add_clips_dir_arg(db, "folder of clips with their ground-truth JSON (required)")
    db.add_argument("--out", required=True, help="writes OUT/detect/data.yaml and/or OUT/pose/data.yaml")
    db.add_argument("--task", choices=("detect", "pose", "both"), default="both")
    add_default(db, "stride")
    add_default(db, "val_fraction")
    add_default(db, "test_fraction")
    add_default(db, "teams")
    add_default(db, "min_visible_keypoints")
    add_default(db, "seed", help="seed of the clip split")
    add_json_arg(db)
    db.set_defaults(func=_cmd_dataset_build)


def _add_import(ds_sub) -> None:
    from .datasets.exports import FORMATS, GROUP_LEVELS, SPLIT_MODES
    from .images.labels import FORMATS as IMAGE_FORMATS

    di = ds_sub.add_parser("import", help="import a labelled export into an element's classes: football (YOLO "
                           "detect/pose, COCO boxes; restored to 16:9, split by clip) or, with --element of a Detect "
                           "element, any photo set (YOLO, COCO, VOC, the API's ground truth) by class name")
    add_element_arg(di, "import onto this element's objects, by name (an image element: manak0/Detect-fire ...); "
                    "without it, the football classes")
    add_manifest_arg(di)
    di.add_argument("--drop", action="append", nargs="+", metavar="NAME",
                    help="image elements: leave out this source class (its boxes are dropped, e.g. --drop default)")
    di.add_argument("--src", required=True, help="the export's folder (data.yaml, or split folders with COCO JSON), "
                    "or its data.yaml / JSON file")
    di.add_argument("--out", required=True, help="the new dataset's folder (OUT/data.yaml)")
    di.add_argument("--task", choices=("detect", "pose"), default="detect")
    di.add_argument("--map", action="append", nargs="+", metavar="NAME=ID",
                    help="map a source class to ours: 0 ball, 1 goalkeeper, 2 player, 3 referee, 6/7 team players "
                         "(or our class name); pose: 0 or pitch. Image elements: SOURCE=OBJECT by name "
                         "(--map bike=motorcycle)")
    di.add_argument("--strict", action="store_true", help="fail if a source class maps to none of ours")
    di.add_argument("--teams", action="store_true", help="keep team classes (6/7) as their own classes")
    di.add_argument("--format", choices=tuple(dict.fromkeys(FORMATS + IMAGE_FORMATS)), default="auto",
                    help="auto (default), yolo, coco; image elements also voc and api (the ScoreVision API's "
                    "ground truth: photos with <stem>.json)")
    di.add_argument("--split", choices=SPLIT_MODES, default="group",
                    help="group (default): whole clips to train/val/test, seeded; keep: the export's own splits "
                         "(exporters split frames at random, so near-duplicates leak into val)")
    di.add_argument("--group-by", choices=GROUP_LEVELS, default="clip", help="group images by clip (default) or match")
    di.add_argument("--group-pattern", metavar="REGEX", help="group key: this regex's first group in the file name")
    di.add_argument("--test-groups", action="append", metavar="PATTERN",
                    help="put these groups in test (fnmatch, e.g. 'worldcup2*'; repeatable): a held-out match")
    add_default(di, "import_val_fraction", "--val-fraction")
    add_default(di, "import_test_fraction", "--test-fraction")
    add_default(di, "seed", help="seed of the group split")
    di.add_argument("--size", default="auto", help="auto (default: restore a stretched square export to 16:9, from "
                    "the exporter's README), WIDTHxHEIGHT, or keep")
    di.add_argument("--swap-keypoints", action="append", metavar="A,B",
                    help="pose: exchange keypoint ids A and B (1-based; repeatable) to fix the order")
    di.add_argument("--mirror-keypoints", action="store_true", help="pose: the order is left-right mirrored; "
                    "remap with kit.pitch.FLIP_IDX")
    di.add_argument("--no-order-check", action="store_true", help="pose: import even if the pitch geometry says "
                    "the keypoint order is wrong")
    add_json_arg(di)
    di.set_defaults(func=_cmd_dataset_import)


def _add_pull(ds_sub) -> None:
    dp = ds_sub.add_parser("pull", help="a Detect element's starter pack (photos + ground truth) from the console, "
                           "and recent challenge photos with the top miners' answers (pseudo-labels); cached")
    add_element_arg(dp, "the element, e.g. manak0/Detect-fire", required=True)
    dp.add_argument("--out", required=True, help="the folder: starter/, dataset/data.yaml, challenges/, "
                    "provenance.json (a rerun reuses what is there)")
    add_default(dp, "lookback_days")
    dp.add_argument("--challenges", type=int, default=0, metavar="N",
                    help="also the N latest challenge photos from the public results index (unlabelled)")
    add_default(dp, "top", help="with --challenges: keep this many miners' answers a photo")
    add_manifest_arg(dp, "take the element's objects from this manifest (default: the console's)")
    dp.add_argument("--map", action="append", nargs="+", metavar="SOURCE=OBJECT",
                    help="a starter class the element spells otherwise")
    dp.add_argument("--drop", action="append", nargs="+", metavar="NAME", help="leave out this starter class")
    dp.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30; retried)")
    add_json_arg(dp)
    dp.set_defaults(func=_cmd_dataset_pull)
