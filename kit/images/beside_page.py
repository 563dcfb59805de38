"""The pictures, the text, the HTML page and the files of `kit.images.beside`: how a `BesideResult` shows itself.

Usage: through the result (`b = beside_winner(...)`, then `print(b)`, `b` in a notebook, `b.picture(name)`,
`b.gallery()`, `b.write("report/")`); directly `write_report(b, Path("report/"))`, `format_text(b)`,
`html_body(b, inline=6)`, `side_by_side(row, b.element, top=2)`.

Decisions:
- **Apart from the computing.** `kit.images.beside` runs the bundle and measures the agreement; this
  module only draws and writes what it measured, so it imports `beside` and never the reverse at
  module level: `BesideResult` reaches it inside its showing methods (print, notebook display,
  picture, gallery, write), which also keeps `tvkit beside -h` from loading it.
- **Pictures by supervision** through `kit.viz.draw_detections` (one colour per class, the
  same in every panel) and `kit.viz.tile`: yours | the winner's | the next miners'. The next
  miners' boxes are read here, when drawn, as the validator reads them (`answer_boxes`).
- **Least agreeing first** in the text, the page and the gallery: the photos to look at first.
- **The files**: `index.html` (the table and the pictures by relative link), `beside.json`
  (`BesideResult.to_dict()`), `photos/<image stem>.jpg`; the notebook view inlines up to 6
  pictures as JPEG data instead.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import KitError
from .beside import AGREEMENT, COMPARED, WHO, answer_boxes, object_keys

if TYPE_CHECKING:  # OpenCV and supervision wait for the drawing
    import numpy as np

    from ..evaluate.answer import Det
    from ..manifest import Element
    from .beside import BesideResult, PhotoRow

__all__ = ["TILE_WIDTH", "least_agreeing", "side_by_side", "format_text", "html_body", "write_report"]

TILE_WIDTH = 420


def least_agreeing(rows: list[PhotoRow]) -> list[PhotoRow]:
    """The rows by agreement, lowest first; the unscored last; ties by photo name."""
    return sorted(rows, key=lambda r: (r.agreement is None, r.agreement if r.agreement is not None else 0.0, r.image))



# --- pictures --------------------------------------------------------------------------------------------

def _panel(img: np.ndarray, boxes: list[Det], el: Element) -> np.ndarray:
    import numpy as np

    from ..viz import draw_detections

    index = {k: i for i, k in enumerate(object_keys(el.objects))}
    names = {i: str(o) for i, o in enumerate(el.objects or [])}
    if not boxes:
        return img.copy()
    labels = [d.label + ("" if d.score is None else f" {d.score:.2f}") for d in boxes]
    cls = [index[object_keys([d.label])[0]] for d in boxes]
    return draw_detections(img, np.array([d.box for d in boxes], float), cls, names, labels,
                           scale=max(1.0, img.shape[1] / TILE_WIDTH))


def side_by_side(r: PhotoRow, el: Element, top: int) -> np.ndarray:
    """One row's photo as panels (BGR): yours | the winner's | the next `top - 1` miners'."""
    import cv2

    from ..viz import tile

    img = cv2.imread(str(r.path))
    if img is None:
        raise KitError(f"{r.path}: not a readable image (moved or replaced since it was answered?)")
    ag = "-" if r.agreement is None else f"{r.agreement:.3f}"
    yours = (f"yours: failed ({r.your_error[:30]})" if r.your_error else
             f"yours: {len(r.your_boxes)} box(es), {r.latency_ms or 0:.0f} ms, agree {ag}")
    panels, titles = [_panel(img, r.your_boxes, el)], [yours]
    for m in ([r.winner] if r.winner else []) + r.others[: max(0, top - 1)]:
        boxes = r.winner_boxes if m is r.winner else answer_boxes(m.answer, list(el.objects or []))
        panels.append(_panel(img, boxes, el))
        pub = "-" if m.composite_score is None else f"{m.composite_score:.3f}"
        titles.append(f"{'winner' if m is r.winner else f'#{m.rank}'} {m.hotkey[:10]}: {len(boxes)} box(es), "
                      f"published {pub}")
    return tile(panels, cols=len(panels), tile_width=TILE_WIDTH, titles=titles)


# --- text, HTML, files --------------------------------------------------------------------------------------

