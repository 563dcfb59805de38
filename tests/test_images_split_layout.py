"""read_yolo on the layout the kit's own importer writes (images/<split>/, labels/<split>/):
each image keeps its split, so `tvkit evaluate --truth <imported data.yaml> --split test` works."""

import cv2
import numpy as np
import yaml

from kit.images.labels import read_yolo


def _write(root, split, stem, line):
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / "images" / split / f"{stem}.jpg"), np.zeros((40, 80, 3), np.uint8))
    (root / "labels" / split / f"{stem}.txt").write_text(line)


def test_ultralytics_layout_keeps_splits_and_labels(tmp_path):
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"path": str(tmp_path), "val": "images/val",
                                                        "test": "images/test", "names": {0: "fire", 1: "smoke"}}))
    _write(tmp_path, "val", "a", "0 0.5 0.5 0.5 0.5\n")
    _write(tmp_path, "test", "b", "1 0.25 0.5 0.5 1.0\n")
    images, names = read_yolo(tmp_path)
    by = {im.image.stem: im for im in images}
    assert names == ["fire", "smoke"]
    assert (by["a"].split, by["b"].split) == ("val", "test")
    assert by["a"].objects[0].name == "fire" and by["a"].objects[0].box == (20.0, 10.0, 60.0, 30.0)
    assert by["b"].objects[0].name == "smoke" and by["b"].objects[0].box == (0.0, 0.0, 40.0, 40.0)


def test_import_then_read_round_trip(tmp_path):
    from kit.images.importer import import_images
    src = tmp_path / "src"
    for split, stem in (("valid", "a"), ("test", "b")):
        (src / split / "images").mkdir(parents=True)
        (src / split / "labels").mkdir(parents=True)
        cv2.imwrite(str(src / split / "images" / f"{stem}.jpg"), np.zeros((40, 80, 3), np.uint8))
        (src / split / "labels" / f"{stem}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (src / "data.yaml").write_text(yaml.safe_dump({"names": ["Fire"]}))
    out = tmp_path / "out"
    import_images(src, out, ["fire", "smoke"], split="keep", size="keep")
    images, _ = read_yolo(out)
    assert sorted((im.image.stem, im.split, len(im.objects)) for im in images) == [("a", "val", 1), ("b", "test", 1)]
