"""kit.datasets and kit.viz: YOLO datasets from clips, imports, checks, frames from videos and URLs.

The clips here are made by `make_clip` (not kit.synth): a few 320 x 192 frames of the pitch
template seen through a known homography, with coloured rectangles for the objects, so
every label can be checked against exact ground truth. Objects move 4 px per frame, so a
label written for the wrong frame is caught.
"""
import functools
import http.server
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from kit import KitError, pitch, viz
from kit import datasets as D
from kit.contract import GroundTruth, GTBox, GTFrame, save_ground_truth

from conftest import TVKIT

W, H = 320, 192
#: (cls_id, team, colour BGR) of the fixture's objects; players of team 1 red, team 2 blue.
OBJECTS = [(2, 1, (0, 0, 220)), (2, 2, (220, 0, 0)), (1, None, (0, 160, 255)), (3, None, (20, 20, 20)),
           (0, None, (0, 230, 255))]


def make_clip(d: Path, name: str, n_frames: int = 8, blank_keypoints: tuple[int, ...] = ()) -> tuple[Path, Path]:
    """An mp4 and its exact ground truth; frames in `blank_keypoints` show no pitch keypoints."""
    d.mkdir(parents=True, exist_ok=True)
    video = d / f"{name}.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (W, H))
    assert writer.isOpened()
    frames = []
    for i in range(n_frames):
        s = 0.5 + 0.01 * i
        hom = np.array([[s, 0, -30 - 3 * i], [0, s, -95], [0, 0, 1]], float)
        img = np.ascontiguousarray(pitch.warp_template(hom, W, H))
        boxes = []
        for j, (cls, team, color) in enumerate(OBJECTS):
            x1, y1 = 40 + 50 * j + 4 * i, 60 + 12 * j
            bw, bh = (8, 8) if cls == 0 else (16, 36)
            cv2.rectangle(img, (x1, y1), (x1 + bw - 1, y1 + bh - 1), color, -1)
            boxes.append(GTBox(x1, y1, x1 + bw, y1 + bh, cls, team, j))
        # a player half out of the left edge, and one wholly outside the frame
        boxes.append(GTBox(-8, 100, 8, 136, 2, 1, 10))
        boxes.append(GTBox(W + 5, 20, W + 25, 50, 2, 2, 11))
        writer.write(img)
        kps = [[0, 0]] * 32 if i in blank_keypoints else pitch.project_keypoints(hom, W, H)
        frames.append(GTFrame(i, boxes, kps))
    writer.release()
    gt = d / f"{name}.json"
    save_ground_truth(GroundTruth(video.name, W, H, 25.0, frames), gt)
    return video, gt


@pytest.fixture
def clips(tmp_path):
    d = tmp_path / "clips"
    for k in range(3):
        make_clip(d, f"clip_{k:03d}", blank_keypoints=(3,) if k == 0 else ())
    return d


