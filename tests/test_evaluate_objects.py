"""SCORING.md's object rules, each pinned by a small hand-computed case."""
import pytest

from kit.evaluate.objects import (
    Box, f1_scores, frame_objects, iou_matrix, read_box, read_boxes, team_labels, team_score, tracking_stability,
    UnreadableBox,
)

P, G, R, BALL = 2, 1, 3, 0


def box(x1, y1, x2, y2, otype=P, team=None):
    return Box(x1, y1, x2, y2, otype, team)


# --- reading ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, otype, team", [
    ({"cls_id": 6}, P, 1),
    ({"cls_id": 7}, P, 2),
    ({"cls_id": "3"}, R, None),
    ({"cls_id": 2.9}, P, None),          # int(2.9) == 2
    ({"cls_id": 1.2}, G, None),
    ({"cls_id": "2.5"}, P, None),        # int("2.5") fails: player, no team
    ({"cls_id": 5}, P, None),            # not in the list: player, no team
    ({}, P, None),                       # missing: player, no team
    ({"cls_id": 2, "team": " Team1 "}, P, 1),
    ({"cls_id": 2, "team": "2"}, P, 2),
    ({"cls_id": 2, "team": "red"}, P, None),
    ({"cls_id": 2, "team": "", "team_id": "team2"}, P, 2),   # empty team: team_id is read
    ({"cls_id": 2, "team_id": "1"}, P, 1),
    ({"cls_id": 3, "team": "1"}, R, 1),  # cls 0-3 read the team field too
    ({"cls_id": 6, "team": "2"}, P, 1),  # 6 and 7 carry their team in the class
    ({"cls_id": "x", "team": "2"}, P, None),  # unknown class: a player with no team, full stop
])
def test_class_and_team_reading(raw, otype, team):
    b = read_box({"x1": 0, "y1": 0, "x2": 5, "y2": 5, **raw})
    assert (b.otype, b.team) == (otype, team)


def test_a_box_with_an_integer_team_is_unreadable():
    with pytest.raises(UnreadableBox):
        read_box({"x1": 0, "y1": 0, "x2": 5, "y2": 5, "cls_id": 2, "team": 1})
    with pytest.raises(UnreadableBox):
        read_box({"x1": 0, "y1": 0, "x2": 5, "y2": 5, "cls_id": 2, "team_id": 2})


def test_coordinates_are_read_with_int_and_bad_boxes_dropped():
    boxes = read_boxes([
        {"x1": "10", "y1": 2.7, "x2": 20.9, "y2": 30, "cls_id": 2},
        {"x1": "1.5", "y1": 0, "x2": 5, "y2": 5, "cls_id": 2},     # int("1.5") fails
        {"y1": 0, "x2": 5, "y2": 5, "cls_id": 2},                  # missing x1
        {"x1": None, "y1": 0, "x2": 5, "y2": 5, "cls_id": 2},
        {"x1": float("nan"), "y1": 0, "x2": 5, "y2": 5, "cls_id": 2},
        "not a box",
    ])
    assert boxes == [Box(10, 2, 20, 30, P, None)]
    assert read_boxes(None) == []


# --- IoU and F1 --------------------------------------------------------------------------------

def test_iou_rules():
    a = [box(0, 0, 10, 10)]
    assert iou_matrix(a, [box(0, 0, 10, 10)])[0, 0] == 1
    assert iou_matrix(a, [box(5, 0, 15, 10)])[0, 0] == pytest.approx(50 / 150)
    assert iou_matrix(a, [box(10, 0, 20, 10)])[0, 0] == 0          # touching: no intersection
    assert iou_matrix(a, [box(20, 20, 30, 30)])[0, 0] == 0
    # an inverted box has area 0; its "intersection" clamps at 0
    assert iou_matrix(a, [box(10, 10, 0, 0)])[0, 0] == 0
    assert iou_matrix([box(5, 5, 5, 5)], [box(5, 5, 5, 5)])[0, 0] == 0  # union not positive


def test_f1_empty_sides():
    assert f1_scores([], [], (0.3, 0.5)) == [1.0, 1.0]
    assert f1_scores([box(0, 0, 1, 1)], [], (0.3,)) == [0.0]
    assert f1_scores([], [box(0, 0, 1, 1)], (0.3,)) == [0.0]


def test_f1_thresholds_and_counts():
    gt = [box(0, 0, 10, 10), box(100, 100, 110, 110)]
    pred = [box(0, 0, 10, 4)]              # IoU 0.4 with the first
    f03, f05 = f1_scores(gt, pred, (0.3, 0.5))
    assert f03 == pytest.approx(2 / 3)    # TP 1, FP 0, FN 1
    assert f05 == 0.0                      # TP 0, FP 1, FN 2
    fo = frame_objects(0, gt, pred)
    assert fo.placement == pytest.approx(1 / 3) and fo.enumeration == pytest.approx(2 / 3)


def test_hungarian_maximises_total_iou():
    # the optimal pairing is gt 0 - pred 1 (IoU 1) and gt 1 - pred 0 (IoU 0.67): both count at 0.5
    gt = [box(0, 0, 10, 10), box(4, 0, 14, 10)]
    pred = [box(2, 0, 12, 10), box(0, 0, 10, 10)]
    f = f1_scores(gt, pred, (0.5,))
    assert f == [1.0]


