"""Sweeps on Ray, recorded in MLflow: a local Ray, then the same sweep on a Ray head started here.

Ray's start-up (20-40 s here) is paid twice: one test's four points on a local Ray with 2 CPUs (one
point's notebook fails on purpose and the others go on), read back from the sweep's MLflow store,
then two points sent unchanged by address to a Ray head on 127.0.0.1, which the file's other
tests join too (the command line's sweep by $RAY_ADDRESS, the training search by ray.init). The
first test's notebooks are tiny (a score from the swept parameter), so what is measured there is
the sweep machinery, not a model.
"""
import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from photofactory import FIRE, fire_subset

from kit.runs import parse_overrides, read_index, run_sweep, split_sweep

from conftest import TVKIT
from test_cli import FAKE
from test_runs import assert_no_fake_secret_in, make_notebook

RAY = str(Path(sys.executable).with_name("ray"))


def test_p_with_commas_is_a_grid_and_json_stays_one_value():
    pairs = ["miss_rate=0.0,0.1,0.3", "seed=3", "name=\"a,b\"", "sizes=[1,2]", "mode=full,validator"]
    fixed, grid = split_sweep(parse_overrides(pairs), pairs)
    assert grid == {"miss_rate": [0.0, 0.1, 0.3], "mode": ["full", "validator"]}
    assert fixed == {"seed": 3, "name": "a,b", "sizes": [1, 2]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_processes(mark: str) -> list[str]:
    """This Ray's daemons (`mark`: its session folder, or its head's port): another test's may run beside."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    return [line[:200] for line in out if ("raylet" in line or "gcs_server" in line) and mark in line]


def _gone(find, what: str, timeout: float = 30.0) -> None:
    """Processes that stop asynchronously (ray.shutdown returns before its daemons exit)."""
    deadline = time.monotonic() + timeout
    while find() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not find(), f"{what}: {find()}"


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head on 127.0.0.1 with 2 CPUs, started once for this file's cluster work (a start costs
    20-40 s here): its address; stopped, and checked gone, when the file's tests are done.

    Token authentication on, as Ray 2.60's `ray start` sets it up on a machine with a network
    address: this file's processes join with RAY_AUTH_MODE=token and the token `ray start` keeps in
    ~/.ray/auth_token, as a user joining such a cluster does."""
    port = _free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "token")
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        try:
            started = subprocess.run([RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                                      "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
                                     capture_output=True, text=True, timeout=180, env=env)
            # a start that fails half-way leaves its first daemons running: the finally stops them too
            assert started.returncode == 0, f"ray start failed: {started.stdout[-1500:]}{started.stderr[-1500:]}"
            yield f"127.0.0.1:{port}"
        finally:
            subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=180, env=env)
    _gone(lambda: _ray_processes(str(port)), "the Ray head started here is stopped")


@pytest.mark.slow
def test_a_sweep_runs_on_local_ray_lands_in_mlflow_and_runs_unchanged_on_a_cluster(tmp_path, monkeypatch, ray_head,
                                                                                   tracked):
    import mlflow

    monkeypatch.setenv("HF_TOKEN", FAKE["HF_TOKEN"])
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    books = tmp_path / "nb"
    books.mkdir()
    make_notebook(books / "00_score.ipynb", "miss_rate = 0.0\nrun_dir = ''\nmetrics_path = ''",
                  "import json, os\n"
                  "if miss_rate >= 1: raise ValueError('nothing found ' + os.environ['HF_TOKEN'])\n"
                  "json.dump({'breakdown': {'final': 1 - miss_rate, 'recall': 1 - miss_rate}, 'pid': os.getpid()},"
                  " open(metrics_path, 'w'))")
    runs = tmp_path / "runs"
    log: list[str] = []
    res = run_sweep({"grid": {"miss_rate": [0.0, 0.1, 0.3, 1.0]}}, "smoke", None, None, runs, books, log.append)
    session = next(line for line in log if line.startswith("ray: local")).split("(session ", 1)[1].split(")")[0]
    assert [c["miss_rate"] for c, _ in res.runs] == [0.0, 0.1, 0.3, 1.0]
    assert [r.status for _, r in res.runs] == ["ok", "ok", "ok", "failed"] and res.status == "failed"
    assert len({r.metrics["00_score"]["pid"] for _, r in res.runs[:3]}) >= 2, "points ran in separate kernels"
    _gone(lambda: _ray_processes(session), "the local Ray is shut down with the sweep")

    # MLflow: four suite runs nested under the sweep's run, their finals side by side; the failure says why
    rows = read_index(runs)
    assert sorted(r["score"] for r in rows if r["score"] is not None) == pytest.approx([0.0 + 0.7, 0.9, 1.0])
    assert sorted(r["status"] for r in rows) == ["failed", "ok", "ok", "ok"]
    store = mlflow.MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")   # not set_tracking_uri: it exports the URI
    exp = [store.get_experiment_by_name("tvkit").experiment_id]
    sweep_run = store.search_runs(exp, filter_string="tags.`tvkit.kind` = 'sweep'")[0]
    suites = store.search_runs(exp, filter_string="tags.`tvkit.kind` = 'suite'")
    assert {s.data.tags["mlflow.parentRunId"] for s in suites} == {sweep_run.info.run_id}
    assert {s.data.params["tvkit.miss_rate"] for s in suites} == {"0.0", "0.1", "0.3", "1.0"}
    failed = store.search_runs(exp, filter_string="tags.`tvkit.kind` = 'notebook' and attributes.status = 'FAILED'")
    assert len(failed) == 1 and "ValueError: nothing found ***" in failed[0].data.tags["tvkit.error"]
    assert (res.sweep_dir / "comparison.csv").is_file()
    assert_no_fake_secret_in(runs.rglob("*"))

    # the same sweep, unchanged, on the Ray head started here, by address
    log.clear()
    res = run_sweep({"grid": {"miss_rate": [0.2, 0.4]}}, "smoke", None, None, runs, books, log.append,
                    ray_address=ray_head)
    assert any(f"cluster {ray_head}" in line for line in log), log
    assert [r.status for _, r in res.runs] == ["ok", "ok"]
    assert [r.metrics["00_score"]["breakdown"]["final"] for _, r in res.runs] == [0.8, 0.6]
    assert json.loads((res.sweep_dir / "sweep.json").read_text())["runs"][1]["status"] == "ok"