def edit_gt(path: Path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_rows(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


# --- building from clips -------------------------------------------------------------------------

def test_build_splits_by_clip_honours_stride_and_is_deterministic(clips, tmp_path):
    r = D.build_from_clips(clips, tmp_path / "ds", stride=3, val_fraction=0.34, test_fraction=0.34, progress=False)
    assert sorted(r.clip_splits.values()) == ["test", "train", "val"]
    for task in ("detect", "pose"):
        root = tmp_path / "ds" / task
        seen: dict[str, str] = {}
        for split in ("train", "val", "test"):
            for img in (root / "images" / split).iterdir():
                clip, fid = re.fullmatch(r"(clip_\d+)_f(\d{6})\.jpg", img.name).groups()
                assert seen.setdefault(clip, split) == split, f"{clip} in two splits"
                assert r.clip_splits[clip] == split
                assert int(fid) % 3 == 0
                assert (root / "labels" / split / f"{img.stem}.txt").is_file()
        assert set(seen) == {"clip_000", "clip_001", "clip_002"}
    detect_imgs = sorted(p.name for p in (tmp_path / "ds/detect/images").rglob("*.jpg"))
    # 8 frames at stride 3: 0, 3, 6 of each clip
    assert len(detect_imgs) == 9 and sum(r.images["detect"].values()) == 9
    # frame 3 of clip_000 has no keypoints: in detect, not in pose
    pose_imgs = sorted(p.name for p in (tmp_path / "ds/pose/images").rglob("*.jpg"))
    assert sorted(set(detect_imgs) - set(pose_imgs)) == ["clip_000_f000003.jpg"]
    assert r.skipped == {"pose frames with < 4 visible keypoints": 1, "boxes outside the frame": 9}

    again = D.build_from_clips(clips, tmp_path / "ds2", stride=3, val_fraction=0.34, test_fraction=0.34,
                               progress=False)
    assert again.clip_splits == r.clip_splits
    for task in ("detect", "pose"):
        a, b = tree(tmp_path / "ds" / task), tree(tmp_path / "ds2" / task)
        assert a.keys() == b.keys()
        assert all(a[k] == b[k] for k in a if not k.endswith("data.yaml")), "images or labels differ between builds"
    other_seed = D.split_clips([f"c{i}" for i in range(10)], 0.3, seed=1)
    assert other_seed != D.split_clips([f"c{i}" for i in range(10)], 0.3, seed=0)
    assert D.split_clips([f"c{i}" for i in range(10)], 0.3, seed=1) == other_seed


def test_detect_labels_are_normalised_match_ground_truth_and_the_picture(clips, tmp_path):
    r = D.build_from_clips(clips, tmp_path / "ds", task="detect", stride=3, teams=True, progress=False)
    root = tmp_path / "ds" / "detect"
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert data["path"] == str(root.resolve()) and Path(data["path"]).is_absolute()
    assert data["train"] == "images/train" and data["val"] == "images/val"
    assert data["names"] == {0: "ball", 1: "goalkeeper", 2: "player", 3: "referee", 4: "player team 1",
                             5: "player team 2"}
    assert data["kit"]["wire_cls"] == {0: 0, 1: 1, 2: 2, 3: 3, 4: 6, 5: 7}
    assert r.data_yamls == {"detect": (root / "data.yaml").resolve()}
    for label in root.rglob("labels/*/*.txt"):
        rows = read_rows(label)
        assert rows and all(len(row) == 5 and 0 <= min(row[1:]) and max(row[1:]) <= 1 for row in rows)
    label = next(root.rglob("labels/*/clip_001_f000006.txt"))
    rows = read_rows(label)
    # 5 objects, the half-visible player clipped to x 0..8, the one outside the frame dropped
    assert [int(row[0]) for row in rows] == [4, 5, 1, 3, 0, 4]
    x1, y1 = 40 + 4 * 6, 60
    np.testing.assert_allclose(rows[0][1:], [(x1 + 8) / W, (y1 + 18) / H, 16 / W, 36 / H], atol=1e-6)
    np.testing.assert_allclose(rows[5][1:], [4 / W, 118 / H, 8 / W, 36 / H], atol=1e-6)
    # the JPEG is frame 6 of the video: the team-1 player's red rectangle is where its label says
    img = cv2.imread(str(label.parents[2] / "images" / label.parent.name / "clip_001_f000006.jpg"))
    cx, cy = int(rows[0][1] * W), int(rows[0][2] * H)
    b, g, red = img[cy - 8:cy + 8, cx - 4:cx + 4].reshape(-1, 3).mean(axis=0)
    assert red > 150 and b < 80 and g < 80
    without_teams = D.build_from_clips(clips, tmp_path / "plain", task="detect", stride=3, progress=False)
    assert without_teams.instances["detect"]["train"]["player"] > 0
    assert "player team 1" not in without_teams.instances["detect"]["train"]


def test_pose_dataset_has_flip_idx_kpt_shape_and_visibility(clips, tmp_path):
    D.build_from_clips(clips, tmp_path / "ds", task="pose", stride=3, progress=False)
    root = tmp_path / "ds" / "pose"
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert data["kpt_shape"] == [32, 3]
    assert data["flip_idx"] == list(pitch.FLIP_IDX)
    assert data["names"] == {0: "pitch"}
    assert not (tmp_path / "ds" / "detect").exists()
    gt = json.loads((clips / "clip_002.json").read_text())
    label = next(root.rglob("labels/*/clip_002_f000003.txt"))
    (row,) = read_rows(label)
    assert len(row) == 5 + 32 * 3 and row[:5] == [0, 0.5, 0.5, 1, 1]
    kps = np.array(row[5:]).reshape(32, 3)
    truth = np.array(gt["frames"][3]["keypoints"], float)
    vis = (truth != 0).any(axis=1)
    assert 4 <= vis.sum() < 32
    np.testing.assert_array_equal(kps[:, 2], np.where(vis, 2, 0))
    np.testing.assert_allclose(kps[vis, :2], truth[vis] / [W, H], atol=1e-6)
    assert (kps[~vis] == 0).all()


def test_build_refuses_broken_clips_naming_the_file(tmp_path):
    def clip_dir(name, fn=None, n_frames=6):
        d = tmp_path / name
        video, gt = make_clip(d, "clip_000", n_frames=n_frames)
        make_clip(d, "clip_001", n_frames=n_frames)
        if fn:
            fn(video, gt)
        return d, video, gt

    d, _, gt = clip_dir("short", lambda v, g: edit_gt(g, lambda data: data["frames"].pop()))
    with pytest.raises(KitError, match=re.escape(str(gt)) + r": lists 5 frames but .* has 6"):
        D.build_from_clips(d, tmp_path / "out", progress=False)

    def shift_ids(data):
        for fr in data["frames"]:
            fr["frame_id"] += 1
    d, _, gt = clip_dir("from_one", lambda v, g: edit_gt(g, shift_ids))
    with pytest.raises(KitError, match=re.escape(str(gt)) + r": frames\[5\]\.frame_id 6 is outside 0\.\.5.*from 0"):
        D.build_from_clips(d, tmp_path / "out", progress=False)

    d, _, gt = clip_dir("size", lambda v, g: edit_gt(g, lambda data: data.update(width=640)))
    with pytest.raises(KitError, match=re.escape(str(gt)) + r": ground truth is 640 x 192 but .* is 320 x 192"):
        D.build_from_clips(d, tmp_path / "out", progress=False)

    d, video, _ = clip_dir("garbage", lambda v, g: v.write_bytes(b"not a video at all" * 100))
    with pytest.raises(KitError, match=re.escape(str(video)) + ": OpenCV cannot open"):
        D.build_from_clips(d, tmp_path / "out", progress=False)

    def zero_frames(v, g):
        w = cv2.VideoWriter(str(v), cv2.VideoWriter_fourcc(*"mp4v"), 25, (W, H))
        w.release()
    d, video, _ = clip_dir("empty", zero_frames)
    with pytest.raises(KitError, match=re.escape(str(video))):
        D.build_from_clips(d, tmp_path / "out", progress=False)

    d, video, gt = clip_dir("no_gt", lambda v, g: g.unlink())
    with pytest.raises(KitError, match=re.escape(str(video)) + ": no ground truth beside it"):
        D.build_from_clips(d, tmp_path / "out", progress=False)

    single = tmp_path / "single"
    make_clip(single, "clip_000")
    with pytest.raises(KitError, match="need at least 2"):
        D.build_from_clips(single, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_zero_frame_video_is_named_when_read(tmp_path):
    video = tmp_path / "empty.mp4"
    cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (W, H)).release()
    with pytest.raises(KitError, match=re.escape(str(video))):
        list(D.iter_frames(video))
    # a video OpenCV opens but that has no frame: an MJPG AVI with none written
    avi = tmp_path / "empty.avi"
    cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H)).release()
    with pytest.raises(KitError, match=re.escape(str(avi)) + ": (no frame could be decoded|OpenCV cannot open)"):
        list(D.iter_frames(avi))


