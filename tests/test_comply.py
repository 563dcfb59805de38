"""kit.comply: the validator's compliance loop, locally.

Crafted bundles, one per rule, each with the verdict and rule upstream would give; the
sandbox's limits seen from inside the worker; latency and parity verdicts; the CLI; the
packaged reference bundle. Tiny miners (a few lines, a 1-node ONNX model built with `onnx`)
keep this file fast; the reference bundle runs only in the slow test.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kit import KitError
from kit.comply import VERDICTS, check_repo, comply, format_report
from kit.comply.core import p95
from kit.comply.parity import compare_frames, is_soft_drift
from kit.comply.sandbox import Policy, Worker

from conftest import TVKIT

MINER = '''
from pathlib import Path
import numpy as np
from pydantic import BaseModel

class Box(BaseModel):
    x1: int
    y1: int
    x2: int
    y2: int
    cls_id: int
    conf: float

class FrameResult(BaseModel):
    frame_id: int
    boxes: list[Box]
    keypoints: list[list[int]]

class Miner:
    def __init__(self, path_hf_repo: Path):
        self.path = Path(path_hf_repo)
        assert (self.path / "model.onnx").is_file()

    def predict_batch(self, batch_images: list[np.ndarray], offset: int, n_keypoints: int) -> list[FrameResult]:
        out = []
        for i, img in enumerate(batch_images):
            h, w = img.shape[:2]
            k = int(img.mean()) % 7
            out.append(FrameResult(frame_id=offset + i, boxes=[Box(x1=k, y1=k, x2=w // 2, y2=h // 2, cls_id=2,
                                                                 conf=0.9)],
                                   keypoints=[[0, 0]] * n_keypoints))
        return out
'''


def tiny_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(graph), str(path))
    return path


def bundle(root: Path, miner: str = MINER, name: str = "b") -> Path:
    b = root / name
    b.mkdir()
    (b / "miner.py").write_text(miner)
    (b / "chute_config.yml").write_text("Image: {}\n")
    tiny_onnx(b / "model.onnx")
    return b


def edit(old: str, new: str) -> str:
    assert old in MINER, "the edit did not apply: the test would prove nothing"
    return MINER.replace(old, new, 1)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three small images (image challenges) and one 12-frame video."""
    import cv2
    import numpy as np

    d = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(d / f"img{i}.png"), rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    v = tmp_path_factory.mktemp("video") / "clip.mp4"
    w = cv2.VideoWriter(str(v), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(12):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()
    return d, v


# --- repo rules: one crafted bundle per rule -------------------------------------------------

def _add_png(b):
    (b / "pitch_template.png").write_bytes(b"\x89PNG")


def _add_pt(b):
    (b / "weights.pt").write_bytes(b"\0" * 10)


def _big(b):
    with (b / "padding.onnx").open("wb") as f:   # sparse: 31 MiB on paper
        f.truncate(31 * 1024 * 1024)


def _no_onnx(b):
    (b / "model.onnx").unlink()


def _symlink_out(b):
    (b / "secret.txt").symlink_to("/etc/hostname")


def _huge_miner(b):
    (b / "miner.py").write_text(MINER + "#" * (1024 * 1024) + "\n")


CASES = [
    ("png", _add_png, None, "unsupported_artifact_suffix", "pitch_template.png", None),
    ("pt", _add_pt, None, "disallowed_binary_artifact", "weights.pt", None),
    ("open", None, edit("        out = []\n", "        out = []\n        open('/etc/hostname')\n"),
     "disallowed_call", "miner.py", "open("),
    ("socket", None, edit("import numpy as np\n", "import numpy as np\nimport socket\n"), "disallowed_import",
     "miner.py", "import socket"),
    ("from-urllib", None, edit("import numpy as np\n", "import numpy as np\nfrom urllib.request import urlopen\n"),
     "disallowed_import", "miner.py", "from urllib"),
    ("os.system", None, edit("        out = []\n", "        import os\n        os.system('true')\n        out = []\n"),
     "disallowed_call", "miner.py", "os.system"),
    ("over-30-MiB", _big, None, "repo_size_exceeded", ".", None),
    ("no-onnx", _no_onnx, None, "no_onnx_model_found", ".", None),
    ("symlink-out", _symlink_out, None, "symlink_escapes_repo", "secret.txt", None),
    ("miner-too-large", _huge_miner, None, "miner_py_too_large", "miner.py", None),
    ("no-Miner", None, edit("class Miner:", "class NotMiner:"), "missing_miner_class", "miner.py", None),
    ("signature", None, edit("offset: int, n_keypoints: int)", "offset: int)"), "predict_batch_signature_invalid",
     "miner.py", "def predict_batch"),
    ("syntax", None, MINER + "\ndef broken(:\n", "miner_py_unparseable", "miner.py", "def broken"),
]


@pytest.mark.parametrize("name,change,source,rule,file,line", CASES, ids=[c[0] for c in CASES])
def test_each_broken_rule_fails_with_its_name_file_and_line(tmp_path, name, change, source, rule, file, line):
    b = bundle(tmp_path, source or MINER)
    if change:
        change(b)
    findings = check_repo(b)
    assert findings and findings[0].rule == rule, [str(f) for f in findings]
    want = None if line is None else 1 + (b / "miner.py").read_text().splitlines().index(
        next(x for x in (b / "miner.py").read_text().splitlines() if line in x))
    assert (findings[0].file, findings[0].line) == (file, want), str(findings[0])
    report = comply(b, clips=None)   # the rules stop it before anything runs: no clips needed
    assert (report.verdict, report.rule) == ("FAIL_OUTPUT", rule)
    assert report.parity is None and rule in format_report(report)


def test_a_good_bundle_breaks_no_rule_and_every_finding_reads_well(tmp_path):
    assert check_repo(bundle(tmp_path)) == []
    b = bundle(tmp_path, MINER.replace("import numpy as np\n", "import numpy as np\nimport socket\n"), "c")
    _add_png(b)
    text = [str(f) for f in check_repo(b)]
    assert text[0].startswith("[unsupported_artifact_suffix] pitch_template.png:") and \
        text[1].startswith("[disallowed_import] miner.py:4:")


def test_element_limits_come_from_the_manifest(tmp_path):
    b = bundle(tmp_path)
    (b / "notes.txt").write_bytes(b"x" * (2 * 1024 * 1024))
    assert [f.rule for f in check_repo(b, max_model_size_mb=1)] == ["hf_repo_size_exceeds_max"]
    with pytest.raises(KitError, match="did you mean"):
        comply(b, element="PlayerDetect_v1@1.1")


# --- the replay: verdicts -----------------------------------------------------------------

def test_a_compliant_miner_passes(tmp_path, clips):
    r = comply(bundle(tmp_path), clips=clips[0])
    assert r.verdict == "PASS" and r.rule is None and r.ok, format_report(r)
    assert r.parity.accepted == 3 and r.parity.mean_iou == 1.0 and r.parity.nondeterministic_frames() == []
    assert len(r.latency.calls_ms) == 3 and r.latency.p95_ms == p95(r.latency.calls_ms)
    m = r.metrics()
    assert m["comply_verdict"] == "PASS" and m["comply_challenges"] == 3
    assert json.loads(json.dumps(r.as_dict()))["latency"]["budget_ms"] == 110.0


def test_video_mode_replays_the_chute_batches_and_does_not_judge_latency(tmp_path, clips):
    r = comply(bundle(tmp_path, edit("        out = []\n", "        import time\n        time.sleep(0.2)\n"
                                                             "        out = []\n")), clips=clips[1], mode="video")
    assert r.verdict == "PASS" and not r.latency.judged and r.latency.p95_ms > r.latency.budget_ms
    assert r.parity.challenges[0].compare["frames_compared"] == 12


def test_a_miner_slower_than_the_budget_is_pending_then_failing(tmp_path, clips):
    slow = bundle(tmp_path, edit("        out = []\n",
                                 "        import time\n        time.sleep(0.3)\n        out = []\n"))
    r = comply(slow, clips=clips[0], max_challenges=2)
    assert (r.verdict, r.rule) == ("PENDING_LATENCY", "latency_p95") and r.latency.p95_ms > 110
    r = comply(slow, clips=clips[0], max_challenges=2, previous_latency_failures=2)
    assert (r.verdict, r.rule) == ("FAIL_LATENCY", "latency_p95")


def test_answers_unlike_the_chutes_fail_output_and_name_the_frames(tmp_path, clips):
    b = bundle(tmp_path)
    answers = tmp_path / "answers"
    answers.mkdir()
    for i in range(3):   # the chute answered a different box on every image
        (answers / f"img{i}.json").write_text(json.dumps({"success": True, "predictions": {"frames": [
            {"frame_id": 0, "boxes": [{"x1": 30, "y1": 30, "x2": 60, "y2": 45, "cls_id": 2}], "keypoints": []}]}}))
    r = comply(b, clips=clips[0], chute_answers=answers)
    assert (r.verdict, r.rule) == ("FAIL_OUTPUT", "iou_mismatch"), format_report(r)
    assert [(c, f) for c, f, _ in r.parity.nondeterministic_frames()] == [("img0", 0), ("img1", 0), ("img2", 0)]


def test_missing_chute_answers_are_bad_input_with_a_hint(tmp_path, clips):
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "img_0.json").write_text("[]")
    with pytest.raises(KitError, match="did you mean img_0.json"):
        comply(bundle(tmp_path), clips=clips[0], chute_answers=answers)


