"""Synthetic clips: files and frame counts, determinism, ground truth that matches the pixels,
the keypoint metric bar, the CLI and the error cases."""

import collections
import os
import subprocess

import cv2
import numpy as np
import pytest

from kit import KitError, pitch, synth
from kit.contract import BALL, GOALKEEPER, PLAYER, REFEREE, load_ground_truth

from conftest import TVKIT

N_FRAMES = 12


def decode(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return count, frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return synth.generate_clip(out, index=0, n_frames=N_FRAMES, seed=5)


# --- files, frame counts, schema ------------------------------------------------------------

def test_clip_files_frame_count_and_schema(clip):
    video, truth = clip
    assert (video.name, truth.name) == ("clip_000.mp4", "clip_000.json")
    count, frames = decode(video)
    gt = load_ground_truth(truth)  # schema-checked by the contract's reader
    assert count == len(frames) == N_FRAMES == len(gt.frames)
    assert [f.frame_id for f in gt.frames] == list(range(N_FRAMES))
    assert (gt.video, gt.width, gt.height, gt.fps) == ("clip_000.mp4", 960, 540, 25.0)
    assert frames[0].shape == (540, 960, 3)
    for f in gt.frames:
        assert len(f.keypoints) == 32
        for b in f.boxes:
            assert 0 <= b.x1 < b.x2 <= 960 and 0 <= b.y1 < b.y2 <= 540
            assert all(float(v).is_integer() for v in (b.x1, b.y1, b.x2, b.y2))
            assert b.cls_id in (BALL, GOALKEEPER, PLAYER, REFEREE)
            assert (b.team in (1, 2)) == (b.cls_id == PLAYER)
    assert sorted(p.name for p in video.parent.iterdir()) == ["clip_000.json", "clip_000.mp4"]


def test_same_seed_same_clip_other_seed_other_clip(clip, tmp_path):
    video, truth = clip
    again = synth.generate_clip(tmp_path / "a", index=0, n_frames=N_FRAMES, seed=5)
    assert again[1].read_bytes() == truth.read_bytes()
    _, frames_a = decode(video)
    _, frames_b = decode(again[0])
    assert all(np.array_equal(a, b) for a, b in zip(frames_a, frames_b, strict=True))
    other = synth.generate_clip(tmp_path / "b", index=0, n_frames=N_FRAMES, seed=6)
    assert other[1].read_bytes() != truth.read_bytes()
    _, frames_c = decode(other[0])
    assert not np.array_equal(frames_a[0], frames_c[0])


def test_render_frames_in_memory_is_deterministic():
    a = list(synth.render_frames(3, seed=11, width=480, height=270))
    b = list(synth.render_frames(3, seed=11, width=480, height=270))
    c = list(synth.render_frames(3, seed=12, width=480, height=270))
    assert len(a) == 3 and a[0][0].shape == (270, 480, 3) and a[0][0].dtype == np.uint8
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0]) and a[0][1] != c[0][1]
    assert [f.frame_id for _, f in a] == [0, 1, 2]


def test_generate_clips_uses_a_derived_seed_per_clip(tmp_path):
    pairs = synth.generate_clips(tmp_path, n_clips=2, n_frames=2, seed=3, width=320, height=180, progress=False)
    assert [(v.name, j.name) for v, j in pairs] == [("clip_000.mp4", "clip_000.json"),
                                                    ("clip_001.mp4", "clip_001.json")]
    assert pairs[0][1].read_bytes() != pairs[1][1].read_bytes()
    single = synth.generate_clip(tmp_path / "one", index=1, n_frames=2, seed=synth.clip_seed(3, 1), width=320,
                                 height=180)
    assert single[1].read_bytes() == pairs[1][1].read_bytes()
    assert synth.clip_seed(3, 1) == synth.clip_seed(3, 1) != synth.clip_seed(3, 0) != synth.clip_seed(4, 0)


# --- ground truth against pixels and geometry -----------------------------------------------------

def test_keypoints_are_the_projection_of_the_frame_homography():
    r = synth.ClipRenderer(seed=2, n_frames=30)
    for i in (0, 17, 29):
        _, gt = r.render(i)
        assert gt.keypoints == pitch.project_keypoints(r.homography(i), 960, 540)
        assert sum(kp != [0, 0] for kp in gt.keypoints) >= 4