def test_a_process_without_the_clusters_token_is_told_how_to_join(ray_head):
    # a fresh process: Ray reads the auth mode once per process, and this one has joined with the token
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_gcs_server_port_wait_time_s": "2"}  # Ray retries 20 s
    code = ("from kit.runs_ray import ray_session\n"
            f"with ray_session({ray_head!r}, {{}}, log=print): print('joined')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0 and "joined" not in r.stdout
    assert (f"KitError: the Ray cluster at {ray_head} uses token authentication" in r.stderr
            and "set RAY_AUTH_MODE=token" in r.stderr), r.stderr[-2000:]


# Every test that starts Ray stays in this file: one worker runs them one after the other, so the
# head's `ray stop` never meets another test's Ray. The command line reaches the head by $RAY_ADDRESS.
@pytest.mark.notebook
@pytest.mark.slow
def test_sweep_of_two_parameter_sets_makes_two_runs_and_a_comparison(tmp_path, ray_head, tracked):
    runs = tmp_path / "runs"
    env = {**os.environ, "TVKIT_RUNS_DIR": str(runs), "RAY_ADDRESS": ray_head}
    sweep_file = tmp_path / "sweep.json"
    # 03 alone, on a short clip and 2 real frames a set: the sweep is under test here, not 03's sections
    sweep_file.write_text(json.dumps({"profile": "smoke", "only": ["03"],
                                      "params": {"clip_frames": 30, "real_frames": 2},
                                      "grid": {"miss_rate": [0.0, 0.5]}}))
    r = subprocess.run([TVKIT, "run", "--sweep", str(sweep_file)], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    sweep_dir = runs / "sweeps" / r.stdout.strip().splitlines()[-1].split("/")[-1]
    assert r.stdout.strip().splitlines()[-1] == str(sweep_dir)
    index = read_index(runs)
    assert len(index) == 2 and {line["sweep"] for line in index} == {sweep_dir.name}
    rows = list(csv.DictReader(open(sweep_dir / "comparison.csv")))
    assert [float(row["miss_rate"]) for row in rows] == [0.0, 0.5]
    # the points run at once on Ray: the ledger has them in start order, the comparison in grid order
    assert sorted(row["run_id"] for row in rows) == sorted(line["run_id"] for line in index)
    assert float(rows[0]["final"]) > float(rows[1]["final"]), "missing half the objects must cost points"
    assert (sweep_dir / "comparison.png").stat().st_size > 10_000
    assert "| miss_rate |" in (sweep_dir / "comparison.md").read_text()

    a, b = (row["run_id"] for row in rows)
    r = subprocess.run([TVKIT, "runs", "compare", str(runs / a), b, "--json"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    cmp = json.loads(r.stdout)
    assert cmp["parameters_differ"] == {"miss_rate": {"a": 0.0, "b": 0.5}}
    final = cmp["scores"]["03_evaluate"]["final"]
    assert final["delta"] == pytest.approx(final["b"] - final["a"]) and final["delta"] < 0
    assert os.path.getsize(cmp["plot"]) > 10_000
    r = subprocess.run([TVKIT, "runs", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert f"score {float(rows[0]['final']):.4f}" in r.stdout


# --- a training search on Ray Tune (kit.search), and `tvkit tune`'s model pass as Ray tasks -----------------



def _fire_handful(tmp_path: Path) -> Path:
    """8 train and 4 val photos of the shared fire-smoke set, imported onto the fire element."""
    if not (FIRE / "data.yaml").is_file():
        pytest.fail(f"{FIRE} missing: the search test trains on the shared fire-smoke photos")
    return fire_subset(tmp_path, train=8, val=4)


@pytest.mark.slow
def test_a_training_search_on_ray_tune_scores_trials_exactly_and_lands_in_mlflow(tmp_path, monkeypatch, ray_head,
                                                                                 tracked):
    """Three trials on a Ray with 2 CPUs (the head, joined by this process; Optuna proposing, the
    second trial's learning rate negative on purpose): the failed trial is reported with its error,
    the others are scored by the element's exact score and read back from MLflow, nested under the
    search, the best tagged."""
    import mlflow
    import ray

    from kit.bundle import package
    from kit.search import score_model, search
    from kit.tune import tune_bundle

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("TVKIT_RUNS_DIR", str(tmp_path / "runs"))
    data = _fire_handful(tmp_path)
    bundle = package(tmp_path / "fire", element="kit-example/Detect-fire", run_self_test=False)   # reference model
    here = tune_bundle(bundle, data=data, split="train", holdout="val", min_images=4, log=None)
    ray.init(address=ray_head, log_to_driver=False, configure_logging=False)
    try:
        # `tvkit tune`'s model pass in two chunks as Ray tasks: the same candidates, the same figures
        chunked = tune_bundle(bundle, data=data, split="train", holdout="val", min_images=4, log=None, workers=2)
        log: list[str] = []
        r = search("kit-example/Detect-fire", data, trials=3, epochs=1, space=["imgsz=64", "lr0=0.001:0.01"],
                   points=[{"lr0": 0.002}, {"lr0": -0.01}], out=tmp_path / "search", name="s", log=log.append,
                   from_scratch=True, batch=4)
    finally:
        ray.shutdown()
    timed = ("model_seconds", "sweep_seconds")
    assert here.n == chunked.n == 8 and here.n_holdout == chunked.n_holdout == 4
    assert ({k: v for k, v in chunked.to_dict()["metrics"].items() if k not in timed}
            == {k: v for k, v in here.to_dict()["metrics"].items() if k not in timed})
    assert chunked.chosen == here.chosen and chunked.sweep.curves == here.sweep.curves
    assert any(line.startswith("ray: the running Ray, 2 CPUs") for line in log), log
    assert [t.config["lr0"] for t in r.trials[:2]] == [0.002, -0.01]
    assert sorted(t.status for t in r.trials) == ["failed", "ok", "ok"]
    (bad,) = r.failed
    assert bad.config["lr0"] == -0.01 and "'lr0=-0.01' is an invalid value" in bad.error
    ok = [t for t in r.trials if t.status == "ok"]
    assert all(t.config["optimizer"] == "AdamW" and t.config["imgsz"] == 64 and t.epochs == 1 for t in ok)
    assert r.best.score == max(t.score for t in ok) and r.best.mAP50 is not None
    # the objective is the exact score: rescoring the best trial's ONNX here gives the same figure
    from kit.manifest import example_manifest
    from kit.search import TrialSetup

    el = example_manifest().element("kit-example/Detect-fire")
    again = score_model(TrialSetup(el, str(data), str(tmp_path / "again")), r.best.onnx, tmp_path / "again" / "b")
    assert again["score"] == pytest.approx(r.best.score, abs=1e-9) and again["scored"] == 4
    text = str(r)
    assert "failed" in text and "is an invalid value" in text and f"{r.best.id} *" in text
    assert json.loads((tmp_path / "search" / "s" / "search.json").read_text())["best"] == r.best.id

    store = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    exp = [store.get_experiment_by_name("tvkit").experiment_id]
    (srun,) = store.search_runs(exp, filter_string="tags.`tvkit.kind` = 'search'")
    assert srun.data.tags["tvkit.best_trial"] == r.best.id and srun.data.metrics["failed"] == 1.0
    trials = store.search_runs(exp, filter_string="tags.`tvkit.kind` = 'trial'")
    assert len(trials) == 3 and {t.data.tags["mlflow.parentRunId"] for t in trials} == {srun.info.run_id}
    by_id = {t.data.tags["tvkit.trial"]: t for t in trials}
    assert by_id[bad.id].info.status == "FAILED" and "is an invalid value" in by_id[bad.id].data.tags["tvkit.error"]
    assert by_id[bad.id].data.params["tvkit.lr0"] == "-0.01"
    for t in ok:
        m = by_id[t.id].data
        assert m.metrics["score"] == pytest.approx(t.score) and m.metrics["epochs"] == 1.0
        assert {"mAP50", "seconds"} <= set(m.metrics) and m.params["tvkit.lr0"] == str(t.config["lr0"])
    assert [t.data.tags.get("tvkit.best") for t in trials].count("true") == 1
    assert by_id[r.best.id].data.tags["tvkit.best"] == "true"
