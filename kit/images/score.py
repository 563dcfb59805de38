"""Score Detect image challenges exactly as the validator does: one photo is one challenge.

Usage: `ev = evaluate_images(answers, truths, images, element)`, then `ev.final`, `print(ev)`,
`ev.elements[element.id].pillars["map50"].raw`, `ev.to_dict()`; on the command line
`tvkit evaluate --element kit-example/Detect-fire --images photos/ --truth truth/ --answer answers.json`.

    >>> el = load_manifest().element("kit-example/Detect-fire")
    >>> ev = evaluate_images({"a.png": answer}, {"a.png": [Obj("fire", (10, 10, 200, 300))]},
    ...                      {"a.png": Path("a.png")}, el)                      # doctest: +SKIP
    >>> round(ev.final, 3)                                                       # doctest: +SKIP
    0.607

What the validator does at ea7412f, and so does this module (upstream file:line):

- The answer gate (utils/evaluate.py:217-257): 0 unless `success` is true and the answer lists
  exactly one frame (an image challenge's meta has `min_frames_required` 1 and
  `n_frames_total` 1, utils/challenges.py:500-501). The chute stamps the payload's frame id on
  the one frame it returns, so that frame is the image's whatever id it carries here.
- The answer is read with the element's objects (`kit.evaluate.answer.read_frames`, upstream
  `parse_miner_prediction`: `objects[int(cls_id)]`, so "2", 2.0 and 2.7 read as 2 and a value
  `int()` refuses or one out of range drops the box; corners through `int()`).
- Truth: `kit.images.labels.Obj` (class NAME, pixel xyxy, optional polygon), corners and
  polygon points through `int()` as upstream's ground-truth parser does (challenges.py:
  44-129); names are compared `strip().lower()` with `objects[cls_id]` (polygons.py:40-43). A
  truth class that is none of the element's objects is kept, as the validator keeps it: an AP
  of 0 the miner cannot earn (a warning says so once).
- The pillars the manifest weights (map50, false_positive, precision, recall, iou, count,
  smoothness) by the kit's one implementation of upstream's polygon-aware functions
  (`kit.evaluate.objects`): the adaptive IoU threshold uses the real image's size, read from
  the file (polygons.py:363-392: the API's truth carries a 1x1 stub, the frame decides).
- `S = sum(weight x pillar)` in the manifest's order, composite `Element.weight_score(S)`
  (manifest.py:359-373), and with a latency the RTF gate (`rtf > 1` scores 0, rtf.py:28).
- An image whose truth has no object is NOT scored for an answer that passes the gate: the
  API parser returns the raw dict, the scorer raises on it and the runner writes no shard
  (challenges.py:108-109, 770-773; runner.py:551-578; research detect_elements.md 3.3). A
  failed call on such an image is still a 0 shard (the gate stops before the scorer), so it
  counts. Unscored images are counted and listed.
- Over many images: each image is its own challenge; the element's score is the MEAN
  composite (the winner is picked on the window mean, validator/winner.py:528-580). Its
  pillars, S and gated value are means over the counted images too; the per-class table pools
  every scored image's matches (AP50, precision, recall at the adaptive threshold, FP count)
  and leaves failed calls out (they have no boxes to judge; they are counted apart).

Inputs on disk: an answer is exactly the chute's /predict answer `{success, predictions:
{frames: [...]}, error}`; many answers travel in an answers file `{"element": ID, "answers":
{"<image file name>": <answer>}, "latency_ms": {"<name>": ms}}` (`load_answers`,
`write_answers`; `tvkit predict` writes it). Truth: one API ground-truth JSON for one image, a
folder of `<image stem>.json` API files beside a folder of images, or a YOLO dataset whose
names are the element's objects (`load_truth`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError
from ..contract import read_json, write_json_atomic
from ..evaluate import ElementScore, PillarScore, check_elements
from ..evaluate.answer import Det, ReadFrame, RefFrame, frame_count, read_frames
from ..evaluate.objects import (
    DETECTION_PILLARS,
    FrameDetections,
    detection_metrics,
    frame_detections,
    frame_row,
    smoothness,
)
from ..manifest import Element, Manifest, load_manifest
from .labels import IMAGE_SUFFIXES, SPLIT_ALIASES, Obj, did_you_mean, image_size, read_api_truth, read_yolo
from .score_view import format_image_evaluation, image_evaluation_html

__all__ = ["ImageRow", "ImageEvaluation", "evaluate_images", "score_image", "image_gate", "truth_dets",
           "AnswerSet", "load_answers", "write_answers", "load_truth", "evaluate_image_files", "IMAGE_PILLARS"]

#: Pillars a single photo can be scored on (the Detect registry, upstream objects.py:421-579).
IMAGE_PILLARS = (*DETECTION_PILLARS, "iou", "count", "smoothness")
SCORED, FAILED, UNSCORED = "scored", "failed", "unscored"


# --- one image ----------------------------------------------------------------------------------

def image_gate(answer: Any) -> str:
    """Why the validator scores this answer 0 outright ("" when it passes): `success` must be
    true and exactly one frame listed (upstream evaluate.py:238-243 with the image meta's 1 and 1)."""
    if not (isinstance(answer, dict) and answer.get("success") is True):
        err = answer.get("error") if isinstance(answer, dict) else None
        return "the answer does not have success: true" + (f" (error: {err})" if err else "")
    n = frame_count(answer)
    if n != 1:
        return f"the answer lists {n} frames; an image challenge needs exactly 1"
    return ""


def truth_dets(objs: list[Obj]) -> list[Det]:
    """Truth objects as the scorer compares them: corners and polygon points through `int()`
    (upstream challenges.py:83-88, 58-73), the name as given (compared strip+lower later)."""
    out = []
    for o in objs:
        x1, y1, x2, y2 = (int(v) for v in o.box)
        pts = tuple((int(x), int(y)) for x, y in o.polygon) if o.polygon else None
        out.append(Det(x1, y1, x2, y2, str(o.name), None, None, pts))
    return out


@dataclass
class ImageRow:
    """One image, one challenge: how its answer scored. `status` is "scored", "failed" (the
    answer gate: final 0) or "unscored" (no truth object: the validator writes no shard)."""

    image: str
    width: int
    height: int
    status: str
    gate_reason: str = ""
    pillars: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    gated: float = 0.0
    final: float = 0.0
    latency_ms: float | None = None
    rtf: float | None = None
    n_truth: int = 0
    n_answer: int = 0
    detections: FrameDetections | None = None
    path: Path | None = None

    @property
    def tp(self) -> int:
        return self.detections.tp if self.detections else 0

    @property
    def fp(self) -> int:
        return self.detections.fp if self.detections else 0

    @property
    def fn(self) -> int:
        return self.n_truth - self.tp if self.status == SCORED else self.n_truth

    @property
    def counted(self) -> bool:
        """Whether this image counts in the element's mean (it has a shard)."""
        return self.status != UNSCORED

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "width": self.width, "height": self.height, "status": self.status,
                "gate_reason": self.gate_reason, "pillars": dict(self.pillars), "score": self.score,
                "gated": self.gated, "final": self.final, "latency_ms": self.latency_ms, "rtf": self.rtf,
                "n_truth": self.n_truth, "n_answer": self.n_answer, "tp": self.tp, "fp": self.fp, "fn": self.fn}


