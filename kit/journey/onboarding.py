"""Notebook 00's steps: the doctor's checklist, the element, the pitch template.

Usage: `nb = journey.start("00_onboarding", globals())`; `nb.doctor()`, `nb.element()`, `nb.pitch()`,
`metrics = nb.record()`.

Decisions: the pitch template is drawn into a matplotlib Figure (no pyplot state) and saved as
`pitch_template_numbered.png` at 80 dpi, as the notebook did; an image element has no pitch,
and the step says so in a line.
"""

from __future__ import annotations

from typing import Any

from .base import Shown, Steps

__all__ = ["Onboarding"]


class Onboarding(Steps):
    NAME = "00_onboarding"
    PARAMETERS = ("profile", "deploy_checks", "element", "manifest", "run_dir", "metrics_path")

    def doctor(self) -> Shown:
        """`kit.doctor`'s checklist (credentials as set / not set, never shown)."""
        from .. import doctor

        self.checks = doctor.run_checks(deploy=self.p.deploy_checks)
        return Shown(doctor.format_checks(self.checks), value=self.checks)

    def element(self) -> Shown:
        """What the validator asks of the element: kind, objects, pillars, gates, budget, size cap."""
        from ..images.journey import describe_element

        return Shown(describe_element(self.el), value=self.el)

    def pitch(self) -> Shown:
        """The 32-keypoint pitch template, numbered (clip elements), saved beside the outputs."""
        if self.kind != "clip":
            return self.skipped("the pitch template", "clip")
        from matplotlib.figure import Figure

        from .. import pitch

        fig = Figure(figsize=(12, 8))
        ax = fig.add_subplot()
        ax.imshow(pitch.draw_numbered_template(scale=1.0)[:, :, ::-1])
        ax.set_title("Pitch template (1050 x 680) and keypoint ids")
        ax.axis("off")
        fig.savefig(self.out_dir / "pitch_template_numbered.png", dpi=80, bbox_inches="tight")
        return Shown(f"left-right flip map (for pose training): {list(pitch.FLIP_IDX)}", picture=fig)

    def metrics(self) -> dict[str, Any]:
        from .. import doctor

        checks = self.checks
        return {"essentials_ok": doctor.essentials_ok(checks), "checks_ok": sum(c.ok for c in checks),
                "checks_total": len(checks), "to_do": [c.name for c in checks if not c.ok],
                "element_id": self.el.id, "element_kind": self.el.kind}
