"""The box and polygon pillars against the numbers upstream's own tests expect (ea7412f:
tests/vlm_pipeline/non_vlm_scoring/ and tests/utils/test_evaluate.py), in the kit's words."""
import math
import random

import numpy as np
import pytest

from kit.evaluate.answer import Det, ReadFrame, RefFrame, normalize_team, read_frames
from kit.evaluate.objects import (
    ADAPTIVE_IOU_ANCHORS,
    adaptive_iou_threshold,
    detection_metrics,
    frame_detections,
    frame_row,
    palette_f1,
    polygon_iou,
    smoothness,
)


def box(x1, y1, x2, y2, label="player", score=None, team=None, polygon=None):
    return Det(x1, y1, x2, y2, label, score, team, tuple(map(tuple, polygon)) if polygon else None)


def square(x1, y1, x2, y2):
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def det_pillars(refs, preds, size=(1000, 1000), fid=1):
    """map50/precision/recall/false_positive of one frame: refs and predicted boxes/polygons."""
    bboxes = [p for p in preds if not p.polygon]
    polys = [p for p in preds if p.polygon]
    frame = ReadFrame(fid, bboxes, polys)
    return detection_metrics([frame_detections(RefFrame(fid, refs, *size), frame)])


# --- the adaptive IoU threshold (test_adaptive_iou_threshold.py) ----------------------------------

@pytest.mark.parametrize("ratio, expected", [(0.0005, 0.30), (0.01, 0.50), (0.02, 0.50), (0.03, 0.50),
                                             (0.05, 0.50), (0.25, 0.70)])
def test_threshold_at_the_anchors_and_on_the_plateau(ratio, expected):
    # a 1 x 1 box on a 1-pixel-high image makes the area ratio exactly 1 / width
    assert adaptive_iou_threshold((0, 0, 1, 1), round(1 / ratio), 1) == pytest.approx(expected, abs=0.01)


def test_threshold_clamps_at_both_ends():
    assert adaptive_iou_threshold((0, 0, 1, 1), 100_000, 100_000) == pytest.approx(ADAPTIVE_IOU_ANCHORS[0][1])
    assert adaptive_iou_threshold((0, 0, 900, 900), 1000, 1000) == pytest.approx(ADAPTIVE_IOU_ANCHORS[-1][1])


def test_threshold_grows_with_the_box():
    rng = random.Random(42)
    ratios = sorted(10 ** rng.uniform(-5, -0.3) for _ in range(500))
    ts = [adaptive_iou_threshold((0, 0, 1000, 1), round(1000 / r), 1) for r in ratios]
    assert all(b >= a - 1e-9 for a, b in zip(ts, ts[1:]))
    assert min(ts) >= 0.30 - 1e-9 and max(ts) <= 0.70 + 1e-9


def test_threshold_falls_back_to_960_by_540():
    # 96 x 54 = 1% of 960 x 540: the start of the plateau
    assert adaptive_iou_threshold((0, 0, 96, 54), None, None) == pytest.approx(0.5)


def test_small_box_matches_below_half_iou():
    """32 x 32 on 1000 x 1000 needs IoU ~0.35; an (8, 8) offset gives ~0.39: a true positive."""
    need = adaptive_iou_threshold((0, 0, 32, 32), 1000, 1000)
    assert need < 0.5
    m = det_pillars([box(0, 0, 32, 32)], [box(8, 8, 40, 40)])
    assert (m["map50"], m["precision"], m["recall"], m["false_positive"]) == pytest.approx((1, 1, 1, 1))


def test_small_box_still_misses_below_its_threshold():
    """A (10, 10) offset gives IoU ~0.31: a false positive; 1 FP on 1 frame -> false_positive 0.9."""
    m = det_pillars([box(0, 0, 32, 32)], [box(10, 10, 42, 42)])
    assert m["map50"] == 0 and m["recall"] == 0 and m["false_positive"] == pytest.approx(0.9)


def test_large_box_needs_more_than_half_iou():
    """600 x 500 on 1000 x 1000 needs 0.70; a 150 px shift gives IoU 0.6: a miss; 50 px: a match."""
    assert adaptive_iou_threshold((0, 0, 600, 500), 1000, 1000) == pytest.approx(0.70)
    m = det_pillars([box(0, 0, 600, 500)], [box(150, 0, 750, 500)])
    assert (m["map50"], m["precision"], m["recall"]) == (0.0, 0.0, 0.0)
    m = det_pillars([box(0, 0, 600, 500)], [box(50, 0, 650, 500)])
    assert m["map50"] == pytest.approx(1.0) and m["false_positive"] == pytest.approx(1.0)