def _pillar_values(e: Element, ref: RefFrame, frame: ReadFrame | None, fd: FrameDetections) -> dict[str, float]:
    """The element's pillars on one photo (one reference frame), in the manifest's order."""
    want = set(e.pillars)
    det = detection_metrics([fd])
    row = frame_row(ref, frame, want & {"iou", "count"}) if want & {"iou", "count"} else None
    vals: dict[str, float] = {}
    for n in e.pillars:
        if n in DETECTION_PILLARS:
            vals[n] = float(det[n])
        elif n in ("iou", "count"):
            vals[n] = float(row.values[n])
        elif n == "smoothness":  # one frame: every group is seen once, which scores 0 (smoothness.py:116)
            vals[n] = smoothness({ref.frame_id: frame} if frame else {})[0]
    return vals


def score_image(answer: Any, truth: list[Obj], width: int, height: int, element: Element,
                latency_ms: float | None = None, name: str = "image") -> ImageRow:
    """One photo's challenge score: gate, pillars, S, composite and the RTF gate.

    >>> el = Element("Detect-x", objects=["fire"], pillars={"map50": 0.6, "false_positive": 0.4},
    ...              baseline_theta=0.3932593937991298, delta_floor=0.01)
    >>> ans = {"success": True, "predictions": {"frames": [{"frame_id": 0, "boxes": []}]}}
    >>> score_image(ans, [Obj("fire", (0, 0, 50, 50))], 640, 480, el).final
    0.01
    """
    reason = image_gate(answer)
    row = ImageRow(name, width, height, SCORED, reason, n_truth=len(truth), latency_ms=latency_ms)
    if reason:
        row.status = FAILED
        row.pillars = {n: 0.0 for n in element.pillars}
        return row
    if not truth:
        row.status = UNSCORED
        return row
    frames = read_frames(answer, element.objects)
    frame = next(iter(frames.values()), None)
    ref = RefFrame(0, truth_dets(truth), width, height)
    fd = frame_detections(ref, frame)
    row.detections, row.n_answer = fd, len(frame.all) if frame else 0
    row.pillars = _pillar_values(element, ref, frame, fd)
    row.score = sum(row.pillars[n] * w for n, w in element.pillars.items())
    row.gated = element.weight_score(row.score)
    row.rtf = element.rtf(latency_ms) if latency_ms is not None else None
    row.final = row.gated if row.rtf is None or row.rtf <= 1.0 else 0.0
    return row