def test_failed_build_leaves_the_earlier_dataset_intact(clips, tmp_path):
    out = tmp_path / "ds"
    D.build_from_clips(clips, out, stride=3, progress=False)
    before = {t: tree(out / t) for t in ("detect", "pose")}
    edit_gt(clips / "clip_002.json", lambda data: data["frames"].pop())
    with pytest.raises(KitError, match="clip_002.json: lists 7 frames"):
        D.build_from_clips(clips, out, stride=1, progress=False)
    assert {t: tree(out / t) for t in ("detect", "pose")} == before
    assert sorted(p.name for p in out.iterdir()) == ["detect", "pose"], "no half-built leftovers"
    # the rename into place itself fails (disk full, say): the old dataset is put back
    make_clip(clips, "clip_002")
    real_rename = os.rename

    def failing_rename(src, dst):
        if ".building-" in str(src):
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "rename", failing_rename)
        with pytest.raises(OSError, match="No space left"):
            D.build_from_clips(clips, out, task="detect", stride=1, progress=False)
    assert tree(out / "detect") == before["detect"]
    assert sorted(p.name for p in out.iterdir()) == ["detect", "pose"]
    # a successful rebuild replaces the dataset whole
    D.build_from_clips(clips, out, task="detect", stride=1, progress=False)
    assert len(list((out / "detect").rglob("*.jpg"))) == 24
    assert sorted(p.name for p in out.iterdir()) == ["detect", "pose"]
    # a folder that is not a dataset is never replaced
    (tmp_path / "mine" / "detect").mkdir(parents=True)
    (tmp_path / "mine" / "detect" / "notes.txt").write_text("keep me")
    with pytest.raises(KitError, match="exists and is not a dataset"):
        D.build_from_clips(clips, tmp_path / "mine", task="detect", progress=False)
    assert (tmp_path / "mine" / "detect" / "notes.txt").read_text() == "keep me"


