"""kit.images: detect data in, by class NAME, from every format; `tvkit dataset import` and `pull`.

Every format is written here from the REAL labelled sets beside the repo
(../shared/data/detect/{fire-smoke,vehicles}, Roboflow YOLOv8 exports, CC BY 4.0): COCO JSON
and Pascal VOC XML are written by this file (not by supervision, which the kit reads them with)
from the real photos and their real boxes, so a reader that moved, lost or renamed a box fails
here. The pull talks to a stand-in console and results bucket on 127.0.0.1
(tests/standins/console.py) that speak the public contract (detect_elements.md §6).
"""
import functools
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from kit import KitError
from kit.images import labels as L
from kit.images.importer import import_images

from conftest import SHARED, TVKIT

DETECT = SHARED / "data" / "detect"
FIRE, VEHICLES = DETECT / "fire-smoke", DETECT / "vehicles"
FIRE_OBJECTS = ["fire", "smoke", "fire extinguisher"]
VEHICLE_OBJECTS = ["car", "bus", "truck", "motorcycle"]
VEHICLE_ID = "manak0/Detect-detect-vehicle"

pytestmark = pytest.mark.skipif(not (FIRE / "data.yaml").is_file() or not (VEHICLES / "data.yaml").is_file(),
                                reason="the real Detect sets (../shared/data/detect) are not beside the repo")


# --- writing the real labels in other formats ---------------------------------------------------

@functools.cache
def real_yolo(src: Path) -> tuple[list[L.LabelledImage], list[str]]:
    """The real export, read once per test session (it decodes every photo)."""
    return L.read_yolo(src)


def real_subset(src: Path, split: str, n: int | None = None) -> list[L.LabelledImage]:
    """The real labelled photos of one split of a YOLO export (sorted; the first n)."""
    images, _ = real_yolo(src)
    picked = [li for li in images if li.split == split]
    return picked[:n] if n else picked


def write_coco(images: list[L.LabelledImage], folder: Path, roboflow_placeholder: str | None = None) -> Path:
    """Roboflow's COCO layout: the photos and `_annotations.coco.json` in one split folder."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(o.name for li in images for o in li.objects))
    cats = [{"id": i + 1, "name": n, "supercategory": roboflow_placeholder or "none"} for i, n in enumerate(names)]
    if roboflow_placeholder:
        cats.insert(0, {"id": 0, "name": roboflow_placeholder, "supercategory": "none"})
    doc = {"info": {}, "categories": cats, "images": [], "annotations": []}
    for i, li in enumerate(images):
        shutil.copy(li.image, folder / li.image.name)
        doc["images"].append({"id": i, "file_name": li.image.name, "width": li.width, "height": li.height})
        for o in li.objects:
            x1, y1, x2, y2 = o.box
            doc["annotations"].append({"id": len(doc["annotations"]), "image_id": i, "iscrowd": 0,
                                       "category_id": names.index(o.name) + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                       "area": (x2 - x1) * (y2 - y1), "segmentation": []})
    path = folder / "_annotations.coco.json"
    path.write_text(json.dumps(doc))
    return path


def write_voc(images: list[L.LabelledImage], folder: Path) -> None:
    """Roboflow's VOC layout: each photo with its XML beside it; bndbox 1-based (the VOC devkit's)."""
    folder.mkdir(parents=True, exist_ok=True)
    for li in images:
        shutil.copy(li.image, folder / li.image.name)
        root = ET.Element("annotation")
        ET.SubElement(root, "filename").text = li.image.name
        size = ET.SubElement(root, "size")
        for k, v in (("width", li.width), ("height", li.height), ("depth", 3)):
            ET.SubElement(size, k).text = str(v)
        for o in li.objects:
            ob = ET.SubElement(root, "object")
            ET.SubElement(ob, "name").text = o.name
            bb = ET.SubElement(ob, "bndbox")
            x1, y1, x2, y2 = (round(v) for v in o.box)
            for k, v in (("xmin", x1 + 1), ("ymin", y1 + 1), ("xmax", x2), ("ymax", y2)):
                ET.SubElement(bb, k).text = str(v)
        ET.ElementTree(root).write(folder / f"{li.image.stem}.xml")


def write_api(images: list[L.LabelledImage], folder: Path, key: str = "class") -> None:
    """The ScoreVision API's ground truth: each photo with `<stem>.json` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for li in images:
        shutil.copy(li.image, folder / li.image.name)
        anns = [{"frame_idx": 0, "bbox": list(o.box), key: o.name} for o in li.objects]
        (folder / f"{li.image.stem}.json").write_text(json.dumps({"annotations": anns}))