# --- many images ----------------------------------------------------------------------------------

@dataclass
class ImageEvaluation:
    """An element scored on photos: `final` (mean composite), `elements[id]` (an ElementScore as
    the clip evaluator gives), `per_class`, `rows` (one per image), `notes` (warnings)."""

    manifest: Manifest | None
    element: Element
    rows: list[ImageRow]
    per_class: dict[str, dict[str, Any]]
    elements: dict[str, ElementScore]
    final: float
    latency_ms: float | dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def n_scored(self) -> int:
        return self._count(SCORED)

    @property
    def n_failed(self) -> int:
        return self._count(FAILED)

    @property
    def n_unscored(self) -> int:
        return self._count(UNSCORED)

    @property
    def breakdown(self) -> dict[str, float]:
        """The flat table run ledgers keep (as the clip evaluator's): final, <id>/final, <id>/score,
        <id>/<pillar>."""
        es = self.elements[self.element.id]
        out = {"final": self.final, f"{self.element.id}/final": es.final, f"{self.element.id}/score": es.score}
        out.update({f"{self.element.id}/{n}": p.raw for n, p in es.pillars.items()})
        return out

    def to_dict(self, rows: bool = True) -> dict[str, Any]:
        """The layout `tvkit evaluate --json` prints for clips (`final`, `elements[ID].pillars`,
        `score`, `gated`, `final`, `breakdown`), plus the image counts, per class and per image."""
        failed = [r for r in self.rows if r.status == FAILED]
        man = self.manifest
        return {"final": self.final, "kind": "image", "element": self.element.id,
                "gate": {"passed": not failed, "reason": "" if not failed else
                         f"{len(failed)} of {len(self.rows)} answer(s) failed the answer gate (scored 0)"},
                "manifest": None if man is None else {"source": man.source, "window_id": man.window_id,
                                                      "example": man.example},
                "n_images": len(self.rows), "n_scored": self.n_scored, "n_failed": self.n_failed,
                "n_unscored_empty_truth": self.n_unscored, "latency_ms": self.latency_ms,
                "elements": {eid: es.to_dict() for eid, es in self.elements.items()},
                "per_class": self.per_class, "notes": list(self.notes), "breakdown": self.breakdown,
                **({"rows": [r.to_dict() for r in self.rows]} if rows else {})}

    def __str__(self) -> str:
        return format_image_evaluation(self)

    def _repr_html_(self) -> str:
        return image_evaluation_html(self)


def _per_class(element: Element, rows: list[ImageRow]) -> dict[str, dict[str, Any]]:
    """Per class over every scored image: pooled AP50 (the kit's upstream AP over these matches),
    precision and recall at the adaptive threshold, TP/FP/truth counts. Keyed by the element's
    object names, then any other truth class (lower-cased, as compared)."""
    fds = [r.detections for r in rows if r.status == SCORED and r.detections is not None]
    pooled = detection_metrics(fds) if fds else {"per_class_ap": {}}
    names = {str(o).strip().lower(): str(o) for o in element.objects or []}
    keys = list(names) + sorted({k for fd in fds for k in fd.n_ref} - set(names))
    out: dict[str, dict[str, Any]] = {}
    for k in keys:
        tp = sum(m for fd in fds for _, m in fd.preds.get(k, []))
        n_pred = sum(len(fd.preds.get(k, [])) for fd in fds)
        n_ref = sum(fd.n_ref.get(k, 0) for fd in fds)
        out[names.get(k, k)] = {
            "ap50": pooled["per_class_ap"].get(k) if n_ref else None, "precision": tp / n_pred if n_pred else None,
            "recall": tp / n_ref if n_ref else None, "tp": tp, "fp": n_pred - tp, "n_truth": n_ref,
            "n_images": sum(1 for fd in fds if fd.n_ref.get(k, 0)), "is_object": k in names}
    return out


