"""The chute: rendering, the template's load and predict pieces, and dry runs under the real chutes runtime.

The `dry` tests start the real `chutes run --dev` (no stand-in): the rendered chute file,
the bundle as an offline Hugging Face snapshot, real HTTP requests with a validator's body.
"""
from __future__ import annotations

import http.server
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO, TVKIT
from minerfactory import BUNDLE_TEMPLATE, make_bundle, untrained_models

from kit import KitError
from kit.chute.dryrun import ClipServer, DryRun, bundle_revision, free_port
from kit.chute.render import chute_name, nickname, render_chute, write_chute_script
from kit.chute.rehearse import challenge_for, ping, post_challenge, rehearse
from kit.chute_rules import BundleError

TEMPLATE = REPO / "chute_template"
REV = "0123456789abcdef0123456789abcdef01234567"
CONFIG = {"Image": {"from_base": "parachutes/python:3.12", "run_command": ["pip install onnxruntime-gpu"]},
          "NodeSelector": {"gpu_count": 1, "min_vram_gb_per_gpu": 24, "include": [], "exclude": ["h200"]},
          "Chute": {"concurrency": 3, "max_instances": 2, "scaling_threshold": 0.5}}


def _piece(name):
    """chute_template/<name>.py imported by path, as the kit's tests see the chute's code."""
    spec = importlib.util.spec_from_file_location(f"chute_piece_{name}", TEMPLATE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


load_piece, predict_piece = _piece("load"), _piece("predict")


# --- names and rendering ------------------------------------------------------------------------------

def test_chute_name_is_lowercase_stable_and_per_revision():
    name = chute_name("Alice_M/tv-miner", REV)
    assert name == chute_name("Alice_M/tv-miner", REV)
    assert name.startswith("turbovision-alice-m-") and name.endswith("-0123456") and name == name.lower()
    assert chute_name("Alice_M/tv-miner", REV[::-1]) != name
    assert nickname("main") == nickname(" main ") and nickname("main") != nickname("v2")
    revisions = [__import__("hashlib").sha1(str(i).encode()).hexdigest() for i in range(300)]
    assert len({chute_name("a/b", r) for r in revisions}) == 300


@pytest.mark.parametrize("call,fragment", [
    (lambda: chute_name("no-slash", REV), "user/name"),
    (lambda: chute_name("a/b/c", REV), "user/name"),
    (lambda: nickname("  "), "revision is empty"),
    (lambda: render_chute("a/b", REV, "bad user!", CONFIG), "Chutes username"),
    (lambda: write_chute_script("/tmp/x-y.py", "a/b", REV, "u"), "module name"),
    (lambda: write_chute_script("/tmp/xy.txt", "a/b", REV, "u"), "end in .py"),
])
def test_render_refuses_bad_input_clearly(call, fragment):
    with pytest.raises(KitError, match=fragment):
        call()


def test_render_is_deterministic_and_self_contained(tmp_path):
    a = render_chute("alice/tv", REV, "Alice", CONFIG)
    assert a == render_chute("alice/tv", REV, "Alice", CONFIG)
    assert "@@" not in a and "import kit" not in a and "from kit" not in a
    assert a.count("from __future__ import annotations") == 1
    for piece in ("setup.py", "load.py", "predict.py"):
        assert f"# --- {piece} " in a


def test_rendered_file_imports_under_chutes_with_the_bundle_settings(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    import yaml

    (bundle / "chute_config.yml").write_text(yaml.safe_dump(CONFIG))
    out = write_chute_script(tmp_path / "my_chute.py", "alice/tv", REV, "Alice", bundle=bundle)
    assert out == tmp_path / "my_chute.py" and "import kit" not in out.read_text()
    probe = ("import json, my_chute as m; c = m.chute; "
             "print(json.dumps({'name': c.name, 'user': c._username, 'conc': c.concurrency, 'inst': c.max_instances, "
             "'ns': c.node_selector.model_dump(), 'image': str(c.image), "
             "'cords': sorted(x._public_api_path for x in c.cords)}))")
    r = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "CHUTES_EXECUTION_CONTEXT": "REMOTE"})
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["name"] == chute_name("alice/tv", REV) and got["user"] == "alice"
    assert (got["conc"], got["inst"]) == (3, 2)
    assert got["ns"]["min_vram_gb_per_gpu"] == 24 and got["ns"]["exclude"] == ["h200"] and not got["ns"]["include"]
    assert got["image"].splitlines() == ["FROM parachutes/python:3.12", "RUN pip install onnxruntime-gpu"]
    assert got["cords"] == ["/health", "/predict"]


