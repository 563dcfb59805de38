"""Labelled photos, read by class NAME: the common shape every format comes in as.

Usage: `images, names, fmt = read_labelled("../shared/data/detect/fire-smoke")` (or `read_yolo`), then
`images[0].objects` -> [Obj(name="Fire", box=(x1, y1, x2, y2)), ...] in pixels;
`read_api_truth("gt.json")` -> {frame_idx: [Obj(...)]} for the ScoreVision API's ground truth.

Every reader returns `LabelledImage`s whose objects carry the SOURCE's class names and pixel
xyxy boxes; mapping those names onto an element's objects is `match_names`' job, the same for
every format (the validator compares names, `str(x).strip().lower()`, upstream
vlm_pipeline/non_vlm_scoring/polygons.py:40-43, so a name is the stable key, never an id).

Formats:
- YOLO (`data.yaml` or `classes.txt` + `images/` and `labels/` folders, any split layout; a
  Roboflow export's inconsistent `train:`/`val:` paths are resolved against the folders that
  exist): `read_yolo`.
- The ScoreVision API's ground truth (`{"annotations": [{"frame_idx", "bbox": [x1, y1, x2, y2],
  "class"|"label"|"className", "polygon"?}]}`, optionally under `"ground_truth"`; upstream
  validator/challenges.py:44-129) and a starter-pack asset (`className`): `read_api_truth`; a
  folder of photos each with its `<stem>.json` (or `<stem>.source.json`, or
  `annotations/<stem>.json`), or a saved console element detail (`starterPack.starterAssets[]`
  with inline `annotations`) beside photos named `<assetId>.<ext>`: `read_api`.
- COCO detection JSON (one file, or Roboflow's `<split>/_annotations.coco.json`): `read_coco`.
- Pascal VOC XML (Roboflow's `<split>/*.jpg + *.xml`, or `JPEGImages/` + `Annotations/`): `read_voc`.
- `read_labelled(src, fmt="auto")` picks the reader (`detect_format`: data.yaml/classes.txt is
  YOLO, a JSON with `images` + `categories` COCO, `*.xml` VOC, `<stem>.json` with `annotations`
  the API) and says what it looked for when none fits.

Where supervision (`sv.DetectionDataset`, 0.31) is used and where not:
- COCO and VOC go through `from_coco` / `from_pascal_voc`; the kit adds what they lose or do not
  check: the split (a loader reads one folder; the kit walks the export's split folders), a
  listed image that is missing (supervision keeps its path), a COCO size that is not the file's
  (supervision trusts the JSON's width/height, the boxes would be normalised wrongly), duplicate
  category names (supervision's name -> id table silently merges them), and Roboflow's project
  category (id 0, the others' supercategory, never used: dropped, it is not a class). Its VOC
  loader decodes every image (for masks) and reads `xmin`/`ymin` as 1-based (minus one), as the
  VOC devkit does; class ids come in order of first appearance, which is why the kit keys by name.
  Segmentation polygons come back as masks: the kit keeps the box (boxes-only answers are scored
  by box IoU even when the truth has polygons, SCORING.md).
- YOLO stays on `read_yolo`: `from_yolo` needs one images/labels/data.yaml triple per split and
  cannot resolve a Roboflow data.yaml's inconsistent `train:`/`val:` paths, and the importer's
  split and output for a YOLO source must stay exactly as they are.
- The API format has no supervision loader.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import cv2

from .. import KitError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SPLIT_ALIASES = {"train": "train", "valid": "val", "val": "val", "validation": "val", "test": "test"}
#: The label formats the image wing reads (`read_labelled`); "auto" detects the format.
ImageFormat = Literal["auto", "yolo", "coco", "voc", "api"]
FORMATS: tuple[str, ...] = get_args(ImageFormat)


@dataclass(frozen=True)
class Obj:
    """One labelled object: the source's class name, a pixel xyxy box, an optional polygon."""

    name: str
    box: tuple[float, float, float, float]
    polygon: tuple[tuple[float, float], ...] | None = None


@dataclass
class LabelledImage:
    """A photo and its objects. `split` is the source's own split when it has one."""

    image: Path
    width: int
    height: int
    objects: list[Obj] = field(default_factory=list)
    split: str | None = None


# --- class names -------------------------------------------------------------------------------

