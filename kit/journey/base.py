"""What every notebook's steps share: results that show themselves, and a notebook's state.

Usage: `nb = journey.start("02_train", globals())`, then one call per cell (`nb.train("detect")`),
`nb.record()` and a last cell that asserts `nb.metrics()`.

Decisions (issue 26: thin notebooks):
- **A result shows itself.** `Shown` carries the text a person reads, at most one picture and
  the metrics it contributes: `str()` and IPython's plain text give the text, `_repr_html_` the
  text with the picture under it, `_repr_png_` the picture alone (papermill keeps every form,
  so an executed notebook still holds its pictures as `image/png`). A cell ends in one call,
  and the object it returns is the output; no print blocks, no hand-built dicts.
- **A notebook's state is one object.** `Steps` holds the parameters (taken by name from the
  notebook's namespace: the `parameters` cell stays literal and papermill's injection wins),
  the output folder and the element; each step stores what later steps and `metrics()` need.
  `PARAMETERS` names the parameters cell's variables, and tests/test_journey.py keeps the two equal.
- **Metrics keep their keys.** `metrics()` builds exactly the dict the notebook recorded before
  (kit.runs passes its entries on by name, and the suite tests read them); `record()` writes it.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .. import KitError

__all__ = ["Shown", "Steps", "figure_png"]


def figure_png(picture: Any) -> bytes | None:
    """PNG bytes of a matplotlib Figure, a PNG file or a BGR image (numpy); None for None."""
    if picture is None:
        return None
    if isinstance(picture, (str, Path)):
        return Path(picture).read_bytes()
    if hasattr(picture, "shape"):
        import cv2

        ok, buf = cv2.imencode(".png", picture)
        return buf.tobytes() if ok else None
    buf = io.BytesIO()
    picture.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return buf.getvalue()


@dataclass
class Shown:
    """A step's outcome as a notebook shows it: its text, at most one picture, what it adds to the metrics.

    >>> s = Shown("handed on: the reference model", data={"bundle_source": "reference"})
    >>> str(s), s.metrics()
    ('handed on: the reference model', {'bundle_source': 'reference'})
    """

    text: str
    picture: Any = None  # a matplotlib Figure, a PNG path or a BGR image
    data: dict[str, Any] = field(default_factory=dict)
    value: Any = None  # the kit's own result object, for whoever wants more than the text

    def __str__(self) -> str:
        return self.text

    def metrics(self) -> dict[str, Any]:
        return dict(self.data)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)

    def _repr_png_(self) -> bytes | None:
        return figure_png(self.picture)

    def _repr_html_(self) -> str:
        parts = [f"<pre>{html.escape(self.text)}</pre>"] if self.text else []
        png = self._repr_png_()
        if png:
            import base64

            parts.append(f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}' style='max-width:100%'>")
        return "\n".join(parts)


class Steps:
    """One notebook's state: its parameters, output folder and element; subclasses add one method per step."""

    NAME = ""
    PARAMETERS: tuple[str, ...] = ()
    RESOLVES_ELEMENT = True

    def __init__(self, **params: Any) -> None:
        from ..runs import notebook_output_dir

        unknown = sorted(set(params) - set(self.PARAMETERS))
        missing = [k for k in self.PARAMETERS if k not in params]
        if unknown or missing:
            raise KitError(f"notebook {self.NAME}: parameters {missing or ''} missing, {unknown or ''} unknown "
                           f"(its parameters cell declares {list(self.PARAMETERS)})")
        self.p = SimpleNamespace(**params)
        self.out_dir: Path = notebook_output_dir(params.get("run_dir") or None, self.NAME)
        self.el = self._element() if self.RESOLVES_ELEMENT else None

    def _element(self) -> Any:
        from ..images.journey import resolve_element

        return resolve_element(getattr(self.p, "element", ""), getattr(self.p, "manifest", ""))

    @classmethod
    def from_namespace(cls, ns: dict[str, Any]) -> Steps:
        """The notebook's parameters by name from its namespace (`globals()` after the parameters cell)."""
        missing = [k for k in cls.PARAMETERS if k not in ns]
        if missing:
            raise KitError(f"notebook {cls.NAME}: {missing} not defined: run its parameters cell first "
                           "(or restore those lines there)")
        return cls(**{k: ns[k] for k in cls.PARAMETERS})

    @property
    def kind(self) -> str:
        return self.el.kind if self.el is not None else ""

    def skipped(self, what: str, kind: str) -> Shown:
        """A step that belongs to the other kind of element, said so in a line."""
        return Shown(f"{what}: for {kind} elements; {self.el.id} is a {self.kind} element (skipped)")

    def metrics(self) -> dict[str, Any]:
        raise NotImplementedError

    def record(self) -> dict[str, Any]:
        """Write `metrics()` where `tvkit run` reads it (or beside the interactive outputs), say where, return it."""
        from ..runs import write_metrics

        m = self.metrics()
        print(write_metrics(m, getattr(self.p, "metrics_path", "") or None, self.NAME))
        return m
