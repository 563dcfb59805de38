"""`tvkit push`, `chute-slug`, `chutes-list`, `warmup`, `chute-logs`, `delete-chute` (and the chute
lookup behind `ping-chute --revision` / `test-chute --revision`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import KitError


def _client(s):
    from .chutes_api import ChutesAPI

    return ChutesAPI(s.chutes_api_url, s.chutes_api_key)


def resolve_chute(revision: str, hf_repo: str | None = None) -> tuple[Any, dict[str, Any], str]:
    """(settings, the chute's API record, its base URL) for a revision of the HF repo."""
    from ..chute.render import chute_name
    from .chutes_api import ChuteNotFound
    from .common import chute_base_url, hf_repo_of, require, settings

    s = settings()
    require(s, "CHUTES_API_KEY", *([] if hf_repo else ["HF_USER"]), what=f"finding the chute of revision {revision}")
    repo = hf_repo_of(s, hf_repo)
    name = chute_name(repo, revision)
    with _client(s) as api:
        try:
            chute = api.get_chute(name)
        except ChuteNotFound as e:
            raise KitError(f"no chute {name} (revision {revision} of {repo}) in your Chutes account: push it with "
                           f"`tvkit push --revision {revision}`, or see what is deployed with `tvkit chutes-list`") from e
    slug = chute.get("slug")
    if not slug:
        raise KitError(f"chute {name} has no slug yet (the Chutes API gave none); try again in a minute")
    return s, chute, chute_base_url(s, slug)


def _quiet_http_logs() -> None:
    import logging

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:  # `tvkit -v` keeps every request
        for name in ("httpx", "httpx2", "huggingface_hub"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _cmd_push(args: argparse.Namespace) -> int:
    from .common import settings
    from .push import format_plan, plan_push, push

    _quiet_http_logs()
    s = settings()
    if args.plan:
        steps, missing = plan_push(s, args.model_path, args.revision, args.hf_repo, deploy=not args.no_deploy,
                                   commit=not args.no_commit)
        print(format_plan(steps, missing))
        return 0
    r = push(args.model_path, args.revision, args.hf_repo, deploy=not args.no_deploy, commit=not args.no_commit,
             s=s)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2))
        return 0
    print(f"revision   {r.revision}")
    print(f"chute name {r.chute_name}")
    if r.deployed:
        print(f"chute id   {r.chute_id}")
        print(f"slug       {r.slug}")
        print(f"commitment {json.dumps(r.commitment)}")
        print(f"           {r.committed}")
    for note in r.notes:
        print(note)
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
    with _client(s) as api:
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
    with _client(s) as api:
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
    p = sub.add_parser("push", help="ship: upload the bundle to Hugging Face, build and deploy the chute, record it")
    p.add_argument("--model-path", help="the bundle folder to upload (checked against the chute rules first)")
    p.add_argument("--revision", help="ship this revision already on the Hub instead of uploading (with "
                                      "--model-path: its local copy, for the checks and chute_config.yml)")
    p.add_argument("--hf-repo", help="USER/NAME (default HF_USER/turbovision-miner; created private)")
    p.add_argument("--no-deploy", action="store_true", help="upload only; no chute")
    p.add_argument("--no-commit", action="store_true", help="print the on-chain commitment, do not commit it")
    p.add_argument("--plan", action="store_true", help="print every call it would make, and do nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_push)

    s = sub.add_parser("chute-slug", help="the slug (and id, URL) of a revision's chute")
    s.add_argument("--revision", required=True)
    s.add_argument("--hf-repo", help="USER/NAME (default HF_USER/turbovision-miner)")
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