def test_the_frame_size_decides_the_threshold():
    """The same 32 x 32 reference on a 1024 x 1024 frame: the (8, 8) offset still matches."""
    assert det_pillars([box(0, 0, 32, 32)], [box(8, 8, 40, 40)], size=(1024, 1024))["map50"] == pytest.approx(1.0)


def test_stress_many_frames_stay_in_range():
    rng = random.Random(7)
    frames = []
    for fid in range(200):
        refs, preds = [], []
        for _ in range(rng.randint(1, 5)):
            w, h = rng.choice([(10, 10), (32, 32), (100, 100), (300, 300), (700, 700)])
            x0, y0 = round(rng.uniform(0, 900)), round(rng.uniform(0, 900))
            refs.append(box(x0, y0, min(1000, x0 + w), min(1000, y0 + h)))
            if rng.random() < 0.85:
                j = round(rng.uniform(-w * 0.4, w * 0.4))
                px, py = max(0, x0 + j), max(0, y0 + j)
                preds.append(box(px, py, px + w, py + h, score=rng.uniform(0.1, 1.0)))
            if rng.random() < 0.1:
                fx, fy = round(rng.uniform(0, 950)), round(rng.uniform(0, 950))
                preds.append(box(fx, fy, fx + 20, fy + 20, score=rng.uniform(0.1, 1.0)))
        frames.append(frame_detections(RefFrame(fid, refs, 1000, 1000), ReadFrame(fid, preds)))
    m = detection_metrics(frames)
    for k in ("map50", "precision", "recall", "false_positive"):
        assert 0.0 <= m[k] <= 1.0 and not math.isnan(m[k])


# --- the detection pillars (test_detection_metrics_pillars.py; frames there are 2 x 2 images) ------

def test_perfect_match():
    m = det_pillars([box(0, 0, 10, 10), box(20, 20, 30, 30, "ball")],
                    [box(0, 0, 10, 10), box(20, 20, 30, 30, "ball")], size=(2, 2))
    assert (m["map50"], m["precision"], m["recall"], m["false_positive"]) == pytest.approx((1, 1, 1, 1))


def test_boxes_beyond_the_frame_are_not_clipped():
    refs = [box(479, 530, 678, 628, "drainage gate"), box(558, 295, 1112, 767, "track")]
    preds = [box(541, 304, 1109, 764, "track", 0.93505859375), box(477, 519, 684, 632, "drainage gate", 0.96142578125)]
    m = det_pillars(refs, preds, size=(2, 2))
    assert m["map50"] == pytest.approx(1.0) and m["false_positive"] == pytest.approx(1.0)


def test_partial_match():
    m = det_pillars([box(0, 0, 10, 10), box(20, 20, 30, 30, "ball")], [box(0, 0, 10, 10)], size=(2, 2))
    assert (m["map50"], m["precision"], m["recall"], m["false_positive"]) == pytest.approx((0.5, 1, 0.5, 1))


def test_map50_ranks_by_confidence():
    refs = [box(0, 0, 10, 10), box(20, 20, 30, 30)]
    high_first = det_pillars(refs, [box(0, 0, 10, 10, score=0.99), box(50, 50, 60, 60, score=0.98)], size=(2, 2))
    low_first = det_pillars(refs, [box(0, 0, 10, 10, score=0.01), box(50, 50, 60, 60, score=0.99)], size=(2, 2))
    assert high_first["map50"] > low_first["map50"]


def test_false_positive_is_one_minus_fp_per_frame_over_ten():
    preds = [box(0, 0, 10, 10)] + [box(x, x, x + 10, x + 10) for x in (20, 40, 60, 80, 100)]
    assert det_pillars([box(0, 0, 10, 10)], preds, size=(2, 2))["false_positive"] == pytest.approx(0.5)


def test_reference_polygons_do_not_change_box_scoring():
    ref = box(0, 0, 10, 10, polygon=square(0, 0, 10, 10))
    assert det_pillars([ref], [box(0, 0, 10, 10)], size=(2, 2))["map50"] == pytest.approx(1.0)