def test_a_miner_that_crashes_or_hangs_fails_output(tmp_path, clips):
    crash = bundle(tmp_path, edit("        out = []\n", "        raise RuntimeError('boom')\n"))
    r = comply(crash, clips=clips[0], chute_answers=_same_answers(tmp_path))
    assert (r.verdict, r.rule) == ("FAIL_OUTPUT", "worker_infer_error") and "boom" in r.reason
    hang = bundle(tmp_path, edit("        out = []\n", "        import time\n        time.sleep(30)\n"), "h")
    r = comply(hang, clips=clips[0], max_challenges=1, chute_answers=_same_answers(tmp_path),
               policy=Policy(call_timeout_s=1.0))
    assert (r.verdict, r.rule) == ("FAIL_OUTPUT", "worker_infer_timeout")


def _same_answers(tmp_path: Path) -> dict:
    """Chute answers in memory, {challenge id: frames}: one empty frame per image."""
    return {f"img{i}": [{"frame_id": 0, "boxes": []}] for i in range(3)}


def test_a_miner_the_compliance_worker_cannot_load_fails(tmp_path, clips):
    """The chute registers its module in sys.modules; the compliance worker does not: pydantic
    models under `from __future__ import annotations` then cannot resolve their fields."""
    r = comply(bundle(tmp_path, "from __future__ import annotations\n" + MINER), clips=clips[0])
    assert (r.verdict, r.rule) == ("FAIL_OUTPUT", "worker_infer_error") and "not fully defined" in r.reason


