"""The kit against numbers upstream's own code gave (turbovision ea7412f), for the reading
differences issue #24 found: cls_id sent as strings/floats/None/out of range, frame ids sent as
floats or strings, keypoints sent as strings, answers upstream raises on.

The constants were produced once by `bench/parity_upstream.py --turbovision /tmp/tv --seed 3
--n 40 --upstream-python /tmp/tvenv/bin/python --json OUT` (upstream's `post_vlm_ranking` in a
venv with upstream's pins: numpy 2.2.6, OpenCV 4.12.0.88, scipy 1.15.3, pydantic 2.11.7) and copied
from OUT; the frame-store positions were measured with upstream's `FrameStore` on OpenCV 4.12.
Box pillars only: the keypoint metric also depends on the OpenCV version (see keypoints.py).
These tests rebuild the same cases with the harness's generator and need no upstream checkout.
"""
import importlib.util
import random
from pathlib import Path

import pytest

from kit.evaluate import frame_store_positions
from kit.evaluate.answer import read_frames, validator_raises
from kit.evaluate.keypoints import score_keypoints

ROOT = Path(__file__).resolve().parents[1]

# case id -> upstream's pillar values and final (seed 3, n 40); every one of these answers has
# cls_id values sent as strings/floats/None/out of range, case 4 also frame ids 4.5, 6.0 and -8
UPSTREAM_SEED3 = {
    2: {"role": 0.33541666666666664, "palette": 0.35416666666666663, "iou": 0.2916666666666667,
        "smoothness": 0.028991826288941168, "final": 0.378840684858353},
    4: {"role": 0.20208333333333334, "palette": 0.20833333333333331, "iou": 0.23154761904761906,
        "smoothness": 0.0, "final": 0.16049107142857144},
    13: {"iou": 0.38571428571428573, "count": 0.38571428571428573, "palette": 1.0, "role": 0.6720238095238096,
         "smoothness": 0.05143488549258613, "final": 0.11051444093021107},
    17: {"iou": 0.6608516483516483, "count": 0.6608516483516483, "final": 0.26759164835164834},
    24: {"iou": 0.025, "count": 0.05, "final": 0.0},
    26: {"role": 0.5208333333333334, "palette": 1.0, "iou": 0.041666666666666664, "smoothness": 0.0,
         "final": 0.5859375},
}


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("parity_upstream", ROOT / "bench" / "parity_upstream.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def seed3_cases(harness, tmp_path_factory):
    videos = harness.make_videos(random.Random(3), tmp_path_factory.mktemp("parity"))
    return harness.make_cases(3, 40, videos)


@pytest.mark.parametrize("cid", sorted(UPSTREAM_SEED3))
def test_box_pillars_equal_upstream(harness, seed3_cases, cid):
    case = seed3_cases[cid]
    assert case["id"] == cid and case["kind"] == "clip"
    got = harness.kit_case(case)
    want = UPSTREAM_SEED3[cid]
    for name, value in want.items():
        kit_value = got["final"] if name == "final" else got["pillars"][name]
        assert abs(kit_value - value) <= 1e-12, (cid, name, kit_value, value)


def test_frame_ids_are_keys_as_sent():
    ans = {"predictions": {"frames": [{"frame_id": 3.0, "boxes": [{"x1": 0, "y1": 0, "x2": 5, "y2": 5, "cls_id": "0"}]},
                                      {"frame_id": 4.5}, {"frame_id": True}]}}
    frames = read_frames(ans, ["ball"])
    assert frames.get(3) is not None and len(frames[3].bboxes) == 1   # 3.0 == 3, cls_id "0" reads as 0
    assert frames.get(4) is None and frames.get(1) is not None         # 4.5 matches nothing, True matches 1


@pytest.mark.parametrize("keys,want", [
    ([0, 1.5, 2], [0, 1, 2]), ([-8], [0]), ([0, -8, 3], [0, 0, 3]), ([2.7], [2]), ([7.9], [7]),
    ([3, 1], [3, 1]), (["3"], [None]), ([True], [None]), ([0, 2, 1.2], [0, 2, 1]),
])
def test_frame_store_positions_as_upstream_measured(keys, want):
    assert [frame_store_positions(keys)[k] for k in keys] == want


@pytest.mark.parametrize("frames,raises", [
    ([{"frame_id": 0}, {"frame_id": "1"}], True),
    ([{"frame_id": [0]}], True),
    (["frame"], True),
    ([{"frame_id": 0, "boxes": 5}], True),
    ([{"frame_id": 0}, {"frame_id": 1.5}, {"frame_id": "x", "boxes": []}][:2], False),
    ([{"frame_id": 0, "boxes": "abc"}], False),
])
def test_validator_raises(frames, raises):
    assert bool(validator_raises({"predictions": {"frames": frames}}, ["ball"], False)) is raises


def test_keypoints_none_raises_only_for_keypoint_pillars():
    ans = {"predictions": {"frames": [{"frame_id": 0, "keypoints": None}]}}
    assert validator_raises(ans, ["ball"], True) and not validator_raises(ans, ["ball"], False)


def test_string_keypoint_zeroes_the_frame():
    kps = [[100.0 + 10 * i, 200.0 + 3 * i] for i in range(32)]
    kps[5] = ["150", 215.0]
    s = score_keypoints(kps, 1280, 720, lambda: None)
    assert s.score == 0.0 and s.rule == "error"
