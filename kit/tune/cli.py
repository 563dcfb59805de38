"""`tvkit tune`: sweep a bundle's thresholds by the validator's exact score, write the best.

Usage: `tvkit tune --bundle build/fire --element kit-example/Detect-fire --data data.yaml` (a
Detect element: chosen on the val split, reported on test) or `tvkit tune --bundle build/bundle
--element PlayerDetect_v1@1.0 --data clips/` (football: alternate clips chosen / held out).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _cmd_tune(args: argparse.Namespace) -> int:
    from . import tune_bundle

    r = tune_bundle(args.bundle, args.element, args.data, split=args.tune_split,
                    holdout=None if args.tune_holdout in ("", "none") else args.tune_holdout, manifest=args.manifest,
                    min_images=args.min_images, min_clips=args.min_clips,
                    log=None if args.json else print, workers=args.workers, ray_address=args.ray_address)
    out = Path(args.out) if args.out else Path(args.bundle).parent / f"{Path(args.bundle).name}-tune"
    out.mkdir(parents=True, exist_ok=True)
    (out / "tune.json").write_text(json.dumps(r.to_dict(), indent=1, default=str) + "\n")
    r.figure().savefig(out / "tune.png", dpi=100)
    written = None
    if not args.no_write and (r.decided or args.force):
        written = r.write(force=args.force)
    from .. import track

    track.log_metrics(r.metrics())
    for f in (out / "tune.png", out / "tune.json", Path(args.bundle) / "miner.json"):
        track.log_artifact(f)
    if args.json:
        print(json.dumps(dict(r.to_dict(), written=str(written) if written else None), default=str))
        return 0
    print(r)
    print(f"  picture and figures: {out / 'tune.png'}, {out / 'tune.json'}")
    if written:
        print(f"  written: {written} (the chosen setting and a `tuned` record)")
    elif args.no_write:
        print("  not written (--no-write)")
    return 0


def add_tune_command(sub) -> None:
    from ..cli_args import add_default

    t = sub.add_parser("tune", help="sweep a bundle's thresholds (global, per class, NMS IoU, max detections) by the "
                                    "validator's exact element score; the model runs once; writes the best into "
                                    "miner.json")
    t.add_argument("--bundle", required=True, help="the bundle folder (`tvkit package`)")
    t.add_argument("--element", help="the element id (default: the bundle's miner.json element_id)")
    t.add_argument("--data", help="Detect: the element's YOLO dataset (data.yaml); football: a folder of clips "
                                  "(<name>.mp4 + <name>.json)")
    t.add_argument("--manifest", help="a manifest file or 'live' (default: the kit's example)")
    add_default(t, "tune_split", "--split", help="Detect: the split the setting is chosen on")
    add_default(t, "tune_holdout", "--holdout", help="Detect: the split the choice is reported on ('none': no "
                                                     "report); football: 'none' tunes on every clip")
    add_default(t, "min_images", help="refuse with fewer scored photos")
    add_default(t, "min_clips", help="refuse with fewer tune clips")
    t.add_argument("--out", help="folder for tune.png and tune.json (default: <bundle>-tune beside the bundle)")
    t.add_argument("--no-write", action="store_true", help="report only; leave miner.json as it is")
    t.add_argument("--force", action="store_true", help="write even when the tune split cannot tell the choice "
                                                       "from the bundle's setting")
    t.add_argument("--json", action="store_true", help="the result as one JSON object")
    t.add_argument("--workers", type=int, default=1, help="run the model pass in this many chunks as Ray tasks "
                                                          "(default 1: in this process)")
    from ..runs_ray import add_ray_arguments

    add_ray_arguments(t)
    t.set_defaults(func=_cmd_tune)
