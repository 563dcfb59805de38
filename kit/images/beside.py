"""The user's answers beside the winner's on pulled challenge photos: agreement with a miner, never a score.

Usage: `b = beside_winner("build/fire", "data/pull/fire")`, then `b` (a notebook shows the table and
the pictures), `print(b)`, `b.metrics()`, `b.write("report/")` (index.html, beside.json, one
side-by-side picture per photo); CLI (wired by kit/cli.py) `tvkit beside --bundle B --pulled DIR
[--top K] [--hotkey HK] [--report DIR] [--json]` through `add_arguments(parser)` and `run(args)`.

What it reads: the `--out` folder of `tvkit dataset pull --element ID --challenges N`
(`kit.images.pull`): `challenges/images/<challenge>.<ext>` and `challenges/answers.json`
(`miners[photo]`: the top miners' published answers, best composite_score first) and, when
there, `element_detail.json` (the console's `element.objects`).

Decisions:
- **Same path as the chute.** The bundle answers each photo through `predict_images` (its own
  miner.py, loaded once as compliance loads it, one predict_batch call per photo, decode
  excluded from the time). A miner that raises on a photo gives `success: false` there, as the
  chute would: that row says so and counts 0 agreement (the validator's gate would score it 0).
- **Agreement, not a score.** The photos have no ground truth. The kit's exact scorer
  (`kit.images.score.evaluate_images`: gate, pillars, S, the element's gate) is run with the
  winner's answer as PSEUDO-truth, so the number says how closely the user's boxes follow the
  winner's, on the element's own terms. A winner's miss is a user's "false positive" here and a
  winner's false positive a user's "miss"; the user can disagree and be right. It is named
  "agreement with the winner" everywhere. A photo where the winner answered no box is not
  scored (as the validator scores no photo without truth objects) and is listed as "only yours"
  or "neither", unless the bundle failed there (a failed call is a 0 shard all the same). The
  user's latency is reported apart (p50/p95 against the element's budget, on THIS machine) and
  does not gate the agreement: it measures boxes only.
- **Which winner.** By default each photo's best-scoring miner (pull's `answers`): the winner
  of that challenge, which need not be the element's current winner (validator/winner.py picks
  it on the window's mean). `hotkey=` compares against one miner on the photos where it is among
  the pulled top miners; the rows say which hotkeys were the reference.
- **A yardstick.** Where the pull kept a second miner, its agreement with the same reference is
  computed with the same scorer: how much two strong miners agree on these photos, so the
  user's number has something to stand beside. `top` only sets how many miners are DRAWN.
- **Refused before any work**: a folder without `challenges/answers.json` or with no answer in
  it; a bundle that is not a Detect bundle; a bundle whose objects are not the pulled element's
  objects in the same order (its cls_ids would index other names). Per photo, noted and left
  out of the mean: the photo missing, a photo that does not decode, no answer from the
  reference miner, a reference answer the validator's gate would refuse.
- **Computing here, showing apart.** This module pulls, runs, measures and holds the result
  (`BesideResult`, its metrics and JSON dict); `kit.images.beside_page` draws the pictures and
  writes the text, the HTML page and the files. The page imports this module; `BesideResult`
  reaches the page only inside its showing methods, so the module graph has no circle.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .. import KitError

if TYPE_CHECKING:  # the heavy imports (OpenCV, the scorer, supervision) wait for the work: `tvkit -h` stays quick
    import numpy as np

    from ..evaluate.answer import Det
    from ..manifest import Element, Manifest
    from .labels import Obj
    from .score import ImageEvaluation

__all__ = ["MinerAnswer", "PhotoRow", "BesideResult", "beside_winner", "load_pulled", "answer_boxes", "object_keys",
           "add_arguments", "run", "COMPARED", "NO_PHOTO", "UNREADABLE", "NO_REFERENCE", "REFERENCE_UNUSABLE"]

#: Row statuses: compared, or why the photo is left out of the agreement.
RowStatus = Literal["compared", "no photo", "unreadable photo", "no reference answer", "reference answer refused"]
COMPARED, NO_PHOTO, UNREADABLE = "compared", "no photo", "unreadable photo"
NO_REFERENCE, REFERENCE_UNUSABLE = "no reference answer", "reference answer refused"
#: Who answered boxes on a compared photo.
BOTH, ONLY_YOURS, ONLY_WINNER, NEITHER, YOURS_FAILED = "both", "only yours", "only the winner's", "neither", \
    "your bundle failed"
WHO = (BOTH, ONLY_YOURS, ONLY_WINNER, NEITHER, YOURS_FAILED)
AGREEMENT = "agreement with the winner (pseudo-truth: the winner's answer; not a score)"


# --- what was pulled -----------------------------------------------------------------------------

@dataclass
class MinerAnswer:
    """One pulled miner's published answer to a photo and its composite score on that challenge."""

    hotkey: str
    model: str | None
    revision: str | None
    composite_score: float | None
    answer: Any
    rank: int  # 1 = the best composite_score the pull kept for this photo

    def to_dict(self) -> dict[str, Any]:
        return {"hotkey": self.hotkey, "model": self.model, "revision": self.revision,
                "composite_score": self.composite_score, "rank": self.rank}


