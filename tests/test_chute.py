"""The validator's chute: obtained, rendered and hash-verified; dry runs of it under the real chutes runtime.

The template is upstream's own file, read from ../shared/reference/validator-ea7412f/ (the
stand-in for a miner's turbovision checkout; conftest points TVKIT_CHUTE_TEMPLATE at it). The
`dry` tests start the real `chutes run --dev` (no stand-in) on that file, with the bundle as an
offline Hugging Face snapshot, and talk to it with a plain httpx client, as a validator does.
"""
from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import pytest

from kit import KitError
from kit.chute import official
from kit.chute.dryrun import PROXY_PREFIX, ClipServer, DryRun, bundle_revision, free_port
from kit.chute.official import chute_name, integrity_hash, nickname, obtain_template, render_official, verify_text
from kit.contract import validate_answer

from conftest import CHUTE_TEMPLATE, REPO, TVKIT
from minerfactory import make_bundle

REV = "0123456789abcdef0123456789abcdef01234567"
REFERENCE_MODELS = REPO / "chute_template" / "reference"


# --- obtaining the template ----------------------------------------------------------------------

def test_template_from_a_file_or_a_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("TVKIT_CHUTE_TEMPLATE")
    src = obtain_template(CHUTE_TEMPLATE)
    assert src.origin == "path" and "{{ huggingface_repository_name }}" in src.text
    assert src.sha256 == official.KNOWN_TEMPLATE_SHA256[official.DEFAULT_COMMIT]
    checkout = tmp_path / "turbovision"
    (checkout / official.TEMPLATE_RELPATH).parent.mkdir(parents=True)
    shutil.copy(CHUTE_TEMPLATE, checkout / official.TEMPLATE_RELPATH)
    assert obtain_template(checkout).location == str((checkout / official.TEMPLATE_RELPATH).resolve())
    monkeypatch.setenv("TVKIT_CHUTE_TEMPLATE", str(checkout))
    assert obtain_template().origin == "env"
    with pytest.raises(KitError, match="no scorevision/miner/open_source"):
        obtain_template(tmp_path)


class _RawGitHub(http.server.BaseHTTPRequestHandler):
    """Serves `/<commit>/<path>` like raw.githubusercontent.com; `body` is what it answers."""

    body = b""
    hits: list[str] = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture
def raw_github(tmp_path, monkeypatch):
    monkeypatch.delenv("TVKIT_CHUTE_TEMPLATE")
    monkeypatch.setenv("TVKIT_CACHE_DIR", str(tmp_path / "cache"))
    _RawGitHub.body, _RawGitHub.hits = CHUTE_TEMPLATE.read_bytes(), []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RawGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TVKIT_UPSTREAM_RAW_URL", f"http://127.0.0.1:{server.server_address[1]}/{{commit}}/{{path}}")
    yield _RawGitHub
    server.shutdown()
    server.server_close()


def test_template_downloaded_at_the_pinned_commit_then_cached(raw_github, tmp_path):
    src = obtain_template()
    assert src.origin == "upstream" and src.commit == official.DEFAULT_COMMIT
    assert raw_github.hits == [f"/{official.DEFAULT_COMMIT}/{official.TEMPLATE_RELPATH}"]
    again = obtain_template()
    assert again.origin == "cache" and again.text == src.text and len(raw_github.hits) == 1
    assert json.loads((Path(again.location).parent / "source.json").read_text())["sha256"] == src.sha256


def test_a_tampered_download_is_refused_and_not_cached(raw_github, tmp_path):
    raw_github.body = CHUTE_TEMPLATE.read_bytes().replace(b"MAX_LOADED_MODEL_SIZE_GB = 5.0",
                                                          b"MAX_LOADED_MODEL_SIZE_GB = 50.0")
    with pytest.raises(KitError, match="refusing it"):
        obtain_template()
    assert not (tmp_path / "cache" / "chute-template" / official.DEFAULT_COMMIT / "turbovision_chute.py.j2").exists()


def test_offline_without_a_template_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.delenv("TVKIT_CHUTE_TEMPLATE")
    monkeypatch.setenv("TVKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TVKIT_UPSTREAM_RAW_URL", f"http://127.0.0.1:{free_port()}/{{commit}}/{{path}}")
    with pytest.raises(KitError, match="--template PATH"):
        obtain_template(upstream_commit="abcdef1")
    with pytest.raises(KitError, match="commit hash"):
        obtain_template(upstream_commit="main; rm")


# --- rendering and the integrity hash ---------------------------------------------------------------

