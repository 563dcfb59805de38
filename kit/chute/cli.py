"""`tvkit chute verify`, `generate-chute-script`, `dry-run`, `test-chute` and `ping-chute`.

Usage:
    tvkit generate-chute-script --revision <40 hex>    # the validator's chute for that revision
    tvkit chute verify build/turbovision_alice_elk.py   # MATCH, or where it differs (exit 1)
    tvkit test-chute --local --mode both                # dry run + a video and a frames challenge
    tvkit dry-run --bundle B --manifest M --element manak0/Detect-fire   # image challenges, PASS or why not
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

from .. import KitError


def _names(args: argparse.Namespace) -> tuple[str, str]:
    """--hf-user / --chutes-user, else HF_USER / CHUTES_USERNAME."""
    from ..settings import load_settings

    s = load_settings()
    hf_user, user = args.hf_user or s.hf_user, args.chutes_user or s.chutes_username
    if not hf_user:
        raise KitError("no Hugging Face user: pass --hf-user U or set HF_USER (in the environment or .env); the "
                       "chute serves the repo HF_USER/ScoreVision")
    if not user:
        raise KitError("no Chutes user: pass --chutes-user U or set CHUTES_USERNAME (the name you gave "
                       "`chutes register --username`)")
    return hf_user, user


def _cmd_generate(args: argparse.Namespace) -> int:
    from .official import render_official, verify_text

    hf_user, user = _names(args)
    chute = render_official(args.revision, hf_user, user, template=args.template,
                            upstream_commit=args.upstream_commit)
    check = verify_text(chute.text, source=chute.source)
    if not check.match:
        raise KitError("the rendered chute does not match the validator's template (a kit bug):\n" + check.format())
    out = chute.write(args.out or Path("build") / f"{chute.chute_name.replace('-', '_')}.py")
    print(f"chute {chute.chute_name}: {chute.hf_repo}@{args.revision}, Chutes user {user}")
    print(f"  template: {chute.source.describe()}")
    print(f"  integrity hash {check.file_hash} = the template's (validators accept it)")
    print(f"  build:  chutes build {out.stem}:chute --public --wait      (from {out.parent})")
    print(f"  deploy: chutes deploy {out.stem}:chute --accept-fee")
    print(out)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .official import fetch_deployed_code, verify_text

    if bool(args.file) == bool(args.chute_id):
        raise KitError("say which chute: a FILE, or --chute-id ID (a deployed chute, read from the Chutes API)")
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise KitError(f"{path}: no such chute file")
        text, name = path.read_text(encoding="utf-8", errors="replace"), str(path)
    else:
        text, name = fetch_deployed_code(args.chute_id), f"chute {args.chute_id} (its code on Chutes)"
    v = verify_text(text, template=args.template, upstream_commit=args.upstream_commit)
    print(json.dumps(v.as_dict(), indent=2) if args.json else v.format(name))
    return 0 if v.match else 1


def _bundle_or_reference(bundle: str | None, tmp: str) -> Path:
    if bundle:
        return Path(bundle)
    from ..bundle import package

    print("no --bundle: packaging the committed reference model", file=sys.stderr)
    return package(Path(tmp) / "bundle")


def _serve_until_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _dry_run_element(args: argparse.Namespace):
    """The --element of a dry run (from --manifest), or None."""
    if not args.element:
        if args.images:
            raise KitError("--images goes with --element ID (an image element: its photos become challenges)")
        return None
    from ..manifest import load_manifest

    return load_manifest(args.manifest or None).element(args.element)


def _cmd_dry_run_images(args: argparse.Namespace, element) -> int:
    """An image element: its photos as image challenges to the official chute, then PASS or why not."""
    from .imagerun import dry_run_images, format_image_dry_run

    with tempfile.TemporaryDirectory(prefix="tvkit-dry-") as tmp:
        if args.bundle:
            bundle = Path(args.bundle)
        else:
            from ..bundle import package

            print(f"no --bundle: packaging the reference model for {element.id}", file=sys.stderr)
            bundle = package(Path(tmp) / "bundle", element=element)
        print(f"starting {bundle} in the validator's chute under `chutes run --dev`; sending image challenges ...",
              file=sys.stderr)
        r = dry_run_images(bundle, element, images=args.images, max_images=args.max_images, template=args.template,
                           port=args.port)
    print(json.dumps(r.metrics()) if args.json else format_image_dry_run(r))
    return 0 if r.ok else 1


def _cmd_dry_run(args: argparse.Namespace) -> int:
    from .dryrun import ClipServer, DryRun, build_local

    element = _dry_run_element(args)
    if element is not None and element.kind == "image":
        return _cmd_dry_run_images(args, element)
    with tempfile.TemporaryDirectory(prefix="tvkit-dry-") as tmp:
        bundle = _bundle_or_reference(args.bundle, tmp)
        run = DryRun(bundle, port=args.port, template=args.template)
        print(f"starting {bundle} as {run.hf_repo}@{run.revision[:12]} in the validator's chute "
              f"({run.source.describe()}) under `chutes run --dev` ...", file=sys.stderr)
        with run:
            if args.docker:
                try:
                    build_local(run.chute_file)
                except KitError as e:
                    print(f"skipped chutes build --local: {e}", file=sys.stderr)
            clips = ClipServer(args.clips_dir).start() if args.clips_dir else None
            try:
                if clips:
                    print(f"clips: http://127.0.0.1:{clips.port}/  (serving {clips.folder})")
                print(f"chute log: {run.log_path}", file=sys.stderr)
                print(f"try: tvkit test-chute --url {run.base_url}", file=sys.stderr)
                print(run.base_url, flush=True)
                _serve_until_signal()
            finally:
                if clips:
                    clips.stop()
        print("stopped", file=sys.stderr)
    return 0


def _synthetic_clip(folder: str, frames: int) -> tuple[Path, Path]:
    from ..synth import generate_clip

    print(f"no --video: generating a {frames}-frame synthetic clip", file=sys.stderr)
    return generate_clip(Path(folder) / "clip", n_frames=frames, seed=44)


def _report(rehearsals: list, as_json: bool) -> int:
    from .rehearse import format_rehearsal

    if as_json:
        print(json.dumps([r.to_dict() for r in rehearsals], indent=2))
    else:
        print("\n".join(format_rehearsal(r) for r in rehearsals))
    return 0 if all(r.ok for r in rehearsals) else 1


def _cmd_test_chute(args: argparse.Namespace) -> int:
    from ..settings import load_settings
    from .dryrun import DryRun
    from .rehearse import rehearse

    if sum(map(bool, (args.local, args.url, args.revision))) != 1:
        raise KitError("say which chute: --local (dry-run a bundle here), --url URL (a running chute) or "
                       "--revision R (your deployed chute of that revision)")
    if args.revision:
        from ..deploy.cli import resolve_chute

        _, chute, args.url = resolve_chute(args.revision, args.hf_repo)
    modes = ("video", "frames") if args.mode == "both" else (args.mode,)
    with tempfile.TemporaryDirectory(prefix="tvkit-test-") as tmp:
        video, truth = (Path(args.video), Path(args.truth) if args.truth else None) if args.video \
            else _synthetic_clip(tmp, args.clip_frames)

        def run_all(url: str, key=None) -> list:
            return [rehearse(url, video, truth, api_key=key, clip_url=args.clip_url, seed=args.seed, mode=m,
                             n_frames=args.frames_in_body, frame_urls=args.frame_urls, element=args.element)
                    for m in modes]

        if args.local:
            bundle = _bundle_or_reference(args.bundle, tmp)
            with DryRun(bundle, template=args.template) as run:
                results = run_all(run.base_url)
        else:
            results = run_all(args.url, load_settings().chutes_api_key)
        if args.revision:
            from ..deploy.ops import record_test

            for r in results:
                record_test(args.revision, chute, r, video)
        return _report(results, args.json)


def _cmd_ping(args: argparse.Namespace) -> int:
    from ..settings import load_settings
    from .rehearse import ping

    if bool(args.url) == bool(args.revision):
        raise KitError("say which chute: --url URL (a running chute) or --revision R (your deployed chute)")
    if args.revision:
        from ..deploy.cli import resolve_chute

        _, _, args.url = resolve_chute(args.revision, args.hf_repo)
    from ..contract import healthy

    health = ping(args.url, load_settings().chutes_api_key)
    print(json.dumps(health, indent=None if not args.json else 2))
    return 0 if healthy(health) else 1


def add_chute_commands(sub) -> None:
    from ..cli_args import add_clips_dir_arg, add_default, add_renamed
    from .rehearse import CHALLENGE_MODES

    c = sub.add_parser("chute", help="the validator's chute template: verify a chute file or a deployed chute")
    c_sub = c.add_subparsers(dest="chute_cmd", required=True)
    v = c_sub.add_parser("verify", help="the validator's integrity hash of a chute against its template; exit 1 "
                                        "on a mismatch")
    v.add_argument("file", nargs="?", help="a chute .py file")
    v.add_argument("--chute-id", help="a deployed chute: its code is read from the Chutes API, as validators do")
    _template_args(v)
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_verify)

    g = sub.add_parser("generate-chute-script", help="render the validator's chute for a revision of your HF repo")
    g.add_argument("--revision", required=True, help="the Hugging Face commit hash (40 hex) the chute serves")
    g.add_argument("--hf-user", help="your Hugging Face user (default HF_USER); the repo is HF_USER/ScoreVision")
    g.add_argument("--chutes-user", help="your Chutes username (default CHUTES_USERNAME)")
    _template_args(g)
    g.add_argument("--out", help="the .py to write (default build/<chute name>.py)")
    g.set_defaults(func=_cmd_generate)

    d = sub.add_parser("dry-run", help="serve a bundle in the validator's chute under the real chutes runtime, "
                                       "until Ctrl-C")
    d.add_argument("--bundle", help="the bundle folder (default: package the reference model)")
    d.add_argument("--port", type=int, default=8000, help="chute port (default 8000)")
    add_clips_dir_arg(d, "also serve this folder of clips over HTTP, for challenges")
    d.add_argument("--template", help="the validator's turbovision_chute.py.j2 or a turbovision checkout")
    d.add_argument("--docker", action="store_true", help="also run `chutes build --local` (needs docker)")
    d.add_argument("--element", help="an image (Detect) element: send its photos as image challenges (image_url "
                                     "and payload), check each answer, print PASS or why not, and stop")
    d.add_argument("--manifest", help="with --element: a manifest file or 'live' (default: the kit's example)")
    d.add_argument("--images", help="with an image --element: a photo or folder of photos (default: the element's "
                                    "test photos from ../shared/data/detect)")
    add_default(d, "max_images", help="with an image --element: photos to send (two challenges each)")
    d.add_argument("--json", action="store_true", help="with an image --element: print the verdict as JSON")
    d.set_defaults(func=_cmd_dry_run)

    t = sub.add_parser("test-chute", help="a validator-style challenge: POST, check the contract, score, time")
    t.add_argument("--local", action="store_true", help="dry-run --bundle here and rehearse against it")
    t.add_argument("--url", help="the base URL of a running chute (e.g. what dry-run printed)")
    t.add_argument("--revision", help="your deployed chute of this Hugging Face revision (found via the Chutes API)")
    t.add_argument("--hf-repo", help="with --revision: USER/NAME (default HF_USER/ScoreVision)")
    t.add_argument("--bundle", help="with --local: the bundle (default: package the reference model)")
    t.add_argument("--template", help="with --local: the validator's chute template (file or checkout)")
    t.add_argument("--mode", choices=CHALLENGE_MODES + ("both",), default="both",
                   help="video (a clip url), frames (base64 PNGs in the body) or both (default)")
    t.add_argument("--video", help="the clip (default: a fresh synthetic clip with ground truth)")
    t.add_argument("--truth", help="its ground-truth JSON, to score the answer")
    t.add_argument("--element", help="the element whose objects the answer's cls_ids index (default: the kit's "
                                     "example manifest)")
    t.add_argument("--clip-url", help="where a remote chute can download --video (a local server otherwise)")
    add_default(t, "clip_frames", help="frames of the default synthetic clip")
    add_renamed(t, "--frames", "--clip-frames", "clip_frames", type=int)
    add_default(t, "frames_in_body", help="frames mode: how many frames")
    t.add_argument("--frame-urls", action="store_true", help="frames mode: also send each frame's url")
    t.add_argument("--seed", type=int, help="meta.seed of the challenge")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=_cmd_test_chute)

    p = sub.add_parser("ping-chute", help="POST /health to a running chute")
    p.add_argument("--url", help="the chute's base URL")
    p.add_argument("--revision", help="your deployed chute of this Hugging Face revision (found via the Chutes API)")
    p.add_argument("--hf-repo", help="with --revision: USER/NAME (default HF_USER/ScoreVision)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_ping)


def _template_args(p) -> None:
    p.add_argument("--template", help="the validator's turbovision_chute.py.j2, or a turbovision checkout (default: "
                                      "$TVKIT_CHUTE_TEMPLATE, an installed scorevision, the cache, or a download)")
    p.add_argument("--upstream-commit", help="the turbovision commit to read the template at (default ea7412f)")