def _challenges_dir(pulled: str | os.PathLike) -> Path:
    p = Path(pulled)
    if not p.is_dir():
        raise KitError(f"{p}: no such folder; give the --out folder of `tvkit dataset pull --element ID "
                       "--challenges N`")
    folder = p if (p / "answers.json").is_file() and p.name == "challenges" else p / "challenges"
    if not (folder / "answers.json").is_file():
        raise KitError(f"{p}: no challenges/answers.json, so no pulled challenge photos; run `tvkit dataset pull "
                       f"--element ID --out {p} --challenges N` (N recent challenges with the top miners' answers)")
    return folder


def load_pulled(pulled: str | os.PathLike) -> tuple[str, dict[str, list[MinerAnswer]], Path, list[str] | None]:
    """(element id, photo name -> its miners best first, the challenges folder, the console's objects or None)
    from a pull's folder. KitError when there is nothing to compare."""
    folder = _challenges_dir(pulled)
    try:
        doc = json.loads((folder / "answers.json").read_text())
    except (OSError, ValueError) as e:
        raise KitError(f"{folder / 'answers.json'}: not readable JSON ({e}); pull again") from None
    if not isinstance(doc, dict) or not doc.get("element"):
        raise KitError(f"{folder / 'answers.json'}: names no element; it is not a `tvkit dataset pull` answers file")
    miners: dict[str, list[MinerAnswer]] = {}
    for name, rows in (doc.get("miners") or {}).items():
        miners[name] = [MinerAnswer(str(m.get("hotkey")), m.get("model"), m.get("revision"), m.get("composite_score"),
                                    m.get("answer"), i + 1) for i, m in enumerate(rows or []) if isinstance(m, dict)]
    for name, ans in (doc.get("answers") or {}).items():  # `answers` alone (an older file): the best miner's
        miners.setdefault(name, [MinerAnswer("?", None, None, None, ans, 1)])
    if not any(miners.values()):
        raise KitError(f"{folder / 'answers.json'}: no miner's answer in it; pull again with --challenges N")
    detail = folder.parent / "element_detail.json"
    objects = None
    try:
        el = json.loads(detail.read_text()).get("element") if detail.is_file() else None
        objects = [str(o) for o in el["objects"]] if isinstance(el, dict) and el.get("objects") else None
    except (OSError, ValueError, AttributeError):
        pass
    return str(doc["element"]), miners, folder, objects


# --- the element and the bundle --------------------------------------------------------------------

def object_keys(objects: list[str] | None) -> list[str]:
    return [str(o).strip().lower() for o in objects or []]


def _bundle_config(bundle: Path) -> dict[str, Any]:
    cfg = bundle / "miner.json"
    if not (bundle / "miner.py").is_file() or not cfg.is_file():
        raise KitError(f"{bundle}: not a Detect bundle (miner.py and miner.json); `tvkit package --element ID --out "
                       "DIR` writes one")
    try:
        doc = json.loads(cfg.read_text())
    except ValueError as e:
        raise KitError(f"{cfg}: not JSON ({e}); package the bundle again") from None
    if not doc.get("objects"):
        raise KitError(f"{cfg}: no `objects`; package the bundle again with `tvkit package --element ID`")
    return doc