def test_polygon_only_players_score_on_role_and_palette():
    ref = RefFrame(1, [box(0, 0, 10, 10, team="white", polygon=square(0, 0, 10, 10))], 2, 2)
    answer = ReadFrame(1, [], [box(0, 0, 10, 10, team="white", polygon=square(0, 0, 10, 10))])
    row = frame_row(ref, answer, ("palette", "role"))
    assert row.values["palette"] == pytest.approx(1.0) and row.values["role"] == pytest.approx(1.0)


# --- polygons (test_polygons_mixed.py, test_polygons_e2e.py) ---------------------------------------

REFS = [box(0, 0, 10, 10, team="white", polygon=square(0, 0, 10, 10)),
        box(20, 20, 30, 30, "ball", team="other", polygon=square(20, 20, 30, 30))]


@pytest.mark.parametrize("answer", [
    ReadFrame(1, [box(0, 0, 10, 10, team="white"), box(20, 20, 30, 30, "ball", team="other")], []),
    ReadFrame(1, [], [box(0, 0, 10, 10, team="white", polygon=square(0, 0, 10, 10)),
                      box(20, 20, 30, 30, "ball", team="other", polygon=square(20, 20, 30, 30))]),
    ReadFrame(1, [box(20, 20, 30, 30, "ball", team="other")], [box(0, 0, 10, 10, team="white",
                                                                    polygon=square(0, 0, 10, 10))]),
], ids=["boxes", "polygons", "mixed"])
def test_reference_geometry_follows_the_answer_per_label(answer):
    ref = RefFrame(1, REFS, 2, 2)
    row = frame_row(ref, answer, ("iou", "count"))
    m = detection_metrics([frame_detections(ref, answer)])
    assert (row.values["iou"], row.values["count"]) == (1.0, 1.0)
    assert (m["map50"], m["precision"], m["recall"]) == (1.0, 1.0, 1.0)


SAM3_PLAYER = [(10, 10), (72, 18), (64, 124), (16, 116)]   # upstream test_polygons_e2e.py's mock SAM3 masks
SAM3_BALL = [(150, 80), (178, 72), (185, 96), (160, 112)]


def _bounds(pts):
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    return min(xs), min(ys), max(xs), max(ys)