def by_image(images: list[L.LabelledImage]) -> dict[str, list[tuple[str, tuple]]]:
    return {li.image.name: sorted((o.name, o.box) for o in li.objects) for li in images}


def assert_same_boxes(got, want, tol: float):
    g, w = by_image(got), by_image(want)
    assert set(g) == set(w)
    for name in w:
        assert [n for n, _ in g[name]] == [n for n, _ in w[name]], name
        for (_, bg), (_, bw) in zip(g[name], w[name]):
            assert np.allclose(bg, bw, atol=tol), (name, bg, bw)


# --- readers -----------------------------------------------------------------------------------

def test_coco_from_real_vehicle_boxes_reads_back_the_same_boxes_and_split(tmp_path):
    real = real_subset(VEHICLES, "val", 12)
    assert sum(len(li.objects) for li in real) > 100  # real traffic frames, many small boxes
    write_coco(real, tmp_path / "export" / "valid", roboflow_placeholder="vehicles-xyz")
    assert L.detect_format(tmp_path / "export") == "coco"
    got, names, fmt = L.read_labelled(tmp_path / "export")
    assert fmt == "coco"
    assert "vehicles-xyz" not in names  # Roboflow's project category is not a class
    assert sorted(names) == sorted({o.name for li in real for o in li.objects})
    assert {li.split for li in got} == {"val"}
    assert_same_boxes(got, real, tol=1e-3)
    assert [(li.width, li.height) for li in sorted(got, key=lambda x: x.image.name)] == \
        [(li.width, li.height) for li in sorted(real, key=lambda x: x.image.name)]


def test_coco_whose_size_is_not_the_photos_is_refused(tmp_path):
    real = real_subset(VEHICLES, "test", 2)
    path = write_coco(real, tmp_path / "export" / "test")
    doc = json.loads(path.read_text())
    doc["images"][1]["width"] = 640
    path.write_text(json.dumps(doc))
    with pytest.raises(KitError, match=rf"{real[1].image.name} is .* the JSON says \(640, "):
        L.read_coco(tmp_path / "export")


def test_voc_from_real_fire_boxes_reads_back_within_a_pixel(tmp_path):
    real = real_subset(FIRE, "test", 15)
    write_voc(real, tmp_path / "voc" / "test")
    assert L.detect_format(tmp_path / "voc") == "voc"
    got, names, fmt = L.read_labelled(tmp_path / "voc")
    assert fmt == "voc" and set(names) == {o.name for li in real for o in li.objects}
    assert {li.split for li in got} == {"test"}
    assert_same_boxes(got, real, tol=1.0)  # VOC stores whole pixels


def test_voc_classic_layout_and_a_photo_without_xml_is_a_negative(tmp_path):
    real = real_subset(FIRE, "val", 4)
    write_voc(real, tmp_path / "VOC" / "Annotations")
    (tmp_path / "VOC" / "JPEGImages").mkdir()
    for p in (tmp_path / "VOC" / "Annotations").glob("*.jpg"):
        p.rename(tmp_path / "VOC" / "JPEGImages" / p.name)
    (tmp_path / "VOC" / "Annotations" / f"{real[0].image.stem}.xml").unlink()
    got, _, _ = L.read_labelled(tmp_path / "VOC", "voc")
    assert len(got) == 4
    assert by_image(got)[real[0].image.name] == []


