"""The notebook suite through `tvkit run`, following a Detect element
(kit-example/Detect-fire): papermill runs every notebook once, and these
assertions read what each recorded (metrics.json), how they were wired and the summary page."""
import json
import os
import subprocess

import pytest

from conftest import TVKIT
from test_cli import FAKE
from test_runs import NOTEBOOKS, assert_no_fake_secret_in


@pytest.mark.notebook
@pytest.mark.slow
def test_tvkit_run_element_follows_an_image_element_through_every_notebook(tmp_path, tracked):
    """`tvkit run --element` with a Detect element: the same notebooks, the image wing's steps,
    wired by name, and a summary with the element's score table, per class and galleries."""
    from kit.images.score import evaluate_image_files

    eid = "kit-example/Detect-fire"
    env = {**os.environ, **FAKE, "TVKIT_RUNS_DIR": str(tmp_path / "runs")}
    r = subprocess.run([TVKIT, "run", "--element", eid, "-p", "deploy_checks=false"],
                       capture_output=True, text=True, env=env, timeout=2400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run_dir = tmp_path / "runs" / r.stdout.strip().splitlines()[-1].split("/")[-1]
    params = json.loads((run_dir / "params.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert params["notebooks"] == [p.name for p in NOTEBOOKS]
    assert metrics["00_onboarding"]["element_kind"] == "image"
    for nb in ("00_onboarding", "01_data_prep", "02_train", "03_evaluate", "04_chute_dry_run", "05_deploy"):
        assert params["passed"][nb]["parameters"]["element"] == eid, nb
    # 01's photos reach 02 (training, latency), 03 (scoring) and 04 (dry run, compliance); 02's bundle the rest
    assert params["passed"]["02_train"]["sources"]["detect_data_yaml"] == "01_data_prep"
    for nb in ("03_evaluate", "04_chute_dry_run"):
        assert params["passed"][nb]["sources"]["images"] == "01_data_prep"
        assert params["passed"][nb]["sources"]["bundle"] == "02_train"
    assert params["passed"]["03_evaluate"]["sources"]["truth"] == "01_data_prep"
    assert metrics["02_train"]["bundle_source"] == "reference" and metrics["02_train"]["trained_bundle"]
    assert metrics["02_train"]["latency_p95_ms_per_photo"] > 0
    # 03 scored every held-out photo, and the files it left score the same from the command line's path
    ev = metrics["03_evaluate"]
    assert ev["n_images"] == metrics["01_data_prep"]["images_per_split"]["test"] > 0
    assert list(ev["per_class"]) == ["fire", "smoke", "fire extinguisher"]
    again = evaluate_image_files(eid, metrics["01_data_prep"]["truth"], ev["predictions"], split="test")
    assert again.final == pytest.approx(ev["breakdown"]["final"])
    assert {f"{eid}/final", f"{eid}/map50", f"{eid}/false_positive"} <= set(ev["breakdown"])
    # 03 tuned the bundle's thresholds by the exact score on 01's val photos, reported on its test photos
    assert ev["tune"]["settings"] > 300 and ev["tune"]["tune/chosen"] >= ev["tune"]["tune/default"]
    assert ev["tune"]["holdout/default"] == pytest.approx(ev["breakdown"]["final"], abs=1e-9)
    # the dry run must pass; compliance may wait on latency on a busy machine, but it gives a verdict
    assert metrics["04_chute_dry_run"]["dry_run_verdict"] == "PASS"
    assert metrics["04_chute_dry_run"]["comply_verdict"]
    assert metrics["05_deploy"]["element_id"] == eid and metrics["05_deploy"]["planned_steps"]
    assert metrics["06_maintain"]["ledger_entries"] == 0 and metrics["06_maintain"]["test_ok"] is None
    # 01 imported the element's objects only, by name; 02 timed the bundle per photo against the element's budget
    assert set(metrics["01_data_prep"]["instances"]) == {"fire", "smoke", "fire extinguisher"}
    from kit.images.journey import resolve_element

    assert metrics["02_train"]["latency_budget_ms"] == resolve_element(eid).latency_p95_ms
    page = (run_dir / "summary.html").read_text()
    assert f"<td>{eid}/final</td>" in page and "<tr class=final><td>final</td>" in page
    assert "<h2>Per class (03_evaluate)</h2>" in page and "<td>fire extinguisher</td>" in page
    galleries = [p for p in ("03_evaluate/report/false_positives.png", "03_evaluate/report/misses.png",
                             "report/false_positives.png", "report/misses.png") if f"<img src='{p}'" in page]
    assert galleries and all((run_dir / p).is_file() for p in galleries)
    assert "<img src='photo_gallery.png'" in page
    assert_no_fake_secret_in((tmp_path / "runs").rglob("*"))  # the run folder, the MLflow store and artifacts
    for v in FAKE.values():
        assert v not in r.stdout and v not in r.stderr
