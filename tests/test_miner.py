"""The reference miner (chute_template/bundle/miner.py) holds the chute's contract."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from kit.comply import check_repo, load_miner, load_miner_module
from kit.contract import answer_ok, frame_dicts, validate_answer

from conftest import REPO
from minerfactory import make_bundle, untrained_models


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("miner")
    det, pose = untrained_models(root)
    return make_bundle(root / "bundle", det, pose)


@pytest.fixture(scope="module")
def miner(bundle):
    return load_miner(bundle)


def _check_results(res, n, offset, h, w, n_kp=32):
    assert isinstance(res, list) and len(res) == n
    assert all(callable(getattr(r, "model_dump", None)) for r in res)  # the official chute calls it
    res = frame_dicts(res)
    for i, r in enumerate(res):
        assert set(r) == {"frame_id", "boxes", "keypoints"}
        assert r["frame_id"] == offset + i and type(r["frame_id"]) is int
        assert len(r["keypoints"]) == n_kp
        for p in r["keypoints"]:
            assert len(p) == 2 and all(type(v) is int for v in p)
            assert p == [0, 0] or (0 <= p[0] < w and 0 <= p[1] < h)
        for b in r["boxes"]:
            assert all(type(b[k]) is int for k in ("x1", "y1", "x2", "y2", "cls_id"))
            assert b["cls_id"] in range(4) and isinstance(b["conf"], float) and b["team_id"] in (None, 1, 2)
            assert 0 <= b["x1"] < b["x2"] < w and 0 <= b["y1"] < b["y2"] < h
    frames = [dict(r, frame_id=r["frame_id"] - offset) for r in res]
    assert validate_answer(answer_ok(frames), n, w, h, n_keypoints=n_kp, n_objects=4) == []


@pytest.mark.parametrize("h,w", [(540, 960), (720, 1280), (360, 640), (97, 131), (1080, 1920)])
def test_frames_of_any_size(miner, h, w):
    rng = np.random.default_rng(h)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(3)]
    _check_results(miner.predict_batch(frames, 0, 32), 3, 0, h, w)


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_batch_sizes_and_frame_ids(miner, n):
    rng = np.random.default_rng(n)
    frames = [rng.integers(0, 256, (540, 960, 3), dtype=np.uint8) for _ in range(n)]
    offset = 128 if n < 64 else 0
    _check_results(miner.predict_batch(frames, offset, 32), n, offset, 540, 960)


@pytest.mark.parametrize("n_kp", [31, 32, 33])
def test_exactly_n_keypoints(miner, n_kp):
    frame = np.random.default_rng(0).integers(0, 256, (540, 960, 3), dtype=np.uint8)
    res = miner.predict_batch([frame, frame], 5, n_kp)
    assert [len(r.keypoints) for r in res] == [n_kp, n_kp]


def test_empty_batch_and_bad_frame(miner):
    assert miner.predict_batch([], 0, 32) == []
    with pytest.raises(ValueError, match="expected H x W x 3"):
        miner.predict_batch([np.zeros((10, 10, 5), np.uint8)], 0, 32)


def test_reference_bundle_template_passes_the_rules(bundle):
    assert check_repo(bundle) == []
    src = (REPO / "chute_template" / "bundle" / "miner.py").read_text()
    assert "import kit" not in src and "from kit" not in src


def test_keypoint_hygiene_on_ground_truth(miner):
    """GT keypoints in, reprojected keypoints out: close, in-frame, and scored like the GT."""
    from kit.evaluate.keypoints import score_frame
    from kit.synth import render_frames

    mod = load_miner_module(miner.path)
    scored = []
    for frame, gt in render_frames(6, seed=321):
        kp = np.array(gt.keypoints, dtype=np.float64)
        vis = np.any(kp != 0, axis=1)
        k3 = np.c_[kp, vis.astype(float)]
        out = mod.pitch_keypoints(k3, 960, 540, dict(mod.SETTINGS))
        assert out.shape == (32, 2) and out.dtype.kind == "i"
        if vis.sum() >= 4:
            both = vis & np.any(out != 0, axis=1)
            assert both.sum() >= 4
            assert np.abs(out[both] - kp[both]).max() <= 3
            scored.append((score_frame(frame, out.tolist()).score, score_frame(frame, kp.astype(int).tolist()).score))
        # fewer than 4 confident points: all zeros
        few = k3.copy()
        few[np.flatnonzero(vis)[3:], 2] = 0
        assert not mod.pitch_keypoints(few, 960, 540, dict(mod.SETTINGS)).any()
    assert scored and np.mean([a for a, _ in scored]) >= np.mean([b for _, b in scored]) - 0.05


def test_twisted_pitch_is_the_validators_bowtie(miner):
    """The miner's twist test equals the evaluator's `is_bowtie` (upstream's) on random homographies."""
    from kit.evaluate.keypoints import TWIST_CORNERS, is_bowtie
    from kit.pitch import KEYPOINTS

    mod = load_miner_module(miner.path)
    rng = np.random.default_rng(4)
    corners = KEYPOINTS[[i - 1 for i in TWIST_CORNERS]].astype(np.float32)[None]
    twisted = 0
    for _ in range(300):
        Hm = np.eye(3) + rng.normal(0, [[0.5, 0.5, 200], [0.5, 0.5, 200], [1e-3, 1e-3, 0]])
        expected = is_bowtie(cv2.perspectiveTransform(corners, Hm)[0])
        assert mod._twisted(Hm) == expected
        twisted += expected
    assert 0 < twisted < 300


def test_teams_consistent_over_a_clip(miner):
    """GT boxes through the miner's tracker and team model: one team per player, all clip long."""
    from kit.synth import render_frames

    mod = load_miner_module(miner.path)
    m = mod.Miner.__new__(mod.Miner)
    m.cfg = dict(mod.SETTINGS)
    m._reset((540, 960))
    per_track: dict[int, list[int]] = {}
    gt_team: dict[int, int] = {}
    for fid, (frame, gt) in enumerate(render_frames(60, seed=77)):
        boxes = [b for b in gt.boxes if b.cls_id == 2 and (b.x2 - b.x1) >= 6]
        if not boxes:
            continue
        xyxy = np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes], dtype=np.float64)
        reported = m.tracker.step(xyxy, np.full(len(boxes), 0.9), np.full(len(boxes), 2))
        m._vote_teams(frame, xyxy, reported)
        for tr, d in reported:
            if d >= 0 and tr.votes.sum() > 0:
                b = boxes[d]
                per_track.setdefault(b.track_id, []).append(int(np.argmax(tr.votes)))
                gt_team[b.track_id] = b.team
    assert len(per_track) >= 8
    # map GT team -> predicted label by majority; agreement over every (track, frame)
    agree = total = 0
    for mapping in ({1: 0, 2: 1}, {1: 1, 2: 0}):
        a = sum(sum(1 for lab in labs if lab == mapping[gt_team[t]]) for t, labs in per_track.items())
        agree = max(agree, a)
    total = sum(len(v) for v in per_track.values())
    assert agree / total >= 0.95, agree / total
    # every player keeps one label for most of the clip (crossings may cost a few frames)
    for t, labs in per_track.items():
        assert max(labs.count(0), labs.count(1)) / len(labs) >= 0.8, (t, labs)