def _resolve_element(element: Element | str | None, manifest: Manifest | str | None, pulled_id: str,
                     bundle_id: str | None, notes: list[str]) -> Element:
    from ..manifest import Element, load_manifest
    from .labels import did_you_mean

    if isinstance(element, Element):
        return element
    man = load_manifest(manifest)
    tried = [element] if element else [pulled_id] + ([bundle_id] if bundle_id and bundle_id != pulled_id else [])
    for eid in tried:
        el = man.get_element(eid)
        if el is not None:
            if eid != pulled_id:
                notes.append(f"the challenges are {pulled_id}'s; scored with {el.id} of {man.describe()} (same objects"
                             " checked); pass --manifest to use the pulled element itself")
            return el
    raise KitError(f"no element {' or '.join(map(repr, tried))} in {man.describe()}{did_you_mean(tried[0], man.ids)};"
                   " pass --manifest live (or the manifest file) or --element ID")


def _check_objects(el: Element, bundle_cfg: dict, bundle: Path, pulled_id: str, pulled_objects: list[str] | None):
    """The bundle's cls_ids, the winner's and the scorer's must index the same names."""
    want = object_keys(el.objects)
    if object_keys(bundle_cfg["objects"]) != want:
        raise KitError(f"{bundle}: answers for {bundle_cfg.get('element_id') or 'an element'} with objects "
                       f"{bundle_cfg['objects']}, the challenges are {pulled_id}'s {list(el.objects or [])}: its "
                       f"cls_ids would name other objects; `tvkit package --element {pulled_id}` makes a bundle for it")
    if pulled_objects is not None and object_keys(pulled_objects) != want:
        raise KitError(f"the pulled challenges are {pulled_id}'s with objects {pulled_objects} (element_detail.json), "
                       f"{el.id} has {list(el.objects or [])}: the winner's cls_ids would be read as other names; "
                       "pass the element's own manifest (--manifest)")


# --- one photo ---------------------------------------------------------------------------------------

@dataclass
class PhotoRow:
    """One pulled photo: the reference (winner's) answer, the others kept, yours, and how they agree."""

    image: str
    path: Path | None
    status: RowStatus
    note: str = ""
    size: tuple[int, int] | None = None  # (width, height)
    winner: MinerAnswer | None = None
    others: list[MinerAnswer] = field(default_factory=list)
    yours: Any = None
    latency_ms: float | None = None
    your_boxes: list[Det] = field(default_factory=list)
    winner_boxes: list[Det] = field(default_factory=list)
    agreement: float | None = None  # the composite with the winner's boxes as truth (None: not scored)
    agreement_pillars: dict[str, float] = field(default_factory=dict)
    matched: tuple[int, int, int] | None = None  # (boxes agreeing, yours unmatched, winner's unmatched)

    @property
    def your_error(self) -> str:
        return "" if not isinstance(self.yours, dict) or self.yours.get("success") else str(self.yours.get("error"))

    @property
    def who(self) -> str:
        """Who answered boxes: both, only yours, only the winner's, neither, your bundle failed."""
        if self.your_error:
            return YOURS_FAILED
        return {(True, True): BOTH, (True, False): ONLY_YOURS, (False, True): ONLY_WINNER,
                (False, False): NEITHER}[(bool(self.your_boxes), bool(self.winner_boxes))]

    def counts(self, whose: str) -> dict[str, int]:
        return dict(Counter(d.label for d in (self.your_boxes if whose == "yours" else self.winner_boxes)))

    def to_dict(self) -> dict[str, Any]:
        d = {"image": self.image, "status": self.status, "note": self.note, "size": self.size,
             "winner": self.winner.to_dict() if self.winner else None, "others": [m.to_dict() for m in self.others],
             "your_latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
             "your_error": self.your_error or None, "your_answer": self.yours,
             "agreement_with_winner": self.agreement, "agreement_pillars": self.agreement_pillars,
             "your_boxes_per_class": self.counts("yours"), "winner_boxes_per_class": self.counts("winner")}
        if self.status == COMPARED:
            d["who_answers"] = self.who
            d["tp_fp_fn_against_winner"] = self.matched
        return d


def answer_boxes(answer: Any, objects: list[str]) -> list[Det]:
    """The answer's boxes and polygons as the validator reads them (nothing when the gate refuses it)."""
    from ..evaluate.answer import read_frames
    from .score import image_gate

    if image_gate(answer):
        return []
    frame = next(iter(read_frames(answer, objects).values()), None)
    return frame.all if frame else []


