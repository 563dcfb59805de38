import json

import pytest

from kit import contract as c

W, H, N = 960, 540, 5


def good_answer(n=N):
    frames = []
    for i in range(n):
        kps = [[0, 0] for _ in range(32)]
        kps[0] = [10, 20]
        kps[13] = [480, 30]
        frames.append({"frame_id": i, "keypoints": kps, "boxes": [
            {"x1": 10, "y1": 10, "x2": 50, "y2": 90, "cls_id": 2, "conf": 0.9, "team_id": 1},
            {"x1": 100, "y1": 100, "x2": 108, "y2": 108, "cls_id": 0, "conf": 0.4},
        ]})
    return c.answer_ok(frames)


def paths(problems):
    return [p.path for p in problems]


def test_good_answer_has_no_problems():
    assert c.validate_answer(good_answer(), N, W, H) == []


def test_answer_roundtrips_through_json():
    a = json.loads(json.dumps(good_answer()))
    assert c.validate_answer(a, N, W, H) == []


def test_failure_answer_is_reported():
    probs = c.validate_answer(c.answer_error("boom"), N, W, H)
    assert len(probs) == 1 and "boom" in probs[0].message


def test_missing_and_duplicate_frames():
    a = good_answer()
    a["predictions"]["frames"][3]["frame_id"] = 1  # frame 3 missing, 1 duplicated
    probs = c.validate_answer(a, N, W, H)
    dup = [p for p in probs if "duplicate" in p.message]
    assert len(dup) == 1 and dup[0].frame == 1 and dup[0].path == "predictions.frames[3].frame_id"
    missing = [p for p in probs if "missing" in p.message and p.path == "predictions.frames"]
    assert len(missing) == 1 and "1 of 5 frames missing: 3" in missing[0].message


def test_missing_frame_ranges_are_compact():
    a = good_answer(3)
    probs = c.validate_answer(a, 10, W, H)
    assert any("7 of 10 frames missing: 3-9" in p.message for p in probs)


def test_keypoint_count_and_coordinates():
    a = good_answer()
    fr = a["predictions"]["frames"]
    fr[0]["keypoints"] = fr[0]["keypoints"][:31]
    fr[1]["keypoints"][5] = [10.5, 3]
    fr[2]["keypoints"][6] = [W, 10]          # x == W is outside
    fr[2]["keypoints"][7] = [-1, 10]
    fr[3]["keypoints"][8] = [0, 0]           # fine: not visible
    fr[3]["keypoints"][9] = [12.0, 7.0]      # integral floats are accepted
    probs = c.validate_answer(a, N, W, H)
    by_frame = {(p.frame, p.path): p.message for p in probs}
    assert "31 points, expected exactly 32" in by_frame[(0, "predictions.frames[0].keypoints")]
    assert "integers" in by_frame[(1, "predictions.frames[1].keypoints[5]")]
    assert "outside the 960 x 540 frame" in by_frame[(2, "predictions.frames[2].keypoints[6]")]
    assert "keypoint 8" in by_frame[(2, "predictions.frames[2].keypoints[7]")]
    assert len(probs) == 4


def test_box_problems_name_the_field():
    a = good_answer()
    boxes = a["predictions"]["frames"][4]["boxes"]
    boxes.append({"x1": 60, "y1": 10, "x2": 50, "y2": 90, "cls_id": 2, "conf": 0.5})   # inverted
    boxes.append({"x1": 1, "y1": 1, "x2": 5, "y2": 5, "cls_id": 4, "conf": 0.5})       # outside the objects
    boxes.append({"x1": "a", "y1": 1, "x2": 5, "y2": 5, "cls_id": 2, "conf": 0.5})     # non-integer
    boxes.append({"x1": 1, "y1": 1, "x2": 5, "y2": 5, "cls_id": 2, "conf": 1.5})       # bad conf
    boxes.append({"x1": 900, "y1": 1, "x2": 990, "y2": 5, "cls_id": 3, "conf": 0.5})   # leaves frame
    boxes.append({"x1": 1, "y1": 1, "x2": 5, "y2": 5, "cls_id": 2, "conf": 0.5, "team_id": "red"})
    boxes.append({"x1": 1, "y1": 1, "x2": 5, "y2": 5, "cls_id": 2, "conf": 0.5, "team_id": 0})
    probs = c.validate_answer(a, N, W, H, n_objects=4)
    got = {p.path: p.message for p in probs}
    assert all(p.frame == 4 for p in probs)
    assert "inverted" in got["predictions.frames[4].boxes[2]"]
    assert "outside the element's 4 objects" in got["predictions.frames[4].boxes[3].cls_id"]
    assert "not an integer" in got["predictions.frames[4].boxes[4].x1"]
    assert "[0, 1]" in got["predictions.frames[4].boxes[5].conf"]
    assert "leaves the 960 x 540 frame" in got["predictions.frames[4].boxes[6]"]
    assert "not a team the validator reads" in got["predictions.frames[4].boxes[7].team_id"]
    assert "read as team 1" in got["predictions.frames[4].boxes[8].team_id"]
    assert len(probs) == 7
    # without an element any cls_id >= 0 is readable
    assert "predictions.frames[4].boxes[3].cls_id" not in {p.path for p in c.validate_answer(a, N, W, H)}


