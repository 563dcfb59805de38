"""The user's answers beside the winner's on pulled challenge photos (kit.images.beside).

One pull from the stand-in console and results bucket on 127.0.0.1 (tests/standins/console.py,
the public contract) of four challenges whose photos are REAL fire photos
(../shared/data/detect/fire-smoke test split, halved as the bucket serves them), and the
REFERENCE fire model packaged for kit-example/Detect-fire. The miners' published answers are
built from things this file knows independently of the module: the bundle's own answer to the
photo (so agreement must be the scorer's ceiling), the photo's real labelled boxes (so agreement
must be the exact scorer's value against those boxes, built here by hand), no box at all (not
scored: only yours), and an answer of two frames (the validator's gate refuses it).
"""
import json
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from kit import KitError
from kit.bundle import package
from kit.images import labels as L
from kit.images.beside import (
    COMPARED,
    NO_PHOTO,
    NO_REFERENCE,
    REFERENCE_UNUSABLE,
    UNREADABLE,
    beside_winner,
)
from kit.images.predict import predict_images
from kit.images.score import score_image
from kit.manifest import Element, example_manifest

from conftest import SHARED

FIRE = SHARED / "data" / "detect" / "fire-smoke"
FIRE_ID = "manak0/Detect-fire"  # what the console calls it; the kit's example copy is kit-example/Detect-fire
OBJECTS = ["fire", "smoke", "fire extinguisher"]

pytestmark = pytest.mark.skipif(not (FIRE / "data.yaml").is_file(),
                                reason="the real Detect set (../shared/data/detect/fire-smoke) is not beside the repo")


