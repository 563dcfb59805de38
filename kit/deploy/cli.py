"""`tvkit push`, `publish`, `standing`, `chute-slug`, `chutes-list`, `warmup`, `chute-logs`, `delete-chute`
(the chute lookup behind `ping-chute --revision` / `test-chute --revision` is `kit.deploy.ops.resolve_chute`).

Usage: `tvkit push --bundle DIR --element PlayerDetect_v1@1.0 [--plan [--json]] [--no-commit]`
"""

from __future__ import annotations

import argparse
import json
import sys

from .. import KitError
from .common import chutes_client
from .ops import resolve_chute  # also kit.chute.cli's lookup of a revision's chute


def _quiet_http_logs() -> None:
    import logging

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:  # `tvkit -v` keeps every request
        for name in ("httpx", "httpx2", "huggingface_hub"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _load_manifest_for(args: argparse.Namespace):
    """The manifest the element is checked against: --manifest, else the live one for a push and the
    kit's example for a plan. A push whose manifest cannot be read goes on with the given id (as upstream)."""
    from ..manifest import load_manifest

    source = args.manifest or ("example" if args.plan else "live")
    try:
        return load_manifest(source)
    except KitError as e:
        if args.element and not args.manifest:
            print(f"warning: the element is not checked: {str(e).splitlines()[0]}", file=sys.stderr)
            return None
        raise


def _prompt_element(ids: list[str]) -> str:
    """Upstream's prompt (open_source_miner.py:55-63): the ids numbered, a number chosen."""
    print("Available element IDs from manifest:", file=sys.stderr)
    for i, eid in enumerate(ids, 1):
        print(f"  {i}. {eid}", file=sys.stderr)
    while True:
        answer = input(f"Select element ID (number 1-{len(ids)}): ").strip()
        if answer.isdigit() and 1 <= int(answer) <= len(ids):
            return ids[int(answer) - 1]
        print(f"  a number from 1 to {len(ids)}, please", file=sys.stderr)


def _cmd_push(args: argparse.Namespace) -> int:
    from .common import settings
    from .push import plan_push, push, resolve_element

    _quiet_http_logs()
    s = settings()
    manifest = _load_manifest_for(args)
    if args.plan:
        plan = plan_push(s, args.bundle, args.element, args.revision, deploy=not args.no_deploy,
                         commit=not args.no_commit, manifest=manifest, template=args.template)
        print(json.dumps(plan.to_dict(), indent=2) if args.json else plan.format())
        return 0
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    element = resolve_element(args.element, manifest, _prompt_element if interactive else None)
    r = push(args.bundle, element, args.revision, deploy=not args.no_deploy, commit=not args.no_commit, s=s,
             manifest=manifest, template=args.template, warmup_seconds=args.warmup_seconds)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2))
        return 0
    print(f"revision   {r.revision}")
    print(f"element    {r.element_id}")
    if r.chute_name:
        print(f"chute name {r.chute_name}")
        print(f"chute id   {r.chute_id}")
        print(f"slug       {r.slug}")
    if r.commitment:
        print(f"commitment {json.dumps(r.commitment)}")
        print(f"           {r.commit_note}")
    print(f"repo       {r.hf_repo} ({'public' if r.public else 'private'})")
    for note in r.notes:
        print(note)
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from . import ledger
    from .common import hf_repo_of, require, settings
    from .hub import Hub

    s = settings()
    require(s, "HF_USER", "HF_TOKEN", what="tvkit publish")
    repo = hf_repo_of(s)
    if not args.yes:
        if not sys.stdin.isatty():
            raise KitError(f"making {repo} public needs confirmation: run it in a terminal, or pass --yes")
        answer = input(f"make {repo} public? Do it only once its commitment is on chain. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("left private")
            return 1
    Hub(s.hf_endpoint, s.hf_token).set_visibility(repo, private=False)
    ledger.append("publish", {"hf_repo": repo, "public": True})
    print(f"{repo} is public")
    return 0


def _cmd_standing(args: argparse.Namespace) -> int:
    from .standing import standing

    report = standing(args.hotkey, source=args.source)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 0


def _cmd_slug(args: argparse.Namespace) -> int:
    _, chute, url = resolve_chute(args.revision, args.hf_repo)
    out = {"chute_name": chute.get("name"), "chute_id": chute.get("chute_id"), "slug": chute.get("slug"), "url": url,
           "instances": [i.get("instance_id") for i in chute.get("instances") or [] if isinstance(i, dict)]}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(out["slug"])
        print(f"  chute {out['chute_name']}  id {out['chute_id']}  {url}", file=sys.stderr)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from .ops import list_turbovision_chutes

    rows = list_turbovision_chutes(all_chutes=args.all, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no Turbo Vision chutes in this account" + ("" if args.all else " (--all lists every chute)"))
        return 0
    for r in rows:
        print(f"{r['name']:<48} {'hot ' if r['hot'] else 'cold'}  {r['slug']}  {r['chute_id']}  "
              f"rev {(r['revision'] or '?')[:12]}  {r['created_at'] or ''}")
    return 0


def _cmd_warmup(args: argparse.Namespace) -> int:
    s, chute, url = resolve_chute(args.revision, args.hf_repo)
    status = "unknown"
    with chutes_client(s) as api:
        for event in api.warmup(chute["chute_id"], seconds=args.seconds):
            status = str(event.get("status", status))
            print(f"[{status}] {event.get('log', '')}".rstrip(), flush=True)
            if status == "hot":
                break
    print(f"{chute.get('name')}: {status}  {url}")
    return 0 if status == "hot" else 1


def _cmd_logs(args: argparse.Namespace) -> int:
    from .common import require, settings

    s = settings()
    require(s, "CHUTES_API_KEY", what="reading instance logs")
    n = 0
    with chutes_client(s) as api:
        for line in api.instance_logs(args.instance, backfill=args.backfill, seconds=args.seconds):
            print(line, flush=True)
            n += 1
    print(f"{n} line(s) from instance {args.instance}", file=sys.stderr)
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    from .ops import delete_revision

    _, chute, _ = resolve_chute(args.revision, args.hf_repo)
    name, chute_id = chute.get("name"), chute.get("chute_id")
    if not args.yes:
        if not sys.stdin.isatty():
            raise KitError(f"deleting chute {name} needs confirmation: run it in a terminal, or pass --yes")
        what = "" if args.keep_image else " and its image"
        answer = input(f"delete chute {name} ({chute_id}){what}? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted")
            return 1
    out = delete_revision(args.revision, args.hf_repo, keep_image=args.keep_image)
    print(f"deleted chute {name} ({chute_id})")
    if out["image_id"]:
        print(f"deleted image {out['image_id']}")
    return 0


def add_deploy_commands(sub) -> None:
    from typing import get_args

    from ..cli_args import add_bundle_arg, add_element_arg
    from .commitment import CommitmentSource

    p = sub.add_parser("push", help="ship as the subnet ships: checks, private HF repo, chute built, deployed, "
                                    "warmed, healthy, the commitment, then the repo public")
    add_bundle_arg(p, "the bundle folder to check and upload")
    add_element_arg(p, "the manifest element this model competes in (asked when omitted in a terminal)")
    p.add_argument("--revision", help="ship this revision already on the Hub instead of uploading (the command a "
                                      "failed push prints resumes this way)")
    p.add_argument("--manifest", help="where the element is checked: example, live, a file or URL (default: live; "
                                      "example for --plan)")
    p.add_argument("--template", help="the validator's chute template (default: TVKIT_CHUTE_TEMPLATE, an installed "
                                      "scorevision, the cache, or upstream at the pinned commit)")
    p.add_argument("--no-deploy", action="store_true", help="upload only (the repo stays private)")
    p.add_argument("--no-commit", action="store_true", help="stop after the health check: print the commitment, "
                                                            "keep the repo private")
    p.add_argument("--warmup-seconds", type=float, default=900.0, help="how long the chute may take to get hot "
                                                                       "(default 900)")
    p.add_argument("--plan", action="store_true", help="print the steps and the exact commitment, and do nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_push)

    pb = sub.add_parser("publish", help="make HF_USER/ScoreVision public (after a commitment you made yourself)")
    pb.add_argument("--yes", action="store_true", help="do not ask")
    pb.set_defaults(func=_cmd_publish)

    st = sub.add_parser("standing", help="your commitments per element, and whether each is on the compliance "
                                         "failing list, the inactive list or the blacklist")
    st.add_argument("--hotkey", help="SS58 address (default: your wallet's hotkey)")
    st.add_argument("--source", choices=get_args(CommitmentSource),
                    help="where commitments are read (default: the chain when bittensor is installed, else the "
                         "deployments ledger)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_cmd_standing)

    s = sub.add_parser("chute-slug", help="the slug (and id, URL) of a revision's chute")
    s.add_argument("--revision", required=True)
    s.add_argument("--hf-repo", help="USER/ScoreVision of another Hugging Face user (default HF_USER)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_slug)

    ls = sub.add_parser("chutes-list", help="your Turbo Vision chutes: name, hot/cold, slug, id, revision")
    ls.add_argument("--all", action="store_true", help="every chute of the account, not only turbovision-*")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_list)

    w = sub.add_parser("warmup", help="warm a revision's chute up and follow it until it is hot")
    w.add_argument("--revision", required=True)
    w.add_argument("--hf-repo")
    w.add_argument("--seconds", type=float, default=300.0, help="give up after this long (default 300)")
    w.set_defaults(func=_cmd_warmup)

    lg = sub.add_parser("chute-logs", help="an instance's logs (the last --backfill lines, then --seconds of tail)")
    lg.add_argument("--instance", required=True, help="instance id (from `tvkit chute-slug --json` or the warmup)")
    lg.add_argument("--backfill", type=int, default=100)
    lg.add_argument("--seconds", type=float, default=10.0)
    lg.set_defaults(func=_cmd_logs)

    d = sub.add_parser("delete-chute", help="retire a revision's chute and its image")
    d.add_argument("--revision", required=True)
    d.add_argument("--hf-repo")
    d.add_argument("--yes", action="store_true", help="do not ask")
    d.add_argument("--keep-image", action="store_true", help="delete the chute only")
    d.set_defaults(func=_cmd_delete)
