"""kit.track (every run an MLflow run) and `tvkit ui`, against a real MLflow store on disk."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from kit import track

from conftest import TVKIT
from test_cli import FAKE


def test_a_run_logs_flattened_scores_and_safe_parameters_and_fails_loudly(tmp_path, monkeypatch, tracked):
    import mlflow

    monkeypatch.setenv("TVKIT_RUNS_DIR", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("HF_TOKEN", FAKE["HF_TOKEN"])
    from kit.settings import register_secrets

    register_secrets(FAKE["HF_TOKEN"])
    with track.run("evaluate", params={"answer": "a.json", "hf_token": FAKE["HF_TOKEN"],
                                       "note": f"token {FAKE['HF_TOKEN']}"}) as r:
        track.log_metrics({"PlayerDetect_v1@1.0": {"iou": 0.5, "final": 0.25}, "ok": True, "name": "x"})
        with track.run("inner") as inner:
            track.log_metrics({"final": 1.0})
        (tmp_path / "report.txt").write_text(f"made with {FAKE['HF_TOKEN']}")
        track.log_artifact(tmp_path / "report.txt")
    with pytest.raises(ValueError), track.run("broken"):
        raise ValueError("no such clip")
    assert "MLFLOW_TRACKING_URI" not in os.environ, "the store is set for the block only"
    store = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")  # set_tracking_uri would export the URI
    got = {x.info.run_name: x for x in store.search_runs([store.get_experiment_by_name("tvkit").experiment_id])}
    outer = got["evaluate"]
    assert outer.data.metrics == {"PlayerDetect_v1:1.0/iou": 0.5, "PlayerDetect_v1:1.0/final": 0.25, "ok": 1.0}
    assert outer.data.params == {"tvkit.answer": "a.json", "tvkit.note": "token ***"}
    assert got["inner"].data.tags["mlflow.parentRunId"] == r.id == outer.info.run_id and inner.id
    assert got["broken"].info.status == "FAILED"
    assert got["broken"].data.tags["tvkit.error"] == "ValueError: no such clip"
    art = tmp_path / "mlartifacts"
    assert [p.read_text() for p in art.rglob("report.txt")] == ["made with ***"]
    for p in [tmp_path / "mlflow.db", *art.rglob("*")]:      # the store: its database and artifacts
        assert not p.is_file() or FAKE["HF_TOKEN"].encode() not in p.read_bytes(), p


def test_tracked_command_records_every_pillar_and_its_exit_code(tmp_path, tracked):
    """`tvkit evaluate` on a perfect answer of a synthetic clip: a 'evaluate' run with the breakdown."""
    import mlflow

    from kit.contract import load_ground_truth
    from kit.evaluate.perturb import perturbed_answer
    from kit.synth import generate_clip

    video, truth = generate_clip(tmp_path / "clip", n_frames=6, width=320, height=180)
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(perturbed_answer(load_ground_truth(truth), seed=1)))
    env = {**os.environ, "TVKIT_RUNS_DIR": str(tmp_path / "runs")}
    env.pop("MLFLOW_TRACKING_URI", None)
    r = subprocess.run([TVKIT, "evaluate", "--answer", str(answer), "--truth", str(truth), "--video", str(video),
                        "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    final = json.loads(r.stdout)["final"]
    store = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    (run,) = store.search_runs([store.get_experiment_by_name("tvkit").experiment_id])
    m = run.data.metrics
    assert run.info.run_name == "evaluate" and run.info.status == "FINISHED" and m["exit_code"] == 0
    assert m["final"] == pytest.approx(final) and "PlayerDetect_v1:1.0/iou" in m and "PitchCalib_v1:1.0/final" in m
    assert run.data.params["tvkit.video"] == str(video)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serves(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_ui_serves_the_store_and_nothing_outlives_a_killed_kit(tmp_path):
    port = _free_port()
    env = {**os.environ, "TVKIT_RUNS_DIR": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    kit = subprocess.Popen([TVKIT, "ui", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert f"http://127.0.0.1:{port}" in kit.stdout.readline() + kit.stdout.readline()
        deadline = time.monotonic() + 120
        while not _serves(port) and time.monotonic() < deadline:
            time.sleep(1)
        assert _serves(port), "the MLflow UI answers"
    finally:
        kit.send_signal(signal.SIGKILL)      # no handler, no finally: the reaper must notice alone
        kit.wait()
    deadline = time.monotonic() + 30
    while _serves(port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _serves(port)
    time.sleep(1)
    left = [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
            if str(tmp_path) in line or f"--port {port}" in line]
    assert not left, left