# --- frames ----------------------------------------------------------------------------------------

def test_iter_frames_from_file_with_stride_and_max(tmp_path):
    video, _ = make_clip(tmp_path, "clip", n_frames=8)
    assert [i for i, _ in D.iter_frames(video)] == list(range(8))
    got = list(D.iter_frames(video, stride=3))
    assert [i for i, _ in got] == [0, 3, 6] and got[0][1].shape == (H, W, 3)
    assert [i for i, _ in D.iter_frames(video, stride=2, max_frames=2)] == [0, 2]
    with pytest.raises(KitError, match="no such video"):
        list(D.iter_frames(tmp_path / "missing.mp4"))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www (never the internet)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_iter_frames_from_url_matches_the_file(http_root, tmp_path):
    root, base = http_root
    video, _ = make_clip(root, "clip", n_frames=8)
    remote = list(D.iter_frames(f"{base}/clip.mp4", stride=2, max_frames=3))
    local = list(D.iter_frames(video, stride=2, max_frames=3))
    assert [i for i, _ in remote] == [0, 2, 4]
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(remote, local))
    with pytest.raises(KitError, match=re.escape(f"{base}/missing.mp4") + ": HTTP 404"):
        list(D.iter_frames(f"{base}/missing.mp4"))
    (root / "junk.mp4").write_bytes(b"\x00" * 4096)
    with pytest.raises(KitError, match=re.escape(f"{base}/junk.mp4") + ": OpenCV cannot open"):
        list(D.iter_frames(f"{base}/junk.mp4"))


# --- importing external datasets -----------------------------------------------------------------