def _element_score(element: Element, rows: list[ImageRow], fds: list[FrameDetections]) -> ElementScore:
    """The element over the counted images: means of each pillar, S, gated and final."""
    counted = [r for r in rows if r.counted]

    def mean(vals: list[float]) -> float:
        return float(sum(vals) / len(vals)) if vals else 0.0

    pillars = {n: PillarScore(n, mean([r.pillars.get(n, 0.0) for r in counted]), w, element.targets.get(n),
                              element.baselines.get(n)) for n, w in element.pillars.items()}
    rtfs = [r.rtf for r in counted if r.rtf is not None]
    es = ElementScore(element, pillars, mean([r.score for r in counted]), mean([r.gated for r in counted]),
                      mean([r.final for r in counted]), max(rtfs) if rtfs else None,
                      all(x <= 1.0 for x in rtfs), detections=fds)
    if fds:
        es.detection_summary = {k: v for k, v in detection_metrics(fds).items()
                                if k in ("per_class_ap", "tp", "fp", "n_ref")}
    return es


def _check_element(element: Element) -> None:
    check_elements([element])
    other = [p for p in element.pillars if p not in IMAGE_PILLARS]
    if other:
        raise KitError(f"element {element.id!r}: pillar(s) {', '.join(other)} need a clip (teams, keypoints); a photo "
                       f"is scored on {', '.join(IMAGE_PILLARS)}. Score this element with `tvkit evaluate --video`")
    if not any(element.objects or []):
        raise KitError(f"element {element.id!r} has no objects: the validator reads no boxes for it")


def _foreign_classes(element: Element, truths: Mapping[str, list[Obj]]) -> str:
    """A warning (once) when truth classes are none of the element's objects ("" when all are)."""
    objs = {str(o).strip().lower() for o in element.objects or []}
    extra = sorted({o.name for objs_ in truths.values() for o in objs_ if o.name.strip().lower() not in objs})
    if not extra:
        return ""
    return (f"truth class(es) {extra} are none of {element.id}'s objects {list(element.objects or [])}: the validator "
            "keeps them, each an AP of 0 no answer can earn" + did_you_mean(extra[0], element.objects or []))


def evaluate_images(answers: Mapping[str, Any], truths: Mapping[str, list[Obj]], images: Mapping[str, Path],
                    element: Element, latency_ms: float | Mapping[str, float] | None = None,
                    manifest: Manifest | None = None) -> ImageEvaluation:
    """Score answers to image challenges as the validator does, one challenge per image.

    Args:
        answers: image name -> the chute's /predict answer (a missing name is a failed call, 0).
        truths: image name -> its truth objects (`Obj`: class name, pixel xyxy, optional polygon);
            the images scored are these names.
        images: image name -> the image file (its real size sets the adaptive IoU threshold).
        element: the Detect element (its objects, pillars and gates).
        latency_ms: one p95 latency for every call, or per image name, for the RTF gate.
    Returns:
        An ImageEvaluation: `final` (mean composite), `elements[id]`, `per_class`, `rows`.
    Raises:
        KitError: an image missing or unreadable, a pillar a photo cannot be scored on.
    """
    _check_element(element)
    notes = []
    warn = _foreign_classes(element, truths)
    if warn:
        warnings.warn(warn, stacklevel=2)
        notes.append(warn)
    rows = []
    for name, objs in truths.items():
        if name not in images:
            raise KitError(f"no image file for {name!r}: give the image of every truth entry (--images)")
        w, h = image_size(Path(images[name]))
        lat = latency_ms.get(name) if isinstance(latency_ms, Mapping) else latency_ms
        answer = answers.get(name)
        if answer is None:
            row = score_image({"success": False, "error": "no answer for this image"}, objs, w, h, element, lat, name)
        else:
            row = score_image(answer, objs, w, h, element, lat, name)
        row.path = Path(images[name])
        rows.append(row)
    missing = sum(1 for n in truths if n not in answers)
    if missing:
        notes.append(f"{missing} image(s) have no answer: scored as failed calls (0)")
    if any(r.status == UNSCORED for r in rows):
        notes.append(f"{sum(r.status == UNSCORED for r in rows)} image(s) have no truth object: not scored (the "
                     "validator writes no shard for a working miner on such an image)")
    fds = [r.detections for r in rows if r.detections is not None]
    es = _element_score(element, rows, fds)
    return ImageEvaluation(manifest, element, rows, _per_class(element, rows), {element.id: es}, es.final,
                           dict(latency_ms) if isinstance(latency_ms, Mapping) else latency_ms, notes)


