"""`tvkit tune`: the sweep's answers are the miner's own, its scores the validator's, its choice guarded.

Real parts throughout: the committed reference models in kit-packaged bundles, the shared
labelled photos (fire-smoke, football players) and a synthetic clip; answers compared with the
miner's own `select_indices` / `predict_batch`, scores with `predict_images` + `evaluate_images`.
"""

import json
import random
from pathlib import Path

import pytest

from kit import KitError
from kit.bundle import REFERENCE_DIR, package
from kit.cli import main
from kit.comply import load_miner
from kit.contract import answer_ok, frame_dict
from kit.images.labels import Obj, read_yolo
from kit.images.predict import predict_images
from kit.images.score import evaluate_images
from kit.manifest import Element, load_manifest
from kit.tune import tune_bundle
from kit.tune.images import CONF_GRID, MAX_DET_GRID, NMS_GRID, ImageObjective, miner_setting

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIRE = SHARED / "data" / "detect" / "fire-smoke"
FOOTBALL = SHARED / "data" / "real" / "football-players-detection-v1"
PLAYERS = Element("tvkit-test/Detect-players", objects=["referee", "player", "goalkeeper", "ball"],
                  pillars={"map50": 0.6, "false_positive": 0.4}, challenge_type_id=990, max_model_size_mb=30,
                  latency_p95_ms=100)
FIRE_ID = "kit-example/Detect-fire"


def _labelled(root: Path, split: str, n: int, rename: dict[str, str | None]) -> tuple[dict, dict]:
    if not root.is_dir():
        pytest.fail(f"{root} missing: the tests read the shared labelled photos")
    images, _ = read_yolo(root)
    chosen = [li for li in images if li.split == split][:n]
    truths = {li.image.name: [Obj(rename.get(o.name, o.name), o.box) for o in li.objects
                              if rename.get(o.name, o.name) is not None] for li in chosen}
    return truths, {li.image.name: li.image for li in chosen}


@pytest.fixture(scope="module")
def players_bundle(tmp_path_factory):
    return package(tmp_path_factory.mktemp("players") / "bundle", element=PLAYERS,
                   model=REFERENCE_DIR / "detect.onnx", run_self_test=False)


@pytest.fixture(scope="module")
def fire_data(tmp_path_factory) -> Path:
    """A YOLO dataset with the fire element's objects: fire-smoke's valid photos, 32 val / 15 test
    (Fire -> fire, smoke -> smoke, its `default` class dropped), images linked, labels rewritten."""
    out = tmp_path_factory.mktemp("firedata")
    src = FIRE / "valid"
    remap = {"0": "0", "2": "1"}
    for i, img in enumerate(sorted((src / "images").glob("*.jpg"))):
        split = "val" if i < 32 else "test"
        (out / split / "images").mkdir(parents=True, exist_ok=True)
        (out / split / "labels").mkdir(parents=True, exist_ok=True)
        (out / split / "images" / img.name).symlink_to(img)
        rows = [ln.split() for ln in (src / "labels" / f"{img.stem}.txt").read_text().splitlines()]
        kept = [" ".join([remap[r[0]], *r[1:]]) for r in rows if r and r[0] in remap]
        (out / split / "labels" / f"{img.stem}.txt").write_text("\n".join(kept) + ("\n" if kept else ""))
    (out / "data.yaml").write_text("path: .\ntrain: val/images\nval: val/images\ntest: test/images\n"
                                   "names: [fire, smoke, fire extinguisher]\n")
    return out / "data.yaml"


def test_the_filter_is_the_miners_own_selection_at_every_setting(players_bundle):
    """Per NMS IoU the answer at any thresholds and max_det is the floor run filtered: checked against
    the miner's select_indices on real football photos (many boxes, four classes) at 60 random settings."""
    miner = load_miner(players_bundle)
    truths, images = _labelled(FOOTBALL, "test", 6, {"players": "player"})
    obj = ImageObjective(miner, PLAYERS, truths, images)
    assert obj.n == 6 and max(len(k[0]) for k in obj.kept[0.5]) > 20   # crowded photos: the cuts bite
    rng = random.Random(7)
    for _ in range(60):
        s = {"conf": rng.choice(CONF_GRID), "nms_iou": rng.choice(NMS_GRID), "max_det": rng.choice(MAX_DET_GRID)}
        s.update({f"conf:{o}": rng.choice([None, *CONF_GRID]) for o in PLAYERS.objects})
        t = obj.thresholds(s)
        for i in range(obj.n):
            want = miner.select_indices(obj.cands[i], t, s["nms_iou"], s["max_det"])
            assert obj.indices(i, s, t).tolist() == want, (s, obj.names[i])
    # and at the bundle's own setting the answer is the one the chute would send
    default = miner_setting(miner.cfg, PLAYERS.objects)
    sent = predict_images(players_bundle, [images[n] for n in obj.names], miner=miner)
    for i, name in enumerate(obj.names):
        ours = obj.answer(i, obj.indices(i, default))["predictions"]["frames"][0]["boxes"]
        assert ours == sent.answers[name]["predictions"]["frames"][0]["boxes"]