def roboflow_like(root: Path, names: list[str], rows_by_image: dict[str, list[str]], kpt_shape=None) -> Path:
    """A dataset laid out like a Roboflow YOLO export: train/images, valid/images, `../` paths."""
    data = {"train": "../train/images", "val": "../valid/images", "nc": len(names), "names": names}
    if kpt_shape:
        data["kpt_shape"] = kpt_shape
    root.mkdir(parents=True)
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    for key, rows in rows_by_image.items():
        split, name = key.split("/")
        for sub in ("images", "labels"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / split / "images" / f"{name}.jpg"), np.full((120, 200, 3), 90, np.uint8))
        if rows is not None:
            (root / split / "labels" / f"{name}.txt").write_text("".join(r + "\n" for r in rows))
    return root / "data.yaml"


SOURCE_NAMES = ["football", "GK", "Player", "Referee", "crowd"]
SOURCE_ROWS = {
    "train/a": ["0 0.5 0.5 0.05 0.05", "1 0.2 0.3 0.1 0.3", "2 0.6 0.6 0.1 0.3", "4 0.5 0.1 1.0 0.2"],
    "train/b": ["2 0.3 0.4 0.1 0.3", "3 0.7 0.4 0.1 0.3"],
    "valid/c": ["2 0.5 0.5 0.1 0.3", "4 0.5 0.1 1.0 0.2"],
}


def test_import_remaps_names_and_drops_the_rest(tmp_path):
    src = roboflow_like(tmp_path / "rf", SOURCE_NAMES, SOURCE_ROWS)
    r = D.import_yolo(src.parent, tmp_path / "imported", progress=False)
    assert r.mapping == {"football": "ball", "GK": "goalkeeper", "Player": "player", "Referee": "referee",
                         "crowd": None}
    assert r.dropped == {"crowd": 2}
    assert r.images == {"train": 2, "val": 1}
    assert r.instances["train"] == {"ball": 1, "goalkeeper": 1, "player": 2, "referee": 1}
    out = tmp_path / "imported"
    assert read_rows(out / "labels/train/a.txt") == [[0, 0.5, 0.5, 0.05, 0.05], [1, 0.2, 0.3, 0.1, 0.3],
                                                      [2, 0.6, 0.6, 0.1, 0.3]]
    assert (out / "images/val/c.jpg").read_bytes() == (tmp_path / "rf/valid/images/c.jpg").read_bytes()
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "ball", 1: "goalkeeper", 2: "player", 3: "referee"}
    assert data["path"] == str(out.resolve())
    assert D.check_dataset(out / "data.yaml").instances["val"]["player"] == 1


def test_import_strict_fails_before_writing_and_user_mapping_wins(tmp_path):
    src = roboflow_like(tmp_path / "rf", SOURCE_NAMES, SOURCE_ROWS)
    with pytest.raises(KitError, match=r"\['crowd'\] map to none of ours.*--map"):
        D.import_yolo(src, tmp_path / "strict", strict=True, progress=False)
    assert not (tmp_path / "strict").exists()
    r = D.import_yolo(src, tmp_path / "mapped", mapping=["crowd=referee", "Player=6"], strict=True, teams=True,
                      progress=False)
    assert r.mapping["crowd"] == "referee" and r.mapping["Player"] == "player team 1" and r.dropped == {}
    assert [row[0] for row in read_rows(tmp_path / "mapped/labels/train/b.txt")] == [4, 3]
    with pytest.raises(KitError, match="need --teams"):
        D.import_yolo(src, tmp_path / "x", mapping={"Player": 7}, progress=False)
    with pytest.raises(KitError, match=r"not classes of the source"):
        D.import_yolo(src, tmp_path / "x", mapping={"Goalie": 1}, progress=False)