def test_label_mismatch_zeroes_categorisation_only():
    gt = [box(0, 0, 10, 10, P, 1)]
    pred = [box(0, 0, 10, 10, R)]
    fo = frame_objects(0, gt, pred)
    assert fo.placement == 1 and fo.enumeration == 1 and fo.categorisation == 0
    assert fo.team == 0  # the miner has no player: one side empty


# --- teams ----------------------------------------------------------------------------------------

def players(*teams):
    return [box(i * 20, 0, i * 20 + 10, 10, P, t) for i, t in enumerate(teams)]


def test_team_swap_scores_full_marks():
    gt = players(1, 1, 2)
    miner = players(2, 2, 1)  # the miner's "team 1" is the ground truth's team 2
    assert team_score(gt, miner) == 1.0


def test_team_labels_by_frequency_ties_first_seen():
    assert team_labels(players(2, 1, 1)) == (1, 2)
    assert team_labels(players(2, 1)) == (2, 1)          # tie: first seen first
    assert team_labels(players(1, 1)) == (1, None)       # one label: the second is "no team"
    assert team_labels(players(None, None, 1)) == (None, 1)


def test_team_no_team_is_a_label_like_any_other():
    gt = players(None, None, 1)
    # miner: team 1 -> first label ("no team"), team 2 -> second (1)
    assert team_score(gt, players(1, 1, 2)) == 1.0
    # team-less miner players map to "no team": two right, one wrong
    s = team_score(gt, players(None, None, None))
    assert s == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # TP 2, FP 1, FN 1 at both thresholds


def test_team_only_counts_players_and_empty_sides():
    assert team_score([box(0, 0, 5, 5, R)], [box(0, 0, 5, 5, BALL)]) == 1.0  # no players either side
    assert team_score(players(1), []) == 0.0
    assert team_score([], players(1)) == 0.0


# --- tracking stability ----------------------------------------------------------------------------

def test_smoothness_hand_computed():
    frames = {0: [box(0, 0, 10, 10)], 1: [box(0, 0, 10, 10)], 2: [box(0, 0, 10, 20)]}
    # IoUs [1, 0.5]: mean 0.75, jerkiness 0.5 -> 0.5
    score, groups = tracking_stability(frames)
    assert score == pytest.approx(0.5) and groups == {(P, None): pytest.approx(0.5)}


def test_group_on_one_or_two_frames_scores_zero():
    score, groups = tracking_stability({0: [box(0, 0, 10, 10)], 5: [box(0, 0, 10, 10, R)], 6: [box(0, 0, 10, 10, R)]})
    assert groups == {(P, None): 0.0, (R, None): 0.0} and score == 0.0
    assert tracking_stability({}) == (0.0, {})


def test_frames_without_the_group_are_skipped_not_empty():
    frames = {0: [box(0, 0, 10, 10)], 1: [], 2: [box(0, 0, 10, 10)], 3: [box(0, 0, 10, 10)]}
    assert tracking_stability(frames)[0] == 1.0


def test_groups_split_by_type_and_team():
    frames = {i: [box(0, 0, 10, 10, P, 1), box(50, 0, 60, 10, P, 2)] for i in range(3)}
    frames[1] = [box(0, 0, 10, 10, P, 1)]  # team 2 skips frame 1
    _, groups = tracking_stability(frames)
    assert groups == {(P, 1): 1.0, (P, 2): 0.0}  # team 2: one pair only


def test_negative_coordinates_index_from_the_end_of_the_canvas():
    # mask[0:10, -10:50] on a 960-wide canvas is empty (start 950 > stop 50)
    frames = {0: [box(0, 0, 10, 10)], 1: [box(-10, 0, 50, 10)], 2: [box(0, 0, 10, 10)]}
    assert tracking_stability(frames)[0] == 0.0  # IoUs [0, 0]
    # all empty: IoU 1 between empty masks
    frames = {i: [box(-10, 0, 50, 10)] for i in range(3)}
    assert tracking_stability(frames)[0] == 1.0
    # negative stop: mask[0:10, 900:-50] paints columns 900..909
    frames = {0: [box(900, 0, -50, 10)], 1: [box(900, 0, 910, 10)], 2: [box(900, 0, 910, 10)]}
    assert tracking_stability(frames)[0] == 1.0


def test_canvas_is_540_by_960_whatever_the_frame():
    # boxes past the edge clip: (950, 530)-(2000, 2000) paints the same 10 x 10 as (950, 530)-(960, 540)
    frames = {0: [box(950, 530, 2000, 2000)], 1: [box(950, 530, 960, 540)], 2: [box(950, 530, 5000, 541)]}
    assert tracking_stability(frames)[0] == 1.0
    # beyond the canvas entirely: empty masks on both sides, IoU 1
    frames = {i: [box(1000, 600, 1100, 700)] for i in range(3)}
    assert tracking_stability(frames)[0] == 1.0


def test_ascending_frame_order_including_minus_one():
    frames = {2: [box(0, 0, 10, 20)], -1: [box(0, 0, 10, 10)], 1: [box(0, 0, 10, 10)]}
    # order -1, 1, 2 -> IoUs [1, 0.5] -> 0.5
    assert tracking_stability(frames)[0] == pytest.approx(0.5)
