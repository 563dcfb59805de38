"""Operate what was shipped (used by `tvkit` and notebook 06): find, list, test, delete; pictures from the ledger.

Usage: `s, chute, url = resolve_chute("<40-hex revision>")`; `list_turbovision_chutes()`; `delete_revision(rev)`

`resolve_chute` (the chute of a revision, also behind `tvkit ping-chute/test-chute --revision`)
lives here, not in `cli.py`: this module used to import it from `cli`, which imports this
module, a circle (tests/test_project.py keeps kit free of them). `cli.py` re-exports it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .. import KitError
from ..settings import Settings
from . import ledger
from .common import chute_base_url, chutes_client, require, settings


def full_revision(revision: str) -> str:
    """A 40-hex revision, a unique prefix of one in the deployments ledger expanded (the chute name is
    derived from the full hash)."""
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    found = sorted({e["revision"] for e in ledger.read() if str(e.get("revision") or "").startswith(revision)
                    and len(str(e["revision"])) == 40})
    if len(found) == 1:
        return found[0]
    raise KitError(f"revision {revision!r}: give the full 40-hex commit hash (the chute name is derived from it)"
                   + (f"; the ledger has {len(found)} revisions starting so" if found else ""))


def resolve_chute(revision: str, hf_repo: str | None = None) -> tuple[Settings, dict[str, Any], str]:
    """(settings, the chute's API record, its base URL) for a revision of the miner's repo.

    `hf_repo` ("USER/ScoreVision") names another Hugging Face user than HF_USER.
    """
    from ..chute.official import chute_name
    from .chutes_api import ChuteNotFound

    s = settings()
    require(s, "CHUTES_API_KEY", *([] if hf_repo else ["HF_USER"]), what=f"finding the chute of revision {revision}")
    user = hf_repo.split("/")[0] if hf_repo else s.hf_user
    revision = full_revision(revision)
    name = chute_name(revision, user)
    with chutes_client(s) as api:
        try:
            chute = api.get_chute(name)
        except ChuteNotFound as e:
            raise KitError(f"no chute {name} (revision {revision} of {user}/ScoreVision) in your Chutes account: push "
                           f"it with `tvkit push --revision {revision} --element ID`, or see what is deployed "
                           "with `tvkit chutes-list`") from e
    slug = chute.get("slug")
    if not slug:
        raise KitError(f"chute {name} has no slug yet (the Chutes API gave none); try again in a minute")
    return s, chute, chute_base_url(s, slug)


def list_turbovision_chutes(all_chutes: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """Your chutes (turbovision-* unless `all_chutes`) with the revision the ledger knows for each."""
    s = settings()
    require(s, "CHUTES_API_KEY", what="listing your chutes")
    with chutes_client(s) as api:
        items = api.list_chutes(limit=limit)
    revs = {e.get("chute_name"): e.get("revision") for e in ledger.pushes(ledger.read())}
    return [{"name": c.get("name"), "chute_id": c.get("chute_id"), "slug": c.get("slug"), "hot": bool(c.get("hot")),
             "created_at": c.get("created_at"), "revision": revs.get(c.get("name"))}
            for c in items if all_chutes or str(c.get("name", "")).startswith("turbovision-")]


def rehearse_revision(revision: str, video: str | os.PathLike, truth: str | os.PathLike | None = None,
                  clip_url: str | None = None, hf_repo: str | None = None, seed: int | None = None):
    """A validator-style challenge to the deployed chute of `revision`; recorded in the ledger."""
    from ..chute.rehearse import rehearse

    s, chute, url = resolve_chute(revision, hf_repo)
    r = rehearse(url, video, truth, api_key=s.chutes_api_key, clip_url=clip_url or None, seed=seed)
    record_test(revision, chute, r, video)
    return r


def record_test(revision: str, chute: dict[str, Any], r: Any, video: str | os.PathLike) -> None:
    """One ledger line for a rehearsal (`kit.chute.rehearse.Rehearsal`) of a deployed chute."""
    ledger.append("test", {"revision": revision, "chute_name": chute.get("name"), "slug": chute.get("slug"),
                           "mode": r.mode, "ok": r.ok, "status": r.status, "seconds": round(r.seconds, 3),
                           "ms_per_frame": round(r.ms_per_frame, 2), "final": r.scores.get("final"),
                           "video": str(video)})


def delete_revision(revision: str, hf_repo: str | None = None, keep_image: bool = False) -> dict[str, Any]:
    """Delete the chute of `revision` and (unless keep_image) its image; recorded in the ledger."""
    s, chute, _ = resolve_chute(revision, hf_repo)
    name, chute_id = chute.get("name"), chute.get("chute_id")
    image = chute.get("image")
    image_id = image.get("image_id") if isinstance(image, dict) else (image if isinstance(image, str) else None)
    with chutes_client(s) as api:
        api.delete_chute(chute_id)
        if image_id and not keep_image:
            api.delete_image(image_id)
    out = {"revision": revision, "chute_name": name, "chute_id": chute_id,
           "image_id": None if keep_image else image_id}
    ledger.append("delete", out)
    return out


def revision_rows(entries: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One row per revision: chute, deployed/deleted, tests, best and last score, median latency."""
    import statistics

    rows = []
    for rev, row in ledger.by_revision(ledger.read() if entries is None else entries).items():
        push = row["push"] or {}
        finals = [t["final"] for t in row["tests"] if isinstance(t.get("final"), (int, float))]
        secs = [t["seconds"] for t in row["tests"] if isinstance(t.get("seconds"), (int, float))]
        rows.append({"revision": rev[:12], "chute_name": push.get("chute_name"), "slug": push.get("slug"),
                     "deployed": bool(push.get("deployed")), "deleted": row["deleted"], "tests": len(row["tests"]),
                     "last_final": finals[-1] if finals else None, "best_final": max(finals) if finals else None,
                     "median_seconds": statistics.median(secs) if secs else None})
    return rows


def revision_figure(entries: list[dict[str, Any]] | None = None, out: str | os.PathLike | None = None):
    """Score (bars) and /predict latency (line) per revision, from the ledger's tests."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = [r for r in revision_rows(entries) if r["tests"]]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    if not rows:
        ax.text(0.5, 0.5, "no chute tested yet: `tvkit test-chute --revision R` records one", ha="center",
                va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        x = range(len(rows))
        ax.bar(x, [r["last_final"] or 0.0 for r in rows], color="#4c72b0", label="final score (last test)")
        ax.set_ylim(0, 1)
        ax.set_ylabel("final score")
        ax.set_xticks(list(x), [r["revision"][:7] for r in rows])
        ax2 = ax.twinx()
        ax2.plot(list(x), [r["median_seconds"] or 0.0 for r in rows], "o-", color="#dd8452",
                 label="/predict seconds (median)")
        ax2.set_ylabel("seconds")
        ax.legend(loc="upper left")
        ax2.legend(loc="upper right")
    ax.set_title("score and latency per revision")
    fig.tight_layout()
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100)
    return fig