def test_alias_table_folds_teams_unless_asked_and_pose_takes_the_pitch():
    names = {0: "Team 1", 1: "sports-ball", 2: "Goal_Keeper", 3: "coach"}
    assert D.resolve_mapping(names, "detect") == {0: 2, 1: 0, 2: None, 3: None}
    assert D.resolve_mapping(names, "detect", teams=True) == {0: 4, 1: 0, 2: None, 3: None}
    assert D.resolve_mapping(names, "detect", mapping={"goal keeper": "goalkeeper"}) == {0: 2, 1: 0, 2: 1, 3: None}
    assert D.resolve_mapping({0: "Football-Field", 1: "goalpost"}, "pose") == {0: 0, 1: None}
    assert D.resolve_mapping({0: "anything"}, "pose") == {0: 0}, "a one-class pose source is the pitch"
    assert D.parse_mapping(["soccer ball=0", "GK=goalkeeper"]) == {"soccer ball": 0, "GK": "goalkeeper"}
    with pytest.raises(KitError, match="expected SOURCE_NAME=ID"):
        D.parse_mapping(["football"])


def test_import_pose_checks_kpt_shape_and_writes_visibility(tmp_path):
    pts = np.zeros((32, 2))
    pts[[0, 13, 14, 30]] = [[0.1, 0.1], [0.5, 0.05], [0.5, 0.3], [0.4, 0.5]]
    pts[5] = [-1, -1]  # ultralytics' "not visible" for 2-D keypoints
    row = "0 0.5 0.5 1 1 " + " ".join(f"{x:g} {y:g}" for x, y in pts)
    src = roboflow_like(tmp_path / "kp", ["pitch"], {"train/a": [row], "valid/b": [row]}, kpt_shape=[32, 2])
    r = D.import_yolo(src, tmp_path / "pose", task="pose", progress=False)
    assert r.images == {"train": 1, "val": 1}
    data = yaml.safe_load((tmp_path / "pose/data.yaml").read_text())
    assert data["kpt_shape"] == [32, 3] and data["flip_idx"] == list(pitch.FLIP_IDX)
    (out,) = read_rows(tmp_path / "pose/labels/train/a.txt")
    kps = np.array(out[5:]).reshape(32, 3)
    assert sorted(np.flatnonzero(kps[:, 2] == 2)) == [0, 13, 14, 30]
    assert (kps[kps[:, 2] == 0] == 0).all()
    stats = D.check_dataset(tmp_path / "pose/data.yaml")
    assert stats.visible_per_image[4] == 2 and stats.visible_per_keypoint[13] == 2

    bad = roboflow_like(tmp_path / "coco", ["person"], {"train/a": ["0 0.5 0.5 1 1" + " 0.1 0.1 2" * 17],
                                                        "valid/b": []}, kpt_shape=[17, 3])
    with pytest.raises(KitError, match=r"kpt_shape is \[17, 3\].*\[32, 2\] or \[32, 3\]"):
        D.import_yolo(bad, tmp_path / "x", task="pose", progress=False)


POSE_OK = "0 0.5 0.5 1 1" + " 0.5 0.5 2" * 32
LABEL_ERRORS = [
    ("detect", None, ": missing label file"),
    ("detect", ["0 0.5 0.5 0.1"], r":1: 4 fields, expected 5"),
    ("detect", ["", "0 0.5 0.5 0.1 0.1 0.3"], r":2: 6 fields, expected 5"),
    ("detect", ["0 0.5 0.5 0.1 0.1", "1 1.2 0.5 0.1 0.1"], r":2: box .* outside \[0, 1\]"),
    ("detect", ["9 0.5 0.5 0.1 0.1"], r":1: class id 9 is out of range 0\.\.4"),
    ("detect", ["1 0.5 0.5 0.1 abc"], r":1: not all fields are numbers"),
    ("pose", ["0 0.5 0.5 1 1" + " 0.5 0.5 2" * 31], r":1: 98 fields, expected 101 .*32 keypoints"),
    ("pose", [POSE_OK, "0 0.5 0.5 1 1" + " 0.5 0.5 2" * 30 + " 1.5 0.5 2 0.5 0.5 2"], r":2: keypoint 31 .* outside"),
    ("pose", ["0 0.5 0.5 1 1" + " 0.5 0.5 2" * 31 + " 0.5 0.5 7"], r":1: keypoint 32 has visibility 7"),
]


