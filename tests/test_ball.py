"""The ball model (kit.ball) and the miner's ball path: encoding and decoding agree, the path keeps
the ball's track and drops lone peaks, a model trains, exports and ships in a bundle, and the
committed reference model finds held-out real balls as the issue asks."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kit import KitError
from kit.ball.data import real_split
from kit.ball.model import STRIDE, targets
from kit.bundle import BALL_REFERENCE, TEMPLATE_DIR, package
from kit.comply.worker import load_miner_module

from conftest import SHARED, TVKIT

REAL = SHARED / "data" / "real" / "football-players-detection-v1"


@pytest.fixture(scope="module")
def miner_module():
    return load_miner_module(TEMPLATE_DIR)


def _needs_real():
    if not (REAL / "data.yaml").is_file():
        pytest.fail(f"{REAL} missing: the ball tests read the shared real football set")


def test_the_miner_decodes_exactly_what_training_encodes(miner_module):
    boxes = np.array([[101.3, 57.8, 107.9, 63.1], [40.0, 20.5, 44.5, 25.0]], np.float32)
    t = targets([boxes], (128, 192))
    out = np.concatenate([t["heat"][0].numpy(), t["reg"][0].numpy()])   # a perfect network's output
    got = miner_module.decode_ball(out, k=5, min_heat=0.5)
    assert got.shape == (2, 5) and np.all(got[:, 4] == 1.0)
    order = np.argsort(got[:, 0])[::-1]
    np.testing.assert_allclose(got[order, :4], boxes, atol=1e-4)
    assert out.shape[1:] == (128 // STRIDE, 192 // STRIDE)


def _cand(x, y, heat):
    return np.array([[x - 3, y - 3, x + 3, y + 3, heat]], np.float64)


def test_the_ball_path_keeps_a_weak_ball_on_its_track_and_drops_a_lone_peak(miner_module):
    cfg = dict(miner_module.SETTINGS)
    thr = cfg["ball_thr"]
    # a ball moving 5 px a frame, seen weakly (below the threshold) in frame 2; a lone strong peak far away in 3
    track = [_cand(100 + 5 * i, 200, 0.8 if i != 2 else thr - 0.1) for i in range(5)]
    track[3] = np.vstack([_cand(800, 100, 0.85), track[3]])
    path = miner_module.ball_path(track, 960, cfg)
    assert [round(float(b[0]) + 3) for b in path] == [100, 105, 110, 115, 120]
    # nothing linked and everything below the threshold: no ball at all
    lone = [_cand(100 + 300 * i, 200, thr - 0.05) for i in range(4)]
    assert miner_module.ball_path(lone, 960, cfg) == [None] * 4
    assert miner_module.ball_path([], 960, cfg) == []


def test_a_candidate_off_the_pitch_is_dropped_by_the_frames_own_keypoints(miner_module):
    import cv2

    # a broadcast-like view: the far touchline high in the frame, the stands above it
    src = np.float32([[0, 0], [1050, 0], [1050, 680], [0, 680]])
    hm = cv2.getPerspectiveTransform(src, np.float32([[120, 150], [840, 150], [1300, 620], [-340, 620]]))
    kp = cv2.perspectiveTransform(miner_module.TEMPLATE_KEYPOINTS.reshape(-1, 1, 2).astype(np.float32), hm)
    kp = np.rint(kp.reshape(-1, 2))
    kp[(kp[:, 0] < 0) | (kp[:, 0] >= 960) | (kp[:, 1] < 0) | (kp[:, 1] >= 540)] = 0   # unseen: (0, 0)

    def at(x, y):   # a candidate centred on template point (x, y), in frame pixels
        u, v = cv2.perspectiveTransform(np.float32([[[x, y]]]), hm)[0, 0]
        return _cand(float(u), float(v), 0.9)[0]

    cands = np.stack([at(525, 340), at(525, -40), at(525, -300), _cand(480, 40, 0.9)[0]])
    # kept: the centre spot, 4 m beyond the far touchline; dropped: 30 m out (the stands), 52 m out (frame top)
    np.testing.assert_array_equal(miner_module.on_pitch(cands, kp, 10.0), cands[:2])
    np.testing.assert_array_equal(miner_module.on_pitch(cands, kp, 2.0), cands[:1])
    np.testing.assert_array_equal(miner_module.on_pitch(cands, kp, -1), cands)          # off
    np.testing.assert_array_equal(miner_module.on_pitch(cands, np.zeros((32, 2)), 10.0), cands)   # no pitch seen


def test_real_frames_are_read_at_the_work_size_with_their_ball_boxes():
    _needs_real()
    frames = real_split(REAL, "test")
    assert len(frames) == 25 and all(f.image.shape == (540, 960, 3) for f in frames)
    sizes = np.concatenate([f.boxes[:, 2:] - f.boxes[:, :2] for f in frames])
    assert len(sizes) == 24 and 3 <= np.median(sizes) <= 8      # a ball is a few pixels at 960 x 540
    with pytest.raises(KitError, match="no ball class"):
        real_split(SHARED / "data" / "real" / "soccer-field-localization-v9", "test")


def test_held_out_clips_are_whole_clips_and_never_meet_the_training_frames():
    _needs_real()
    from kit.ball.data import groups_arg, real_frames, reference_groups
    from kit.datasets.exports import group_of

    assert group_of("08fd33_0_10_png.rf.0a1b2c3d4e5f.jpg") == "08fd33_0"   # the name before Roboflow renamed it
    held = groups_arg("reference")
    assert held == set(reference_groups()) and len(held) == 10
    test = real_frames(REAL, groups=held)
    rest = real_frames(REAL, exclude=held)
    assert len(test) == 60 and len(rest) == 312 and sum(len(f.boxes) for f in test) == 55
    assert not {group_of(f.name) for f in test} & {group_of(f.name) for f in rest}
    with pytest.raises(KitError, match="no frame left"):
        real_frames(REAL, groups={"nosuchclip_0"})


def test_a_ball_model_trains_exports_ships_and_is_measured(tmp_path):
    """A few steps on a handful of frames: the point is the pipe (train, ONNX, bundle, miner, report)."""
    _needs_real()
    from kit.ball.evaluate import frame_report, miss_gallery
    from kit.ball.train import train_ball

    frames = real_split(REAL, "valid")[:6]
    r = train_ball(frames, tmp_path / "ball", steps=3, batch=2, log=None)
    assert r.onnx.is_file() and len(r.curve) == 1 and json.loads((tmp_path / "ball" / "train.json").read_text())
    bundle = package(tmp_path / "bundle", ball_model=r.onnx, run_self_test=False)
    assert (bundle / "ball.onnx").read_bytes() == r.onnx.read_bytes()
    rep = frame_report(bundle, frames, "valid[:6]")
    assert rep.frames == 6 and rep.n_ref == sum(len(f.boxes) for f in frames) and rep.tp + len(rep.misses) == rep.n_ref
    assert "adaptive IoU threshold" in str(rep)
    g = miss_gallery(frames, rep, tmp_path / "m.png")
    assert g is None or g.stat().st_size > 1000
    without = package(tmp_path / "noball", ball_model="none", run_self_test=False)
    assert not (without / "ball.onnx").exists()
    with pytest.raises(KitError, match="no ball.onnx"):
        frame_report(without, frames)
    with pytest.raises(KitError, match="no ONNX ball model"):
        package(tmp_path / "x", ball_model=tmp_path / "missing.onnx", run_self_test=False)


@pytest.mark.slow
def test_the_reference_ball_model_finds_held_out_real_balls(tmp_path):
    """The issue's bar on the held-out real frames (the 10 clips the reference detector never saw,
    every split; the ball model never saw them either): recall at least 0.5 at precision at least
    0.5, at the validator's adaptive threshold, via the CLI."""
    _needs_real()
    assert BALL_REFERENCE.is_file(), "the reference ball model is committed beside its training record"
    bundle = package(tmp_path / "bundle", run_self_test=False)
    look = str(SHARED / "data" / "real" / "soccer-field-localization-v9" / "*" / "images" / "worldcup2_1*")
    r = subprocess.run([TVKIT, "ball", "evaluate", "--bundle", str(bundle), "--real", str(REAL), "--look", look,
                        "--clips", "1", "--clip-frames", "30", "--report", str(tmp_path / "rep")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((tmp_path / "rep" / "ball.json").read_text())
    tp = sum(e["tp"] for e in rep["real"])
    fp = sum(e["fp"] for e in rep["real"])
    n = sum(e["n_ref"] for e in rep["real"])
    assert n == 55 and tp / n >= 0.5 and tp / (tp + fp) >= 0.5, rep["real"]
    assert rep["real"][0]["gallery"] and (tmp_path / "rep" / "misses_football-players-detection-v1.png").is_file()
    # another broadcast (World Cup 2022, no ball labels): every answer drawn enlarged, for a person to judge
    (looked,) = rep["looked"]
    assert looked["frames"] == 21 and looked["answered"] > 0 and Path(looked["gallery"]).is_file()
    # DetectBall on a fresh synthetic clip, scored by the validator's rules: far above the detector's ball (0.010)
    assert rep["synthetic"]["mean"]["final"] > 0.2, rep["synthetic"]
    assert rep["synthetic"]["element"] == "DetectBall_v1@1.0"   # the example manifest's ball element, by its object