def test_new_clip_resets_state(miner):
    frame = np.random.default_rng(1).integers(0, 256, (540, 960, 3), dtype=np.uint8)
    miner.predict_batch([frame] * 2, 0, 32)
    miner.teams.centres = np.zeros((2, 3), np.float32)
    miner.predict_batch([frame], 2, 32)
    assert miner.teams.centres is not None  # same clip: kept
    miner.predict_batch([frame], 0, 32)
    assert miner.teams.centres is None      # offset 0: a new clip


def _frames_with_truth(n, seed):
    from kit.synth import render_frames

    return [(f, np.array(gt.keypoints, dtype=np.int64)) for f, gt in render_frames(n, seed=seed)]


def test_miner_scores_keypoints_exactly_like_the_validator(miner):
    """FrameView.score (the miner's own copy of SCORING.md steps 2-11) equals kit.evaluate's
    score on ground-truth, shifted, noisy and thinned keypoints, zeroed frames included."""
    from kit.evaluate.keypoints import score_frame
    from kit.pitch import render_template

    mod = load_miner_module(miner.path)
    tpl = np.array(render_template())
    rng = np.random.default_rng(5)
    ours, theirs = [], []
    for frame, gt in _frames_with_truth(8, seed=404):
        view = mod.FrameView(frame, tpl)
        vis = np.any(gt != 0, axis=1)
        variants = [gt]
        for _ in range(5):
            v = gt.copy()
            v[vis] += rng.integers(-6, 7, size=(int(vis.sum()), 2)) + rng.integers(-20, 21, size=2)
            if rng.random() < 0.5:
                v[np.flatnonzero(vis)[: rng.integers(1, 4)]] = 0
            variants.append(v)
        for v in variants:
            ours.append(view.score(v))
            theirs.append(score_frame(frame, v.tolist()).score)
    assert np.allclose(ours, theirs, atol=1e-9), list(zip(ours, theirs))
    assert sum(s > 0 for s in theirs) >= 10 and sum(s == 0 for s in theirs) >= 1


def test_refinement_pulls_a_shifted_pitch_back_onto_the_lines(miner):
    """A homography 12 px off the painted lines scores far better after refine_homography."""
    from kit.pitch import render_template

    mod = load_miner_module(miner.path)
    cfg = dict(mod.SETTINGS)
    before, after = [], []
    for frame, gt in _frames_with_truth(3, seed=405):
        vis = np.any(gt != 0, axis=1)
        if vis.sum() < 4:
            continue
        Hg, _ = cv2.findHomography(mod.TEMPLATE_KEYPOINTS[vis], gt[vis].astype(np.float64))
        off = np.array([[1, 0, 12.0], [0, 1, -8.0], [0, 0, 1]]) @ Hg
        view = mod.FrameView(frame, np.array(render_template()))
        before.append(view.score(mod.project_keypoints(off, 960, 540)))
        after.append(view.score(mod.project_keypoints(mod.refine_homography(view, off, cfg), 960, 540)))
    assert after and np.mean(after) >= 0.8 and np.mean(after) > np.mean(before) + 0.2, (before, after)