@pytest.mark.parametrize("task,rows,message", LABEL_ERRORS, ids=[m for _, _, m in LABEL_ERRORS])
def test_broken_labels_are_named_by_file_and_line(tmp_path, task, rows, message):
    kpt = [32, 3] if task == "pose" else None
    names = ["pitch"] if task == "pose" else SOURCE_NAMES
    good = [POSE_OK] if task == "pose" else ["0 0.5 0.5 0.1 0.1"]
    src = roboflow_like(tmp_path / "rf", names, {"train/ok": good, "train/zz": rows, "valid/v": good},
                        kpt_shape=kpt)
    label = tmp_path / "rf/train/labels/zz.txt"
    with pytest.raises(KitError, match=re.escape(str(label)) + message) as err:
        D.import_yolo(src, tmp_path / "out", task=task, progress=False)
    assert not (tmp_path / "out").exists()
    if rows is None:
        assert "empty file marks an image without objects" in str(err.value)
    with pytest.raises(KitError, match=re.escape(str(label)) + message):
        D.check_dataset(src)


# --- checks and pictures -----------------------------------------------------------------------------

def test_check_counts_agree_with_the_build_and_pictures_are_drawn(clips, tmp_path):
    r = D.build_from_clips(clips, tmp_path / "ds", stride=3, teams=True, progress=False)
    det = D.check_dataset(r.data_yamls["detect"])
    assert det.images == r.images["detect"]
    assert det.instances == r.instances["detect"]
    assert det.instances["train"]["player team 1"] == 2 * det.instances["train"]["ball"]  # one clipped at the edge
    np.testing.assert_allclose(det.box_heights["ball"], 8, atol=1e-3)
    np.testing.assert_allclose(det.box_areas["goalkeeper"], 16 * 36, atol=0.05)
    assert json.loads(json.dumps(det.to_dict()))["instances_total"]["ball"] == 9
    pose = D.check_dataset(r.data_yamls["pose"])
    assert pose.pose_instances == 8 and pose.visible_per_image.sum() == 8
    assert pose.visible_per_keypoint.sum() == sum(i * n for i, n in enumerate(pose.visible_per_image))
    assert "pose" in D.format_stats(pose) and "ball" in D.format_stats(det)

    figs = viz.dataset_figures(det)
    assert set(figs) == {"counts", "box_sizes"} and set(viz.dataset_figures(pose)) == {"counts", "keypoint_visibility"}
    for name, fig in {**figs, **viz.dataset_figures(pose)}.items():
        fig.savefig(tmp_path / f"{name}.png")
        assert cv2.imread(str(tmp_path / f"{name}.png")).shape[0] > 100
    grid = viz.sample_grid(r.data_yamls["detect"], n=4, cols=2, tile_width=200)
    assert grid.shape[1] == 2 * 200 + 4 and grid.shape[0] >= 2 * (200 * H // W)
    preview = viz.clip_preview(clips / "clip_001.mp4", clips / "clip_001.json", n=3, cols=3, tile_width=160)
    assert preview.shape[1] == 3 * 160 + 2 * 4


def test_drawings_put_class_colours_where_the_boxes_are():
    img = np.zeros((100, 200, 3), np.uint8)
    out = viz.draw_detections(img, np.array([[50, 40, 90, 80]]), [0], {0: "ball"})
    assert tuple(out[60, 50]) == sv_bgr(viz.CLASS_COLORS["ball"])
    assert (img == 0).all(), "drawings work on a copy"
    kp = np.zeros((32, 2))
    kp[8] = [150, 50]
    dots = viz.draw_keypoints(img, kp)
    assert dots[50, 150].any() and not dots[95, 5].any()


def sv_bgr(hex_color: str) -> tuple[int, int, int]:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return b, g, r


# --- the CLI ------------------------------------------------------------------------------------

def test_cli_build_check_import(clips, tmp_path):
    import subprocess

    def tvkit(*args):
        return subprocess.run([TVKIT, "dataset", *args], capture_output=True, text=True, timeout=120)

    r = tvkit("build", "--clips", str(clips), "--out", str(tmp_path / "ds"), "--task", "detect", "--stride", "2",
              "--teams", "--json")
    assert r.returncode == 0, r.stderr
    built = json.loads(r.stdout)
    yaml_path = built["data_yamls"]["detect"]
    r = tvkit("check", "--data", yaml_path, "--json", "--plots", str(tmp_path / "plots"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["instances"] == built["instances"]["detect"]
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"counts.png", "box_sizes.png", "sample_grid.png"}
    r = tvkit("check", "--data", yaml_path)
    assert "player team 1" in r.stdout and "images" in r.stdout

    src = roboflow_like(tmp_path / "rf", SOURCE_NAMES, SOURCE_ROWS)
    r = tvkit("import", "--src", str(src.parent), "--out", str(tmp_path / "imp"), "--map", "crowd=3", "GK=1")
    assert r.returncode == 0, r.stderr
    assert "'crowd' -> referee" in r.stdout
    r = tvkit("import", "--src", str(src.parent), "--out", str(tmp_path / "imp2"), "--strict")
    assert r.returncode == 2 and "crowd" in r.stderr and "--map" in r.stderr and "Traceback" not in r.stderr


# --- ultralytics accepts what we write ---------------------------------------------------------------

@pytest.fixture
def offline(monkeypatch):
    """No name lookups beyond this machine: ultralytics' font and asset checks fail at once, never hang."""
    real = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("localhost", "127.0.0.1", "::1", None):
            raise socket.gaierror(f"offline test: no lookup of {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    monkeypatch.setenv("YOLO_OFFLINE", "1")


def smoke_train(model_yaml: str, data_yaml: Path, tmp_path: Path):
    from ultralytics import YOLO

    model = YOLO(model_yaml)
    t0 = time.perf_counter()
    model.train(data=str(data_yaml), epochs=1, imgsz=160, batch=4, workers=0, device="cpu", plots=False,
                amp=False, project=str(tmp_path / "runs"), name="smoke", exist_ok=True, verbose=False, seed=0)
    seconds = time.perf_counter() - t0
    assert (tmp_path / "runs" / "smoke" / "weights" / "last.pt").is_file()
    return model.trainer.train_loader.dataset.labels, seconds


@pytest.mark.slow
def test_ultralytics_trains_on_the_detection_dataset(clips, tmp_path, offline):
    r = D.build_from_clips(clips, tmp_path / "ds", task="detect", stride=2, teams=True, progress=False)
    labels, seconds = smoke_train("yolo11n.yaml", r.data_yamls["detect"], tmp_path)
    # every image and every instance we wrote was read: none dropped as corrupt
    assert len(labels) == r.images["detect"]["train"]
    assert sum(len(lb["cls"]) for lb in labels) == sum(r.instances["detect"]["train"].values())
    assert seconds < 120


@pytest.mark.slow
def test_ultralytics_trains_on_the_pose_dataset(clips, tmp_path, offline):
    r = D.build_from_clips(clips, tmp_path / "ds", task="pose", stride=2, progress=False)
    labels, seconds = smoke_train("yolo11n-pose.yaml", r.data_yamls["pose"], tmp_path)
    assert len(labels) == r.images["pose"]["train"]
    assert all(lb["keypoints"].shape == (1, 32, 3) for lb in labels)
    vis = sum(int((lb["keypoints"][..., 2] > 0).sum()) for lb in labels)
    written = sum(int((np.array(read_rows(p)[0][5:]).reshape(32, 3)[:, 2] > 0).sum())
                  for p in (tmp_path / "ds/pose/labels/train").glob("*.txt"))
    assert vis == written > 0
    assert seconds < 120