def test_api_folder_from_real_fire_boxes_and_the_shared_api_sample(tmp_path):
    real = real_subset(FIRE, "train", 6)
    write_api(real, tmp_path / "api")
    got, names, fmt = L.read_labelled(tmp_path / "api")
    assert fmt == "api"
    assert_same_boxes(got, real, tol=1e-6)
    # the shared sample (written from the real labels by whoever made the set): its boxes are ours
    sample = sorted((FIRE / "api_format_sample").glob("*.json"))
    assert len(sample) == 8
    for js in sample:
        img = next(FIRE.rglob(f"{js.stem}.jpg"))
        (tmp_path / "sample").mkdir(exist_ok=True)
        shutil.copy(img, tmp_path / "sample" / img.name)
        shutil.copy(js, tmp_path / "sample" / js.name)
    got, names, _ = L.read_labelled(tmp_path / "sample")
    yolo = {li.image.name: li for li in real_yolo(FIRE)[0]}
    for li in got:
        want = yolo[li.image.name]
        assert len(li.objects) == len(want.objects)
        for o, w in zip(sorted(li.objects, key=lambda o: o.box), sorted(want.objects, key=lambda o: o.box)):
            assert L.name_key(o.name) == L.name_key(w.name)
            assert np.allclose(o.box, w.box, atol=0.6)  # the sample rounds to 0.1 px


def test_api_photo_without_its_json_is_refused(tmp_path):
    real = real_subset(FIRE, "train", 3)
    write_api(real, tmp_path / "api")
    (tmp_path / "api" / f"{real[1].image.stem}.json").unlink()
    with pytest.raises(KitError, match=rf"{real[1].image.stem}.*no ground truth beside it"):
        L.read_labelled(tmp_path / "api", "api")