@pytest.mark.parametrize("team", [1, 2, "1", "2", "team1", "Team_2", "team-1", None])
def test_teams_the_validator_reads_are_accepted(team):
    a = good_answer()
    a["predictions"]["frames"][0]["boxes"].append({"x1": 1, "y1": 1, "x2": 5, "y2": 5, "cls_id": 2, "conf": 0.5,
                                                   "cluster_id": team, "score": 0.7})
    assert c.validate_answer(a, N, W, H, n_objects=4) == []


def test_polygons_are_checked_like_boxes():
    a = good_answer()
    a["predictions"]["frames"][1]["polygons"] = [
        {"cls_id": 0, "conf": 0.9, "points": [[10, 10], [50, 10], [30, 40]]},
        {"cls_id": 9, "conf": 0.9, "points": [[10, 10], [50, 10]]},
    ]
    got = {p.path: p.message for p in c.validate_answer(a, N, W, H, n_objects=4)}
    assert set(got) == {"predictions.frames[1].polygons[1].points", "predictions.frames[1].polygons[1].cls_id"}
    assert "at least 3" in got["predictions.frames[1].polygons[1].points"]


def test_frames_mode_answers_carry_the_payloads_frame_ids():
    frames = [c.empty_frame(fid) for fid in (7, 9, 30)]
    assert c.validate_answer(c.answer_ok(frames), 750, W, H, frame_ids=[7, 9, 30]) == []
    probs = c.validate_answer(c.answer_ok(frames[:2] + [c.empty_frame(31)]), 750, W, H, frame_ids=[7, 9, 30])
    assert ("31 is not one of the challenge's frame ids" in str(probs[0])
            and "1 of 3 frames missing: 30" in str(probs[1]))


def test_a_pydantic_result_reads_like_its_dict():
    from pydantic import BaseModel

    class Frame(BaseModel):
        frame_id: int
        boxes: list[dict]
        keypoints: list[list[int]]

    assert c.frame_dicts([Frame(frame_id=3, boxes=[], keypoints=[[0, 0]])]) == [
        {"frame_id": 3, "boxes": [], "keypoints": [[0, 0]]}]
    with pytest.raises(c.ContractError, match="pydantic model"):
        c.frame_dict(("not", "a", "frame"))


def test_envelope_problems():
    assert paths(c.validate_answer([], N, W, H)) == ["answer"]
    probs = c.validate_answer({"success": True, "predictions": None}, N, W, H)
    assert paths(probs) == ["predictions.frames"]
    probs = c.validate_answer({"success": "yes", "predictions": {"frames": []}}, 1, W, H)
    assert paths(probs) == ["success", "predictions.frames"]


def test_str_of_problem_names_frame_and_field():
    p = c.Problem("predictions.frames[2].keypoints", "31 points", 2)
    assert str(p) == "frame 2: predictions.frames[2].keypoints: 31 points"


def test_challenge_roundtrip_and_errors():
    body = c.build_challenge("http://127.0.0.1:1/clip.mp4", width=W, height=H, fps=25, n_frames=750, seed=7)
    assert body["frames"] is None and body["meta"]["batch_size"] == 64 and body["meta"]["n_keypoints"] == 32
    assert body["meta"]["challenge_type_id"] == 0 and body["meta"]["version"] == 1 and body["meta"]["seed"] == 7
    ch = c.parse_challenge(json.dumps(body))
    assert ch.mode == "video" and ch.url.endswith("clip.mp4") and ch.meta.n_frames_total == 750 and ch.meta.seed == 7
    assert ch.frame_ids == list(range(750))
    with pytest.raises(c.ContractError, match="url: missing or not a string, and no frames"):
        c.parse_challenge({"meta": body["meta"]})
    with pytest.raises(c.ContractError, match=r"frames_source: 'tape'.*meta.width: expected an integer >= 1, got -3"):
        c.parse_challenge({"url": "u", "meta": {**body["meta"], "width": -3, "frames_source": "tape"}})
    with pytest.raises(c.ContractError, match="not JSON"):
        c.parse_challenge(b"{nope")