def norm_name(name: Any) -> str:
    """The validator's comparison key (strip, lower) with `_`/`-` read as spaces."""
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower()).strip()


def _singular(key: str) -> str:
    words = key.split(" ")
    last = words[-1]
    for plural, single in (("ies", "y"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("xes", "x"), ("s", "")):
        if last.endswith(plural) and len(last) > len(plural) + 1 and not last.endswith("ss"):
            words[-1] = last[: -len(plural)] + single
            break
    return " ".join(words)


def name_key(name: Any) -> str:
    """Case-, separator- and plural-insensitive key: `Fire_Extinguishers` -> `fire extinguisher`."""
    return _singular(norm_name(name))


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or `` when none is close."""
    choices = list(choices)
    keys = {name_key(c): c for c in choices}
    close = difflib.get_close_matches(name_key(name), list(keys), n=1, cutoff=0.6)
    return f" (did you mean {keys[close[0]]!r}?)" if close else ""


def match_names(source: Iterable[str], objects: list[str], mapping: dict[str, str] | None = None,
                drop: Iterable[str] = (), where: str = "the source") -> dict[str, str | None]:
    """Source class name -> the element's object name (None: dropped), by name.

    `mapping` (`{"flame": "fire"}`, the CLI's `--map flame=fire`) is applied first, then names
    match case-, separator- and plural-insensitively; `drop` names classes to leave out. Any
    other class that matches no object raises KitError with a did-you-mean, before anything is
    written.

    >>> match_names(["Fire", "default", "smoke"], ["fire", "smoke", "fire extinguisher"], drop=["default"])
    {'Fire': 'fire', 'default': None, 'smoke': 'smoke'}
    """
    source = list(dict.fromkeys(source))
    by_key = {name_key(o): o for o in objects}
    user = {name_key(k): v for k, v in (mapping or {}).items()}
    dropped = {name_key(d) for d in drop}
    src_keys = {name_key(s) for s in source}
    for k, target in user.items():
        if k not in src_keys:
            raise KitError(f"--map {k}={target}: {k!r} is not a class of {where} (it has {sorted(source)})"
                           f"{did_you_mean(k, source)}")
        if name_key(target) not in by_key:
            raise KitError(f"--map {k}={target}: {target!r} is not one of the element's objects {objects}"
                           f"{did_you_mean(target, objects)}")
    for k in dropped - src_keys:
        raise KitError(f"--drop {k!r} is not a class of {where} (it has {sorted(source)}){did_you_mean(k, source)}")
    out: dict[str, str | None] = {}
    problems = []
    for s in source:
        k = name_key(s)
        if k in user:
            out[s] = by_key[name_key(user[k])]
        elif k in dropped:
            out[s] = None
        elif k in by_key:
            out[s] = by_key[k]
        else:
            problems.append(f"{s!r}{did_you_mean(s, objects)}")
    if problems:
        raise KitError(f"{where}: class(es) {', '.join(problems)} match none of the element's objects {objects}. "
                       "Map each with --map SOURCE=OBJECT, or leave it out with --drop SOURCE")
    return out


# --- YOLO --------------------------------------------------------------------------------------

def _yolo_names(root: Path) -> list[str]:
    import yaml

    for cand in (root / "data.yaml", root / "dataset.yaml"):
        if cand.is_file():
            doc = yaml.safe_load(cand.read_text()) or {}
            names = doc.get("names")
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names, key=int)]
            if isinstance(names, list):
                return [str(n) for n in names]
            raise KitError(f"{cand}: no `names:` list (the classes in id order)")
    for cand in (root / "classes.txt", root / "obj.names"):
        if cand.is_file():
            return [ln.strip() for ln in cand.read_text().splitlines() if ln.strip()]
    raise KitError(f"{root}: no data.yaml or classes.txt naming the classes; add one (a class name per line "
                   "in id order) or pass the export's folder")


def _yolo_image_dirs(root: Path) -> list[tuple[str | None, Path]]:
    """(split, images folder) pairs found under an export, whatever its data.yaml says."""
    found = []
    for images in sorted(p for p in root.rglob("images") if p.is_dir()):
        rel = images.relative_to(root).parts
        split = None
        for part in rel[:-1] + ((rel[-2],) if len(rel) >= 2 else ()):
            split = SPLIT_ALIASES.get(part.lower(), split)
        # ultralytics' layout, the one `import_images` writes: images/<split>/ beside labels/<split>/
        subs = [d for d in sorted(images.iterdir()) if d.is_dir() and d.name.lower() in SPLIT_ALIASES]
        if subs:
            found.extend((SPLIT_ALIASES[d.name.lower()], d) for d in subs)
        else:
            found.append((split, images))
    if not found and any(p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir()):
        found.append((None, root))
    return found


def _yolo_label(image: Path, images_dir: Path) -> Path:
    rel = image.relative_to(images_dir).with_suffix(".txt")
    if images_dir.name == "images":
        return images_dir.parent / "labels" / rel
    if images_dir.parent.name == "images":  # images/<split>/x.jpg -> labels/<split>/x.txt
        return images_dir.parent.parent / "labels" / images_dir.name / rel
    return image.with_suffix(".txt")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file; KitError when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise KitError(f"{path}: not a readable image (broken or not an image); delete or replace it")
    return int(img.shape[1]), int(img.shape[0])


def read_yolo(src: str | os.PathLike) -> tuple[list[LabelledImage], list[str]]:
    """Every labelled image of a YOLO export (boxes in pixels) and its class names in id order."""
    root = Path(src)
    if not root.is_dir():
        raise KitError(f"{root}: no such folder (give the export's folder, the one with data.yaml)")
    names = _yolo_names(root)
    dirs = _yolo_image_dirs(root)
    if not dirs:
        raise KitError(f"{root}: no images/ folder and no images; is this a YOLO export?")
    out: list[LabelledImage] = []
    for split, images_dir in dirs:
        for img in sorted(p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            w, h = image_size(img)
            label = _yolo_label(img, images_dir)
            objs: list[Obj] = []
            if label.is_file():
                for n, line in enumerate(label.read_text().splitlines(), 1):
                    parts = line.split()
                    if not parts:
                        continue
                    try:
                        cls = int(float(parts[0]))
                        vals = [float(v) for v in parts[1:]]
                    except ValueError:
                        raise KitError(f"{label}:{n}: expected `class cx cy w h` numbers, got {line!r}") from None
                    if not 0 <= cls < len(names):
                        raise KitError(f"{label}:{n}: class {cls} is not in the {len(names)} names {names}")
                    if len(vals) == 4:
                        cx, cy, bw, bh = vals
                        box = ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h)
                        objs.append(Obj(names[cls], box))
                    elif len(vals) >= 6 and len(vals) % 2 == 0:  # a segment: x y pairs
                        pts = tuple((vals[i] * w, vals[i + 1] * h) for i in range(0, len(vals), 2))
                        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                        objs.append(Obj(names[cls], (min(xs), min(ys), max(xs), max(ys)), pts))
                    else:
                        raise KitError(f"{label}:{n}: expected 4 box values or polygon x y pairs, got {len(vals)}")
            out.append(LabelledImage(img, w, h, objs, split))
    return out, names


# --- the ScoreVision API's ground truth ----------------------------------------------------------

def api_objects(doc: Any, where: str) -> dict[int, list[Obj]]:
    """{frame_idx: objects} from an API ground-truth document, read as upstream reads it
    (validator/challenges.py:44-129): `bbox` of 4 numbers, label `class` | `label` (| a starter
    asset's `className`), `frame_idx` 0 when missing, optional `polygon`. Entries without a label
    are skipped as upstream skips them; a malformed `bbox` is an error naming the entry."""
    if isinstance(doc, dict) and isinstance(doc.get("ground_truth"), dict):
        doc = doc["ground_truth"]
    anns = doc.get("annotations") if isinstance(doc, dict) else doc
    if not isinstance(anns, list):
        raise KitError(f"{where}: expected {{\"annotations\": [...]}} (the ScoreVision API's ground truth)")
    out: dict[int, list[Obj]] = {}
    for i, a in enumerate(anns):
        if not isinstance(a, dict):
            raise KitError(f"{where}: annotations[{i}]: expected an object")
        label = a.get("class", a.get("label", a.get("className")))
        bbox = a.get("bbox")
        try:
            box = tuple(float(v) for v in bbox)
        except (TypeError, ValueError):
            raise KitError(f"{where}: annotations[{i}].bbox: expected [x1, y1, x2, y2] numbers, got {bbox!r}") from None
        if len(box) != 4:
            raise KitError(f"{where}: annotations[{i}].bbox: expected 4 numbers, got {len(box)}")
        if not label or not str(label).strip():
            continue
        fid = a.get("frame_idx", 0)
        fid = int(fid) if isinstance(fid, int) or (isinstance(fid, str) and fid.isdigit()) else 0
        poly = a.get("polygon")
        pts = None
        if isinstance(poly, list) and poly:
            try:
                pts = tuple((float(x), float(y)) for x, y in poly)
            except (TypeError, ValueError):
                pts = None
        out.setdefault(fid, []).append(Obj(str(label), box, pts))  # type: ignore[arg-type]
    return out


def read_api_truth(path: str | os.PathLike) -> dict[int, list[Obj]]:
    """An API ground-truth JSON file as {frame_idx: objects}."""
    p = Path(path)
    if not p.is_file():
        raise KitError(f"{p}: no such ground-truth file (the ScoreVision API's JSON: {{\"annotations\": [...]}})")
    try:
        doc = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise KitError(f"{p}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from None
    return api_objects(doc, str(p))



# --- helpers shared by the readers ----------------------------------------------------------------

def header_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header (no decode); KitError when it is not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except (UnidentifiedImageError, OSError):
        raise KitError(f"{path}: not a readable image (broken or not an image); delete or replace it") from None


def split_of(path: Path, root: Path) -> str | None:
    """The split a file's folders name (`train`, `valid` -> val, `test`), nearest folder first."""
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        parts = path.parts[:-1]
    for part in reversed(parts):
        if part.lower() in SPLIT_ALIASES:
            return SPLIT_ALIASES[part.lower()]
    return None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise KitError(f"{path}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from None
    except UnicodeDecodeError:
        raise KitError(f"{path}: not a text file (expected JSON)") from None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _is_coco(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("images"), list) and isinstance(doc.get("categories"), list)


def _is_api(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return isinstance(doc, list) and all(isinstance(a, dict) and "bbox" in a for a in doc[:3])
    return (isinstance(doc.get("annotations"), list) and "images" not in doc) or isinstance(
        doc.get("ground_truth"), dict) or isinstance(doc.get("starterPack"), dict) or "starterAssets" in doc


# --- COCO --------------------------------------------------------------------------------------

def _coco_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    named = sorted(root.rglob("_annotations.coco.json"))
    if named:
        return named
    return [p for p in sorted(root.rglob("*.json")) if _is_coco(_load_json(p))]


def _roboflow_placeholders(doc: dict) -> set[str]:
    """Roboflow's project category: the others' supercategory and never used, so not a class."""
    used = {a.get("category_id") for a in doc.get("annotations") or [] if isinstance(a, dict)}
    supers = {str(c.get("supercategory")) for c in doc["categories"] if isinstance(c, dict)}
    return {str(c["name"]) for c in doc["categories"] if c.get("id") not in used and str(c.get("name")) in supers}


def read_coco(src: str | os.PathLike) -> tuple[list[LabelledImage], list[str]]:
    """Every image of a COCO export (one JSON, or a split folder each), through supervision's
    `from_coco`, with the checks it leaves out (module docstring)."""
    import supervision as sv

    root = Path(src)
    files = _coco_files(root)
    if not files:
        raise KitError(f"{root}: no COCO JSON (a file with `images` and `categories`) here or in its split folders")
    base = root if root.is_dir() else root.parent
    out: list[LabelledImage] = []
    names: list[str] = []
    for path in files:
        doc = _load_json(path)
        if not _is_coco(doc):
            raise KitError(f"{path}: not a COCO file (it needs `images` and `categories` lists)")
        cats = [str(c.get("name")) for c in doc["categories"]]
        twice = sorted({c for c in cats if cats.count(c) > 1})
        if twice:
            raise KitError(f"{path}: category name(s) {twice} listed more than once; give each class one id")
        try:
            ds = sv.DetectionDataset.from_coco(str(path.parent), str(path))
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise KitError(f"{path}: supervision cannot read this COCO file ({type(e).__name__}: {e})") from None
        skip = _roboflow_placeholders(doc)
        names += [c for c in ds.classes if c not in skip and c not in names]
        listed = {str((path.parent / im["file_name"]).resolve()): (int(im["width"]), int(im["height"]))
                  for im in doc["images"]}
        for image_path in ds.image_paths:
            img = Path(image_path)
            if not img.is_file():
                raise KitError(f"{path}: image {img.name} is listed but not there ({img}); restore it or remove "
                               "its entry")
            w, h = listed[image_path]
            if header_size(img) != (w, h):
                raise KitError(f"{path}: {img.name} is {header_size(img)} px but the JSON says ({w}, {h}); "
                               "the boxes would land in the wrong place: fix the JSON or the image")
            det = ds.annotations[image_path]
            cls = det.data.get("class_name", [])
            objs = [Obj(str(n), tuple(float(v) for v in box)) for box, n in zip(det.xyxy, cls)]  # type: ignore
            out.append(LabelledImage(img, w, h, objs, split_of(img, base)))
    return out, names


# --- Pascal VOC --------------------------------------------------------------------------------

def _voc_dirs(root: Path) -> list[tuple[Path, Path]]:
    """(images folder, annotations folder) pairs: XML beside the photos, or VOC's own layout."""
    pairs = []
    for ann in sorted({p.parent for p in root.rglob("*.xml")}):
        if _images_in(ann):
            pairs.append((ann, ann))
            continue
        near = [ann.parent / n for n in ("JPEGImages", "images", "Images")]
        img_dir = next((d for d in near if d.is_dir() and _images_in(d)), None)
        if img_dir is None:
            raise KitError(f"{ann}: Pascal VOC XML files but no photos beside them or in "
                           f"{', '.join(str(d.relative_to(root)) for d in near)}")
        pairs.append((img_dir, ann))
    return pairs


def read_voc(src: str | os.PathLike) -> tuple[list[LabelledImage], list[str]]:
    """Every image of a Pascal VOC export through supervision's `from_pascal_voc` (a photo
    without its XML is a negative), the split from the folder names."""
    import supervision as sv

    root = Path(src)
    pairs = _voc_dirs(root) if root.is_dir() else []
    if not pairs:
        raise KitError(f"{root}: no Pascal VOC XML files here or below (give the export's folder)")
    out: list[LabelledImage] = []
    names: list[str] = []
    for img_dir, ann_dir in pairs:
        try:
            ds = sv.DetectionDataset.from_pascal_voc(str(img_dir), str(ann_dir))
        except (ValueError, SyntaxError, KeyError) as e:  # ParseError is a SyntaxError
            raise KitError(f"{ann_dir}: supervision cannot read these Pascal VOC files ({type(e).__name__}: {e}); "
                           "each needs <object><name> and <bndbox> xmin ymin xmax ymax") from None
        names += [c for c in ds.classes if c not in names]
        for image_path in ds.image_paths:
            img = Path(image_path)
            w, h = header_size(img)
            det = ds.annotations[image_path]
            cls = det.data.get("class_name", [])
            objs = [Obj(str(n), tuple(float(v) for v in box)) for box, n in zip(det.xyxy, cls)]  # type: ignore
            out.append(LabelledImage(img, w, h, objs, split_of(img, root)))
    return out, names


# --- a folder of API ground truth ------------------------------------------------------------------

def _api_json_for(img: Path) -> Path | None:
    for cand in (img.with_suffix(".json"), img.with_name(img.stem + ".source.json"),
                 img.parent.parent / "annotations" / f"{img.stem}.json",
                 img.parent.parent / "annotations" / f"{img.stem}.source.json"):
        if cand.is_file():
            return cand
    return None


def _starter_assets(root: Path) -> dict[str, list[dict]]:
    """assetId -> inline annotations, from any saved console element detail under `root`."""
    found: dict[str, list[dict]] = {}
    for path in sorted(root.rglob("*.json")):
        if path.stat().st_size > 50_000_000:
            continue
        doc = _load_json(path)
        pack = doc.get("starterPack") if isinstance(doc, dict) else None
        assets = (pack or doc).get("starterAssets") if isinstance(pack or doc, dict) else None
        for a in assets if isinstance(assets, list) else []:
            if isinstance(a, dict) and a.get("assetId"):
                found[str(a["assetId"])] = a.get("annotations") or []
    return found


def _one_frame(frames: dict[int, list[Obj]], where: str) -> list[Obj]:
    if len(frames) > 1:
        raise KitError(f"{where}: annotations for frames {sorted(frames)}; one photo takes one frame's "
                       "annotations (split the file per frame)")
    return next(iter(frames.values()), [])


def read_api(src: str | os.PathLike) -> tuple[list[LabelledImage], list[str]]:
    """Photos with the ScoreVision API's ground truth (module docstring): each photo needs its
    JSON; a photo without one is refused (unlabelled is not a negative: `{"annotations": []}` is)."""
    root = Path(src)
    if not root.is_dir():
        raise KitError(f"{root}: no such folder (give the folder of photos and their <stem>.json files)")
    assets = _starter_assets(root)
    out: list[LabelledImage] = []
    missing = []
    for img in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        js = _api_json_for(img)
        if js is not None:
            objs = _one_frame(read_api_truth(js), str(js))
        elif img.stem in assets:
            objs = _one_frame(api_objects({"annotations": assets[img.stem]}, f"starter asset {img.stem}"),
                              f"starter asset {img.stem}")
        else:
            missing.append(img)
            continue
        w, h = header_size(img)
        out.append(LabelledImage(img, w, h, objs, split_of(img, root)))
    if missing:
        raise KitError(f"{missing[0]}{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: no ground "
                       f"truth beside it ({missing[0].stem}.json); add it, or move unlabelled photos out of {root}")
    if not out:
        raise KitError(f"{root}: no photos with ground truth (<stem>.json beside each photo)")
    names = list(dict.fromkeys(o.name for li in out for o in li.objects))
    return out, names


# --- any format --------------------------------------------------------------------------------

def _found_summary(root: Path) -> str:
    counts = Counter(p.suffix.lower() or "(none)" for p in root.rglob("*") if p.is_file())
    return ", ".join(f"{n} {suf}" for suf, n in counts.most_common(6)) or "nothing"


def detect_format(src: str | os.PathLike) -> str:
    """Which reader fits `src`: "yolo", "coco", "voc" or "api"; KitError naming what was looked for."""
    root = Path(src)
    if not root.exists():
        raise KitError(f"{root}: no such file or folder (give the dataset's folder)")
    if root.is_file():
        if root.suffix.lower() == ".json" and _is_coco(_load_json(root)):
            return "coco"
        raise KitError(f"{root}: a file; give the dataset's folder (or a COCO JSON file)")
    if any((root / n).is_file() for n in ("data.yaml", "dataset.yaml", "classes.txt", "obj.names")):
        return "yolo"
    if next(root.rglob("_annotations.coco.json"), None) is not None:
        return "coco"
    jsons = sorted(root.rglob("*.json"))
    if any(_is_coco(_load_json(p)) for p in jsons[:4] if p.stat().st_size < 200_000_000):
        return "coco"
    if next(root.rglob("*.xml"), None) is not None:
        return "voc"
    if any(_is_api(_load_json(p)) for p in jsons[:4]):
        return "api"
    raise KitError(f"{root}: no label format fits. Looked for data.yaml or classes.txt (YOLO), a JSON with "
                   "`images` and `categories` (COCO), *.xml (Pascal VOC), and <photo stem>.json with `annotations` "
                   f"(the ScoreVision API); found {_found_summary(root)}. Pass the export's own folder")


READERS = {"yolo": read_yolo, "coco": read_coco, "voc": read_voc, "api": read_api}


def read_labelled(src: str | os.PathLike, fmt: str = "auto") -> tuple[list[LabelledImage], list[str], str]:
    """(images, the source's class names, the format read) for any format above.

    >>> images, names, fmt = read_labelled("../shared/data/detect/vehicles")  # doctest: +SKIP
    >>> fmt, names
    ('yolo', ['bike', 'bus', 'car', 'truck'])
    """
    if fmt not in FORMATS:
        raise KitError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}{did_you_mean(fmt, FORMATS)}")
    fmt = detect_format(src) if fmt == "auto" else fmt
    images, names = READERS[fmt](src)
    return images, names, fmt

__all__ = ["FORMATS", "IMAGE_SUFFIXES", "ImageFormat", "LabelledImage", "Obj", "api_objects", "detect_format",
           "did_you_mean", "header_size", "image_size", "match_names", "name_key", "norm_name", "read_api",
           "read_api_truth", "read_coco", "read_labelled", "read_voc", "read_yolo", "split_of"]