def _f(v: Any, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def format_text(b: BesideResult) -> str:
    """The result as `print(b)` shows it: the agreement, the counts, one line per photo, the notes."""
    m = b.metrics()
    lines = [f"{b.bundle} beside {b.reference} on {m['photos']} pulled {b.pulled_element} photo(s) ({b.folder})",
             f"  {AGREEMENT}: {_f(b.agreement, 4)} (mean over the {m['agreement_photos']} photo(s) the exact scorer of "
             f"{b.element.id} counts: the winner answered a box, or your bundle failed)",
             f"  the #2 pulled miner's agreement with the same reference: {_f(m['runner_up_agreement_with_winner'], 4)}"
             f"; the winner's published composite (mean): {_f(m['winner_published_mean'], 4)}",
             "  photos: " + ", ".join(f"{k} {m['photos_' + k.replace(' ', '_').replace(chr(39), '')]}" for k in WHO)
             + f"; left out {m['left_out']}"]
    yours, theirs = b.totals("yours"), b.totals("winner")
    lines.append("  boxes per class (yours / winner's): " + ", ".join(f"{k} {yours.get(k, 0)}/{theirs.get(k, 0)}"
                                                                    for k in dict.fromkeys([*yours, *theirs])))
    if b.latencies:
        budget = f" (budget {b.budget_ms:g} ms)" if b.budget_ms else ""
        lines.append(f"  your latency here: p50 {m['your_p50_ms']:.1f} ms, p95 {m['your_p95_ms']:.1f} ms per "
                     f"predict_batch call{budget}; this machine, not the validator's")
    for r in least_agreeing(b.rows):
        lines.append(f"    {r.image:<24} {r.status:<17} {r.who if r.status == COMPARED else '':<19} "
                     f"agree {_f(r.agreement):>5}  yours {sum(r.counts('yours').values())} box(es), winner's "
                     f"{sum(r.counts('winner').values())}" + (f"  ({r.note})" if r.note else ""))
    lines += [f"  note: {n}" for n in b.notes]
    lines += [f"  wrote {k}: {p}" for k, p in b.files.items() if k in ("html", "json")]
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_f(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _jpeg_data(img: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


def html_body(b: BesideResult, inline: int = 0, pictures: dict[str, str] | None = None) -> str:
    """The page's body: summary and tables, then `pictures` (name -> src) and `inline` drawn ones as JPEG data."""
    m = b.metrics()
    head = (f"<p><b>{html.escape(str(b.bundle))}</b> beside {html.escape(b.reference)} on {m['photos']} pulled "
            f"<b>{html.escape(b.pulled_element)}</b> photo(s). <b>{html.escape(AGREEMENT)}</b>: {_f(b.agreement, 4)} "
            f"over {m['agreement_photos']} photo(s); the #2 miner's, for comparison: "
            f"{_f(m['runner_up_agreement_with_winner'], 4)}. The photos have no ground truth: the winner can be "
            "wrong, and so a disagreement can be yours to keep.</p>")
    summary = _table(["", "value"], [[k, v] for k, v in m.items() if "/" not in k])
    yours, theirs = b.totals("yours"), b.totals("winner")
    counts = _table(["class", "your boxes", "winner's boxes"], [[k, yours.get(k, 0), theirs.get(k, 0)]
                                                                for k in dict.fromkeys([*yours, *theirs])])
    per_class = ""
    if b.evaluation is not None:
        per_class = "<h4>Your boxes against the winner's, per class (pseudo-truth)</h4>" + _table(
            ["class", "AP50", "precision", "recall", "agreeing", "yours only", "winner's"],
            [[c, d["ap50"], d["precision"], d["recall"], d["tp"], d["fp"], d["n_truth"]]
             for c, d in b.evaluation.per_class.items()])
    rows = _table(["photo", "status", "who answers", "agreement", "your boxes", "winner's boxes",
                   "winner's published composite", "your ms", "note"],
                  [[r.image, r.status, r.who if r.status == COMPARED else "", r.agreement,
                    json.dumps(r.counts("yours")), json.dumps(r.counts("winner")),
                    r.winner.composite_score if r.winner else None, r.latency_ms, r.note]
                   for r in least_agreeing(b.rows)])
    pics = dict(pictures or {})
    if inline:
        for r in least_agreeing(b.compared)[:inline]:
            pics[r.image] = _jpeg_data(side_by_side(r, b.element, b.top))
    imgs = "".join(f"<h4>{html.escape(k)}</h4><img src='{html.escape(v)}' style='max-width:100%'>"
                   for k, v in pics.items())
    notes = "".join(f"<p>note: {html.escape(n)}</p>" for n in b.notes)
    return (head + summary + "<h4>Boxes per class</h4>" + counts + per_class + "<h4>Photos, least agreeing first</h4>"
            + rows + notes + imgs)


def write_report(b: BesideResult, out: Path) -> dict[str, Path]:
    """`index.html`, `beside.json` and `photos/<stem>.jpg` into `out`; the files by name (`photo:<image>` each)."""
    from ..viz import save_image

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    pics: dict[str, str] = {}
    for r in least_agreeing(b.compared):
        p = save_image(side_by_side(r, b.element, b.top), out / "photos" / f"{Path(r.image).stem}.jpg")
        files[f"photo:{r.image}"], pics[r.image] = p, f"photos/{p.name}"
    files["json"] = out / "beside.json"
    files["json"].write_text(json.dumps(b.to_dict(), indent=1))
    page = ("<html><head><meta charset='utf-8'><title>" + html.escape(b.pulled_element) + " beside the winner"
            "</title><style>table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:2px 6px;"
            "font:12px sans-serif}</style></head><body><h2>Your answers beside the winner's: "
            + html.escape(b.pulled_element) + "</h2>" + html_body(b, pictures=pics) + "</body></html>")
    files["html"] = out / "index.html"
    files["html"].write_text(page)
    return files