def test_chute_name_follows_the_revision_as_upstream_derives_it():
    from random import Random

    import petname

    petname.random = Random(int(REV, 16))   # upstream's own steps (chutes_helpers.py:61-70)
    expected = petname.Generate(words=1, separator="-")
    assert nickname(REV) == expected and chute_name(REV, "Alice_M") == f"turbovision-alice_m-{expected}"
    assert chute_name(REV, "org/team") == f"turbovision-org-team-{expected}"
    revisions = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(50)]
    assert len({nickname(r) for r in revisions}) > 30   # one word: collisions happen, as upstream's do
    with pytest.raises(KitError, match="not a hex"):
        nickname("main")


@pytest.mark.parametrize("rev", [REV, "f" * 40, hashlib.sha1(b"x").hexdigest()])
def test_rendered_chute_has_the_templates_integrity_hash(rev):
    chute = render_official(rev, "alice", "alice-chutes")
    assert 'HF_REPO_NAME = "alice/ScoreVision"' in chute.text and f'HF_REPO_REVISION = "{rev}"' in chute.text
    assert f'CHUTE_NAME = "{chute.chute_name}"' in chute.text and 'CHUTES_USERNAME = "alice-chutes"' in chute.text
    assert integrity_hash(chute.text) == integrity_hash(CHUTE_TEMPLATE.read_text())
    v = verify_text(chute.text)
    assert v.match and v.hf_repo == "alice/ScoreVision" and v.revision == rev


@pytest.mark.parametrize("old,new,line_text", [
    ("MAX_LOADED_MODEL_SIZE_GB = 5.0", "MAX_LOADED_MODEL_SIZE_GB = 50.0", "MAX_LOADED_MODEL_SIZE_GB = 50.0"),
    ('"allow_external_egress":False', '"allow_external_egress":True', "allow_external_egress"),
    ("    print(self.cuda_status)\n", "", "print(self.cuda_status)"),
])
def test_one_changed_statement_breaks_the_hash_and_is_shown(old, new, line_text):
    text = render_official(REV, "alice", "alice").text
    assert old in text
    v = verify_text(text.replace(old, new, 1))
    assert not v.match and v.file_hash != v.template_hash
    assert any(line_text in d for d in v.differences), v.differences
    assert "MISMATCH" in v.format() and "integrity hash mismatch" in v.format()


def test_comments_and_blank_lines_do_not_change_the_hash():
    text = render_official(REV, "alice", "alice").text
    assert verify_text("# my chute\n\n" + text.replace("\n\n", "\n\n\n")).match


@pytest.mark.parametrize("args,fragment", [
    (("main", "alice", "alice"), "40-hex"),
    ((REV, "al ice", "alice"), "HF_USER"),
    ((REV, "alice", 'a"b'), "CHUTES_USERNAME"),
])
def test_render_refuses_bad_input_clearly(args, fragment):
    with pytest.raises(KitError, match=fragment):
        render_official(*args)


