"""`tvkit generate-chute-script`, `dry-run`, `test-chute` and `ping-chute`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

from .. import KitError


def _repo_and_user(args: argparse.Namespace, local_ok: bool) -> tuple[str, str]:
    """--hf-repo / --chutes-user, else HF_USER / CHUTES_USERNAME, else (dry runs only) local names."""
    from ..settings import load_settings
    from .dryrun import LOCAL_CHUTES_USER, LOCAL_HF_REPO

    s = load_settings()
    repo = args.hf_repo or (f"{s.hf_user}/turbovision-miner" if s.hf_user else None)
    user = args.chutes_user or s.chutes_username
    if local_ok:
        return repo or LOCAL_HF_REPO, user or LOCAL_CHUTES_USER
    if not repo:
        raise KitError("no Hugging Face repo: pass --hf-repo USER/NAME or set HF_USER (in the environment or .env)")
    if not user:
        raise KitError("no Chutes user: pass --chutes-user U or set CHUTES_USERNAME (the name you gave "
                       "`chutes register --username`)")
    return repo, user


def _cmd_generate(args: argparse.Namespace) -> int:
    from .render import chute_name, write_chute_script

    repo, user = _repo_and_user(args, local_ok=False)
    name = chute_name(repo, args.revision)
    out = Path(args.out or Path("build") / f"{name.replace('-', '_')}.py")
    write_chute_script(out, repo, args.revision, user, bundle=args.bundle)
    print(f"chute {name} ({repo}@{args.revision}, Chutes user {user.lower()})")
    print(f"  build:  chutes build {out.stem}:chute --wait      (from {out.parent})")
    print(f"  deploy: chutes deploy {out.stem}:chute --accept-fee")
    print(out)
    return 0


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


def _cmd_dry_run(args: argparse.Namespace) -> int:
    from .dryrun import ClipServer, DryRun, build_local

    repo, user = _repo_and_user(args, local_ok=True)
    with tempfile.TemporaryDirectory(prefix="tvkit-dry-") as tmp:
        bundle = _bundle_or_reference(args.bundle, tmp)
        run = DryRun(bundle, port=args.port, hf_repo=repo, chutes_user=user)
        print(f"starting {bundle} as {repo}@{run.revision[:12]} under `chutes run --dev` ...", file=sys.stderr)
        with run:
            for w in run.warnings:
                print(f"warning (newer subnet rule): {w}", file=sys.stderr)
            if args.docker:
                try:
                    build_local(run.chute_file)
                except KitError as e:
                    print(f"skipped chutes build --local: {e}", file=sys.stderr)
            clips = ClipServer(args.clips).start() if args.clips else None
            try:
                if clips:
                    print(f"clips: http://127.0.0.1:{clips.port}/  (serving {clips.folder})")
                print(f"chute log: {run.log_path}", file=sys.stderr)
                print(f"try: tvkit ping-chute --url {run.base_url}", file=sys.stderr)
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


def _report(rehearsal, as_json: bool) -> int:
    from .rehearse import format_rehearsal

    if as_json:
        print(json.dumps(rehearsal.to_dict(), indent=2))
    else:
        print(format_rehearsal(rehearsal))
    return 0 if rehearsal.ok else 1


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
    with tempfile.TemporaryDirectory(prefix="tvkit-test-") as tmp:
        video, truth = (Path(args.video), Path(args.truth) if args.truth else None) if args.video \
            else _synthetic_clip(tmp, args.frames)
        if args.local:
            bundle = _bundle_or_reference(args.bundle, tmp)
            with DryRun(bundle) as run:
                r = rehearse(run.base_url, video, truth, seed=args.seed)
        else:
            key = load_settings().chutes_api_key
            r = rehearse(args.url, video, truth, api_key=key, clip_url=args.clip_url, seed=args.seed)
        if args.revision:
            from ..deploy.ledger import append

            append("test", {"revision": args.revision, "chute_name": chute.get("name"), "slug": chute.get("slug"),
                            "ok": r.ok, "status": r.status, "seconds": round(r.seconds, 3),
                            "latency_score": r.latency_score, "final": r.breakdown.get("final"),
                            "video": str(video)})
        return _report(r, args.json)


def _cmd_ping(args: argparse.Namespace) -> int:
    from ..settings import load_settings
    from .rehearse import ping

    if bool(args.url) == bool(args.revision):
        raise KitError("say which chute: --url URL (a running chute) or --revision R (your deployed chute)")
    if args.revision:
        from ..deploy.cli import resolve_chute

        _, _, args.url = resolve_chute(args.revision, args.hf_repo)
    health = ping(args.url, load_settings().chutes_api_key)
    print(json.dumps(health, indent=None if not args.json else 2))
    return 0 if health.get("model_loaded") else 1


def add_chute_commands(sub) -> None:
    g = sub.add_parser("generate-chute-script", help="render the chute file for a revision of your HF repo")
    g.add_argument("--revision", required=True, help="the Hugging Face commit (or branch/tag) the chute serves")
    g.add_argument("--hf-repo", help="USER/NAME (default HF_USER/turbovision-miner)")
    g.add_argument("--chutes-user", help="your Chutes username (default CHUTES_USERNAME)")
    g.add_argument("--bundle", help="the bundle whose chute_config.yml to bake in (default chute_template/bundle)")
    g.add_argument("--out", help="the .py to write (default build/<chute name>.py)")
    g.set_defaults(func=_cmd_generate)

    d = sub.add_parser("dry-run", help="serve a bundle under the real chutes runtime here, until Ctrl-C")
    d.add_argument("--bundle", help="the bundle folder (default: package the reference model)")
    d.add_argument("--port", type=int, default=8000, help="chute port (default 8000)")
    d.add_argument("--clips", help="also serve this folder of clips over HTTP, for challenges")
    d.add_argument("--hf-repo", help="the repo name the chute believes it serves (default local)")
    d.add_argument("--chutes-user", help="Chutes username in the rendered file (default local)")
    d.add_argument("--docker", action="store_true", help="also run `chutes build --local` (needs docker)")
    d.set_defaults(func=_cmd_dry_run)

    t = sub.add_parser("test-chute", help="a validator-style challenge: POST, check the contract, score, time")
    t.add_argument("--local", action="store_true", help="dry-run --bundle here and rehearse against it")
    t.add_argument("--url", help="the base URL of a running chute (e.g. what dry-run printed)")
    t.add_argument("--revision", help="your deployed chute of this Hugging Face revision (found via the Chutes API)")
    t.add_argument("--hf-repo", help="with --revision: USER/NAME (default HF_USER/turbovision-miner)")
    t.add_argument("--bundle", help="with --local: the bundle (default: package the reference model)")
    t.add_argument("--video", help="the clip (default: a fresh synthetic clip with ground truth)")
    t.add_argument("--truth", help="its ground-truth JSON, to score the answer")
    t.add_argument("--clip-url", help="where a remote chute can download --video (a local server otherwise)")
    t.add_argument("--frames", type=int, default=100, help="frames of the default synthetic clip (default 100)")
    t.add_argument("--seed", type=int, help="meta.seed of the challenge")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=_cmd_test_chute)

    p = sub.add_parser("ping-chute", help="POST /health to a running chute")
    p.add_argument("--url", help="the chute's base URL")
    p.add_argument("--revision", help="your deployed chute of this Hugging Face revision (found via the Chutes API)")
    p.add_argument("--hf-repo", help="with --revision: USER/NAME (default HF_USER/turbovision-miner)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_ping)