def test_sam3_polygons_end_to_end():
    refs = [box(*_bounds(SAM3_PLAYER), team="other", polygon=SAM3_PLAYER),
            box(*_bounds(SAM3_BALL), "ball", team="other", polygon=SAM3_BALL)]
    ref = RefFrame(1, refs, 960, 540)
    rng = np.random.default_rng(21)

    def random_polygon():
        x1, y1 = int(rng.integers(0, 480)), int(rng.integers(0, 270))
        x2, y2 = int(rng.integers(max(x1 + 1, 480), 960)), int(rng.integers(max(y1 + 1, 270), 540))
        return [(x1, y1), (x2, y1), ((x1 + x2) // 2, (y1 + y2) // 2), (x1, y2)]

    x1, y1, x2, y2 = refs[0].box
    overlap = [(x1 + 10, y1 + 10), (x2 - 10, y1 + 10), (x2 - 13, y1 + 10 + (y2 - y1 - 20) // 2), (x1 + 10, y2 - 10)]
    randoms = ([box(*_bounds(overlap), polygon=overlap)]
               + [box(0, 0, 10, 10, polygon=random_polygon()) for _ in range(15)])

    def scores(answer):
        row = frame_row(ref, answer, ("iou", "count"))
        return {**row.values, **detection_metrics([frame_detections(ref, answer)])}

    null, perfect = scores(ReadFrame(1, [], [])), scores(ReadFrame(1, [], refs))
    rand = scores(ReadFrame(1, [], randoms))
    as_boxes = scores(ReadFrame(1, [Det(*p.box, p.label) for p in randoms], []))
    assert perfect["iou"] == pytest.approx(1.0) and null["iou"] == 0.0 and rand["iou"] > 0.0
    for k in ("map50", "precision", "recall"):
        assert perfect[k] >= rand[k] >= null[k]
    assert as_boxes["iou"] != pytest.approx(rand["iou"])


def test_polygon_iou_is_mask_iou_and_box_corners_fill_inclusively():
    a = box(0, 0, 10, 10, polygon=square(0, 0, 10, 10))
    assert polygon_iou(a, a) == 1.0
    # a plain box against a polygon: the box's corners are filled too, 11 x 11 pixels each
    assert polygon_iou(box(0, 0, 10, 10), box(5, 0, 15, 10, polygon=square(5, 0, 15, 10))) == pytest.approx(66 / 176)
    assert polygon_iou(box(0, 0, 10, 10), box(5, 0, 15, 10)) == pytest.approx(50 / 150)


# --- reading answers (tests/utils/test_evaluate.py) ------------------------------------------------

def _answer(frames):
    return {"success": True, "predictions": {"frames": frames}}


def test_team_fields_and_confidence():
    frames = read_frames(_answer([{"frame_id": 12, "keypoints": [], "boxes": [
        {"x1": 1, "y1": 2, "x2": 10, "y2": 20, "cls_id": 0, "cluster_id": "team1"},
        {"x1": 5, "y1": 6, "x2": 15, "y2": 26, "cls_id": 0, "team_id": 1},
        {"x1": 11, "y1": 12, "x2": 20, "y2": 30, "cls_id": 0, "team_id": 2, "conf": 0.91}]}]), ["player"])
    b = frames[12].bboxes
    assert [d.team for d in b] == ["white", "white", "black"] and b[2].score == 0.91


def test_score_wins_over_conf():
    frames = read_frames(_answer([{"frame_id": 9, "boxes": [
        {"x1": 0, "y1": 0, "x2": 10, "y2": 10, "cls_id": 0, "score": 0.77, "conf": 0.22}]}]), ["player"])
    assert frames[9].bboxes[0].score == 0.77


def test_polygons_from_points_only():
    frames = read_frames(_answer([{"frame_id": 4, "keypoints": [], "polygons": [
        {"cls_id": 0, "points": [(2, 3), (12, 3), (12, 15), (2, 15)], "conf": 0.88}]}]), ["player"])
    p = frames[4].polygons
    assert len(p) == 1 and p[0].polygon == ((2, 3), (12, 3), (12, 15), (2, 15))
    assert p[0].box == (2, 3, 12, 15) and p[0].score == 0.88


def test_cls_id_indexes_objects_and_out_of_range_drops():
    frames = read_frames(_answer([{"frame_id": 0, "boxes": [
        {"x1": 0, "y1": 0, "x2": 5, "y2": 5, "cls_id": c} for c in (0, 2, 6, 7, "x", None, -1)]}]),
        ["ball", "goalkeeper", "player", "referee"])
    assert [d.label for d in frames[0].bboxes] == ["ball", "player"]     # the retired 6/7 are dropped
    assert read_frames(_answer([{"frame_id": 0, "boxes": [{"x1": 0, "y1": 0, "x2": 5, "y2": 5, "cls_id": 0}]}]),
                       [])[0].bboxes == []                               # no objects: no boxes at all


def test_team_values():
    assert [normalize_team(v) for v in (0, 1, 2, "1", "team_2", "Team-1", "0", 3, False, "blue", "mauve")] == \
        ["white", "white", "black", "white", "black", "white", None, None, None, "blue", None]


# --- palette and smoothness ----------------------------------------------------------------------

def test_palette_is_swap_invariant_and_players_only():
    refs = [box(0, 0, 10, 20, team="white"), box(30, 0, 40, 20, team="black"), box(60, 0, 70, 20, "referee")]
    same = [box(0, 0, 10, 20, team="white"), box(30, 0, 40, 20, team="black")]
    swapped = [box(0, 0, 10, 20, team="black"), box(30, 0, 40, 20, team="white")]
    assert palette_f1(refs, same) == palette_f1(refs, swapped) == 1.0
    assert palette_f1(refs, [box(0, 0, 10, 20), box(30, 0, 40, 20)]) == 0.0     # no teams sent


def test_smoothness_groups_by_label_and_team():
    frames = {i: ReadFrame(i, [box(10 + 2 * i, 10, 30 + 2 * i, 50, team="white"), box(100, 100, 110, 110, "ball")])
              for i in range(5)}
    value, groups = smoothness(frames)
    assert set(groups) == {"player_white", "ball_null"} and groups["ball_null"] == 1.0
    assert groups["player_white"] == pytest.approx(36 * 40 / (44 * 40))       # steady motion: no jerkiness
    assert value == pytest.approx(sum(groups.values()) / 2)
    assert smoothness({0: frames[0], 1: frames[1]})[0] == 0.0                  # fewer than 3 appearances