def test_generate_chute_script_cli(tmp_path):
    out = tmp_path / "c.py"
    r = subprocess.run([TVKIT, "generate-chute-script", "--revision", REV, "--hf-repo", "bob/m", "--chutes-user",
                        "bob", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == str(out) and chute_name("bob/m", REV) in r.stdout
    assert out.read_text() == render_chute("bob/m", REV, "bob", __import__("yaml").safe_load(
        (BUNDLE_TEMPLATE / "chute_config.yml").read_text()), file_stem="c")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_USER", "CHUTES_USERNAME")}
    r = subprocess.run([TVKIT, "generate-chute-script", "--revision", REV], capture_output=True, text=True,
                       timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 2 and "HF_USER" in r.stderr


# --- load.py: the sandbox rules inside the chute -----------------------------------------------------

GOOD_MINER = '''
import numpy as np
from pathlib import Path


class Miner:
    def __init__(self, path_hf_repo: Path):
        self.path = path_hf_repo

    def predict_batch(self, batch_images, offset, n_keypoints):
        return [{"frame_id": offset + i, "boxes": [{"x1": 1, "y1": 2, "x2": 30, "y2": 60, "cls_id": 2, "conf": 0.5}],
                 "keypoints": [[0, 0]] * n_keypoints} for i, _ in enumerate(batch_images)]
'''


def _python_bundle(folder: Path, source: str = GOOD_MINER, extra: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "miner.py").write_text(source)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize("edit,extra,rule", [
    (lambda s: "import helper\n" + s, {"helper.py": "X = 1\n"}, "local_import"),
    (lambda s: "from . import helper\n" + s, {}, "local_import"),
    (lambda s: "import subprocess\n" + s, {}, "process_call"),
    (lambda s: "import os\n" + s.replace("self.path = path_hf_repo", "os.system('true')"), {}, "process_call"),
    (lambda s: s.replace("class Miner", "class Model"), {}, "miner_class"),
    (lambda s: s.replace("offset, n_keypoints)", "offset)"), {}, "predict_signature"),
    (lambda s: "import not_a_module_anywhere\n" + s, {}, "missing_module"),
    (lambda s: s + "\ndef broken(:\n", {}, "miner_file"),
])
def test_sandbox_check_names_the_rule(tmp_path, edit, extra, rule):
    bundle = _python_bundle(tmp_path, edit(GOOD_MINER), extra)
    with pytest.raises(load_piece.SandboxError, match=rf"\[{rule}\]"):
        load_piece.sandbox_check(bundle)


def test_sandbox_network_import_is_a_warning_and_good_miner_loads(tmp_path):
    assert load_piece.sandbox_check(_python_bundle(tmp_path / "a")) == []
    warnings = load_piece.sandbox_check(_python_bundle(tmp_path / "b", "import socket\n" + GOOD_MINER))
    assert len(warnings) == 1 and "[network_import]" in warnings[0]
    miner = load_piece.load_miner(tmp_path / "a")
    load_piece.self_test(miner, 32)


def test_self_test_refuses_31_keypoints_and_a_raising_miner(tmp_path):
    short = GOOD_MINER.replace('[[0, 0]] * n_keypoints', '[[0, 0]] * (n_keypoints - 1)')
    with pytest.raises(load_piece.SandboxError, match=r"\[self_test\] the answer has 31 keypoints"):
        load_piece.self_test(load_piece.load_miner(_python_bundle(tmp_path / "a", short)), 32)
    boom = GOOD_MINER.replace("return [", "raise RuntimeError('no model'); return [")
    with pytest.raises(load_piece.SandboxError, match=r"\[self_test\].*RuntimeError: no model"):
        load_piece.self_test(load_piece.load_miner(_python_bundle(tmp_path / "b", boom)), 32)
    init_fails = GOOD_MINER.replace("self.path = path_hf_repo", "open(path_hf_repo / 'weights.onnx')")
    with pytest.raises(load_piece.SandboxError, match=r"\[load\].*weights.onnx"):
        load_piece.load_miner(_python_bundle(tmp_path / "c", init_fails))


def test_miner_pool_builds_at_most_its_size_and_reuses():
    made = []

    def factory():
        made.append(object())
        return made[-1]

    pool = load_piece.MinerPool(factory, 2)
    barrier = threading.Barrier(4)
    seen = []

    def use():
        barrier.wait()
        m = pool.acquire()
        seen.append(m)
        time.sleep(0.05)
        pool.release(m)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 2 and len(seen) == 4 and set(map(id, seen)) == set(map(id, made))


# --- predict.py: the /predict path without HTTP ------------------------------------------------------

@pytest.mark.parametrize("body,fragment", [
    ("{not json", "not JSON"),
    ([1, 2], "JSON object"),
    ({"meta": {}}, "no 'url'"),
    ({"url": "ftp://x/clip.mp4"}, "not http"),
    ({"url": "http://x/c.mp4", "meta": []}, "'meta' must be an object"),
    ({"url": "http://x/c.mp4", "meta": {"batch_size": 0}}, "batch_size"),
    ({"url": "http://x/c.mp4", "meta": {"n_keypoints": "32"}}, "n_keypoints"),
])
def test_read_challenge_errors(body, fragment):
    with pytest.raises(predict_piece.ChallengeError, match=fragment):
        predict_piece.read_challenge(body)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Clip server with two extras: /huge claims 20 GiB, /slow/... never finishes."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(20 << 30))
            self.end_headers()
            try:
                self.wfile.write(b"\0" * 65536)
            except OSError:
                pass
            return
        super().do_GET()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A short real clip, bytes that are not a video, a zero-frame video, served over HTTP."""
    from kit.synth import generate_clip

    d = tmp_path_factory.mktemp("clips")
    video, truth = generate_clip(d, n_frames=24, seed=3)
    (d / "notavideo.mp4").write_bytes(os.urandom(50_000))
    import cv2

    w = cv2.VideoWriter(str(d / "empty.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25, (320, 240))
    w.release()
    server = ClipServer(d, handler=_Handler).start()
    yield {"dir": d, "video": video, "truth": truth, "server": server, "url": server.url}
    server.stop()


class _Miner:
    """A real (trivial) miner: one box, no keypoints; counts the frames it saw."""

    def __init__(self):
        self.frames = 0

    def predict_batch(self, batch_images, offset, n_keypoints):
        self.frames += len(batch_images)
        return [{"frame_id": offset + i, "boxes": [], "keypoints": [[0, 0]] * n_keypoints}
                for i in range(len(batch_images))]


def test_answer_challenge_answers_every_frame_and_cleans_up(clips, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    m = _Miner()
    body = {"url": clips["url"](clips["video"]), "meta": {"batch_size": 5, "n_keypoints": 32}}
    answer, seconds = predict_piece.answer_challenge(m, body)
    assert answer["success"] is True and answer["error"] is None
    assert [f["frame_id"] for f in answer["predictions"]["frames"]] == list(range(24)) and m.frames == 24
    assert set(seconds) == {"download", "decode", "inference", "serialise"} and seconds["inference"] > 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target,fragment", [
    ("notavideo.mp4", "not a video"),
    ("empty.mp4", "no frames"),
    ("missing.mp4", "HTTP 404"),
    ("huge", "over the 1024 MiB"),
    (None, "cannot download"),
])
def test_answer_challenge_bad_videos_fail_clearly(clips, tmp_path, monkeypatch, target, fragment):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    url = clips["url"](target) if target else f"http://127.0.0.1:{free_port()}/clip.mp4"
    answer, _ = predict_piece.answer_challenge(_Miner(), {"url": url, "meta": {}})
    assert answer["success"] is False and answer["predictions"] is None
    assert fragment in answer["error"], answer["error"]
    assert list(tmp_path.iterdir()) == []


def test_answer_challenge_reports_a_failing_miner(clips):
    class Broken(_Miner):
        def predict_batch(self, batch_images, offset, n_keypoints):
            raise ValueError("bad weights")

    answer, _ = predict_piece.answer_challenge(Broken(), {"url": clips["url"](clips["video"])})
    assert answer == {"success": False, "predictions": None, "error": "ValueError: bad weights"}


# --- dry runs under the real chutes runtime ----------------------------------------------------------

@pytest.fixture(scope="module")
def reference_bundle(tmp_path_factory):
    from kit.bundle import package

    return package(tmp_path_factory.mktemp("ref") / "bundle")


@pytest.fixture(scope="module")
def dry(reference_bundle):
    with DryRun(reference_bundle) as run:
        yield run


@pytest.mark.slow
def test_dry_run_rehearsal_scores_like_local_predict(dry, reference_bundle, clips):
    from kit.bundle import predict_video
    from kit.evaluate import evaluate

    health = ping(dry.base_url)
    assert health["status"] == "ok" and health["model_loaded"] is True and health["memory_gb"] > 0
    r = rehearse(dry.base_url, clips["video"], clips["truth"])
    assert r.ok, r.to_dict()
    local = predict_video(reference_bundle, clips["video"])
    assert r.answer == json.loads(json.dumps(local.answer))
    expected = evaluate(local.answer, clips["truth"], clips["video"], mode="full").breakdown
    assert {k: r.breakdown[k] for k in expected} == expected and r.breakdown["final"] > 0.3


@pytest.mark.slow
def test_dry_run_bad_requests_get_clear_errors_and_the_chute_keeps_serving(dry, clips):
    before = set(dry.tmp_dir.iterdir())  # the runtime's own files, if any
    good = challenge_for(clips["video"], clips["url"](clips["video"]))
    cases = [
        ({"meta": good["meta"]}, "no 'url'"),
        ([good], "JSON object"),
        ({**good, "meta": {**good["meta"], "batch_size": -1}}, "batch_size"),
        ({**good, "url": clips["url"]("missing.mp4")}, "HTTP 404"),
        ({**good, "url": f"http://127.0.0.1:{free_port()}/c.mp4"}, "cannot download"),
        ({**good, "url": clips["url"]("notavideo.mp4")}, "not a video"),
        ({**good, "url": clips["url"]("empty.mp4")}, "no frames"),
        ({**good, "url": clips["url"]("huge")}, "MiB"),
    ]
    for body, fragment in cases:
        status, answer, _ = post_challenge(dry.base_url, body)
        assert status == 200 and answer["success"] is False and fragment in answer["error"], (body, answer)
        assert ping(dry.base_url)["model_loaded"]
    status, _, _ = post_challenge(dry.base_url, "{this is not json")
    assert status >= 400  # the chutes runtime itself refuses a non-JSON body before the chute's code
    status, answer, _ = post_challenge(dry.base_url, good)
    assert status == 200 and answer["success"] and len(answer["predictions"]["frames"]) == 24
    assert set(dry.tmp_dir.iterdir()) == before, "a challenge left files in the chute's temp folder"


@pytest.mark.slow
def test_dry_run_answers_four_concurrent_challenges_right(dry, clips):
    before = set(dry.tmp_dir.iterdir())
    body = challenge_for(clips["video"], clips["url"](clips["video"]))
    _, alone, _ = post_challenge(dry.base_url, body)
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: post_challenge(dry.base_url, body), range(4)))
    assert all(status == 200 for status, _, _ in results)
    assert all(answer == alone for _, answer, _ in results), "concurrent answers differ from a lone one"
    assert set(dry.tmp_dir.iterdir()) == before


@pytest.mark.slow
@pytest.mark.parametrize("edit,extra,rule", [
    (lambda s: s.replace("import cv2\n", "import cv2\nimport helper\n", 1), {"helper.py": "X = 1\n"},
     "local_import"),
    (lambda s: s.replace('"keypoints": kps})', '"keypoints": kps[:31]})'), {}, "self_test"),
    (lambda s: s.replace("import cv2\n", "import cv2\nimport subprocess\n", 1), {}, "process_call"),
    (lambda s: s.replace("class Miner:", "class NotMiner:"), {}, "miner_class"),
])
def test_bad_bundle_fails_inside_the_chute_naming_the_rule(tmp_path, edit, extra, rule):
    src = (BUNDLE_TEMPLATE / "miner.py").read_text()
    assert edit(src) != src, "the edit did not apply: the test would prove nothing"
    bundle = make_bundle(tmp_path / "b", *untrained_models(tmp_path), miner_source=edit(src))
    for name, text in extra.items():
        (bundle / name).write_text(text)
    kit_rule = {"process_call": "forbidden_import"}.get(rule, rule)
    with pytest.raises(BundleError, match=kit_rule):  # the kit's check before start
        DryRun(bundle).start()
    if rule == "self_test":  # the reference miner checks itself in Miner(); a plain miner reaches the chute's test
        bundle = _python_bundle(tmp_path / "plain", GOOD_MINER.replace("[[0, 0]] * n_keypoints",
                                                                        "[[0, 0]] * (n_keypoints - 1)"))
        (bundle / "chute_config.yml").write_text((BUNDLE_TEMPLATE / "chute_config.yml").read_text())
    run = DryRun(bundle, check=False, startup_timeout=120)  # and the chute's own, under the runtime
    with pytest.raises(KitError, match=rf"\[{rule}\]"):
        run.start()
    assert not run.workdir.exists()


@pytest.mark.slow
def test_dry_run_cli_serves_until_sigterm_and_test_chute_url(reference_bundle, clips):
    port = free_port()
    proc = subprocess.Popen([TVKIT, "dry-run", "--bundle", str(reference_bundle), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line == f"http://127.0.0.1:{port}", (line, proc.stderr.read() if proc.poll() is not None else "")
        r = subprocess.run([TVKIT, "ping-chute", "--url", line], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and json.loads(r.stdout)["model_loaded"] is True
        r = subprocess.run([TVKIT, "test-chute", "--url", line, "--video", str(clips["video"]), "--truth",
                            str(clips["truth"]), "--json"], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["ok"] and out["problems"] == [] and 0 < out["breakdown"]["final"] <= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped" in err
    r = subprocess.run([TVKIT, "ping-chute", "--url", f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "no answer" in r.stderr


def test_bundle_revision_follows_content(tmp_path):
    a = _python_bundle(tmp_path / "a")
    rev = bundle_revision(a)
    assert len(rev) == 40 and rev == bundle_revision(a)
    (a / "miner.py").write_text(GOOD_MINER + "\n# changed\n")
    assert bundle_revision(a) != rev


def test_dry_run_precheck_newer_rules_are_warnings(tmp_path):
    from kit.chute.dryrun import precheck

    bundle = _python_bundle(tmp_path / "b", "import socket\n" + GOOD_MINER)
    (bundle / "chute_config.yml").write_text((BUNDLE_TEMPLATE / "chute_config.yml").read_text())
    with open(bundle / "weights.bin", "wb") as f:
        f.truncate(31 * 2**20)
    errors, warnings = precheck(bundle)
    assert errors == [] and sorted(v.rule for v in warnings) == ["network_import", "size"]
    (bundle / "helper.py").write_text("X = 1\n")
    (bundle / "miner.py").write_text("import helper\n" + GOOD_MINER)
    errors, _ = precheck(bundle)
    assert [v.rule for v in errors] == ["local_import"]


def test_chutes_build_local_needs_docker(tmp_path, monkeypatch):
    from kit.chute.dryrun import build_local

    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no docker on it
    with pytest.raises(KitError, match="docker is not installed"):
        build_local(tmp_path / "chute.py")