def test_generate_and_verify_cli(tmp_path):
    out = tmp_path / "chute.py"
    env = {**os.environ, "HF_USER": "alice", "CHUTES_USERNAME": "alice"}
    r = subprocess.run([TVKIT, "generate-chute-script", "--revision", REV, "--out", str(out)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout and "turbovision-alice-" in r.stdout and "integrity hash" in r.stdout
    r = subprocess.run([TVKIT, "chute", "verify", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("MATCH"), r.stdout + r.stderr
    out.write_text(out.read_text().replace("batch_size = metadata.get(\"batch_size\", 64)",
                                           "batch_size = metadata.get(\"batch_size\", 8)"))
    r = subprocess.run([TVKIT, "chute", "verify", str(out), "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert report["match"] is False and any("batch_size" in d for d in report["differences"])


class _ChutesCode(http.server.BaseHTTPRequestHandler):
    """GET /chutes/code/<id> as the Chutes API answers it (the deployed chute's source)."""

    code: dict[str, str] = {}

    def log_message(self, *a):
        pass

    def do_GET(self):
        cid = self.path.rsplit("/", 1)[-1]
        ok = self.path.startswith("/chutes/code/") and cid in self.code and self.headers.get("Authorization")
        body = self.code[cid].encode() if ok else b'{"detail": "not found"}'
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_verify_a_deployed_chute_reads_its_code_from_the_chutes_api(tmp_path):
    text = render_official(REV, "alice", "alice").text
    _ChutesCode.code = {"good-id": text, "bad-id": text.replace("offset=frame_number", "offset=0")}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChutesCode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "CHUTES_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
           "CHUTES_API_KEY": "cpk_" + "x" * 20}
    try:
        good = subprocess.run([TVKIT, "chute", "verify", "--chute-id", "good-id"], capture_output=True, text=True,
                              env=env, timeout=60)
        bad = subprocess.run([TVKIT, "chute", "verify", "--chute-id", "bad-id"], capture_output=True, text=True,
                             env=env, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert good.returncode == 0 and "MATCH: chute good-id" in good.stdout, good.stdout + good.stderr
    assert bad.returncode == 1 and "offset=0" in bad.stdout
    assert "x" * 20 not in good.stdout + good.stderr + bad.stdout + bad.stderr


# --- dry runs under the real chutes runtime ----------------------------------------------------------

class _Clips(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A short real clip, bytes that are not a video, served over HTTP on 127.0.0.1."""
    from kit.synth import generate_clip

    d = tmp_path_factory.mktemp("clips")
    video, truth = generate_clip(d, n_frames=24, seed=3)
    (d / "notavideo.mp4").write_bytes(os.urandom(50_000))
    server = ClipServer(d, handler=_Clips).start()
    yield {"dir": d, "video": video, "truth": truth, "server": server, "url": server.url}
    server.stop()


@pytest.fixture(scope="module")
def reference_bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("ref") / "bundle", REFERENCE_MODELS / "detect.onnx",
                       REFERENCE_MODELS / "pose.onnx")


@pytest.fixture(scope="module")
def dry(reference_bundle):
    with DryRun(reference_bundle) as run:
        yield run


def _frames_body(video: Path, ids: list[int], urls: dict[int, str] | None = None, data: bool = True) -> dict:
    """A validator's frames-mode body, built here by hand: base64 PNGs (and/or urls) per frame."""
    cap = cv2.VideoCapture(str(video))
    frames, fid = [], 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if fid in ids:
            b64 = base64.b64encode(cv2.imencode(".png", img)[1].tobytes()).decode() if data else None
            frames.append({"frame_id": fid, "data": b64, "url": (urls or {}).get(fid)})
        fid += 1
    return {"url": None, "frames": frames, "meta": {"version": 1, "width": 960, "height": 540, "fps": 25,
            "task_id": 7, "challenge_type_id": 0, "n_frames_total": fid, "batch_size": 64, "n_keypoints": 32,
            "min_frames_required": len(frames), "frames_source": "payload"}}


def _post(run: DryRun, body, timeout: float = 300.0) -> dict:
    r = httpx.post(f"{run.base_url}/predict", json=body, timeout=timeout,
                   headers={"Authorization": "Bearer validator-key"})
    assert r.status_code == 200, r.text[:300]
    return r.json()


@pytest.mark.slow
def test_dry_run_serves_the_verified_official_file(dry):
    assert verify_text(dry.chute_file.read_text()).match
    health = httpx.post(f"{dry.base_url}/health", json={}, timeout=30).json()
    assert health["status"] == "healthy" and health["model_loaded"].startswith("Miner(")


@pytest.mark.slow
def test_video_challenge_every_frame_valid_and_equal_to_local_predict(dry, reference_bundle, clips):
    from kit.bundle import predict_video

    body = {"url": clips["url"](clips["video"]), "frames": None,
            "meta": {"version": 1, "width": 960, "height": 540, "fps": 25, "task_id": 3, "challenge_type_id": 0,
                     "n_frames_total": 24, "batch_size": 10, "n_keypoints": 32}}
    answer = _post(dry, body)
    assert answer["success"] is True, answer["error"]
    assert validate_answer(answer, 24, 960, 540, n_objects=4) == []
    local = predict_video(reference_bundle, clips["video"], batch_size=10).answer
    assert answer["predictions"] == json.loads(json.dumps(local["predictions"]))
    assert list(dry.tmp_dir.glob("sv_video_*")) == []   # the template's temp video is gone


@pytest.mark.slow
def test_frames_challenge_with_data_and_with_urls(dry, clips):
    ids = [2, 3, 4, 9, 17]
    answer = _post(dry, _frames_body(clips["video"], ids))
    assert answer["success"] is True, answer["error"]
    assert [f["frame_id"] for f in answer["predictions"]["frames"]] == ids
    assert validate_answer(answer, 24, 960, 540, frame_ids=ids, n_objects=4) == []
    pngs = {}
    for fid in ids:
        img = cv2.VideoCapture(str(clips["video"]))
        img.set(cv2.CAP_PROP_POS_FRAMES, fid)
        ok, frame = img.read()
        cv2.imwrite(str(clips["dir"] / f"f{fid}.png"), frame)
        pngs[fid] = clips["url"](Path(f"f{fid}.png"))
    by_url = _post(dry, _frames_body(clips["video"], ids, urls=pngs, data=False))
    assert by_url["success"] is True, by_url["error"]
    assert [f["frame_id"] for f in by_url["predictions"]["frames"]] == ids


@pytest.mark.slow
@pytest.mark.parametrize("body,fragment", [
    ({"meta": {}}, "Missing both video url and frames payload"),
    ({"url": "http://127.0.0.1:9/nothing.mp4"}, "problem during prediction"),
    ({"url": "NOTAVIDEO"}, "Problem accessing downloaded video"),
    ({"frames": [{"frame_id": 0, "data": "bm90IGFuIGltYWdl"}]}, "Failed to decode frame 0"),
    ({"frames": [{"frame_id": 5}]}, "Frame 5 missing url or data"),
])
def test_bad_requests_fail_clearly_and_the_chute_keeps_serving(dry, clips, body, fragment):
    if body.get("url") == "NOTAVIDEO":
        body = {"url": clips["url"](clips["dir"] / "notavideo.mp4")}
    answer = _post(dry, body, timeout=60)
    assert answer["success"] is False and answer["predictions"] is None and fragment in answer["error"]
    assert httpx.post(f"{dry.base_url}/health", json={}, timeout=30).json()["status"] == "healthy"
    assert list(dry.tmp_dir.glob("sv_video_*")) == []


@pytest.mark.slow
def test_four_concurrent_challenges_are_all_answered_right(dry, clips):
    body = {"url": clips["url"](clips["video"]), "meta": {"batch_size": 8, "n_keypoints": 32}}
    alone = _post(dry, body)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _post(dry, body), range(4)))
    assert all(a == alone for a in answers)


@pytest.mark.slow
def test_rehearsal_both_modes_through_the_kit(dry, clips):
    from kit.chute.rehearse import rehearse

    for mode in ("video", "frames"):
        r = rehearse(dry.base_url, clips["video"], mode=mode, n_frames=6, frame_urls=(mode == "frames"))
        assert r.ok, (mode, r.problems, r.answer.get("error"))
        assert len(r.answer["predictions"]["frames"]) == (24 if mode == "video" else 6)
        if mode == "frames":
            assert all(f["url"].startswith("http://127.0.0.1:") for f in r.body["frames"])


DICT_MINER = '''
from pathlib import Path


class Miner:
    def __init__(self, path_hf_repo: Path):
        self.path = path_hf_repo

    def predict_batch(self, batch_images, offset, n_keypoints):
        return [{"frame_id": offset + i, "boxes": [], "keypoints": [[0, 0]] * n_keypoints}
                for i in range(len(batch_images))]
'''


@pytest.mark.slow
def test_a_miner_returning_dicts_fails_every_challenge_in_the_official_chute(tmp_path, clips):
    bundle = make_bundle(tmp_path / "b", REFERENCE_MODELS / "detect.onnx", REFERENCE_MODELS / "pose.onnx",
                         miner_source=DICT_MINER)
    with DryRun(bundle) as run:
        answer = _post(run, {"url": clips["url"](clips["video"])}, timeout=60)
    assert answer["success"] is False and "model_dump" in answer["error"]


@pytest.mark.slow
def test_a_miner_importing_from_its_repo_fails_to_load_in_the_chute(tmp_path):
    """All miner code must be in miner.py: the repo folder is not importable, and the template's
    import blocker refuses any module from outside stdlib and site-packages."""
    bundle = make_bundle(tmp_path / "b", REFERENCE_MODELS / "detect.onnx", REFERENCE_MODELS / "pose.onnx",
                         miner_source="import helper\n" + DICT_MINER)
    (bundle / "helper.py").write_text("X = 1\n")
    with pytest.raises(KitError, match="Failed to load miner: No module named 'helper'"):
        DryRun(bundle, startup_timeout=120).start()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _start_cli(bundle: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([TVKIT, "dry-run", "--bundle", str(bundle), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line == f"http://127.0.0.1:{port}", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


@pytest.mark.slow
def test_dry_run_cli_stops_on_sigterm_and_its_chute_dies_with_it_on_sigkill(reference_bundle, clips):
    port = free_port()
    proc = _start_cli(reference_bundle, port)
    r = subprocess.run([TVKIT, "ping-chute", "--url", f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "healthy"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in err and time.monotonic() - t0 < 10
    assert _port_free(port)

    port = free_port()
    proc = _start_cli(reference_bundle, port)
    proc.kill()   # SIGKILL: the kit gets no chance to clean up
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not _port_free(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _port_free(port), "the chute outlived the kit"


def test_bundle_revision_follows_content(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    r1 = bundle_revision(tmp_path)
    (tmp_path / "a.txt").write_text("y")
    assert len(r1) == 40 and bundle_revision(tmp_path) != r1


def test_the_proxy_shim_unwraps_only_the_chutes_proxy():
    from urllib.parse import quote

    from kit.chute import dryrun

    ns: dict = {}
    exec(compile(dryrun._SHIM, "sitecustomize", "exec"), ns)
    url = "http://127.0.0.1:8/a b/clip.mp4?x=1&y=2"
    assert ns["_unwrap"](PROXY_PREFIX + quote(url, safe="")) == url
    assert ns["_unwrap"]("https://example.org/?url=x") == "https://example.org/?url=x"


def test_chutes_build_local_needs_docker(tmp_path, monkeypatch):
    from kit.chute.dryrun import build_local

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(KitError, match="docker is not installed"):
        build_local(tmp_path / "c.py")
