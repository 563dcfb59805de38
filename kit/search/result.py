"""A training search's outcome: one row per trial, the best, as text, JSON and MLflow tags.

Usage: `r = search(...)` (kit.search); `print(r)` (the table of trials), `r.best` (a Trial),
`r.to_dict()`, `r.write(folder)` (search.json and trials.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Trial", "SearchResult", "trials_from_grid", "error_line"]

#: A trial's status: trained and scored, stopped early by ASHA, or failed (with its error).
STATUSES = ("ok", "stopped", "failed")


@dataclass
class Trial:
    id: str
    status: str
    config: dict[str, Any]
    score: float | None = None
    mAP50: float | None = None
    epochs: int | None = None
    seconds: float | None = None
    error: str | None = None
    onnx: str | None = None
    mlflow_run_id: str | None = None


def error_line(e: Any) -> str:
    """The last line of an error (Ray wraps a trial's exception in its own, with the traceback)."""
    text = str(e).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else type(e).__name__


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def trials_from_grid(grid: Any, keys: list[str]) -> list[Trial]:
    """Trials from Ray Tune's ResultGrid, in the order Tune created them."""
    out = []
    for res in grid:
        m = res.metrics or {}
        tid = str(m.get("trial_id") or Path(res.path).name)
        status = "failed" if res.error else ("ok" if m.get("done_training") else "stopped")
        config = {k: res.config.get(k) for k in keys if k in (res.config or {})}
        out.append(Trial(tid, status, config, _num(m.get("score")), _num(m.get("mAP50")),
                         int(m["epoch"]) if m.get("epoch") is not None else None, _num(m.get("seconds")),
                         error_line(res.error) if res.error else None, m.get("onnx"), m.get("mlflow_run_id") or None))
    return out


@dataclass
class SearchResult:
    """The trials of a search (`trials`), the best (`best`), where it was recorded (`folder`, `mlflow_run_id`)."""

    element: str
    kind: str
    space: dict[str, str]
    trials: list[Trial]
    epochs: int
    seconds: float = 0.0
    folder: Path | None = None
    mlflow_run_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> Trial | None:
        """The highest exact score among trials that finished (ties: the earlier trial); None when none did."""
        done = [t for t in self.trials if t.status == "ok" and t.score is not None]
        return max(done, key=lambda t: t.score, default=None)

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.status == "failed"]

    def metrics(self) -> dict[str, float]:
        b = self.best
        out = {"trials": float(len(self.trials)), "failed": float(len(self.failed)),
               "stopped": float(sum(t.status == "stopped" for t in self.trials)), "seconds": self.seconds}
        if b is not None:
            out.update({"best/score": b.score, "best/mAP50": b.mAP50 or 0.0})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"element": self.element, "kind": self.kind, "space": self.space, "epochs": self.epochs,
                "seconds": self.seconds, "folder": str(self.folder) if self.folder else None,
                "mlflow_run_id": self.mlflow_run_id, "best": self.best.id if self.best else None,
                "notes": self.notes, "trials": [asdict(t) for t in self.trials]}

    def table(self) -> str:
        keys = list(dict.fromkeys(k for t in self.trials for k in t.config))
        head = ["trial", "status", "score", "mAP50", "epochs", "s", *keys]
        best = self.best.id if self.best else None
        rows = [[t.id + (" *" if t.id == best else ""), t.status, _fmt(t.score), _fmt(t.mAP50), _fmt(t.epochs),
                 _fmt(t.seconds, 0), *(_fmt_value(t.config.get(k)) for k in keys)] for t in self.trials]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        lines = ["  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip() for r in [head, *rows]]
        return "\n".join(lines)

    def __str__(self) -> str:
        b = self.best
        top = (f"search {self.element} ({self.kind}): {len(self.trials)} trials of {self.epochs} epoch(s), "
               f"{len(self.failed)} failed, {self.seconds:.0f} s; objective: the element's exact score on val")
        out = [top, self.table()]
        out += [f"  failed {t.id}: {t.error}" for t in self.failed]
        out.append(f"  best: {b.id} score {b.score:.4f} (mAP50 {b.mAP50 or 0:.4f}), onnx {b.onnx}" if b else
                   "  best: none (no trial finished)")
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(str(self)) + "</pre>"

    def write(self, folder: str | Path | None = None) -> Path:
        """search.json and trials.md into `folder` (default the search's own); returns search.json."""
        folder = Path(folder or self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "trials.md").write_text(str(self) + "\n")
        path = folder / "search.json"
        path.write_text(json.dumps(self.to_dict(), indent=1, default=str) + "\n")
        return path


def _fmt(v: Any, nd: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}" if nd else f"{v:.0f}"
    return str(v)


def _fmt_value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else _fmt(v)