def test_the_miner_draws_the_validators_template_pixel_for_pixel(bundle, reference_template):
    """No .png may ship in a bundle (compliance), so the miner paints the template itself; the
    square-blob rule turns on single pixels, so it must be the validator's image exactly."""
    mod = load_miner_module(bundle)
    drawn = mod.draw_template()
    assert drawn.shape == (680, 1050, 3) and drawn.dtype == np.uint8
    assert np.array_equal(drawn, reference_template)
    assert not list(bundle.glob("*.png"))


def test_concurrent_clips_on_one_miner_answer_as_if_alone(miner):
    """The chutes runtime runs concurrent challenges in threads on one Miner: per-clip state is per thread."""
    import threading

    from kit.synth import render_frames

    clips = [[f for f, _ in render_frames(12, seed=s)] for s in (5, 6)]
    alone = [[frame_dicts(miner.predict_batch(c[i:i + 4], i, 32)) for i in range(0, 12, 4)] for c in clips]
    together: dict[int, list] = {}
    barrier = threading.Barrier(2)

    def run(k):
        barrier.wait()
        together[k] = [frame_dicts(miner.predict_batch(clips[k][i:i + 4], i, 32)) for i in range(0, 12, 4)]

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together[0] == alone[0] and together[1] == alone[1]


def test_keypoints_follow_the_pitch_without_the_pose_model(miner):
    """Started from a slightly wrong homography, the tracker locks onto the lines and keeps
    following them frame after frame even when the pose model sees no pitch."""
    from kit.pitch import render_template

    mod = load_miner_module(miner.path)
    m = mod.Miner.__new__(mod.Miner)
    m.cfg = dict(mod.SETTINGS)
    m.template = np.array(render_template())
    m._reset((540, 960))
    m.pose_points = lambda frame: None   # no help from the model
    frames = _frames_with_truth(12, seed=406)
    first = next(gt for _, gt in frames if np.any(gt != 0, axis=1).sum() >= 4)
    vis = np.any(first != 0, axis=1)
    Hg, _ = cv2.findHomography(mod.TEMPLATE_KEYPOINTS[vis], first[vis].astype(np.float64))
    m.prev_h = np.array([[1, 0, 6.0], [0, 1, 4.0], [0, 0, 1]]) @ Hg
    from kit.evaluate.keypoints import score_frame

    scores = [score_frame(f, m.keypoints(f).tolist()).score for f, _ in frames]
    assert np.mean(scores) >= 0.8, scores


def test_large_frames_give_the_same_keypoints_scaled(miner):
    """A 1920 x 1080 frame is aligned on a 960 x 540 working copy, then projected and checked at
    its own size: its keypoints are the 960 x 540 frame's, doubled, within a few pixels."""
    from kit.pitch import render_template

    mod = load_miner_module(miner.path)
    frames = _frames_with_truth(4, seed=407)
    first = next(gt for _, gt in frames if np.any(gt != 0, axis=1).sum() >= 4)
    vis = np.any(first != 0, axis=1)
    Hg, _ = cv2.findHomography(mod.TEMPLATE_KEYPOINTS[vis], first[vis].astype(np.float64))
    runs = {}
    for k in (1, 2):
        m = mod.Miner.__new__(mod.Miner)
        m.cfg = dict(mod.SETTINGS)
        m.template = np.array(render_template())
        m._reset((540 * k, 960 * k))
        m.pose_points = lambda frame: None
        m.prev_h = np.diag([k, k, 1.0]) @ np.array([[1, 0, 5.0], [0, 1, 3.0], [0, 0, 1]]) @ Hg
        runs[k] = [m.keypoints(cv2.resize(f, (960 * k, 540 * k), interpolation=cv2.INTER_LINEAR) if k > 1 else f)
                   for f, _ in frames]
    n_both = 0
    for small, large in zip(runs[1], runs[2]):
        both = np.any(small != 0, axis=1) & np.any(large != 0, axis=1)
        n_both += both.sum()
        assert np.abs(large[both] - 2 * small[both]).max() <= 6
        # a point dropped on one side only lies near the frame edge (in-frame rules at each size)
        for p in np.flatnonzero(np.any(small != 0, axis=1) ^ np.any(large != 0, axis=1)):
            q = small[p] if small[p].any() else large[p] / 2
            assert min(q[0], q[1], 960 - q[0], 540 - q[1]) <= 4, (p, small[p], large[p])
    assert n_both >= 8
