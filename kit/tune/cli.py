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

    r = tune_bundle(args.bundle, args.element, args.data, split=args.split,
                    holdout=None if args.holdout in ("", "none") else args.holdout, manifest=args.manifest,
                    min_images=args.min_images, min_clips=args.min_clips,
                    log=None if args.json else print)
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
    t = sub.add_parser("tune", help="sweep a bundle's thresholds (global, per class, NMS IoU, max detections) by the "
                                    "validator's exact element score; the model runs once; writes the best into "
                                    "miner.json")
    t.add_argument("--bundle", required=True, help="the bundle folder (`tvkit package`)")
    t.add_argument("--element", help="the element id (default: the bundle's miner.json element_id)")
    t.add_argument("--data", help="Detect: the element's YOLO dataset (data.yaml); football: a folder of clips "
                                  "(<name>.mp4 + <name>.json)")
    t.add_argument("--manifest", help="a manifest file or 'live' (default: the kit's example)")
    t.add_argument("--split", default="val", help="Detect: the split the setting is chosen on (default val)")
    t.add_argument("--holdout", default="test", help="Detect: the split the choice is reported on (default test; "
                                                     "'none': no report); football: 'none' tunes on every clip")
    t.add_argument("--min-images", type=int, default=30, help="refuse with fewer scored photos (default 30)")
    t.add_argument("--min-clips", type=int, default=3, help="refuse with fewer tune clips (default 3)")
    t.add_argument("--out", help="folder for tune.png and tune.json (default: <bundle>-tune beside the bundle)")
    t.add_argument("--no-write", action="store_true", help="report only; leave miner.json as it is")
    t.add_argument("--force", action="store_true", help="write even when the tune split cannot tell the choice "
                                                       "from the bundle's setting")
    t.add_argument("--json", action="store_true", help="the result as one JSON object")
    t.set_defaults(func=_cmd_tune)