def test_dict_results_pass_compliance_but_not_the_official_chute(tmp_path, clips):
    src = edit("            out.append(FrameResult(", "            out.append(dict(").replace(
        "boxes=[Box(", "boxes=[dict(")
    r = comply(bundle(tmp_path, src), clips=clips[0])
    assert (r.verdict, r.rule) == ("FAIL_OUTPUT", "chute_path_failed") and "model_dump" in r.reason
    assert comply(bundle(tmp_path, src, "c"), clips=clips[0], chute_answers=_same_answers(tmp_path)).rule \
        == "iou_mismatch"   # compliance itself dict()s them (security.py:463) and compares


# --- the sandbox, seen from inside ------------------------------------------------------------

PROBE = edit("            out.append(FrameResult(", "            out.append(probe())\n            continue\n"
             "            out.append(FrameResult(").replace("class Miner:", '''def probe():
    import importlib, os, resource
    raw = importlib.import_module("_socket")     # around the in-process guard
    try:
        raw.socket().connect(("127.0.0.1", 9)); net = "connected"
    except OSError as e:
        net = type(e).__name__ + ": " + str(e)
    try:
        importlib.import_module("socket").socket(); guard = "open"
    except RuntimeError as e:
        guard = str(e)
    return {"frame_id": 0, "boxes": [], "env": dict(os.environ), "net": net, "guard": guard,
            "as": resource.getrlimit(resource.RLIMIT_AS)[0], "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0], "cpus": sorted(os.sched_getaffinity(0)),
            "uid": os.getuid()}


class Miner:''')