def _pick_reference(miners: list[MinerAnswer], hotkey: str | None) -> tuple[MinerAnswer | None, list[MinerAnswer]]:
    if not hotkey:
        return (miners[0] if miners else None), miners[1:]
    ref = next((m for m in miners if m.hotkey == hotkey), None)
    return ref, [m for m in miners if m is not ref]


def _photo_row(name: str, folder: Path, miners: list[MinerAnswer], hotkey: str | None, el: Element) -> PhotoRow:
    from .score import image_gate

    path = folder / "images" / name
    winner, others = _pick_reference(miners, hotkey)
    row = PhotoRow(name, path if path.is_file() else None, COMPARED, winner=winner, others=others)
    if row.path is None:
        row.status, row.note = NO_PHOTO, f"{path} is missing; pull again (`tvkit dataset pull ... --challenges N`)"
    elif winner is None:
        row.status = NO_REFERENCE
        row.note = f"miner {hotkey} is not among this photo's pulled miners" if hotkey else "no miner's answer"
    elif (why := image_gate(winner.answer)):
        row.status, row.note = REFERENCE_UNUSABLE, f"the reference answer fails the validator's gate: {why}"
    else:
        row.winner_boxes = answer_boxes(winner.answer, list(el.objects or []))
    return row


def _answer_photos(bundle: Path, rows: list[PhotoRow], el: Element, miner: Any) -> None:
    """Your bundle's answer and time for each photo still compared, through `predict_images`."""
    from ..comply import load_miner
    from .predict import predict_images

    todo = [r for r in rows if r.status == COMPARED]
    if todo and miner is None:
        try:
            miner = load_miner(bundle)
        except Exception as e:  # noqa: BLE001 - the miner's own error, whatever it is
            raise KitError(f"{bundle}/miner.py does not load: {type(e).__name__}: {e}") from e
    for r in todo:
        try:
            pred = predict_images(bundle, [r.path], element=el.id, miner=miner)
        except KitError as e:  # a photo OpenCV cannot decode: the chute could not either
            r.status, r.note = UNREADABLE, str(e)
            continue
        r.yours, r.latency_ms, r.size = pred.answers[r.image], pred.latency_ms[r.image], pred.sizes[r.image]
        r.your_boxes = answer_boxes(r.yours, list(el.objects or []))
        if r.your_error:
            r.note = f"your bundle failed on this photo: {r.your_error}"


def _pseudo_truth(boxes: list[Det]) -> list[Obj]:
    from .labels import Obj

    return [Obj(d.label, (d.x1, d.y1, d.x2, d.y2), d.polygon) for d in boxes]


def _agreement(rows: list[PhotoRow], el: Element, answer_of) -> ImageEvaluation | None:
    """The exact scorer over the compared photos with the reference's boxes as truth; None when none."""
    import warnings

    from .score import evaluate_images

    use = [r for r in rows if r.status == COMPARED and answer_of(r) is not None]
    if not use:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate_images({r.image: answer_of(r) for r in use}, {r.image: _pseudo_truth(r.winner_boxes)
                                                                     for r in use},
                               {r.image: r.path for r in use}, el)


# --- the result ----------------------------------------------------------------------------------------