def test_frames_challenge_roundtrip():
    import base64

    import cv2
    import numpy as np

    img = np.full((54, 96, 3), 77, np.uint8)
    body = c.build_frames_challenge([(12, img), (13, img)], n_frames_total=750, urls={13: "http://127.0.0.1:1/13.png"})
    assert body["url"] is None and body["meta"]["frames_source"] == "payload"
    assert body["meta"]["min_frames_required"] == 2 and body["meta"]["width"] == 96
    png = cv2.imdecode(np.frombuffer(base64.b64decode(body["frames"][0]["data"]), np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(png, img) and body["frames"][1]["url"].endswith("13.png")
    ch = c.parse_challenge(body)
    assert ch.mode == "frames" and ch.frame_ids == [12, 13] and ch.url is None
    with pytest.raises(c.ContractError, match=r"frames\[0\] \(frame 5\): neither data nor url"):
        c.parse_challenge({"frames": [{"frame_id": 5}], "meta": body["meta"]})
    with pytest.raises(c.ContractError, match="no data and no url"):
        c.build_frames_challenge([(1, img)], with_data=False)


def test_health_schema():
    ok = {"status": "healthy", "model_loaded": "Miner(...)", "memory_gb": 0.1, "cuda": "CUDA 12.8 detected"}
    assert c.validate_health(ok) == [] and c.healthy(ok)
    failed = {"status": "❌ Failed to load miner: boom", "model_loaded": "None", "memory_gb": None, "cuda": "no"}
    assert c.validate_health(failed) == [] and not c.healthy(failed)
    probs = c.validate_health({"status": "ok", "model_loaded": True, "cuda": "x"})
    assert paths(probs) == ["health.model_loaded", "health.memory_gb"]


def test_class_mapping():
    assert c.wire_class(c.PLAYER, 1) == 6 and c.wire_class(c.PLAYER, 2) == 7
    assert c.wire_class(c.PLAYER, None) == 2 and c.wire_class(c.REFEREE, 1) == 3
    assert c.object_type(7) == (2, 2) and c.object_type(0) == (0, None)


def gt_doc():
    return {"video": "clip_000.mp4", "width": W, "height": H, "fps": 25.0, "frames": [
        {"frame_id": 0, "keypoints": [[0, 0]] * 32, "boxes": [
            {"x1": 1, "y1": 2, "x2": 30, "y2": 60, "cls_id": 2, "team": 1, "track_id": 4},
            {"x1": 5, "y1": 5, "x2": 9, "y2": 9, "cls_id": 0, "team": None, "track_id": 0},
        ]},
    ]}


def test_ground_truth_roundtrip(tmp_path):
    gt = c.ground_truth_from_dict(gt_doc())
    assert gt.frames[0].boxes[0].wire_cls == 6
    path = c.save_ground_truth(gt, tmp_path / "gt.json")
    again = c.load_ground_truth(path)
    assert again == gt
    assert [p.name for p in tmp_path.iterdir()] == ["gt.json"]  # no temp file left behind


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["frames"][0]["keypoints"].pop(), r"frames\[0\].keypoints: expected 32 \[x, y\] points, got 31"),
    (lambda d: d["frames"][0]["boxes"][0].update(cls_id=6),
     r"frames\[0\].boxes\[0\].cls_id: expected an object type 0-3"),
    (lambda d: d["frames"][0]["boxes"][1].update(team=3), r"frames\[0\].boxes\[1\].team: expected 1, 2 or null"),
    (lambda d: d["frames"].append(dict(d["frames"][0])), r"frames\[1\].frame_id: duplicate frame id 0"),
    (lambda d: d.pop("width"), r"width: expected a positive integer"),
])
def test_ground_truth_errors_name_the_field(mutate, message):
    d = json.loads(json.dumps(gt_doc()))
    mutate(d)
    with pytest.raises(c.ContractError, match=message):
        c.ground_truth_from_dict(d, source="gt.json")


def test_load_ground_truth_bad_files(tmp_path):
    with pytest.raises(c.ContractError, match="no such ground-truth file"):
        c.load_ground_truth(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"width": 3,\n "frames": [}')
    with pytest.raises(c.ContractError, match=r"bad.json: line 2, column 13"):
        c.load_ground_truth(bad)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = c.write_json_atomic(tmp_path / "x.json", {"a": 1})
    with pytest.raises(TypeError):
        c.write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_atomic_write_gives_a_normal_file_mode(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        path = c.write_json_atomic(tmp_path / "m.json", {})
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_validate_cli_checks_the_elements_objects_and_the_payloads_frame_ids(tmp_path):
    import subprocess

    from conftest import TVKIT

    frame = {"frame_id": 4, "keypoints": [[0, 0]] * 32,
             "boxes": [{"x1": 1, "y1": 1, "x2": 5, "y2": 6, "cls_id": 6, "conf": 0.5, "team_id": 1}]}
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(c.answer_ok([frame])))
    r = subprocess.run([TVKIT, "validate", "--answer", str(path), "--n-frames", "10", "--width", "960",
                        "--height", "540", "--element", "PlayerDetect_v1@1.0", "--frame-ids", "4,5", "--json"],
                       capture_output=True, text=True, timeout=60)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and [p["path"] for p in out["problems"]] == [
        "predictions.frames[0].boxes[0].cls_id", "predictions.frames"]