def test_no_format_fits_says_what_was_looked_for(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hello")
    with pytest.raises(KitError, match=r"no label format fits.*YOLO.*COCO.*Pascal VOC.*ScoreVision API.*1 \.txt"):
        L.read_labelled(tmp_path / "x")
    with pytest.raises(KitError, match=r"format 'cocoo'.*did you mean 'coco'"):
        L.read_labelled(tmp_path / "x", "cocoo")


# --- import by name ----------------------------------------------------------------------------

def vehicle_manifest(tmp_path: Path) -> Path:
    """The upstream fixture manifest plus the vehicles element, values like Detect-fire's."""
    doc = json.loads((SHARED / "reference" / "validator-ea7412f" / "full_private_tcg_manifest.json").read_text())
    fire = next(e for e in doc["elements"] if e["id"] == "manak0/Detect-fire")
    doc["elements"].append({**fire, "id": VEHICLE_ID, "objects": VEHICLE_OBJECTS, "challenge_type_id": 101})
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    return path


def label_counts(data_yaml: Path) -> dict[str, Counter]:
    root = data_yaml.parent
    names = yaml.safe_load(data_yaml.read_text())["names"]
    out = {}
    for split_dir in sorted((root / "labels").iterdir()):
        c = Counter()
        for f in split_dir.glob("*.txt"):
            c.update(names[int(line.split()[0])] for line in f.read_text().splitlines() if line.strip())
        out[split_dir.name] = c
    return out


def test_cli_imports_vehicles_onto_the_vehicle_element_with_map_bike(tmp_path):
    manifest = vehicle_manifest(tmp_path)
    out = tmp_path / "veh"
    r = subprocess.run([TVKIT, "dataset", "import", "--element", VEHICLE_ID, "--manifest", str(manifest),
                        "--src", str(VEHICLES), "--out", str(out), "--map", "bike=motorcycle", "--size", "keep",
                        "--json"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert js["element"] == VEHICLE_ID and js["format"] == "yolo"
    assert js["mapping"] == {"bike": "motorcycle", "bus": "bus", "car": "car", "truck": "truck"}
    # the PROVENANCE's counts: bike 57, bus 82, car 2645, truck 98
    assert js["before"] == {"bike": 57, "bus": 82, "car": 2645, "truck": 98}
    assert js["after_total"] == {"car": 2645, "bus": 82, "truck": 98, "motorcycle": 57}
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == dict(enumerate(VEHICLE_OBJECTS))
    written = label_counts(out / "data.yaml")
    assert sum(written.values(), Counter()) == Counter(js["after_total"])
    assert sum(js["images"].values()) == 175
    # the same import without --map: refused, with the way out
    r = subprocess.run([TVKIT, "dataset", "import", "--element", VEHICLE_ID, "--manifest", str(manifest),
                        "--src", str(VEHICLES), "--out", str(tmp_path / "veh2")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2
    assert "'bike'" in r.stderr and "--map SOURCE=OBJECT" in r.stderr
    assert not (tmp_path / "veh2").exists()


def test_wrong_class_gets_a_did_you_mean_and_nothing_is_written(tmp_path):
    real = real_subset(FIRE, "train", 6)
    write_api(real, tmp_path / "api")
    objects = ["fire", "smoke", "fire extinguisher"]
    with pytest.raises(KitError, match=r"'Fire'.*match none.*--map SOURCE=OBJECT") as e:
        import_images(tmp_path / "api", tmp_path / "out", ["flame", "smoke"], progress=False)
    assert "['flame', 'smoke']" in str(e.value)  # the element's objects are listed
    with pytest.raises(KitError, match=r"--map fire=smok.*did you mean 'smoke'"):
        import_images(tmp_path / "api", tmp_path / "out", objects, mapping={"fire": "smok"}, progress=False)
    with pytest.raises(KitError, match=r"--drop 'defualt' is not a class.*"):
        import_images(tmp_path / "api", tmp_path / "out", objects, drop=["defualt"], progress=False)
    # an unknown class close to an object: did-you-mean names it
    for p in (tmp_path / "api").glob("*.json"):
        p.write_text(p.read_text().replace('"smoke"', '"smok"'))
    with pytest.raises(KitError, match=r"'smok' \(did you mean 'smoke'\?\) match none"):
        import_images(tmp_path / "api", tmp_path / "out", objects, progress=False)
    assert not (tmp_path / "out").exists()


def test_map_and_drop_and_case_plural_matching_on_coco(tmp_path):
    val = real_yolo(FIRE)[0]
    real = [next(li for li in val if any(o.name == name for o in li.objects)) for name in ("default", "Fire", "smoke")]
    real += [li for li in val if li.objects and li not in real][:12]
    # rename the classes the way other exports spell them
    renamed = [L.LabelledImage(li.image, li.width, li.height,
                               [L.Obj({"Fire": "Flames", "smoke": "Smokes", "default": "default"}[o.name], o.box)
                                for o in li.objects], li.split) for li in real]
    write_coco(renamed, tmp_path / "coco" / "valid")
    before = Counter(o.name for li in renamed for o in li.objects)
    assert before["default"] > 0 and before["Flames"] > 0 and before["Smokes"] > 0
    r = import_images(tmp_path / "coco", tmp_path / "out", FIRE_OBJECTS, mapping={"flame": "fire"},
                      drop=["DEFAULT"], split="keep", size=None, progress=False)
    assert r.fmt == "coco"
    assert r.mapping == {"Flames": "fire", "Smokes": "smoke", "default": None}
    assert r.dropped == {"default": before["default"]}
    assert r.after_total() == {"fire": before["Flames"], "smoke": before["Smokes"], "fire extinguisher": 0}
    assert label_counts(r.data_yaml) == {"val": Counter({"fire": before["Flames"], "smoke": before["Smokes"]})}
    text = str(r)
    before_line = next(x for x in text.splitlines() if "before:" in x)
    assert all(f"{n} {k}" in before_line for n, k in before.items())
    assert f"after:  fire {before['Flames']}, smoke {before['Smokes']}, fire extinguisher 0" in text
    assert "'Flames' -> 'fire'" in text and "--map" in text and "dropped: --drop" in text
    assert "no box of ['fire extinguisher']" in text  # a missing class is said
    # boxes written are the real ones (normalised by the real size)
    li = next(x for x in real if len(x.objects) == 1 and x.objects[0].name == "Fire")
    row = (r.data_yaml.parent / "labels" / "val" / f"{li.image.stem}.txt").read_text().split()
    x1, y1, x2, y2 = li.objects[0].box
    want = [0, (x1 + x2) / 2 / li.width, (y1 + y2) / 2 / li.height, (x2 - x1) / li.width, (y2 - y1) / li.height]
    assert np.allclose([float(v) for v in row], want, atol=2e-6)


def test_group_split_keeps_a_scene_together_and_is_deterministic(tmp_path):
    real = real_subset(FIRE, "train")
    # 60 photos of few clips (`<clip>_mp4-<n>` names), as the API format
    clips = [li for li in real if "_mp4-" in li.image.name][:60]
    assert len({li.image.name.split("_mp4-")[0] for li in clips}) >= 3
    write_api(clips, tmp_path / "api")
    has_default = any(o.name == "default" for li in clips for o in li.objects)
    kw = dict(objects=FIRE_OBJECTS, drop=["default"] if has_default else [], size=None, progress=False)
    a = import_images(tmp_path / "api", tmp_path / "a", **kw)
    b = import_images(tmp_path / "api", tmp_path / "b", **kw)
    assert a.groups == b.groups and a.images == b.images
    listing = {s: sorted(p.name for p in (tmp_path / "a" / "images" / s).iterdir()) for s in a.images}
    assert listing == {s: sorted(p.name for p in (tmp_path / "b" / "images" / s).iterdir()) for s in b.images}
    split_of_clip: dict[str, set[str]] = {}
    for s, names in listing.items():
        for n in names:
            split_of_clip.setdefault(n.split("_mp4-")[0], set()).add(s)
    assert all(len(v) == 1 for v in split_of_clip.values()), split_of_clip  # no clip in two splits
    assert len(a.images) >= 2


def test_yolo_import_is_unchanged_for_the_fire_set(tmp_path):
    """The lead's call on the real fire set: the same groups as the first cut wrote (pinned)."""
    r = import_images(FIRE, tmp_path / "fire", FIRE_OBJECTS, drop=["default"], progress=False)
    assert r.fmt == "yolo" and r.size == (912, 513)
    assert r.images == {"train": 603, "val": 225, "test": 151}
    assert {s: len(g) for s, g in r.groups.items()} == {"train": 119, "val": 19, "test": 41}
    assert r.after == {"train": {"fire": 207, "smoke": 382}, "val": {"fire": 136, "smoke": 47},
                       "test": {"fire": 41, "smoke": 104}}
    assert r.dropped == {"default": 160}


# --- tvkit dataset pull against a stand-in console ------------------------------------------------

FIRE_ID = "manak0/Detect-fire"


@pytest.fixture
def console(monkeypatch):
    from standins.console import ConsoleStandIn

    s = ConsoleStandIn().start()
    monkeypatch.setenv("SCOREVISION_CONSOLE_URL", s.url)
    monkeypatch.setenv("SCOREVISION_RESULTS_URL", s.url)
    yield s
    s.stop()


def png(path: Path, scale: float = 0.5) -> bytes:
    """A real photo as the PNG the asset store serves (smaller, to keep the tests quick)."""
    img = cv2.imread(str(path))
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def fire_assets(n: int = 4) -> list[dict]:
    """Real fire photos with their real boxes (halved with the photo), as starter assets."""
    real = [li for li in real_subset(FIRE, "test") if li.objects and all(o.name != "default" for o in li.objects)]
    out = []
    for i, li in enumerate(real[:n]):
        anns = [{"bbox": [v / 2 for v in o.box], "class": {"Fire": "fire"}.get(o.name, o.name)} for o in li.objects]
        out.append({"id": f"a{i:02d}{li.image.stem[:6]}".replace("-", ""), "image": png(li.image), "annotations": anns,
                    "frame": 10 * i, "real": li})
    return out


def fast():
    from kit.deploy.retry import Backoff

    return Backoff(attempts=3, base=0.05, cap=0.1)


def files_fetched(console) -> list[str]:
    return [r.path for r in console.seen("GET", r"^/files/")]


def test_pull_writes_the_starter_set_in_element_order_and_a_rerun_downloads_nothing(console, tmp_path):
    from kit.images.pull import pull_element

    assets = fire_assets(4)
    assets[1]["annotation_file"] = False  # annotationUrl answers 404: the console's inline copy is used
    console.add_element(FIRE_ID, FIRE_OBJECTS, assets)
    out = tmp_path / "pull"
    r = pull_element(FIRE_ID, out, lookback_days=4, backoff=fast(), progress=False)
    seen = console.seen("GET", r"^/api/v2/elements/")
    assert seen[0].path == "/api/v2/elements/manak0%2FDetect-fire" and seen[0].query == {"lookback_days": ["4"]}
    assert r.starter == {a["id"]: "downloaded" for a in assets} and r.downloaded == 4
    assert not r.offline
    data = yaml.safe_load(r.data_yaml.read_text())
    assert data["names"] == dict(enumerate(FIRE_OBJECTS))
    want = Counter(a2["class"] for a in assets for a2 in a["annotations"])
    assert sum(label_counts(r.data_yaml).values(), Counter()) == want
    # a box written is the real box, normalised by the served photo's size
    a = assets[0]
    split = next(s for s in ("train", "val", "test")
                 if (r.data_yaml.parent / "labels" / s / f"{a['id']}.txt").is_file())
    row = (r.data_yaml.parent / "labels" / split / f"{a['id']}.txt").read_text().splitlines()[0].split()
    h, w = cv2.imdecode(np.frombuffer(a["image"], np.uint8), cv2.IMREAD_COLOR).shape[:2]
    x1, y1, x2, y2 = a["annotations"][0]["bbox"]
    assert int(row[0]) == FIRE_OBJECTS.index(a["annotations"][0]["class"])
    assert np.allclose([float(v) for v in row[1:]], [(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w,
                                                      (y2 - y1) / h], atol=2e-6)
    prov = json.loads((out / "provenance.json").read_text())
    entry = prov["starter"][assets[1]["id"]]
    assert entry["annotation_source"].startswith("inline annotations (HTTP 404")
    assert prov["starter"][assets[0]["id"]]["annotation_source"] == "annotationUrl"
    assert all(e["imageUrl"].startswith(console.url) and "downloaded_at" in e for e in prov["starter"].values())
    assert prov["lookback_days"] == 4 and prov["last_pull"]
    n_files = len(files_fetched(console))
    assert n_files == 4 + 4  # 4 photos, 4 annotation tries (one 404)
    r2 = pull_element(FIRE_ID, out, backoff=fast(), progress=False)
    assert r2.downloaded == 0 and set(r2.starter.values()) == {"cached"}
    assert len(files_fetched(console)) == n_files  # nothing fetched again
    assert "0 downloaded now, 4 from the cache" in str(r2)


def test_pull_a_half_written_file_is_fetched_again(console, tmp_path):
    from kit.images.pull import pull_element

    assets = fire_assets(3)
    console.add_element(FIRE_ID, FIRE_OBJECTS, assets)
    out = tmp_path / "pull"
    pull_element(FIRE_ID, out, backoff=fast(), progress=False)
    victim = out / "starter" / f"{assets[2]['id']}.png"
    half = victim.read_bytes()[: victim.stat().st_size // 2]
    victim.unlink()
    (victim.parent / (victim.name + ".part")).write_bytes(half)  # a run killed mid-download
    r = pull_element(FIRE_ID, out, backoff=fast(), progress=False)
    assert r.starter[assets[2]["id"]] == "downloaded" and r.downloaded == 1
    assert victim.read_bytes() == assets[2]["image"]
    assert not list((out / "starter").glob("*.part"))


def test_pull_retries_a_timeout_and_skips_a_broken_photo_until_it_is_fixed(console, tmp_path):
    from kit.images.pull import pull_element

    assets = fire_assets(4)
    good = assets[3]["image"]
    assets[3]["image"] = good[: len(good) // 3]  # a truncated PNG: does not decode
    console.add_element(FIRE_ID, FIRE_OBJECTS, assets)
    slow_path = f"/files/manako/upcoming/u1/u2/assets/{assets[0]['id']}.png"
    console.slow(re.escape(slow_path), seconds=1.5, times=1)
    out = tmp_path / "pull"
    r = pull_element(FIRE_ID, out, timeout=0.5, backoff=fast(), progress=False)
    assert r.starter[assets[0]["id"]] == "downloaded"
    assert len(console.seen("GET", re.escape(slow_path))) == 2  # timed out once, retried
    assert r.starter[assets[3]["id"]].startswith("broken image")
    assert not (out / "starter" / f"{assets[3]['id']}.png").exists()
    assert f"skipped {assets[3]['id']}: broken image" in str(r)
    assert json.loads((out / "provenance.json").read_text())["starter"][assets[3]["id"]]["skipped"].startswith(
        "broken image")
    console.files[f"manako/upcoming/u1/u2/assets/{assets[3]['id']}.png"] = good  # the store is fixed
    r = pull_element(FIRE_ID, out, timeout=0.5, backoff=fast(), progress=False)
    assert r.starter[assets[3]["id"]] == "downloaded" and r.downloaded == 1


def test_pull_timeout_on_every_try_is_reported_not_hung(console, tmp_path):
    from kit.images.pull import pull_element

    assets = fire_assets(3)
    console.add_element(FIRE_ID, FIRE_OBJECTS, assets)
    path = f"/files/manako/upcoming/u1/u2/assets/{assets[1]['id']}.png"
    console.slow(re.escape(path), seconds=1.0, times=3)
    r = pull_element(FIRE_ID, tmp_path / "pull", timeout=0.3, backoff=fast(), progress=False)
    assert "did not answer in 0.3 s after 3 tries" in r.starter[assets[1]["id"]]
    assert r.starter[assets[0]["id"]] == "downloaded"


def test_pull_unknown_class_is_refused_then_dropped_without_downloading_again(console, tmp_path):
    from kit.images.pull import pull_element

    assets = fire_assets(3)
    assets[2]["annotations"].append({"bbox": [10, 10, 60, 80], "class": "smok"})
    assets[1]["annotations"].append({"bbox": [20, 20, 90, 90], "class": "hose"})
    console.add_element(FIRE_ID, FIRE_OBJECTS, assets)
    out = tmp_path / "pull"
    with pytest.raises(KitError, match=r"'smok' \(did you mean 'smoke'\?\).*match none.*--drop SOURCE"):
        pull_element(FIRE_ID, out, backoff=fast(), progress=False)
    assert not (out / "dataset").exists()
    n = len(files_fetched(console))
    r = pull_element(FIRE_ID, out, mapping={"smok": "smoke"}, drop=["hose"], backoff=fast(), progress=False)
    assert len(files_fetched(console)) == n and r.downloaded == 0
    assert "'hose' -> None" in r.import_summary
    written = sum(label_counts(r.data_yaml).values(), Counter())
    want = Counter(x["class"] for a in assets for x in a["annotations"] if x["class"] != "hose")
    want["smoke"] += want.pop("smok")
    assert written == want


def test_pull_unknown_element_is_a_404_error(console, tmp_path):
    from kit.images.pull import pull_element

    console.add_element(FIRE_ID, FIRE_OBJECTS, fire_assets(2))
    with pytest.raises(KitError, match=r"the console has no element 'manak0/Detect-fires'.*404"):
        pull_element("manak0/Detect-fires", tmp_path / "p", backoff=fast(), progress=False)


def closed_port_url() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def test_pull_offline_uses_the_cache_and_says_so(console, tmp_path, monkeypatch):
    from kit.images.pull import pull_element

    assets = fire_assets(3)
    console.add_element(FIRE_ID, FIRE_OBJECTS, assets)
    out = tmp_path / "pull"
    first = pull_element(FIRE_ID, out, backoff=fast(), progress=False)
    dead = closed_port_url()
    monkeypatch.setenv("SCOREVISION_CONSOLE_URL", dead)
    monkeypatch.setenv("SCOREVISION_RESULTS_URL", dead)
    r = pull_element(FIRE_ID, out, challenges=2, backoff=fast(), progress=False)  # asset urls: the dead console's too
    assert r.offline and r.downloaded == 0 and set(r.starter.values()) == {"cached"}
    assert "connection refused" in str(r) and "used the cached element detail" in str(r)
    assert "OFFLINE" in str(r)
    assert label_counts(r.data_yaml) == label_counts(first.data_yaml)
    with pytest.raises(KitError, match=r"connection refused.*nothing is cached"):
        pull_element(FIRE_ID, tmp_path / "empty", backoff=fast(), progress=False)


def answer(boxes: list[tuple]) -> dict:
    return {"frames": [{"frame_id": 0, "boxes": [dict(zip(("x1", "y1", "x2", "y2", "cls_id", "conf"), b))
                                                 for b in boxes]}]}


def test_pull_challenges_keeps_photos_unlabelled_with_the_top_miners_answers(console, tmp_path):

    console.add_element(FIRE_ID, FIRE_OBJECTS, fire_assets(3))
    photos = real_subset(VEHICLES, "test", 4)
    for i, li in enumerate(photos[:3]):  # three challenges of ours, at blocks 100, 200, 300
        console.add_challenge(FIRE_ID, f"c{i}", 100 * (i + 1), png(li.image, 0.4),
                              [(f"hk{j}", s, answer([(10 * j, 10, 50, 60, 0, 0.9)])) for j, s in
                               enumerate((0.21, 0.55, 0.01, 0.3))])
    console.add_challenge("manak0/Detect-crime", "other", 999, png(photos[3].image, 0.4),
                          [("hkx", 0.9, answer([]))])  # another element's: never taken
    out = tmp_path / "pull"
    r = subprocess.run([TVKIT, "dataset", "pull", "--element", FIRE_ID, "--out", str(out), "--challenges", "2",
                        "--top", "2", "--json"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "SCOREVISION_CONSOLE_URL": console.url,
                            "SCOREVISION_RESULTS_URL": console.url})
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert js["challenges"] == {"c2": "downloaded", "c1": "downloaded"}  # the two latest blocks
    doc = json.loads((out / "challenges" / "answers.json").read_text())
    assert doc["element"] == FIRE_ID and doc["pseudo_labels"] is True and doc["ground_truth"] is False
    assert set(doc["answers"]) == {"c1.png", "c2.png"}
    best = doc["answers"]["c2.png"]  # hk1 scored 0.55, the best
    assert best == {"success": True, "predictions": answer([(10, 10, 50, 60, 0, 0.9)]), "error": None}
    assert [m["hotkey"] for m in doc["miners"]["c2.png"]] == ["hk1", "hk3"]
    assert [m["composite_score"] for m in doc["miners"]["c2.png"]] == [0.55, 0.3]
    assert sorted(p.name for p in (out / "challenges" / "images").iterdir()) == ["c1.png", "c2.png"]
    # never mixed with the ground truth
    ds_images = {p.stem for p in (out / "dataset" / "images").rglob("*.jpg")}
    assert ds_images and not ds_images & {"c1", "c2"}
    assert not [r2 for r2 in console.seen("GET", "other")]
    n = len(console.seen("GET", r"^/(files|manako/manak0)"))
    r = subprocess.run([TVKIT, "dataset", "pull", "--element", FIRE_ID, "--out", str(out), "--challenges", "2",
                        "--top", "2"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "SCOREVISION_CONSOLE_URL": console.url,
                            "SCOREVISION_RESULTS_URL": console.url})
    assert r.returncode == 0, r.stderr
    assert len(console.seen("GET", r"^/(files|manako/manak0)")) == n  # a second run downloads nothing
    assert "0 downloaded now, 2 from the cache" in r.stdout
