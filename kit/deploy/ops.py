"""Operate what was shipped (used by `tvkit` and notebook 06): list, test, delete; pictures from the ledger."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import ledger
from .cli import _client, resolve_chute
from .common import require, settings


def list_turbovision_chutes(all_chutes: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """Your chutes (turbovision-* unless `all_chutes`) with the revision the ledger knows for each."""
    s = settings()
    require(s, "CHUTES_API_KEY", what="listing your chutes")
    with _client(s) as api:
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
    with _client(s) as api:
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
