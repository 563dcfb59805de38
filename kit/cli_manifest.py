"""`tvkit manifest show|pull` and `tvkit elements list`: what the validator scores, from the manifest.

Usage: `add_manifest_commands(sub)` in kit/cli.py's build_parser; then
`tvkit elements list`, `tvkit manifest show --manifest M.yml`, `tvkit manifest pull --block 8300000`.

`show` and `list` read a manifest leniently: a file the validator refuses is still shown, with
the reasons on top (upstream's own example_manifest.yml is such a file), while `tvkit evaluate`
refuses it.
"""

from __future__ import annotations

import argparse
import json

from .manifest import Element, Manifest, load_manifest, pull_manifest

SOURCE_HELP = "a manifest file (YAML/JSON), 'live' (the public index), a URL, or 'example' (default)"


def _manifest(args: argparse.Namespace) -> Manifest:
    return load_manifest(args.manifest, block=args.block, strict=False)


def element_line(e: Element) -> str:
    """One element as the list shows it."""
    pillars = ", ".join(f"{p} {w:g}" for p, w in e.pillars.items()) or "(no pillars)"
    objects = ", ".join(e.objects) if e.objects else "-"
    lat = f"{e.latency_p95_ms} ms" if e.latency_p95_ms is not None else "-"
    fps = f"{e.service_rate_fps} fps" if e.service_rate_fps is not None else "-"
    size = f"{e.max_model_size_mb:g} MB" if e.max_model_size_mb is not None else "-"
    kind = "image: one photo per challenge" if e.kind == "image" else "clip: a video or its frames"
    lines = [f"{e.id}  [{e.track or 'public'}; category {_category(e)}; kind {kind}]",
             f"    objects: {objects}" + (f"; keypoint template: {e.keypoint_template}" if e.keypoint_template else ""),
             f"    pillars: {pillars}",
             f"    latency p95 {lat}{_budget(e)}, service rate {fps}, model size <= {size}; "
             f"baseline_theta {e.baseline_theta:g}, "
             f"delta_floor {e.delta_floor:g}, beta {e.beta:g}"]
    if e.targets:
        lines.append("    targets: " + ", ".join(f"{p} {v:.3g}" for p, v in e.targets.items()))
    unscored = e.unscored_pillars()
    if unscored and e.track != "private":
        lines.append(f"    NOT SCORABLE: the validator registers no metric for {', '.join(unscored)} in this category")
    return "\n".join(lines)


def _budget(e: Element) -> str:
    """The CPU budget the compliance loop allows: latency_p95_ms + 10 ms (upstream settings.py:458-460)."""
    return f" (compliance CPU budget {e.latency_p95_ms + 10} ms)" if e.latency_p95_ms is not None else ""


def _category(e: Element) -> str:
    from .manifest import category_of

    return category_of(e.id) or "none (refused)"


def _header(m: Manifest) -> list[str]:
    out = [f"{m.describe()}; expiry block {m.expiry_block}" + (f"; picked for block {m.block}" if m.block else ""),
           f"source: {m.source}"]
    if m.example:
        out.append("(an EXAMPLE with the kit's own values; `tvkit manifest pull` gets the validator's)")
    if m.problems:
        out.append("THE VALIDATOR WOULD REFUSE THIS MANIFEST:")
        out += [f"  - {p}" for p in m.problems]
    return out


def _cmd_elements_list(args: argparse.Namespace) -> int:
    m = _manifest(args)
    if args.json:
        print(json.dumps({"manifest": m.describe(), "problems": m.problems,
                          "elements": [e.to_dict() for e in m.elements]}, indent=2))
        return 0
    print("\n".join(_header(m)))
    for e in m.elements:
        print(element_line(e))
    return 0


def _cmd_manifest_show(args: argparse.Namespace) -> int:
    m = _manifest(args)
    if args.json:
        print(json.dumps({**m.to_dict(), "problems": m.problems}, indent=2))
        return 0
    print("\n".join(_header(m)))
    print(f"{len(m.elements)} element(s): " + ", ".join(m.ids))
    return 0 if not m.problems else 1


def _cmd_manifest_pull(args: argparse.Namespace) -> int:
    m = pull_manifest(index=args.index, block=args.block)
    print("\n".join(_header(m)))
    print(f"{len(m.elements)} element(s): " + ", ".join(m.ids))
    return 0


def _source_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """What `manifest show` and `elements list` both read: the manifest, the block, --json."""
    p.add_argument("--manifest", default=None, help=SOURCE_HELP)
    p.add_argument("--block", type=int, help="with 'live': the chain block to pick the manifest for")
    p.add_argument("--json", action="store_true")
    return p


def add_manifest_commands(sub) -> None:
    """Register `manifest show|pull` and `elements list` on the top-level subparsers."""
    mp = sub.add_parser("manifest", help="the validator's manifest: show one, pull the live one (cached)")
    ms = mp.add_subparsers(dest="manifest_cmd", required=True)
    _source_args(ms.add_parser("show", help="a manifest's window and elements, and why the validator would "
                                           "refuse it")).set_defaults(func=_cmd_manifest_show)
    pl = ms.add_parser("pull", help="fetch the manifest active at a block from the public index into the cache")
    pl.add_argument("--block", type=int, help="the chain block (default: the latest manifest)")
    pl.add_argument("--index", help="the index URL (default $TVKIT_MANIFEST_INDEX_URL or the public one)")
    pl.set_defaults(func=_cmd_manifest_pull)

    ep = sub.add_parser("elements", help="the elements a manifest defines")
    es = ep.add_subparsers(dest="elements_cmd", required=True)
    _source_args(es.add_parser("list", help="id, objects, pillars and weights, latency and size limits, baseline, "
                                           "track")).set_defaults(func=_cmd_elements_list)
