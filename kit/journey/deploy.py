"""Notebook 05's steps: the push planned (or made) in the order of the subnet's `sv deploy-os-miner`,
the commitment, the size check, and a validator-style test of the new chute.

Usage: `nb = journey.start("05_deploy", globals())`; `nb.plan()`, `nb.commitment()`, `nb.size()`,
`nb.ship()`, `nb.test()`, `metrics = nb.record()`.

Decisions: plan-only by default (every call and the exact commitment, touching nothing); the plan
reads the kit's example manifest, a real push the live one; with no element, the plan shows the
manifest's first (a push needs yours). A real push with neither bundle nor revision ships the
reference model (`bundle_or_reference`). The test after a push sends a synthetic clip: an image
element is dry-run with notebook 04 instead.
"""

from __future__ import annotations

import json
from typing import Any

from .base import Shown, Steps
from .fallbacks import bundle_or_reference, clip_or_synthetic

__all__ = ["Deploy"]


class Deploy(Steps):
    NAME = "05_deploy"
    PARAMETERS = ("plan_only", "bundle", "element", "manifest", "revision", "deploy", "commit", "test_after_push",
                  "clip_url", "clip_frames", "run_dir", "metrics_path")
    RESOLVES_ELEMENT = False

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        from ..manifest import load_manifest
        from ..settings import load_settings

        p = self.p
        self.settings = load_settings()
        self.manifest = load_manifest(p.manifest or ("example" if p.plan_only else "live"))
        self.element_id = p.element or (self.manifest.ids[0] if p.plan_only else "")
        self.el = self.manifest.element(self.element_id) if self.element_id else None
        self.result = self.rehearsal = None

    def plan(self) -> Shown:
        """Each step of the push as the call it makes, with the manifest the element comes from."""
        from ..deploy.push import plan_push

        p = self.p
        self.the_plan = plan_push(self.settings, p.bundle or None, self.element_id or None, p.revision or None,
                                  deploy=p.deploy, commit=p.commit, manifest=self.manifest)
        return Shown(self.the_plan.format(), value=self.the_plan)

    def commitment(self) -> Shown:
        """The commitment validators will read, key by key."""
        return Shown(json.dumps(self.the_plan.commitment, indent=2))

    def size(self) -> Shown:
        """The bundle against the element's cap on the whole Hugging Face repo."""
        from ..images.journey import size_check

        return Shown(size_check(self.p.bundle, self.el))

    def ship(self) -> Shown:
        """The push itself (skipped in plan-only mode): upload, render, build, deploy, commit, publish."""
        p = self.p
        if p.plan_only:
            return Shown("plan-only: nothing was uploaded or deployed (set plan_only = False to ship)")
        from ..deploy.push import push

        bundle = p.bundle or (None if p.revision else str(bundle_or_reference(None, None, self.out_dir)))
        self.result = push(bundle, p.element, p.revision or None, deploy=p.deploy, commit=p.commit,
                           s=self.settings, manifest=self.manifest)
        return Shown(json.dumps(self.result.metrics(), indent=2) + "\n" + "\n".join(self.result.notes),
                     value=self.result)

    def test(self) -> Shown:
        """One validator-style challenge to the new chute, timed and scored (recorded in the ledger)."""
        r, p = self.result, self.p
        if r is None or not r.chute_id or not p.test_after_push:
            return Shown("nothing deployed in this run: no test")
        if self.el is not None and self.el.kind == "image":
            return Shown(f"{self.el.id} is an image element: this test sends a clip; "
                         "dry-run its photos with notebook 04")
        if not p.clip_url:
            return Shown("no clip_url: put a clip where the chute can download it, then `tvkit test-chute --revision "
                         f"{r.revision} --video V.mp4 --truth V.json --clip-url URL`")
        from ..chute.rehearse import format_rehearsal
        from ..deploy.ops import rehearse_revision

        video, truth = clip_or_synthetic("", "", self.out_dir / "clip", p.clip_frames, 44)
        self.rehearsal = rehearse_revision(r.revision, video, truth, clip_url=p.clip_url)
        return Shown(format_rehearsal(self.rehearsal), value=self.rehearsal)

    def metrics(self) -> dict[str, Any]:
        return {"plan_only": self.p.plan_only, **self.the_plan.metrics(),
                **(self.result.metrics() if self.result else {}),
                "test_ok": self.rehearsal.ok if self.rehearsal else None}
