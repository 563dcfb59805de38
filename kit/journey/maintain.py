"""Notebook 06's steps: the ledger, the standing of each commitment, live chutes, a revision tested like
a validator, score and latency per revision, stale revisions retired.

Usage: `nb = journey.start("06_maintain", globals())`; `nb.ledger()`, `print(nb.standing())`, `nb.live()`,
`nb.test()`, `nb.revisions()`, `nb.retire()`, `metrics = nb.record()`.

Decisions: offline by default (`live = False`: the ledger only, the public lists unread and shown
as unknown); a standing that cannot be made (no hotkey, nothing committed) is said in a line, not
raised; the revision test re-reads the ledger, which it writes to.
"""

from __future__ import annotations

from typing import Any

from .base import Shown, Steps
from .fallbacks import clip_or_synthetic

__all__ = ["Maintain"]


class Maintain(Steps):
    NAME = "06_maintain"
    PARAMETERS = ("live", "hotkey", "test_revision", "clip_url", "keep_last", "delete_stale", "clip_frames",
                  "run_dir", "metrics_path")
    RESOLVES_ELEMENT = False

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        from ..deploy import ledger
        from ..settings import load_settings

        self.settings = load_settings()
        self.entries = ledger.read()
        self.report = self.tested = None
        self.chutes_now: list[dict[str, Any]] = []
        self.stale: list[str] = []
        self.deleted: list[dict[str, Any]] = []

    def ledger(self) -> Shown:
        """The deployments ledger: entries, pushes, and a row per revision."""
        from ..deploy import ledger
        from ..deploy.ops import revision_rows

        head = f"ledger {ledger.ledger_path()}: {len(self.entries)} entries, {len(ledger.pushes(self.entries))} pushes"
        return Shown("\n".join([head, *map(str, revision_rows(self.entries))]))

    def standing(self) -> Shown:
        """Whether each latest commitment counts: the public lists (live) or unknown (offline)."""
        from .. import KitError
        from ..deploy.standing import fetch_public_lists, offline_lists, standing

        s = self.settings
        lists = fetch_public_lists(s) if self.p.live else offline_lists(s, "not read: live = False")
        try:
            self.report = standing(self.p.hotkey or None, s=s, entries=self.entries, lists=lists)
        except KitError as e:
            return Shown(f"no standing to show: {e}")
        return Shown(self.report.format(), value=self.report)

    def live(self) -> Shown:
        """Your Turbo Vision chutes on Chutes, hot or cold, with their revisions (live only)."""
        if not self.p.live or not self.settings.chutes_api_key:
            return Shown("skipped: " + ("live = False (offline: the ledger only)" if not self.p.live else
                                        "no CHUTES_API_KEY (see `tvkit doctor --deploy`)"))
        from ..deploy.ops import list_turbovision_chutes

        self.chutes_now = list_turbovision_chutes()
        lines = [f"{c['name']:<48} {'hot ' if c['hot'] else 'cold'}  {c['slug']}  rev {(c['revision'] or '?')[:12]}"
                 for c in self.chutes_now]
        return Shown("\n".join([*lines, f"{len(self.chutes_now)} Turbo Vision chute(s)"]))

    def test(self) -> Shown:
        """`test_revision` sent one validator-style challenge (a synthetic clip), timed and scored."""
        if not self.p.test_revision:
            return Shown("no test_revision given")
        from ..chute.rehearse import format_rehearsal
        from ..deploy import ledger
        from ..deploy.ops import rehearse_revision

        video, truth = clip_or_synthetic("", "", self.out_dir / "clip", self.p.clip_frames, 44)
        self.tested = rehearse_revision(self.p.test_revision, video, truth, clip_url=self.p.clip_url or None)
        self.entries = ledger.read()
        return Shown(format_rehearsal(self.tested), value=self.tested)

    def revisions(self) -> Shown:
        """Score and latency per revision (saved as revisions.png)."""
        from ..deploy.ops import revision_figure

        return Shown("", picture=revision_figure(self.entries, self.out_dir / "revisions.png"))

    def retire(self) -> Shown:
        """Deployed revisions beyond the `keep_last` newest, deleted with `delete_stale`."""
        from ..deploy import ledger

        self.stale = ledger.stale_revisions(self.entries, keep=self.p.keep_last)
        lines = [f"stale (beyond the {self.p.keep_last} newest deployed): {[r[:12] for r in self.stale] or 'none'}"]
        if self.stale and self.p.delete_stale:
            from ..deploy.ops import delete_revision

            for rev in self.stale:
                self.deleted.append(delete_revision(rev))
                lines.append(f"deleted {self.deleted[-1]['chute_name']}")
        return Shown("\n".join(lines))

    def metrics(self) -> dict[str, Any]:
        from ..deploy.ops import revision_rows

        return {"ledger_entries": len(self.entries), "revisions": len(revision_rows(self.entries)),
                "live_chutes": len(self.chutes_now), "stale": self.stale,
                "deleted": [d["revision"] for d in self.deleted], "test_ok": self.tested.ok if self.tested else None,
                "revisions_plot": str(self.out_dir / "revisions.png"), **(self.report.metrics() if self.report else {})}
