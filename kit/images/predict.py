"""The chute's answer for each photo of a Detect element, through the bundle's own miner.py.

Usage:
    r = predict_images("build/fire", "photos/")           # or `tvkit predict --bundle B --images P`
    r.write("answers.json"); print(r.format())            # per-image ms, p50 / p95

What the chute does with a Detect challenge, done here in process (upstream
turbovision_chute.py.j2:347-386 at ea7412f): the photo's bytes are decoded with
`cv2.imdecode(..., IMREAD_COLOR)` (BGR, what the chute hands the miner), the miner is called
once per photo (`predict_batch([image], offset=0, n_keypoints=32)`: one image per Detect
challenge, validator/challenges.py:456-521), each result is `.model_dump()`ed and given the
payload's frame id (0 on the image-url path), and the reply is
`{"success": true, "predictions": {"frames": [...]}, "error": null}`; a miner that raises
gives `success: false` with the error, as the chute reports it. The miner is loaded by path
as the compliance worker loads it (`kit.comply.load_miner`), and the time of each
predict_batch call (decode excluded, as compliance times it: security.py:452-458) is kept.

The answers file: `{"element": ID, "answers": {"<image file name>": <answer>},
"latency_ms": {"<image file name>": ms}}`; `kit.evaluate` and `tvkit validate` read each answer.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError
from .labels import IMAGE_SUFFIXES

#: The chute's frame id for an image-url challenge (validator/challenges.py:456-521).
IMAGE_FRAME_ID = 0
N_KEYPOINTS = 32   # meta.n_keypoints of every challenge upstream builds


def find_images(images: str | os.PathLike | list[str | os.PathLike]) -> list[Path]:
    """The photos of a folder (sorted; `images/` below it too), a single file, or a list of them."""
    items = images if isinstance(images, (list, tuple)) else [images]
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            folder = p / "images" if (p / "images").is_dir() else p
            out += sorted(q for q in folder.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            out.append(p)
        else:
            raise KitError(f"{p}: not an image ({' '.join(IMAGE_SUFFIXES)}) or a folder of them")
    if not out:
        raise KitError(f"{', '.join(map(str, items))}: no images there ({' '.join(IMAGE_SUFFIXES)})")
    return out


def decode(path: Path) -> Any:
    """The image as the chute decodes a payload frame: cv2.imdecode(bytes, IMREAD_COLOR), BGR."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise KitError(f"{path}: OpenCV cannot decode this image; the chute could not either")
    return img


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank on the sorted values at index int(q (n - 1)) (the compliance loop's p95 rule)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, int(q * (len(ordered) - 1))))])


@dataclass
class ImagePredictions:
    """The answer per photo and the predict_batch time of each."""

    element: str | None
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)   # name -> (width, height)

    @property
    def p50_ms(self) -> float:
        return percentile(list(self.latency_ms.values()), 0.5)

    @property
    def p95_ms(self) -> float:
        return percentile(list(self.latency_ms.values()), 0.95)

    @property
    def ok(self) -> bool:
        return all(a.get("success") for a in self.answers.values())

    def to_dict(self) -> dict[str, Any]:
        return {"element": self.element, "answers": self.answers,
                "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()}}

    def write(self, path: str | os.PathLike) -> Path:
        from ..contract import write_json_atomic

        return write_json_atomic(path, self.to_dict())

    def format(self) -> str:
        lines = []
        for name, ms in self.latency_ms.items():
            a = self.answers[name]
            what = (f"{len(a['predictions']['frames'][0].get('boxes') or [])} boxes" if a.get("success")
                    else f"failed: {a.get('error')}")
            lines.append(f"  {name}: {ms:7.1f} ms  {what}")
        lines.append(f"{len(self.answers)} images: p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms per "
                     "predict_batch call")
        return "\n".join(lines)


def bundle_element(bundle: str | os.PathLike) -> str | None:
    """The element id `tvkit package` wrote into the bundle's miner.json, if any."""
    cfg = Path(bundle) / "miner.json"
    try:
        return json.loads(cfg.read_text()).get("element_id") if cfg.is_file() else None
    except (ValueError, AttributeError):
        return None


def predict_images(bundle: str | os.PathLike, images: Any, element: str | None = None,
                   n_keypoints: int = N_KEYPOINTS, miner: Any = None) -> ImagePredictions:
    """Answer each photo as the chute would (one predict_batch call per photo).

    Args:
        bundle: the bundle folder (`tvkit package --element ID`).
        images: a folder of photos, one photo, or a list of them.
        element: the element id the answers are for (default: the bundle's miner.json).
        miner: an already loaded Miner (default: loaded from the bundle, as compliance does).
    Returns:
        ImagePredictions: `.answers` {file name: answer}, `.latency_ms`, `.p50_ms`, `.p95_ms`.
    Raises:
        KitError: no bundle or no images; a miner that cannot load.

    >>> r = predict_images("build/fire", "photos/")
    >>> r.answers["a.jpg"]["predictions"]["frames"][0]["frame_id"], round(r.p95_ms) < 110
    (0, True)
    """
    from ..comply.worker import load_miner
    from ..contract import answer_error, answer_ok, frame_dict

    bundle = Path(bundle)
    if not (bundle / "miner.py").is_file():
        raise KitError(f"{bundle}: no miner.py there; `tvkit package --element ID --out DIR` writes a bundle")
    paths = find_images(images)
    if miner is None:
        try:
            miner = load_miner(bundle)
        except Exception as e:  # noqa: BLE001 - the miner's own error, whatever it is
            raise KitError(f"{bundle}/miner.py does not load: {type(e).__name__}: {e}") from e
    out = ImagePredictions(element or bundle_element(bundle))
    for path in paths:
        img = decode(path)
        out.sizes[path.name] = (int(img.shape[1]), int(img.shape[0]))
        t0 = time.perf_counter()
        try:
            results = miner.predict_batch(batch_images=[img], offset=0, n_keypoints=n_keypoints)
            out.latency_ms[path.name] = 1000 * (time.perf_counter() - t0)
            frames = [dict(frame_dict(r), frame_id=IMAGE_FRAME_ID) for r in results]
            if len(frames) != 1:
                raise ValueError(f"predict_batch returned {len(frames)} results for 1 image")
            out.answers[path.name] = answer_ok(frames)
        except Exception as e:  # noqa: BLE001 - the chute turns any miner error into success: false
            out.latency_ms.setdefault(path.name, 1000 * (time.perf_counter() - t0))
            out.answers[path.name] = answer_error(f"There was a problem during prediction: {e}")
    return out


#: Labelled photo sets kept beside the repo (`../shared/data/detect/<set>/`, YOLO exports).
SHARED_DETECT = Path(__file__).resolve().parents[3] / "shared" / "data" / "detect"


def element_images(element: Any, split: str = "test", root: str | os.PathLike | None = None) -> list[Path]:
    """Photos of the element's objects for a dry run or a compliance replay: the `split` images of
    the shared labelled set whose class names (data.yaml `names`) share the most objects with the
    element, by name (kit.images.labels.name_key). KitError when no set has any of them."""
    import yaml

    from .labels import name_key

    root = Path(root) if root else SHARED_DETECT
    wanted = {name_key(o) for o in (getattr(element, "objects", None) or [])}
    best: tuple[int, Path] | None = None
    for yml in sorted(root.glob("*/data.yaml")) if root.is_dir() else []:
        try:
            names = yaml.safe_load(yml.read_text()).get("names") or []
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        names = list(names.values()) if isinstance(names, dict) else list(names)
        hits = len(wanted & {name_key(n) for n in names})
        folder = yml.parent / split / "images"
        if hits and folder.is_dir() and (best is None or hits > best[0]):
            best = (hits, folder)
    eid = getattr(element, "id", element)
    if best is None:
        raise KitError(f"no photos of {eid}'s objects {sorted(wanted)} in {root} (a labelled set whose "
                       f"data.yaml names them, with {split}/images/); pass --images DIR")
    return find_images(best[1])
