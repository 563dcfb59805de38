"""The evaluator end to end: gate, modes, spread, breakdown keys, CLI."""
import copy
import json
import subprocess

import numpy as np
import pytest

from clipfactory import make_clip, perfect_answer
from conftest import TVKIT
from kit.evaluate import BREAKDOWN_KEYS, evaluate, latency_score, read_answer


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    video, gt_path, gt = make_clip(d, n_frames=12)
    return video, gt_path, gt


def test_perfect_answer(clip):
    video, gt_path, gt = clip
    ev = evaluate(perfect_answer(gt), gt_path, video)
    b = ev.breakdown
    assert list(b) == list(BREAKDOWN_KEYS)
    assert ev.gate_passed and ev.n_frames_total == 12
    for k in ("placement", "categorisation", "team", "enumeration"):
        assert b[k] == 1.0
    assert 0.5 < b["tracking_stability"] < 1.0      # moving boxes: IoU between frames below 1
    assert b["keypoints"] > 0.9 and b["keypoints"] == b["floor_markings_alignment"]
    assert b["objects"] == pytest.approx(np.mean([1, 1, 1, 1, b["tracking_stability"]]))
    assert b["final"] == pytest.approx(0.85 * b["objects"] + 0.15 * b["keypoints"])


def test_gate_success_false_and_frame_count(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    ans["success"] = False
    ev = evaluate(ans, gt_path, video)
    assert not ev.gate_passed and set(ev.breakdown.values()) == {0.0}
    ans = perfect_answer(gt)
    ans["predictions"]["frames"].pop()
    ev = evaluate(ans, gt_path, video, latency_ms=500)
    assert "11 distinct frame ids for a video of 12 frames" in ev.gate_reason
    assert ev.breakdown["final"] == 0.0 and ev.breakdown["latency_score"] == pytest.approx(2 ** -0.5)


def test_duplicate_frame_ids_later_entries_win(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    broken = copy.deepcopy(ans["predictions"]["frames"][3])
    broken["boxes"] = []
    # an early wrong copy of frame 3, then the right one: the right one wins
    ans["predictions"]["frames"].insert(0, broken)
    assert evaluate(ans, gt_path, video).breakdown["placement"] == 1.0
    # the wrong copy last: frame 3 has no boxes any more
    ans = perfect_answer(gt)
    ans["predictions"]["frames"].append(broken)
    ev = evaluate(ans, gt_path, video)
    assert ev.gate_passed
    assert ev.breakdown["placement"] == pytest.approx(11 / 12)


def test_duplicates_do_not_count_twice_in_the_gate(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    ans["predictions"]["frames"][5]["frame_id"] = 4   # 12 entries, 11 distinct ids
    assert not evaluate(ans, gt_path, video).gate_passed


def test_frame_without_id_is_frame_minus_one():
    ra = read_answer({"success": True, "predictions": {"frames": [{"boxes": []}, {"frame_id": "x"}]}})
    assert list(ra.frames) == [-1]


def test_unknown_challenge_type(clip):
    video, gt_path, gt = clip
    ev = evaluate(perfect_answer(gt), gt_path, video, challenge_type="tennis")
    assert not ev.gate_passed and "tennis" in ev.gate_reason


def test_validator_mode_picks_three_consecutive_frames(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    for f in ans["predictions"]["frames"]:
        if f["frame_id"] >= 6:
            f["boxes"] = []
    a = evaluate(ans, gt_path, video, mode="validator", seed=1)
    b = evaluate(ans, gt_path, video, mode="validator", seed=1)
    assert a.scored_frames == b.scored_frames and len(a.scored_frames) == 3
    s = a.scored_frames
    assert s == list(range(s[0], s[0] + 3))
    expected = np.mean([1.0 if f < 6 else 0.0 for f in s])
    assert a.breakdown["placement"] == pytest.approx(expected)
    seeds = {tuple(evaluate(ans, gt_path, video, mode="validator", seed=k).scored_frames) for k in range(12)}
    assert len(seeds) > 2
    # the spread covers every window: 10 windows in 12 frames, from all-good to all-bad
    assert a.spread.n_windows == 10
    assert a.spread.objects["max"] > a.spread.objects["min"]
    full = evaluate(ans, gt_path, video)
    assert full.breakdown["placement"] == pytest.approx(0.5)


def test_keypoint_rules_are_reported_per_frame(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    ans["predictions"]["frames"][2]["keypoints"] = ans["predictions"]["frames"][2]["keypoints"][:31]
    ans["predictions"]["frames"][7]["keypoints"] = [[0, 0]] * 32
    ev = evaluate(ans, gt_path, video)
    assert ev.keypoint_frames[2].rule == "keypoint_count" and ev.keypoint_frames[7].rule == "too_few_points"
    assert ev.zero_reasons() == {"keypoint_count": 1, "too_few_points": 1}
    rows = {r["frame_id"]: r for r in ev.frame_table()}
    assert rows[2]["keypoints"] == 0 and rows[2]["keypoint_rule"] == "keypoint_count"
    assert rows[3]["placement"] == 1.0 and rows[3]["keypoints"] > 0.9


def test_one_and_two_threads_agree(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    assert evaluate(ans, gt_path, video, threads=1).breakdown == evaluate(ans, gt_path, video, threads=2).breakdown


def test_latency_score():
    assert latency_score(0) == 1.0 and latency_score(1) == 0.5 and latency_score(3) == 0.125


def test_cli_json_has_exactly_the_breakdown_keys(clip, tmp_path):
    video, gt_path, gt = clip
    pred = tmp_path / "p.json"
    pred.write_text(json.dumps(perfect_answer(gt)))
    r = subprocess.run([TVKIT, "evaluate", "--predictions", str(pred), "--ground-truth", str(gt_path),
                        "--video", str(video), "--json", "--latency-ms", "1000"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out) == [*BREAKDOWN_KEYS, "latency_score"] and out["latency_score"] == 0.5
    r = subprocess.run([TVKIT, "evaluate", "--predictions", str(pred), "--ground-truth", str(gt_path),
                        "--video", str(video), "--mode", "validator", "--seed", "3"], capture_output=True, text=True)
    assert r.returncode == 0 and "mode validator" in r.stdout and "windows" in r.stdout


def test_cli_errors(clip, tmp_path):
    video, gt_path, _ = clip
    r = subprocess.run([TVKIT, "evaluate", "--predictions", str(tmp_path / "none.json"), "--ground-truth",
                        str(gt_path), "--video", str(video)], capture_output=True, text=True)
    assert r.returncode == 2 and "no such predictions file" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = subprocess.run([TVKIT, "evaluate", "--predictions", str(bad), "--ground-truth", str(gt_path),
                        "--video", str(tmp_path / "none.mp4")], capture_output=True, text=True)
    assert r.returncode == 2 and "line 1, column 2" in r.stderr


def test_perturbations_cost_what_they_should(clip):
    from kit.evaluate.perturb import perturbed_answer

    video, gt_path, gt = clip
    base = evaluate(perturbed_answer(gt), gt_path, video).breakdown
    swapped = evaluate(perturbed_answer(gt, swap_teams=True), gt_path, video).breakdown
    assert swapped == base  # the validator scores both team mappings
    missed = evaluate(perturbed_answer(gt, miss_rate=0.5, seed=3), gt_path, video).breakdown
    assert missed["enumeration"] < 0.9 and missed["final"] < base["final"]
    shaky = evaluate(perturbed_answer(gt, keypoint_jitter_px=6, seed=1), gt_path, video).breakdown
    assert shaky["keypoints"] < base["keypoints"] - 0.01  # 23 points average the jitter out: a small loss
    assert evaluate(perturbed_answer(gt, seed=5), gt_path, video).breakdown == base  # no knobs, no damage


def test_report_pictures_and_page(clip, tmp_path):
    from kit.evaluate.perturb import perturbed_answer
    from kit.evaluate.report import compare_figure, load_breakdown, write_report

    video, gt_path, gt = clip
    ans = perturbed_answer(gt, keypoint_jitter_px=5, miss_rate=0.2, seed=2)
    ev = evaluate(ans, gt_path, video)
    page = write_report(ev, ans, gt_path, video, tmp_path / "rep")
    names = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {"index.html", "components.png", "timeline.png", "evaluation.json"} <= names
    assert any(n.startswith("objects_") for n in names) and any(n.startswith("keypoints_") for n in names)
    text = page.read_text()
    assert "Evaluation (full mode)" in text and f"{ev.breakdown['final']:.4f}" in text
    earlier = load_breakdown(tmp_path / "rep")
    assert earlier == ev.breakdown
    fig = compare_figure(ev.breakdown, {**earlier, "final": earlier["final"] - 0.1})
    assert fig.axes[0].get_title() == "score change"


def test_explorer_builds_headless(clip):
    from kit.evaluate.perturb import perturbed_answer
    from kit.evaluate.report import explorer

    video, gt_path, gt = clip
    ans = perturbed_answer(gt)
    ev = evaluate(ans, gt_path, video)
    box = explorer(ev, ans, gt, video)
    slider, caption, image = box.children
    slider.value = 5
    assert "frame 5" in caption.value and "placement 1.000" in caption.value
    assert image.value[:4] == b"\x89PNG"


def test_damage_knobs_are_independent(clip):
    from kit.evaluate.perturb import perturbed_answer

    _, _, gt = clip
    a = perturbed_answer(gt, seed=4, keypoint_jitter_px=3)
    b = perturbed_answer(gt, seed=4, keypoint_jitter_px=3, miss_rate=0.5)
    kps = lambda ans: [f["keypoints"] for f in ans["predictions"]["frames"]]
    assert kps(a) == kps(b)  # missing boxes does not reshuffle the keypoint noise