@dataclass
class BesideResult:
    """Your bundle's answers beside the winner's on pulled photos. `agreement` is the exact scorer's
    mean with the winner's answers as PSEUDO-truth; `rows` one per photo; `runner_up` the second
    pulled miner's agreement with the same reference (a yardstick), None without one."""

    element: Element
    pulled_element: str
    bundle: Path
    folder: Path
    reference: str
    rows: list[PhotoRow]
    evaluation: ImageEvaluation | None
    runner_up: ImageEvaluation | None
    budget_ms: float | None
    top: int = 1
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def compared(self) -> list[PhotoRow]:
        return [r for r in self.rows if r.status == COMPARED]

    @property
    def agreement(self) -> float | None:
        """Mean agreement with the winner over the photos the scorer counts (None: none)."""
        ev = self.evaluation
        return ev.final if ev is not None and any(r.counted for r in ev.rows) else None

    @property
    def latencies(self) -> list[float]:
        return [r.latency_ms for r in self.compared if r.latency_ms is not None]

    def latency(self, q: float) -> float | None:
        from .predict import percentile

        return percentile(self.latencies, q) if self.latencies else None

    def totals(self, whose: str) -> dict[str, int]:
        c: Counter = Counter({o: 0 for o in self.element.objects or []})
        for r in self.compared:
            c.update(r.counts(whose))
        return dict(c)

    def metrics(self) -> dict[str, Any]:
        """A flat table for run ledgers and notebooks (agreement, never a score)."""
        who = Counter(r.who for r in self.compared)
        ev, ru = self.evaluation, self.runner_up
        out: dict[str, Any] = {
            "agreement_with_winner": self.agreement, "photos": len(self.rows), "compared": len(self.compared),
            "agreement_photos": sum(r.agreement is not None for r in self.rows),
            **{f"photos_{k.replace(' ', '_').replace(chr(39), '')}": who.get(k, 0) for k in WHO},
            "left_out": len(self.rows) - len(self.compared),
            "winner_published_mean": _mean([r.winner.composite_score for r in self.compared
                                            if r.winner and r.winner.composite_score is not None]),
            "runner_up_agreement_with_winner": ru.final if ru is not None and any(r.counted for r in ru.rows) else None,
            "your_p50_ms": self.latency(0.5), "your_p95_ms": self.latency(0.95), "budget_ms": self.budget_ms}
        if ev is not None:
            out.update({f"agreement/{n}": p.raw for n, p in ev.elements[self.element.id].pillars.items()})
        out.update({f"your_boxes/{k}": v for k, v in self.totals("yours").items()})
        out.update({f"winner_boxes/{k}": v for k, v in self.totals("winner").items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"element": self.element.id, "pulled_element": self.pulled_element, "bundle": str(self.bundle),
                "pulled": str(self.folder), "reference": self.reference, "pseudo_truth": True, "ground_truth": False,
                "what": AGREEMENT, "metrics": self.metrics(), "notes": list(self.notes),
                "agreement_per_class": self.evaluation.per_class if self.evaluation else {},
                "runner_up_per_class": self.runner_up.per_class if self.runner_up else {},
                "rows": [r.to_dict() for r in self.rows]}

    def picture(self, image: str, top: int | None = None) -> np.ndarray:
        """One photo side by side: yours | the winner's | the next `top - 1` miners' (BGR)."""
        from .beside_page import side_by_side
        from .labels import did_you_mean

        r = next((r for r in self.rows if r.image == image), None)
        if r is None or r.path is None or r.status == UNREADABLE:
            raise KitError(f"no photo {image!r} to draw{did_you_mean(image, [x.image for x in self.rows])}")
        return side_by_side(r, self.element, top or self.top)

    def gallery(self, n: int = 6) -> list[np.ndarray]:
        """Side-by-side pictures of up to `n` compared photos, the least agreeing first."""
        from .beside_page import least_agreeing, side_by_side

        return [side_by_side(r, self.element, self.top) for r in least_agreeing(self.compared)[:n]]

    def write(self, folder: str | os.PathLike) -> dict[str, Path]:
        """`index.html`, `beside.json` and `photos/<image>.jpg` into `folder`; returns them by name."""
        from .beside_page import write_report

        self.files = write_report(self, Path(folder))
        return self.files

    def __str__(self) -> str:
        from .beside_page import format_text

        return format_text(self)

    def _repr_html_(self) -> str:
        from .beside_page import html_body

        return html_body(self, inline=6)


def _mean(vals: list[float]) -> float | None:
    return float(sum(vals) / len(vals)) if vals else None


def _fill_agreement(rows: list[PhotoRow], ev: ImageEvaluation | None) -> None:
    from .score import SCORED, UNSCORED

    by = {x.image: x for x in ev.rows} if ev else {}
    for r in rows:
        x = by.get(r.image)
        if x is None or x.status == UNSCORED:
            continue
        r.agreement, r.agreement_pillars = x.final, dict(x.pillars)
        r.matched = (x.tp, x.fp, x.fn) if x.status == SCORED else None


# --- the one call -------------------------------------------------------------------------------------

def beside_winner(bundle: str | os.PathLike, pulled: str | os.PathLike, *, element: Element | str | None = None,
                  manifest: Manifest | str | None = None, top: int | None = None, hotkey: str | None = None,
                  limit: int | None = None, report: str | os.PathLike | None = None, miner: Any = None) -> BesideResult:
    """Run `bundle` on the pulled challenge photos and set its answers beside the winner's.

    Args:
        bundle: a Detect bundle (`tvkit package --element ID`); its objects must be the element's.
        pulled: the `--out` folder of `tvkit dataset pull --element ID --challenges N` (or its challenges/).
        element / manifest: the element to score with (default: the pulled element in `manifest`,
            the kit's example by default; the bundle's element when that one is not there).
        top: miners drawn beside yours (1: the winner only; default the table's `top`, every miner
            the pull kept); hotkey: compare with this miner
            instead of each photo's best; limit: at most this many photos (the first by name).
        report: also write the HTML page, the JSON and the pictures there.
    Returns:
        BesideResult: `.agreement` (mean, with the winner's answers as pseudo-truth), `.rows`,
        `.metrics()`, `.write(dir)`; shows itself in a notebook and with print().
    Raises:
        KitError: no pulled challenges, no answers, not a Detect bundle, objects that differ.

    >>> b = beside_winner("build/fire", "data/pull/fire")           # doctest: +SKIP
    >>> round(b.agreement, 3), b.metrics()["photos_only_yours"]      # doctest: +SKIP
    (0.214, 1)
    """
    from ..defaults import default

    top = default("top") if top is None else top
    if top < 1:
        raise KitError(f"top {top}: draw at least the winner (1), or more of the pulled miners")
    bundle = Path(bundle)
    cfg = _bundle_config(bundle)
    pulled_id, miners, folder, pulled_objects = load_pulled(pulled)
    notes: list[str] = []
    el = _resolve_element(element, manifest, pulled_id, cfg.get("element_id"), notes)
    _check_objects(el, cfg, bundle, pulled_id, pulled_objects)
    names = sorted(miners)[: limit] if limit else sorted(miners)
    rows = [_photo_row(n, folder, miners[n], hotkey, el) for n in names]
    _answer_photos(bundle, rows, el, miner)
    ev = _agreement(rows, el, lambda r: r.yours)
    _fill_agreement(rows, ev)
    runner_up = _agreement(rows, el, lambda r: r.others[0].answer if r.others else None)
    notes += _row_notes(rows, hotkey)
    from ..latency import budget_of

    res = BesideResult(el, pulled_id, bundle, folder, f"miner {hotkey}" if hotkey else
                       "each photo's best-scoring miner (that challenge's winner)", rows, ev, runner_up,
                       budget_of(el).limit_ms, top, notes)
    if report:
        res.write(report)
    return res


def _row_notes(rows: list[PhotoRow], hotkey: str | None) -> list[str]:
    out = []
    left = Counter(r.status for r in rows if r.status != COMPARED)
    out += [f"{n} photo(s) left out: {s}" for s, n in left.items()]
    failed = sum(bool(r.your_error) for r in rows if r.status == COMPARED)
    if failed:
        out.append(f"your bundle failed on {failed} photo(s): each counts 0 agreement (the validator scores it 0)")
    refs = Counter(r.winner.hotkey for r in rows if r.status == COMPARED and r.winner)
    if refs and not hotkey:
        out.append("reference miners: " + ", ".join(f"{h} on {n} photo(s)" for h, n in refs.most_common()))
    return out


# --- the command (kit/cli.py wires it) ------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`tvkit beside`'s arguments (the shared ones through kit.cli_args: one name and help per input)."""
    from ..cli_args import add_bundle_arg, add_default, add_element_arg, add_json_arg, add_manifest_arg

    add_bundle_arg(p, "a Detect bundle (`tvkit package --element ID --out DIR`)", required=True)
    p.add_argument("--pulled", required=True, metavar="DIR", help="the --out folder of `tvkit dataset pull --element "
                   "ID --challenges N`")
    add_element_arg(p, "score with this element (default: the pulled one)")
    add_manifest_arg(p)
    add_default(p, "top", help="miners drawn beside yours (1: the winner only)")
    p.add_argument("--hotkey", help="compare with this miner instead of each photo's best-scoring one")
    p.add_argument("--limit", type=int, help="at most this many photos")
    p.add_argument("--report", metavar="DIR", help="write index.html, beside.json and the pictures there")
    add_json_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    """`tvkit beside`: print the comparison (or its JSON); 0, or KitError for the CLI to report."""
    b = beside_winner(args.bundle, args.pulled, element=args.element, manifest=args.manifest, top=args.top,
                      hotkey=args.hotkey, limit=args.limit, report=args.report)
    print(json.dumps(b.to_dict(), indent=1) if args.json else b)
    return 0
