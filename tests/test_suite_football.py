"""The notebook suite through `tvkit run`, on football (the default element,
smoke profile): papermill runs every notebook once, and these
assertions read what each recorded (metrics.json), how they were wired and the summary page."""
import json
import os
import subprocess

import nbformat
import pytest

from kit.runs import read_index

from conftest import TVKIT
from test_cli import FAKE
from test_runs import assert_no_fake_secret_in


@pytest.mark.notebook
@pytest.mark.slow
def test_tvkit_run_smoke_runs_the_suite_wired_and_writes_no_secret(tmp_path, tracked):
    env = {**os.environ, **FAKE, "TVKIT_RUNS_DIR": str(tmp_path / "runs")}
    r = subprocess.run([TVKIT, "run", "--profile", "smoke", "-p", "deploy_checks=false"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run_dir = tmp_path / "runs" / r.stdout.strip().splitlines()[-1].split("/")[-1]
    assert r.stdout.strip().splitlines()[-1] == str(run_dir)
    assert f"summary: {run_dir / 'summary.html'}" in r.stdout and "  final " in r.stdout
    params = json.loads((run_dir / "params.json").read_text())
    assert params["profile"] == "smoke" and params["parameters"]["deploy_checks"] is False
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["00_onboarding"]["essentials_ok"] is True
    assert metrics["00_onboarding"]["element_kind"] == "clip"
    # 01: two synthetic clips into both datasets, players not split by team (the real boxes' four classes)
    data = metrics["01_data_prep"]
    assert data["clips"] == 2 and data["teams"] is False and data["detect_train_images"] > 0
    assert data["pose_train_images"] > 0 and set(data["instances"]) == {"detect", "pose"}
    # 02: both models trained; under smoke the reference goes on, timed against the element's budget
    train = metrics["02_train"]
    assert train["bundle_source"] == "reference" and train["trained_bundle"] != train["bundle"]
    assert set(train["train_seconds"]) == {"detect", "pose"} and train["latency"]["p95_ms"] > 0
    assert train["latency"]["budget_ms"] == 200 and train["bundle_mb"] > 0
    # 03 scores the held-out clip that 01 made, not one of its own
    assert params["passed"]["03_evaluate"]["sources"]["video"] == "01_data_prep"
    assert metrics["03_evaluate"]["video"] == metrics["01_data_prep"]["video"]
    # 03 also checks the ball model on held-out real frames (at most real_frames of them)
    ball = metrics["03_evaluate"]["real_ball"]
    assert ball["frames"] == 12 and ball["n_ref"] > 0 and ball["tp"] + ball["fp"] <= ball["frames"]
    assert metrics["01_data_prep"]["clip_splits"][os.path.basename(metrics["03_evaluate"]["video"])[:-4]] == "val"
    # 02 scores the bundle it hands on on that clip too; 04 dry-runs that very bundle: one score three times
    assert params["passed"]["02_train"]["sources"]["video"] == "01_data_prep"
    assert params["passed"]["04_chute_dry_run"]["sources"]["bundle"] == "02_train"
    finals = {nb: metrics[nb]["breakdown"]["final"] for nb in ("02_train", "03_evaluate", "04_chute_dry_run")}
    # the final is the mean of the example elements' gated scores (S - baseline_theta), not a raw sum
    assert len(set(finals.values())) == 1 and finals["03_evaluate"] > 0.3, finals
    assert metrics["04_chute_dry_run"]["dry_run_verdict"] == "PASS"
    assert "dry run (04_chute_dry_run): PASS" in r.stdout
    # 05 plans the push of 02's bundle without credentials; 06 reads the (empty) ledger and draws it
    assert metrics["05_deploy"]["plan_only"] is True and metrics["05_deploy"]["planned_steps"]
    assert metrics["05_deploy"]["test_ok"] is None  # nothing deployed, nothing tested
    assert params["passed"]["05_deploy"]["parameters"]["bundle"] == metrics["02_train"]["bundle"]
    assert metrics["06_maintain"]["ledger_entries"] == 0 and metrics["06_maintain"]["deleted"] == []
    executed = nbformat.read(run_dir / "00_onboarding.ipynb", as_version=4)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")
    # under papermill the widgets cannot move: 03 shows static pictures, and its explorer a text fallback
    evaluated = nbformat.read(run_dir / "03_evaluate.ipynb", as_version=4)
    kinds = [set(o.get("data", {})) for c in evaluated.cells if c.cell_type == "code" for o in c.outputs]
    assert sum("image/png" in k for k in kinds) >= 3
    widgets = [k for k in kinds if "application/vnd.jupyter.widget-view+json" in k]
    assert widgets and all("text/plain" in k for k in widgets)
    page = (run_dir / "summary.html").read_text()
    for picture in ("pitch_template_numbered.png", "detect_gallery.png", "report/components.png",
                    "report/timeline.png"):
        assert f"<img src='{picture}'" in page and (run_dir / picture).is_file()
    assert "<tr class=final><td>final</td>" in page
    index = read_index(tmp_path / "runs")
    assert index[-1]["run_id"] == run_dir.name and index[-1]["status"] == "ok"
    assert index[-1]["score"] == metrics["03_evaluate"]["breakdown"]["final"]
    # no secret anywhere the run wrote, nor in what it printed
    assert_no_fake_secret_in((tmp_path / "runs").rglob("*"))  # the run folder, the MLflow store and artifacts
    for v in FAKE.values():
        assert v not in r.stdout and v not in r.stderr
