"""A sweep's outcome as a researcher reads it: text, HTML, metrics, a picture, and the write.

Usage: `r = tune_bundle(...)` (kit.tune); `print(r)`, `r.figure()`, `r.metrics()`, `r.write()`.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError
from .search import Sweep

__all__ = ["TuneResult"]


@dataclass
class TuneResult:
    """A sweep's outcome: the chosen setting, its figures on the tune and held-out splits."""

    element: str
    kind: str
    bundle: Path
    data: str
    split: str
    holdout: str | None
    n: int
    n_holdout: int
    sweep: Sweep
    proxy_choice: dict[str, Any]
    tune_scores: dict[str, float]
    holdout_scores: dict[str, float] = field(default_factory=dict)
    interval: tuple[float, float] = (0.0, 0.0)
    model_seconds: float = 0.0
    values: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # setting -> miner.json keys

    @property
    def chosen(self) -> dict[str, Any]:
        return self.sweep.best

    @property
    def decided(self) -> bool:
        """Whether the tune split tells the choice from the bundle's setting (interval above 0)."""
        return self.interval[0] > 0

    def metrics(self) -> dict[str, float]:
        out = {f"tune/{k}": v for k, v in self.tune_scores.items()}
        out.update({f"holdout/{k}": v for k, v in self.holdout_scores.items()})
        out.update({"gain_low": self.interval[0], "gain_high": self.interval[1], "settings": float(self.sweep.trials),
                    "sweep_seconds": self.sweep.seconds, "model_seconds": self.model_seconds})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"element": self.element, "kind": self.kind, "bundle": str(self.bundle), "data": self.data,
                "split": self.split, "holdout": self.holdout, "n": self.n, "n_holdout": self.n_holdout,
                "default": self.sweep.default, "chosen": self.chosen, "proxy_choice": self.proxy_choice,
                "decided": self.decided, "metrics": self.metrics(),
                "curves": {k: [[v, s] for v, s in c] for k, c in self.sweep.curves.items()}}

    def lines(self) -> list[str]:
        changed = {k: v for k, v in self.chosen.items() if self.sweep.default.get(k) != v}
        unit = "photos" if self.kind == "image" else "clips"
        out = [f"tune {self.element} ({self.kind}): {self.sweep.trials} settings on {self.n} {self.split} {unit} "
               f"in {self.sweep.seconds:.1f} s "
               f"(model once: {self.model_seconds:.1f} s)",
               f"  chosen: {_fmt_setting(changed) or 'the bundle setting (nothing scored higher)'}",
               f"  {self.split}: bundle {self.tune_scores['default']:.4f} -> chosen {self.tune_scores['chosen']:.4f}"
               f" (gain 90% interval {self.interval[0]:+.4f}..{self.interval[1]:+.4f}); proxy's choice "
               f"{self.tune_scores['proxy']:.4f}"]
        if self.holdout_scores:
            h = self.holdout_scores
            out.append(f"  {self.holdout} {unit} (held out, {self.n_holdout}): bundle {h['default']:.4f} -> chosen "
                       f"{h['chosen']:.4f} ({h['chosen'] - h['default']:+.4f}); proxy's choice {h['proxy']:.4f} "
                       f"({h['proxy'] - h['default']:+.4f})")
        if not self.decided:
            out.append(f"  undecided: the {self.split} split cannot tell the choice from the bundle setting "
                       "(interval reaches 0); `write(force=True)` / --force writes it anyway")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(str(self)) + "</pre>"

    def figure(self):
        """Element score against each knob at the chosen point: chosen (dot), bundle (grey), proxy (orange)."""
        from matplotlib.figure import Figure

        knobs = [k for k, c in self.sweep.curves.items() if len(c) > 1]
        cols = min(3, max(1, len(knobs)))
        rows = (len(knobs) + cols - 1) // cols
        fig = Figure(figsize=(4.2 * cols, 3.0 * rows), layout="constrained")
        for n, knob in enumerate(knobs):
            ax = fig.add_subplot(rows, cols, n + 1)
            pts = [(v, s) for v, s in self.sweep.curves[knob] if v is not None]
            ax.plot([v for v, _ in pts], [s for _, s in pts], "-o", ms=3, color="tab:blue")
            glob = self.chosen.get("conf")          # a class threshold of None follows the global one
            chosen = self.chosen.get(knob, glob) if self.chosen.get(knob) is not None else glob
            if self.sweep.default.get(knob) not in (None, self.chosen.get(knob)):
                ax.axvline(self.sweep.default[knob], color="grey", ls=":", label="bundle")
            if self.proxy_choice.get(knob) not in (None, self.sweep.default.get(knob)):
                ax.axvline(self.proxy_choice[knob], color="tab:orange", ls="--", label="proxy's choice")
            if chosen is not None:
                ax.plot([chosen], [self.sweep.best_score], "o", color="tab:red", label="chosen")
            ax.set_title(knob.replace("conf:", "threshold: "), fontsize=9)
            ax.set_ylabel(f"{self.split} element score", fontsize=8)
            ax.tick_params(labelsize=7)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        fig.suptitle(f"{self.element}: exact score per setting ({self.n} {self.split})", fontsize=10)
        return fig

    def write(self, force: bool = False) -> Path:
        """The chosen setting into the bundle's miner.json, with a `tuned` record. Refuses an
        undecided choice unless `force`."""
        if not self.decided and not force:
            raise KitError(f"not written: the {self.split} split cannot tell the chosen setting from the bundle's "
                           f"(gain interval {self.interval[0]:+.4f}..{self.interval[1]:+.4f}); more tune images "
                           "decide it, or pass --force")
        path = self.bundle / "miner.json"
        cfg = json.loads(path.read_text()) if path.is_file() else {}
        cfg.update(self.values(self.chosen))
        cfg["tuned"] = {"element": self.element, "data": self.data, "split": self.split, "holdout": self.holdout,
                        "n": self.n, "date": _dt.date.today().isoformat(), **{k: round(v, 6) for k, v in
                                                                              self.metrics().items()}}
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(cfg, indent=1) + "\n")
        os.replace(tmp, path)
        return path


def _fmt_setting(s: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in s.items())