def half_png(path: Path) -> bytes:
    img = cv2.imread(str(path))
    ok, buf = cv2.imencode(".png", cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    assert ok
    return buf.tobytes()


def as_answer(boxes: list[tuple]) -> dict:
    """`predictions` of a responses blob: one frame, boxes (x1, y1, x2, y2, cls_id, conf)."""
    return {"frames": [{"frame_id": 0, "boxes": [dict(zip(("x1", "y1", "x2", "y2", "cls_id", "conf"), b))
                                                 for b in boxes]}]}


def truth_boxes(li: L.LabelledImage) -> list[tuple]:
    """The photo's real labelled boxes, halved with the photo, as a miner's boxes (Fire -> fire)."""
    names = {"Fire": "fire", "smoke": "smoke"}
    return [(int(o.box[0] / 2), int(o.box[1] / 2), int(o.box[2] / 2), int(o.box[3] / 2), OBJECTS.index(names[o.name]),
             0.9) for o in li.objects if o.name in names]


@pytest.fixture(scope="module")
def fire_bundle(tmp_path_factory):
    return package(tmp_path_factory.mktemp("fire") / "bundle", element="kit-example/Detect-fire",
                   run_self_test=False)


@pytest.fixture(scope="module")
def world(fire_bundle, tmp_path_factory):
    """Four challenges pulled into a folder; returns what each miner answered and what the bundle answers."""
    from kit.deploy.retry import Backoff
    from kit.images.pull import pull_element

    from standins.console import ConsoleStandIn

    tmp = tmp_path_factory.mktemp("world")
    labelled = [li for li in L.read_yolo(FIRE)[0] if li.split == "test" and truth_boxes(li)]
    picked: list[tuple[L.LabelledImage, bytes, dict]] = []
    for li in labelled:  # photos on which the bundle finds boxes (so "both" and "only yours" are real)
        data = half_png(li.image)
        (tmp / "probe.png").write_bytes(data)
        ans = predict_images(fire_bundle, tmp / "probe.png").answers["probe.png"]
        if ans["predictions"]["frames"][0]["boxes"]:
            picked.append((li, data, ans))
        if len(picked) == 4:
            break
    assert len(picked) == 4, "the reference fire model finds boxes on fewer than 4 real test photos"
    mine = {f"c{i}.png": p[2] for i, p in enumerate(picked)}
    bundle_boxes = [(b["x1"], b["y1"], b["x2"], b["y2"], b["cls_id"], b["conf"])
                    for b in mine["c0.png"]["predictions"]["frames"][0]["boxes"]]
    two_frames = as_answer([(1, 1, 9, 9, 0, 0.5)])
    two_frames["frames"].append(dict(two_frames["frames"][0], frame_id=1))
    miners = {  # challenge -> [(hotkey, published composite, predictions)]
        "c0": [("hkA", 0.62, as_answer(bundle_boxes)), ("hkB", 0.40, as_answer(truth_boxes(picked[0][0])))],
        "c1": [("hkB", 0.50, as_answer(truth_boxes(picked[1][0]))), ("hkA", 0.30, as_answer([]))],
        "c2": [("hkC", 0.30, as_answer([]))],
        "c3": [("hkD", 0.45, two_frames)],
    }
    s = ConsoleStandIn().start()
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("SCOREVISION_CONSOLE_URL", s.url)
        mp.setenv("SCOREVISION_RESULTS_URL", s.url)
        s.add_element(FIRE_ID, OBJECTS, [])
        for i, (cid, rows) in enumerate(miners.items()):
            s.add_challenge(FIRE_ID, cid, 100 * (i + 1), picked[i][1], rows)
        pull_element(FIRE_ID, tmp / "pull", challenges=4, top=2, backoff=Backoff(attempts=2, base=0.05, cap=0.1),
                     progress=False)
    finally:
        mp.undo()
        s.stop()
    return {"pulled": tmp / "pull", "mine": mine, "miners": miners, "picked": picked}


def objs(boxes: list[tuple]) -> list[L.Obj]:
    return [L.Obj(OBJECTS[b[4]], tuple(float(v) for v in b[:4])) for b in boxes]


def boxes_of(predictions: dict) -> list[tuple]:
    return [(b["x1"], b["y1"], b["x2"], b["y2"], b["cls_id"], b["conf"]) for b in predictions["frames"][0]["boxes"]]


@pytest.fixture(scope="module")
def result(fire_bundle, world):
    return beside_winner(fire_bundle, world["pulled"])


def test_agreement_is_the_exact_scorer_with_the_winners_answer_as_truth(result, world):
    el = example_manifest().element("kit-example/Detect-fire")
    assert result.element.id == el.id and result.pulled_element == FIRE_ID
    assert any("scored with kit-example/Detect-fire" in n for n in result.notes)
    rows = {r.image: r for r in result.rows}
    assert sorted(rows) == ["c0.png", "c1.png", "c2.png", "c3.png"]
    for name in ("c0.png", "c1.png", "c2.png"):  # the bundle's answer through predict_images: the same answer
        assert rows[name].yours == world["mine"][name] and rows[name].latency_ms > 0
    w, h = rows["c1.png"].size
    # c0: the winner answered exactly the bundle's boxes -> the scorer's ceiling, every box agreeing
    n0 = len(boxes_of(world["mine"]["c0.png"]["predictions"]))
    assert rows["c0.png"].who == "both" and rows["c0.png"].matched == (n0, 0, 0)
    assert rows["c0.png"].agreement == pytest.approx(el.weight_score(sum(el.pillars.values())))
    # c1: the winner answered the real labelled boxes -> the exact scorer against those boxes, built here
    want1 = score_image(world["mine"]["c1.png"], objs(boxes_of(world["miners"]["c1"][0][2])), w, h, el).final
    assert rows["c1.png"].agreement == pytest.approx(want1)
    assert rows["c1.png"].winner.hotkey == "hkB" and rows["c1.png"].winner.composite_score == 0.50
    # c2: the winner answered no box: not scored (no truth object), only yours
    assert rows["c2.png"].who == "only yours" and rows["c2.png"].agreement is None
    # c3: an answer of two frames fails the validator's gate: left out, said why
    assert rows["c3.png"].status == REFERENCE_UNUSABLE and "2 frames" in rows["c3.png"].note
    assert rows["c3.png"].yours is None
    assert result.agreement == pytest.approx((rows["c0.png"].agreement + want1) / 2)
    m = result.metrics()
    assert (m["photos"], m["compared"], m["agreement_photos"], m["left_out"]) == (4, 3, 2, 1)
    assert (m["photos_both"], m["photos_only_yours"], m["photos_only_the_winners"]) == (2, 1, 0)
    assert m["winner_published_mean"] == pytest.approx((0.62 + 0.50 + 0.30) / 3)


def test_the_runner_up_is_scored_against_the_same_reference(result, world):
    el = example_manifest().element("kit-example/Detect-fire")
    rows = {r.image: r for r in result.rows}
    w0, h0 = rows["c0.png"].size
    w1, h1 = rows["c1.png"].size
    c0 = score_image({"success": True, "predictions": world["miners"]["c0"][1][2], "error": None},
                     objs(boxes_of(world["miners"]["c0"][0][2])), w0, h0, el).final
    c1 = score_image({"success": True, "predictions": world["miners"]["c1"][1][2], "error": None},
                     objs(boxes_of(world["miners"]["c1"][0][2])), w1, h1, el).final
    assert result.metrics()["runner_up_agreement_with_winner"] == pytest.approx((c0 + c1) / 2)


def test_box_counts_per_class_and_latency(result, world):
    yours = Counter(OBJECTS[b[4]] for n in ("c0.png", "c1.png", "c2.png")
                    for b in boxes_of(world["mine"][n]["predictions"]))
    winners = Counter(OBJECTS[b[4]] for c in ("c0", "c1") for b in boxes_of(world["miners"][c][0][2]))
    assert result.totals("yours") == {o: yours.get(o, 0) for o in OBJECTS}
    assert result.totals("winner") == {o: winners.get(o, 0) for o in OBJECTS}
    m = result.metrics()
    assert all(m[f"your_boxes/{o}"] == yours.get(o, 0) for o in OBJECTS)
    assert 0 < m["your_p50_ms"] <= m["your_p95_ms"] and m["budget_ms"] == 110.0
    text = str(result)
    assert "agreement with the winner (pseudo-truth" in text and "not a score" in text
    assert f"fire {yours['fire']}/{winners['fire']}" in text


def test_report_page_json_and_pictures_through_the_command(fire_bundle, world, tmp_path, capsys):
    from kit.cli import main

    assert main(["beside", "--bundle", str(fire_bundle), "--pulled", str(world["pulled"]), "--top", "2",
                 "--report", str(tmp_path / "rep"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pseudo_truth"] is True and doc["ground_truth"] is False
    assert json.loads((tmp_path / "rep" / "beside.json").read_text())["metrics"] == doc["metrics"]
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "agreement with the winner" in page and "your score" not in page.lower()
    assert all(f"photos/c{i}.jpg" in page for i in range(3)) and "c3.jpg" not in page
    three = cv2.imread(str(tmp_path / "rep" / "photos" / "c0.jpg"))  # yours | winner | #2
    two = cv2.imread(str(tmp_path / "rep" / "photos" / "c2.jpg"))    # yours | winner (no #2 pulled)
    assert three.shape[1] == 3 * 420 + 2 * 4 and two.shape[1] == 2 * 420 + 4
    # the panels differ where the boxes differ: yours vs the winner's real-label boxes on c1
    pic = cv2.imread(str(tmp_path / "rep" / "photos" / "c1.jpg")).astype(int)
    assert np.abs(pic[:, :420] - pic[:, 424:844]).mean() > 1.0


def test_notebook_view_shows_the_pictures_inline(result):
    page = result._repr_html_()
    assert page.count("data:image/jpeg;base64,") == 3 and "pseudo-truth" in page
    assert result.picture("c0.png", top=1).shape[1] == 2 * 420 + 4  # yours | the winner


def test_against_one_hotkey(fire_bundle, world):
    b = beside_winner(fire_bundle, world["pulled"], hotkey="hkB")
    rows = {r.image: r for r in b.rows}
    assert rows["c0.png"].winner.hotkey == "hkB" and [m.hotkey for m in rows["c0.png"].others] == ["hkA"]
    assert rows["c2.png"].status == NO_REFERENCE and "hkB is not among" in rows["c2.png"].note
    assert b.reference == "miner hkB"


def test_missing_and_unreadable_photos_are_rows_not_crashes(fire_bundle, world, tmp_path):
    pulled = shutil.copytree(world["pulled"], tmp_path / "pull")
    (pulled / "challenges" / "images" / "c1.png").unlink()
    (pulled / "challenges" / "images" / "c2.png").write_bytes(b"not a png")
    b = beside_winner(fire_bundle, pulled)
    rows = {r.image: r for r in b.rows}
    assert rows["c1.png"].status == NO_PHOTO and "pull again" in rows["c1.png"].note
    assert rows["c2.png"].status == UNREADABLE and "cannot decode" in rows["c2.png"].note
    assert rows["c0.png"].status == COMPARED and b.agreement == pytest.approx(rows["c0.png"].agreement)
    assert "1 photo(s) left out: no photo" in b.notes


def test_a_bundle_that_fails_on_the_photos_counts_zero_and_says_why(fire_bundle, world, tmp_path):
    broken = shutil.copytree(fire_bundle, tmp_path / "broken")
    cfg = json.loads((broken / "miner.json").read_text())
    (broken / "miner.json").write_text(json.dumps(dict(cfg, pre_nms_topk="many")))  # the miner raises per photo
    b = beside_winner(broken, world["pulled"])
    compared = [r for r in b.rows if r.status == COMPARED]
    assert compared and all(r.who == "your bundle failed" and "'>'" in r.your_error for r in compared)
    # c2 (the winner answered no box) counts too: a failed call is a 0 shard even without truth objects
    assert {r.image: r.agreement for r in compared} == {"c0.png": 0.0, "c1.png": 0.0, "c2.png": 0.0}
    assert b.agreement == 0.0 and any("failed on 3 photo(s)" in n for n in b.notes)


def test_refusals_name_what_and_what_to_do(fire_bundle, world, tmp_path, capsys):
    with pytest.raises(KitError, match=r"no challenges/answers.json.*--challenges N"):
        beside_winner(fire_bundle, world["pulled"].parent)
    from kit.cli import main

    assert main(["beside", "--bundle", str(fire_bundle), "--pulled", str(world["pulled"].parent)]) == 2
    assert "--challenges N" in capsys.readouterr().err
    with pytest.raises(KitError, match=r"not a Detect bundle"):
        beside_winner(tmp_path, world["pulled"])
    empty = shutil.copytree(world["pulled"], tmp_path / "empty")
    doc = json.loads((empty / "challenges" / "answers.json").read_text())
    (empty / "challenges" / "answers.json").write_text(json.dumps(dict(doc, answers={}, miners={})))
    with pytest.raises(KitError, match=r"no miner's answer in it"):
        beside_winner(fire_bundle, empty)
    vehicles = Element("x/Detect-vehicle", objects=["car", "bus", "truck", "motorcycle"],
                       pillars={"map50": 0.6, "false_positive": 0.4})
    with pytest.raises(KitError, match=r"cls_ids would name other objects.*tvkit package --element manak0/Detect-fire"):
        beside_winner(fire_bundle, world["pulled"], element=vehicles)
    other = shutil.copytree(world["pulled"], tmp_path / "other")
    detail = json.loads((other / "element_detail.json").read_text())
    detail["element"]["objects"] = ["car", "bus"]
    (other / "element_detail.json").write_text(json.dumps(detail))
    with pytest.raises(KitError, match=r"objects \['car', 'bus'\] \(element_detail.json\)"):
        beside_winner(fire_bundle, other)
    with pytest.raises(KitError, match=r"no element 'nope/Detect-x'.*--manifest live"):
        beside_winner(fire_bundle, world["pulled"], element="nope/Detect-x")