# --- files: answers ---------------------------------------------------------------------------------

@dataclass
class AnswerSet:
    """Answers to image challenges: image file name -> /predict answer, per-image latencies, the
    element they were made for (None when the file does not say), and whether the file was one
    bare /predict answer."""

    answers: dict[str, Any]
    element: str | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    single: bool = False


def load_answers(path: str | os.PathLike) -> AnswerSet:
    """An answers file `{"element", "answers": {name: answer}, "latency_ms": {name: ms}}`, or one
    bare /predict answer (`single`, keyed ""). KitError names what is wrong and where."""
    doc = read_json(path, "no such answers file (`tvkit predict` writes one; or save the chute's /predict answer)")
    if isinstance(doc, dict) and isinstance(doc.get("answers"), dict):
        lat = doc.get("latency_ms") or {}
        if not isinstance(lat, dict) or not all(isinstance(v, (int, float)) for v in lat.values()):
            raise KitError(f"{path}: latency_ms must map image names to milliseconds, got {lat!r:.80}")
        el = doc.get("element")
        return AnswerSet(dict(doc["answers"]), str(el) if el else None, {k: float(v) for k, v in lat.items()})
    if isinstance(doc, dict) and ("success" in doc or "predictions" in doc):
        return AnswerSet({"": doc}, None, {}, single=True)
    raise KitError(f"{path}: neither an answers file ({{\"element\", \"answers\": {{image name: answer}}}}) nor a "
                   "/predict answer ({\"success\", \"predictions\": {\"frames\": [...]}, \"error\"})")


def write_answers(path: str | os.PathLike, element_id: str, answers: Mapping[str, Any],
                  latency_ms: Mapping[str, float] | None = None) -> Path:
    """Write an answers file (atomically) in the layout `load_answers` reads."""
    doc = {"element": element_id, "answers": dict(answers), "latency_ms": dict(latency_ms or {})}
    return write_json_atomic(path, doc, indent=1)


# --- files: truth -------------------------------------------------------------------------------------

def _is_yolo(p: Path) -> bool:
    if p.is_file():
        return p.suffix in (".yaml", ".yml")
    return any((p / n).is_file() for n in ("data.yaml", "dataset.yaml", "classes.txt", "obj.names"))


def _yolo_truth(root: Path, split: str | None, element: Element, notes: list[str]) -> tuple[dict, dict]:
    labelled, names = read_yolo(root)
    if split:
        want = SPLIT_ALIASES.get(split.lower())
        if want is None:
            raise KitError(f"--split {split!r}: choose one of {sorted(set(SPLIT_ALIASES.values()))}")
        labelled = [li for li in labelled if li.split == want]
        if not labelled:
            raise KitError(f"{root}: no images in split {split!r}")
    truths: dict[str, list[Obj]] = {}
    images: dict[str, Path] = {}
    for li in labelled:
        if li.image.name in truths:
            raise KitError(f"{root}: two images named {li.image.name!r} (in different splits?); pass --split")
        truths[li.image.name], images[li.image.name] = list(li.objects), li.image
    objs = [str(o).strip().lower() for o in element.objects or []]
    if [n.strip().lower() for n in names] != objs:
        notes.append(f"{root}: the dataset's names {names} are not {element.id}'s objects {element.objects} in order; "
                     "its truth is compared by name (`tvkit dataset import` maps names onto the element's objects)")
    return truths, images


