"""A handful of real fire-smoke photos imported onto the kit's fire element, for tests that train.

The shared set (`../shared/data/detect/fire-smoke`, Roboflow layout, its own class names `Fire`,
`default`, `smoke`) is copied in part and imported by name as a miner's import would, so a test
trains on real photos in seconds without touching the shared folder.
"""
from __future__ import annotations

import shutil
from pathlib import Path

FIRE = Path(__file__).resolve().parents[2] / "shared" / "data" / "detect" / "fire-smoke"


def fire_subset(tmp_path: Path, train: int = 12, val: int = 4) -> Path:
    """The first `train` and `val` photos of the set's train and valid splits, imported onto
    kit-example/Detect-fire (`default` dropped, splits kept); returns the data.yaml."""
    from kit.images.importer import import_images
    from kit.manifest import example_manifest

    src = tmp_path / "src"
    for split, n in (("train", train), ("valid", val)):
        for img in sorted((FIRE / split / "images").glob("*.jpg"))[:n]:
            for sub, f in (("images", img), ("labels", FIRE / split / "labels" / f"{img.stem}.txt")):
                (src / split / sub).mkdir(parents=True, exist_ok=True)
                shutil.copy(f, src / split / sub / f.name)
    (src / "data.yaml").write_text("train: train/images\nval: valid/images\nnc: 3\n"
                                   "names: ['Fire', 'default', 'smoke']\n")
    el = example_manifest().element("kit-example/Detect-fire")
    return import_images(src, tmp_path / "ds", list(el.objects), drop=["default"], split="keep",
                         progress=False).data_yaml