def test_the_sandbox_limits_hold_inside_the_worker(tmp_path, clips, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    monkeypatch.setenv("TVKIT_TEST_SECRET", "s3cr3t")
    with Worker(bundle(tmp_path, PROBE)) as w:
        call = w.predict([(0, next(clips[0].iterdir()))])
        seen = call.rows[0]
        privileges = w.privileges
    assert call.ok, call.error
    assert "HF_TOKEN" not in seen["env"] and "TVKIT_TEST_SECRET" not in seen["env"]
    assert seen["env"]["HOME"] == seen["env"]["TMPDIR"] != os.environ.get("HOME")
    assert seen["guard"] == "network_disabled_in_compliance_runner" and seen["net"] != "connected"
    assert (seen["as"], seen["nofile"], seen["nproc"]) == (8 * 1024 ** 3, 128, 16)
    assert 1 <= len(seen["cpus"]) <= 2
    assert (seen["uid"] != 0) == privileges.startswith("dropped")


def test_the_worker_dies_with_its_parent(tmp_path):
    b = bundle(tmp_path)
    script = textwrap.dedent(f"""
        import sys, time
        from kit.comply.sandbox import Worker
        w = Worker({str(b)!r}).start()
        print(w.proc.pid, w.root, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    root = ""
    try:
        pid, root = parent.stdout.readline().split()
        child = int(pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.1)
        assert not _alive(child), "the worker outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
        shutil.rmtree(root, ignore_errors=True)   # what the killed parent could not remove


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# --- pieces -----------------------------------------------------------------------------------

def test_p95_uses_the_validators_index_rule():
    assert p95([]) == 0.0 and p95([5.0]) == 5.0
    assert p95([float(i) for i in range(1, 11)]) == 9.0    # int(0.95 * 9) = 8 -> the 9th value
    assert p95([float(i) for i in range(1, 22)]) == 20.0   # int(0.95 * 20) = 19


def test_parity_greedy_same_class_and_soft_drift():
    box = {"x1": 0, "y1": 0, "x2": 10, "y2": 10, "cls_id": 1}
    ok, info = compare_frames([{"frame_id": 3, "boxes": [box]}], [{"frame_id": 3, "boxes": [{**box, "cls_id": 2}]}])
    assert not ok and info["mean_iou"] == 0.0 and info["extra_boxes"] == 1 and not is_soft_drift(info)
    two = [{"frame_id": 0, "boxes": [box, {**box, "x1": 20, "x2": 30}]}]
    ok, info = compare_frames(two, [{"frame_id": 0, "boxes": [box]}])
    assert not ok and info["mean_iou"] == 0.5 and info["missing_boxes"] == 1 and is_soft_drift(info)
    assert compare_frames(two, [{"frame_id": 9, "boxes": []}])[1]["reason"] == "no_common_frames"
    poly = {"cls_id": 1, "points": [[0, 0], [10, 0], [10, 10], [0, 10]]}
    assert compare_frames([{"frame_id": 0, "polygons": [poly]}], [{"frame_id": 0, "boxes": [box]}])[0]


def test_cli_exit_codes_and_json(tmp_path, clips):
    b = bundle(tmp_path)
    r = subprocess.run([TVKIT, "comply", "--bundle", str(b), "--clips", str(clips[0]), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["verdict"] == "PASS"
    _add_png(b)
    r = subprocess.run([TVKIT, "comply", "--bundle", str(b)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "FAIL_OUTPUT (unsupported_artifact_suffix)" in r.stdout
    r = subprocess.run([TVKIT, "comply", "--bundle", str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode == 2 and "nope" in r.stderr
    r = subprocess.run([TVKIT, "comply", "--bundle", str(b), "--accept", "MAYBE"], capture_output=True, text=True)
    assert r.returncode == 2 and all(v in r.stderr for v in VERDICTS)


@pytest.mark.slow
def test_the_packaged_reference_bundle_complies(tmp_path):
    """The reference miner, packaged with the reference models, on a synthetic clip; the
    latency verdict depends on this machine, the rules and the parity do not."""
    from kit.bundle import package

    out = package(tmp_path / "ref")
    assert sorted(p.name for p in out.iterdir()) == ["ball.onnx", "chute_config.yml", "detect.onnx", "miner.py",
                                                       "pose.onnx"]
    r = comply(out, element="PlayerDetect_v1@1.0")
    print(format_report(r))
    assert r.findings == [] and r.parity.accepted == len(r.parity.challenges) == 10, format_report(r)
    assert r.verdict in ("PASS", "PENDING_LATENCY")


def test_a_clips_answer_serves_every_challenge_cut_from_it(tmp_path, clips):
    """A dry run answers a whole clip; frames challenges cut from it look their frames up by id."""
    answer = {"success": True, "predictions": {"frames": [{"frame_id": i, "boxes": []} for i in range(12)]}}
    r = comply(bundle(tmp_path), clips=clips[1], chute_answers={"clip": answer}, max_challenges=3)
    assert [c.challenge_id for c in r.parity.challenges] == ["clip-f00000", "clip-f00004", "clip-f00008"]
    assert (r.verdict, r.rule) == ("FAIL_OUTPUT", "iou_mismatch")   # the miner boxes, the "chute" did not
    assert all(c.compare["frames_compared"] == 1 for c in r.parity.challenges)