def test_painted_lines_follow_the_template():
    # a camera straight above the pitch centre with 1 frame px per template px: H is the identity
    cam = synth.Camera((524.5, 339.5, 5000.0), 0.0, np.pi / 2, 0.0, 5000.0, 1050, 680)
    assert np.allclose(cam.H / cam.H[2, 2], np.eye(3), atol=1e-6)
    mask = np.zeros((680 * 3, 1050 * 3), np.uint8)
    synth._fill_shapes(mask, synth._line_bands(2.4), cam, 3)
    painted = cv2.resize(mask, (1050, 680), interpolation=cv2.INTER_AREA) > 100
    template = pitch.line_mask()
    # every template line pixel is at most 1.5 px from paint, and paint lies on template lines
    dist = cv2.distanceTransform((~painted).astype(np.uint8), cv2.DIST_L2, 5)
    assert dist[template].max() <= 1.5
    extra = painted & ~cv2.dilate(template.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert extra.sum() < 0.03 * painted.sum()  # the centre spot and corner arcs are the only extras


def test_boxes_enclose_what_is_drawn():
    r = synth.ClipRenderer(seed=4, n_frames=40)
    checked, kinds, tight = 0, set(), []
    for i in (5, 30):
        clean, gt = r.render(i, degrade=False)
        for b in gt.boxes:
            without, _ = r.render(i, degrade=False, hide={b.track_id})
            ys, xs = np.nonzero(np.any(clean != without, axis=2))
            assert len(xs), f"frame {i}: nothing drawn for track {b.track_id}"
            assert b.x1 <= xs.min() and xs.max() < b.x2 and b.y1 <= ys.min() and ys.max() < b.y2, \
                f"frame {i}, track {b.track_id}: drawn {xs.min()}..{xs.max()} x {ys.min()}..{ys.max()} outside {b}"
            tight.append((xs.max() + 1 - xs.min()) * (ys.max() + 1 - ys.min()) / ((b.x2 - b.x1) * (b.y2 - b.y1)))
            checked += 1
            kinds.add(b.cls_id)
    assert checked >= 20 and {PLAYER, BALL} <= kinds
    assert np.mean(tight) > 0.9  # and the boxes are tight around it


def test_every_member_of_the_roster_is_drawn_and_boxed():
    r = synth.ClipRenderer(seed=8, n_frames=101)
    people = r.people
    assert sum(p.cls_id == PLAYER for p in people) == 20
    assert collections.Counter(p.team for p in people if p.cls_id == PLAYER) == {1: 10, 2: 10}
    assert [p.team for p in people if p.cls_id == GOALKEEPER] == [None, None]
    assert 1 <= sum(p.cls_id == REFEREE for p in people) <= 3
    # a high camera far behind the near touchline sees the whole pitch and everyone on it
    wide = synth.Camera((525, 680 + 1400, 1300), 0.0, np.radians(33), 0.0, 900.0, 960, 540)
    r.cameras = [wide] * r.n_frames
    seen = {}
    for i in range(0, 101, 25):
        _, gt = r.render(i, degrade=False)
        for b in gt.boxes:
            assert seen.setdefault(b.track_id, (b.cls_id, b.team)) == (b.cls_id, b.team)
        assert sum(b.cls_id == BALL for b in gt.boxes) <= 1
        assert len({b.track_id for b in gt.boxes}) == len(gt.boxes)
    expected = {p.track_id: (p.cls_id, p.team) for p in people}
    expected[synth.BALL_TRACK_ID] = (BALL, None)
    assert seen == expected


def test_referee_counts_vary_between_clips():
    counts = {sum(p.cls_id == REFEREE for p in synth._roster(np.random.default_rng(s))[0]) for s in range(30)}
    assert counts == {1, 2, 3}


def test_default_framing_shows_the_far_side_like_a_broadcast():
    far, ground_ok, n = 0, 0, 0
    for seed in range(6):
        r = synth.ClipRenderer(seed=seed, n_frames=200)
        for cam in r.cameras[::10]:
            kp = pitch.project(cam.H, [[525, 2]])[0]
            far += 0 <= kp[1] < 540 * 0.5
            ground = cv2.warpPerspective(np.ones((680, 1050), np.uint8), cam.H, (960, 540))
            ground_ok += ground.mean() < 0.9
            n += 1
    assert far / n >= 0.9, f"far touchline in the upper half of only {far / n:.0%} of frames"
    assert ground_ok / n >= 0.95, f"pitch covers under 90% of the frame in only {ground_ok / n:.0%} of frames"


# --- the keypoint metric of SCORING.md -------------------------------------------------------------

def keypoint_figures(difficulty, seeds, frames, step):
    from kit.evaluate.keypoints import score_frame

    scores, rules = [], collections.Counter()
    for seed in seeds:
        r = synth.ClipRenderer(seed=seed, n_frames=frames, difficulty=difficulty)
        for i in range(0, frames, step):
            img, gt = r.render(i)
            s = score_frame(img, gt.keypoints)
            if s.zeroed:
                rules[s.rule] += 1
            else:
                scores.append(s.score)
    n = len(scores) + sum(rules.values())
    mean = float(np.mean(scores)) if scores else 0.0
    print(f"\n{difficulty}: {n} frames, keypoint metric mean over non-zeroed frames {mean:.4f}, "
          f"zeroed by rule {sum(rules.values()) / n:.1%} {dict(rules)}")
    return mean, rules, n


def test_ground_truth_keypoints_score_on_the_validator_metric():
    mean, rules, n = keypoint_figures("default", seeds=range(4), frames=120, step=15)
    assert mean >= 0.9, f"mean {mean:.3f} over non-zeroed frames"
    assert sum(rules.values()) / n <= 0.25, rules
    # rules that judge the picture or a pitch filling the frame must not zero the ground truth
    assert not {"mostly_unexpected_lines", "ground_too_large", "lines_too_small", "error"} & set(rules), rules


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", synth.DIFFICULTIES)
def test_keypoint_metric_over_many_frames(difficulty):
    mean, rules, n = keypoint_figures(difficulty, seeds=range(10, 22), frames=200, step=20)
    assert mean >= 0.9
    assert sum(rules.values()) / n <= (0.35 if difficulty == "hard" else 0.15), rules


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"n_frames": 0}, "n_frames"), ({"n_frames": 2.5}, "n_frames"), ({"n_frames": True}, "n_frames"),
    ({"width": 100}, "width"), ({"width": 961}, "even"), ({"height": 5000}, "height"),
    ({"fps": 0}, "fps"), ({"difficulty": "insane"}, "easy, default, hard"), ({"seed": -1}, "seed"),
])
def test_bad_arguments_raise_kit_errors(tmp_path, kwargs, words):
    args = {"n_frames": 2, "seed": 0, "width": 320, "height": 180, "difficulty": "default", **kwargs}
    with pytest.raises(KitError, match=words):
        synth.generate_clip(tmp_path, **args)
    fps = args.pop("fps", 25)
    with pytest.raises(KitError, match=words):
        synth.render_frames(args.pop("n_frames"), args.pop("seed"), fps=fps, **args)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_dir(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(KitError, match="not a folder"):
        synth.generate_clip(a_file, n_frames=1, width=320, height=180)
    with pytest.raises(KitError, match="cannot write"):
        synth.generate_clip(a_file / "sub", n_frames=1, width=320, height=180)
    with pytest.raises(KitError, match="cannot write"):
        synth.generate_clips("/proc/tvkit-synth", n_clips=1, n_frames=1, seed=0, width=320, height=180,
                             progress=False)


def test_a_failed_generation_leaves_no_partial_clip_and_keeps_earlier_ones(tmp_path, monkeypatch):
    first = synth.generate_clip(tmp_path, index=0, n_frames=2, seed=1, width=320, height=180)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = synth.ClipRenderer.render

    def failing(self, i, *a, **kw):
        if i == 2:
            raise KeyboardInterrupt
        return real(self, i, *a, **kw)

    monkeypatch.setattr(synth.ClipRenderer, "render", failing)
    for index in (1, 0):  # a new clip, and a regeneration of the existing one
        with pytest.raises(KeyboardInterrupt):
            synth.generate_clip(tmp_path, index=index, n_frames=5, seed=2, width=320, height=180)
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert first[0].exists() and first[1].exists()


# --- the CLI --------------------------------------------------------------------------------------

def tvkit(*args):
    return subprocess.run([TVKIT, *args], capture_output=True, text=True, timeout=120)


def test_cli_synth_writes_clips_and_reports_speed(tmp_path):
    out = tmp_path / "clips"
    r = tvkit("synth", "--clips", "2", "--frames", "3", "--seed", "7", "--out", str(out),
              "--width", "320", "--height", "180", "--difficulty", "easy")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["clip_000.json", "clip_000.mp4", "clip_001.json", "clip_001.mp4"]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and "clip_000.mp4" in lines[0] and "clip_001.mp4" in lines[1]
    assert "6 frames" in lines[2] and "frames/s" in lines[2]
    api = synth.generate_clip(tmp_path / "api", 1, 3, synth.clip_seed(7, 1), 320, 180, difficulty="easy")
    assert api[1].read_bytes() == (out / "clip_001.json").read_bytes()
    assert decode(out / "clip_001.mp4")[0] == 3


@pytest.mark.parametrize("args, words", [
    (["--frames", "0"], "n_frames"),
    (["--difficulty", "nope"], "unknown difficulty"),
    (["--width", "999"], "even"),
    (["--clips", "0"], "--clips"),
])
def test_cli_synth_bad_arguments_exit_2(tmp_path, args, words):
    r = tvkit("synth", "--out", str(tmp_path / "o"), *args)
    assert r.returncode == 2
    assert words in r.stderr and "error:" in r.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_cli_synth_out_is_a_file_exit_2(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    r = tvkit("synth", "--out", str(f), "--frames", "1")
    assert r.returncode == 2 and "not a folder" in r.stderr
    assert os.path.getsize(f) == 0
