"""The evaluator end to end: elements of a manifest, the answer gate, gates, RTF, modes, CLI, report."""
import copy
import json
import subprocess

import pytest

from kit import KitError
from kit.contract import load_ground_truth, save_ground_truth
from kit.evaluate import evaluate, format_breakdown
from kit.evaluate.perturb import perturbed_answer
from kit.manifest import example_manifest, parse_manifest

from clipfactory import make_clip, perfect_answer
from conftest import TVKIT

PD, BALL, PITCH = "PlayerDetect_v1@1.0", "DetectBall_v1@1.0", "PitchCalib_v1@1.0"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    video, gt_path, gt = make_clip(d, n_frames=12)
    return video, gt_path, gt


def manifest_with(**elements):
    """A manifest of the given id -> (objects, pillars, extra) elements."""
    els = [{"id": eid, "objects": objs, "metrics": {"pillars": pillars}, **extra}
           for eid, (objs, pillars, extra) in elements.items()]
    return parse_manifest({"window_id": "t", "version": 1.3, "expiry_block": 1, "tee": {"trusted_share_gamma": 0},
                           "elements": els})


def test_perfect_answer_per_element(clip):
    video, gt_path, gt = clip
    ev = evaluate(perfect_answer(gt), gt_path, video)
    assert ev.gate_passed and list(ev.elements) == [PD, BALL, PITCH]
    pd = ev.elements[PD]
    for k in ("iou", "count", "palette", "role", "map50", "false_positive"):
        assert pd.pillars[k].raw == 1.0, k
    assert 0.5 < pd.pillars["smoothness"].raw < 1.0     # moving boxes: IoU between frames below 1
    assert pd.score == pytest.approx(sum(p.raw * p.weight for p in pd.pillars.values()))
    assert pd.gated == pytest.approx(pd.score - 0.3) and pd.final == pd.gated
    assert ev.elements[PITCH].pillars["iou"].raw > 0.9   # PitchCalib's iou is the keypoint metric
    assert ev.final == pytest.approx(sum(es.final for es in ev.elements.values()) / 3)
    b = ev.breakdown
    assert b["final"] == ev.final and b[f"{PD}/iou"] == 1.0 and b[f"{PITCH}/final"] == ev.elements[PITCH].final
    assert "S = " in format_breakdown(ev) and "EXAMPLE" in format_breakdown(ev)