def _images_in(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def _one_image_truth(path: Path, where: str) -> list[Obj]:
    groups = read_api_truth(path)
    if len(groups) > 1:
        raise KitError(f"{where}: annotations of {len(groups)} frames ({sorted(groups)}); one image's truth has one")
    return next(iter(groups.values()), [])


def load_truth(truth: str | os.PathLike, images: str | os.PathLike | None = None, split: str | None = None,
               element: Element | None = None,
               notes: list[str] | None = None) -> tuple[dict[str, list[Obj]], dict[str, Path]]:
    """(truths, images) by image file name, from one API JSON + one image, a folder of
    `<stem>.json` API files + a folder of images, or a YOLO dataset (its own images; `images`,
    when given, keeps only the names found there). Remarks for the user go to `notes`."""
    t = Path(truth)
    if not t.exists():
        raise KitError(f"{t}: no such truth file or folder (an API ground-truth JSON, a folder of them, or a YOLO "
                       "dataset with data.yaml)")
    if _is_yolo(t):
        if element is None:
            raise KitError("a YOLO truth needs the element (its objects name the classes)")
        truths, imgs = _yolo_truth(t.parent if t.is_file() else t, split, element, notes if notes is not None else [])
        if images:
            keep = _images_in(Path(images)) if Path(images).is_dir() else {Path(images).name: Path(images)}
            truths = {k: v for k, v in truths.items() if k in keep}
        return truths, imgs
    if images is None:
        raise KitError(f"{t}: API ground truth needs --images (the image it describes, or their folder)")
    im = Path(images)
    if t.is_file():
        if not im.is_file():
            raise KitError(f"{im}: one truth file goes with one image file (a folder of truths with a folder)")
        return {im.name: _one_image_truth(t, str(t))}, {im.name: im}
    if not im.is_dir():
        raise KitError(f"{im}: a folder of truth files goes with a folder of images")
    by_stem = {p.stem: p for p in _images_in(im).values()}
    truths, imgs = {}, {}
    for js in sorted(t.glob("*.json")):
        if js.stem not in by_stem:
            raise KitError(f"{js}: no image {js.stem}.<jpg|png|...> in {im}{did_you_mean(js.stem, by_stem)}")
        p = by_stem[js.stem]
        truths[p.name], imgs[p.name] = _one_image_truth(js, str(js)), p
    if not truths:
        raise KitError(f"{t}: no <image stem>.json truth files here")
    return truths, imgs


# --- the whole job, from files -------------------------------------------------------------------------

def _match_answers(aset: AnswerSet, names: list[str], where: str) -> dict[str, Any]:
    """Answers keyed by the truth's image names (an answer may be keyed by name or by stem)."""
    if aset.single:
        if len(names) != 1:
            raise KitError(f"{where}: one /predict answer, but {len(names)} images; give an answers file "
                           "({\"element\", \"answers\": {image name: answer}}) for a folder")
        return {names[0]: aset.answers[""]}
    out = {}
    for n in names:
        for key in (n, Path(n).stem):
            if key in aset.answers:
                out[n] = aset.answers[key]
                break
    if names and not out:
        first = next(iter(aset.answers), "")
        raise KitError(f"{where}: no answer is keyed by any of the {len(names)} image names (e.g. {names[0]!r}; the "
                       f"file has {first!r}{did_you_mean(first, names)}); keys are image file names")
    return out


def evaluate_image_files(element_id: str | None, truth: str | os.PathLike, answer: str | os.PathLike,
                         images: str | os.PathLike | None = None, manifest: Manifest | str | None = None,
                         latency_ms: float | None = None, split: str | None = None,
                         block: int | None = None) -> ImageEvaluation:
    """`evaluate_images` from files, as `tvkit evaluate --images/--truth/--answer` calls it: the
    element from `element_id` or the answers file, latencies from `latency_ms` (one for every
    call) or the answers file."""
    aset = load_answers(answer)
    eid = element_id or aset.element
    if not eid:
        raise KitError(f"{answer}: the file names no element; pass --element ID (`tvkit elements list`)")
    if element_id and aset.element and aset.element != element_id:
        raise KitError(f"{answer}: answers made for {aset.element!r}, asked to score {element_id!r}; their cls_ids "
                       "index the other element's objects")
    man = load_manifest(manifest, block=block)
    element = man.element(eid)
    notes: list[str] = []
    truths, imgs = load_truth(truth, images, split, element, notes)
    answers = _match_answers(aset, list(truths), str(answer))
    lat: float | dict[str, float] | None = latency_ms
    if lat is None and aset.latency_ms:
        lat = {n: aset.latency_ms.get(n, aset.latency_ms.get(Path(n).stem)) for n in truths}
        lat = {k: v for k, v in lat.items() if v is not None}
    with warnings.catch_warnings():  # the same remarks land in ev.notes, which the caller shows
        warnings.simplefilter("ignore")
        ev = evaluate_images(answers, truths, imgs, element, lat, manifest=man)
    ev.notes[:0] = notes
    extra = len(aset.answers) - len(answers) if not aset.single else 0
    if extra > 0:
        ev.notes.append(f"{extra} answer(s) are for images outside the truth: ignored")
    return ev