def test_the_model_pass_in_chunks_is_the_pass_in_one_process(players_bundle):
    """What a Ray task returns for a chunk (PhotoPass: the miner loaded from the bundle) joined in
    order gives the objective of the one-process pass, array for array (tests/test_sweep_ray.py runs
    the chunks on Ray)."""
    import numpy as np

    from kit.tune.images import PhotoPass

    miner = load_miner(players_bundle)
    truths, images = _labelled(FOOTBALL, "test", 4, {"players": "player"})
    one = ImageObjective(miner, PLAYERS, truths, images)
    items = [(n, str(images[n])) for n, objs in truths.items() if objs]
    chunk = PhotoPass(str(players_bundle), one.floor, one.nms_values)
    two = ImageObjective(miner, PLAYERS, truths, images, passes=chunk(items[:1]) + chunk(items[1:]))
    assert two.names == one.names and two.sizes == one.sizes and two.slow == one.slow
    for a, b in zip(one.cands, two.cands):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    for v in one.nms_values:
        assert all(np.array_equal(x, y) for ka, kb in zip(one.kept[v], two.kept[v]) for x, y in zip(ka, kb))
    setting = dict(miner_setting(miner.cfg, PLAYERS.objects), conf=0.3, nms_iou=0.4)
    assert two.finals(setting).tolist() == one.finals(setting).tolist()
    with pytest.raises(KitError, match="does not cover the tune photos"):
        ImageObjective(miner, PLAYERS, truths, images, passes=chunk(items[1:]))


def test_tune_scores_like_evaluate_chooses_on_val_and_reports_test(tmp_path, fire_data):
    el = load_manifest().element(FIRE_ID)
    bundle = package(tmp_path / "bundle", element=el)
    truths, images = _labelled(fire_data.parent, "test", 100, {})

    def direct() -> float:      # the chute's answers with the bundle as it is, scored by `tvkit evaluate`'s code
        return evaluate_images(predict_images(bundle, list(images.values())).answers, truths, images, el).final

    before = direct()
    code = main(["tune", "--bundle", str(bundle), "--data", str(fire_data), "--min-images", "10", "--json",
                 "--force", "--out", str(tmp_path / "tune")])
    assert code == 0
    report = json.loads((tmp_path / "tune" / "tune.json").read_text())
    m = report["metrics"]
    assert report["n"] >= 10 and report["n_holdout"] >= 5 and m["settings"] > 300
    assert m["tune/chosen"] >= m["tune/default"] and m["tune/chosen"] >= m["tune/proxy"]
    assert m["holdout/default"] == pytest.approx(before, abs=1e-12)
    # written: the chosen knobs and a record; the miner loads them and answers at the chosen setting
    cfg = json.loads((bundle / "miner.json").read_text())
    assert cfg["tuned"]["split"] == "val" and cfg["nms_iou"] == report["chosen"]["nms_iou"]
    assert cfg["conf"]["default"] == report["chosen"]["conf"] and cfg["max_det"] == report["chosen"]["max_det"]
    assert direct() == pytest.approx(m["holdout/chosen"], abs=1e-12)
    assert (tmp_path / "tune" / "tune.png").stat().st_size > 10_000


def test_too_few_photos_is_refused_before_the_model_runs(tmp_path, fire_data):
    bundle = package(tmp_path / "bundle", element=load_manifest().element(FIRE_ID))
    with pytest.raises(KitError, match=r"only \d+ scored val photos to tune on \(at least 500 needed\)"):
        tune_bundle(bundle, data=fire_data, min_images=500, log=None)
    with pytest.raises(KitError, match="give --data"):
        tune_bundle(bundle, log=None)


def test_an_undecided_choice_is_not_written(tmp_path, fire_data):
    bundle = package(tmp_path / "bundle", element=load_manifest().element(FIRE_ID))
    before = (bundle / "miner.json").read_text()
    r = tune_bundle(bundle, data=fire_data, min_images=10, holdout=None, log=None)
    r.interval = (-0.01, 0.02)          # as a small, noisy tune split gives
    with pytest.raises(KitError, match="cannot tell the chosen setting"):
        r.write()
    assert (bundle / "miner.json").read_text() == before
    assert "undecided" in str(r)


@pytest.mark.slow
def test_a_clip_replay_answers_as_a_fresh_miner_at_that_setting(tmp_path):
    """The football sweep replays the models' outputs: at a setting other than the bundle's, its
    answer is box for box a freshly loaded miner's with that setting in miner.json."""
    from kit.synth import generate_clip
    from kit.tune.clips import ClipObjective, find_clips

    generate_clip(tmp_path / "clips", n_frames=12, seed=5, width=640, height=360)
    clip = find_clips(tmp_path / "clips")
    bundle = package(tmp_path / "bundle")
    el = load_manifest().element("PlayerDetect_v1@1.0")
    obj = ClipObjective(load_miner(bundle), el, clip)
    setting = {"det_conf": 0.15, "det_iou": 0.45, "ball_thr": 0.1}   # the reference bundle has ball.onnx
    assert set(obj.knobs) == set(setting) and len(obj.replays) == 3
    replayed = obj.answer(0, setting)
    assert not (bundle / "miner.json").exists()          # the football bundle runs on miner.py's SETTINGS
    (bundle / "miner.json").write_text(json.dumps(setting))
    fresh = answer_ok([frame_dict(r) for r in load_miner(bundle).predict_batch(obj.frames[0], 0, 32)])
    assert replayed == fresh
    assert replayed != obj.answer(0, {"det_conf": 0.5, "det_iou": 0.55, "ball_thr": 0.6})
    balls = [b for f in replayed["predictions"]["frames"] for b in f["boxes"] if b["cls_id"] == 0]
    assert balls, "the ball model's answers are replayed too"
    assert len(obj.finals(setting)) == 1
    # recorded in a chunk (ClipPass, what a Ray task runs), replayed here: the same answer
    from kit.tune.clips import ClipPass

    tapes = ClipPass(str(bundle))([(str(v), str(t)) for v, t in clip])
    assert ClipObjective(load_miner(bundle), el, clip, tapes=tapes).answer(0, setting) == replayed