def test_answer_gate(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    ans["success"] = False
    ev = evaluate(ans, gt_path, video)
    assert not ev.gate_passed and ev.final == 0.0 and all(es.final == 0.0 for es in ev.elements.values())
    ans = perfect_answer(gt)
    ans["predictions"]["frames"] = ans["predictions"]["frames"][:2]
    ev = evaluate(ans, gt_path, video)
    assert "fewer than min_frames_required 3" in ev.gate_reason and ev.final == 0.0
    assert evaluate(ans, gt_path, video, min_frames_required=2).gate_passed   # a partial answer is scored
    ans = perfect_answer(gt)
    ans["predictions"]["frames"].append(copy.deepcopy(ans["predictions"]["frames"][0]))   # 13 entries, 12 frames
    ev = evaluate(ans, gt_path, video)
    assert "more than the video's 12" in ev.gate_reason


def test_duplicate_frame_ids_later_entries_win(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    frames = ans["predictions"]["frames"]
    broken = copy.deepcopy(frames[3])
    broken["boxes"] = []
    frames[4] = broken | {"frame_id": 3}              # frame 3 twice (right, then empty); frame 4 unanswered
    ev = evaluate(ans, gt_path, video, elements=[PD])
    rows = {r.frame_id: r for r in ev.elements[PD].frames}
    assert rows[3].values["iou"] == 0.0 and rows[4].values["iou"] == 0.0 and rows[5].values["iou"] == 1.0


def test_retired_team_classes_are_dropped(clip):
    """Players sent as the retired classes 6/7 index nothing in PlayerDetect's objects: dropped."""
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    for fr in ans["predictions"]["frames"]:
        for b in fr["boxes"]:
            if b.get("team_id") in (1, 2):
                b["cls_id"] = 5 + b.pop("team_id")
    pd = evaluate(ans, gt_path, video, elements=[PD]).elements[PD]
    assert pd.pillars["palette"].raw == 0.0 and pd.pillars["iou"].raw < 0.6 and pd.final < 0.4


def test_rtf_latency_gate(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    ok = evaluate(ans, gt_path, video, elements=[PITCH], latency_ms=2000)     # 2000/10000 x 25/5 = 1.0: passes
    assert ok.elements[PITCH].rtf == pytest.approx(1.0) and ok.final > 0.5
    slow = evaluate(ans, gt_path, video, elements=[PITCH], latency_ms=2001)
    assert not slow.elements[PITCH].latency_pass and slow.final == 0.0 and slow.elements[PITCH].gated > 0.5


def test_element_choice_and_errors(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    assert list(evaluate(ans, gt_path, video, elements=[BALL]).elements) == [BALL]
    with pytest.raises(KitError, match="did you mean 'PitchCalib_v1@1.0'"):
        evaluate(ans, gt_path, video, elements=["PitchCalib_v1@2.0"])
    bad = manifest_with(**{"PitchCalib_x": (None, {"count": 1.0}, {"keypoint_template": "football"})})
    with pytest.raises(KitError, match="no metric for pillar 'count' in category PitchCalib"):
        evaluate(ans, gt_path, video, manifest=bad)
    no_template = manifest_with(**{"PlayerDetect_x": (["player"], {"keypoints_iou": 1.0}, {})})
    with pytest.raises(KitError, match="keypoint_template: football"):
        evaluate(ans, gt_path, video, manifest=no_template)


def test_same_pillar_name_means_different_metrics_per_category(clip):
    video, gt_path, gt = clip
    m = manifest_with(**{"PlayerDetect_kp": (["ball", "goalkeeper", "player", "referee"],
                                             {"keypoints_iou": 0.5, "iou": 0.5},
                                             {"keypoint_template": "football"}),
                         "PitchCalib_kp": (None, {"iou": 1.0}, {"keypoint_template": "football"})})
    ans = perturbed_answer(gt, keypoint_jitter_px=4, seed=1)
    ev = evaluate(ans, gt_path, video, manifest=m)
    kp = ev.elements["PitchCalib_kp"].pillars["iou"].raw
    assert ev.elements["PlayerDetect_kp"].pillars["keypoints_iou"].raw == kp
    assert ev.elements["PlayerDetect_kp"].pillars["iou"].raw == 1.0 != kp


def test_validator_mode_picks_three_consecutive_frames(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    for fr in ans["predictions"]["frames"]:
        if fr["frame_id"] % 2:
            fr["boxes"] = []
    ev = evaluate(ans, gt_path, video, elements=[PD], mode="validator", seed=3)
    s = ev.scored_frames
    assert len(s) == 3 and s == list(range(s[0], s[0] + 3))
    assert evaluate(ans, gt_path, video, elements=[PD], mode="validator", seed=3).scored_frames == s
    pd = ev.elements[PD]
    assert pd.spread.n_windows == 10 and pd.spread.final["min"] < pd.spread.final["max"]
    assert pd.pillars["iou"].raw == pytest.approx(sum(1 for f in s if f % 2 == 0) / 3)


def test_keypoint_rules_are_reported_per_frame(clip):
    video, gt_path, gt = clip
    ans = perfect_answer(gt)
    ans["predictions"]["frames"][2]["keypoints"] = ans["predictions"]["frames"][2]["keypoints"][:31]
    ans["predictions"]["frames"][7]["keypoints"] = [[0, 0]] * 32
    ev = evaluate(ans, gt_path, video, elements=[PITCH])
    assert ev.keypoint_frames[2].rule == "keypoint_count" and ev.keypoint_frames[7].rule == "too_few_points"
    assert ev.zero_reasons() == {"keypoint_count": 1, "too_few_points": 1}
    rows = {r["frame_id"]: r for r in ev.elements[PITCH].frame_table()}
    assert rows[2]["keypoints"] == 0 and rows[2]["keypoint_rule"] == "keypoint_count" and rows[3]["keypoints"] > 0.9


def test_one_and_two_threads_agree(clip):
    video, gt_path, gt = clip
    ans = perturbed_answer(gt, box_jitter_px=2, keypoint_jitter_px=3, seed=2)
    assert evaluate(ans, gt_path, video, threads=1).breakdown == evaluate(ans, gt_path, video, threads=2).breakdown


def test_perturbations_cost_what_they_should(clip):
    video, gt_path, gt = clip
    base = evaluate(perturbed_answer(gt), gt_path, video).breakdown
    assert evaluate(perturbed_answer(gt, swap_teams=True), gt_path, video).breakdown == base  # both team mappings
    missed = evaluate(perturbed_answer(gt, miss_rate=0.5, seed=3), gt_path, video).breakdown
    assert missed[f"{PD}/count"] < 0.9 and missed[f"{PD}/map50"] < 0.9 and missed["final"] < base["final"]
    noisy = evaluate(perturbed_answer(gt, false_positives=3, seed=3), gt_path, video).breakdown
    assert noisy[f"{PD}/false_positive"] < 0.9 and noisy[f"{BALL}/map50"] == 1.0   # spurious boxes are players
    shaky = evaluate(perturbed_answer(gt, keypoint_jitter_px=6, seed=1), gt_path, video).breakdown
    assert shaky[f"{PITCH}/iou"] < base[f"{PITCH}/iou"] - 0.01
    assert evaluate(perturbed_answer(gt, seed=5), gt_path, video).breakdown == base  # no knobs, no damage


def test_polygon_ground_truth(clip, tmp_path):
    video, gt_path, _ = clip
    gt = load_ground_truth(gt_path)
    from kit.contract import GTPolygon

    for f in gt.frames:
        b = next(b for b in f.boxes if b.cls_id == 3)   # the referee as a mask outline instead of a box
        f.boxes.remove(b)
        f.polygons.append(GTPolygon([[int(b.x1), int(b.y1)], [int(b.x2), int(b.y1)], [int(b.x2), int(b.y2)],
                                     [int(b.x1), int(b.y2)]], "referee"))
    path = save_ground_truth(gt, tmp_path / "poly.json")
    assert load_ground_truth(path).frames[0].polygons[0].label == "referee"
    ans = perfect_answer(load_ground_truth(gt_path))     # boxes for everyone: the referee's mask counts as its box
    pd = evaluate(ans, path, video, elements=[PD]).elements[PD]
    assert pd.pillars["iou"].raw == 1.0 and pd.pillars["map50"].raw == 1.0


def test_cli_json_and_text(clip, tmp_path):
    video, gt_path, gt = clip
    pred = tmp_path / "p.json"
    pred.write_text(json.dumps(perfect_answer(gt)))
    base = [TVKIT, "evaluate", "--predictions", str(pred), "--ground-truth", str(gt_path), "--video", str(video)]
    r = subprocess.run(base + ["--json", "--element", PD, "--element", PITCH, "--latency-ms", "100"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out["elements"]) == [PD, PITCH] and 0 < out["final"] <= 1
    pd = out["elements"][PD]
    assert set(pd["pillars"]) == set(example_manifest().element(PD).pillars) and pd["pillars"]["iou"] == 1.0
    assert {"score", "gated", "final", "rtf"} <= set(pd) and pd["rtf"] == pytest.approx(0.05)
    r = subprocess.run(base + ["--mode", "validator", "--seed", "3"], capture_output=True, text=True)
    assert r.returncode == 0 and "mode validator" in r.stdout and "windows" in r.stdout


def test_cli_errors(clip, tmp_path):
    video, gt_path, gt = clip
    r = subprocess.run([TVKIT, "evaluate", "--predictions", str(tmp_path / "none.json"), "--ground-truth",
                        str(gt_path), "--video", str(video)], capture_output=True, text=True)
    assert r.returncode == 2 and "no such predictions file" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = subprocess.run([TVKIT, "evaluate", "--predictions", str(bad), "--ground-truth", str(gt_path),
                        "--video", str(tmp_path / "none.mp4")], capture_output=True, text=True)
    assert r.returncode == 2 and "line 1, column 2" in r.stderr
    pred = tmp_path / "p.json"
    pred.write_text(json.dumps(perfect_answer(gt)))
    r = subprocess.run([TVKIT, "evaluate", "--predictions", str(pred), "--ground-truth", str(gt_path), "--video",
                        str(video), "--element", "PlayerDetect"], capture_output=True, text=True)
    assert r.returncode == 2 and "did you mean 'PlayerDetect_v1@1.0'" in r.stderr


def test_report_pictures_and_page(clip, tmp_path):
    from kit.evaluate.report import compare_figure, load_breakdown, write_report

    video, gt_path, gt = clip
    ans = perturbed_answer(gt, keypoint_jitter_px=5, miss_rate=0.2, seed=2)
    ans["predictions"]["frames"][4]["keypoints"] = [[0, 0]] * 32
    ev = evaluate(ans, gt_path, video)
    page = write_report(ev, ans, gt_path, video, tmp_path / "rep")
    names = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {"index.html", "components.png", "timeline.png", "evaluation.json"} <= names
    assert any(n.startswith("objects_") for n in names) and any(n.startswith("keypoints_") for n in names)
    text = page.read_text()
    assert f"final {ev.final:.4f}" in text and "to baseline" in text and "too_few_points" in text
    earlier = load_breakdown(tmp_path / "rep")
    assert earlier == ev.breakdown
    fig = compare_figure(ev.breakdown, {**earlier, "final": earlier["final"] - 0.1})
    assert fig.axes[0].get_title() == "score change"
    frames = json.loads((tmp_path / "rep" / "evaluation.json").read_text())["elements"][PD]["frames"]
    assert {"iou", "tp", "fp", "fn"} <= set(frames[0])


def test_explorer_builds_headless(clip):
    from kit.evaluate.report import explorer

    video, gt_path, gt = clip
    ans = perturbed_answer(gt)
    ev = evaluate(ans, gt_path, video)
    box = explorer(ev, ans, gt, video)
    slider, caption, image = box.children
    slider.value = 5
    assert "frame 5" in caption.value and "iou 1.00" in caption.value and "keypoints" in caption.value
    assert image.value[:4] == b"\x89PNG"


def test_damage_knobs_are_independent(clip):
    _, _, gt = clip
    a = perturbed_answer(gt, seed=4, keypoint_jitter_px=3)
    b = perturbed_answer(gt, seed=4, keypoint_jitter_px=3, miss_rate=0.5)
    def kps(ans):
        return [f["keypoints"] for f in ans["predictions"]["frames"]]

    assert kps(a) == kps(b)  # missing boxes does not reshuffle the keypoint noise


def test_answers_name_classes_by_the_elements_objects(clip):
    _, _, gt = clip
    ans = perturbed_answer(gt, objects=["ball"])
    assert {b["cls_id"] for f in ans["predictions"]["frames"] for b in f["boxes"]} == {0}
    players = [b for f in perturbed_answer(gt)["predictions"]["frames"] for b in f["boxes"] if b["cls_id"] == 2]
    assert {b.get("team_id") for b in players} == {1, 2}
