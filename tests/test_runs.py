"""The suite runner end to end (papermill, ledger), and the notebooks' hygiene."""
import json
import os
import subprocess

import nbformat
import pytest

from conftest import REPO, TVKIT
from test_cli import FAKE

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters` (papermill silently runs defaults without it)"


def test_notebooks_exist():
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


@pytest.mark.notebook
@pytest.mark.slow
def test_tvkit_run_writes_a_run_folder_and_ledger_without_secrets(tmp_path):
    env = {**os.environ, **FAKE, "TVKIT_RUNS_DIR": str(tmp_path / "runs")}
    r = subprocess.run([TVKIT, "run", "--profile", "smoke", "--only", "00", "-p", "deploy_checks=false"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run_dir = tmp_path / "runs" / r.stdout.strip().splitlines()[-1].split("/")[-1]
    assert r.stdout.strip().splitlines()[-1] == str(run_dir)
    params = json.loads((run_dir / "params.json").read_text())
    assert params["profile"] == "smoke" and params["parameters"]["deploy_checks"] is False
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["00_onboarding"]["essentials_ok"] is True
    executed = nbformat.read(run_dir / "00_onboarding.ipynb", as_version=4)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")
    assert (run_dir / "pitch_template_numbered.png").is_file()
    index = [json.loads(line) for line in (tmp_path / "runs" / "index.jsonl").read_text().splitlines()]
    assert index[-1]["run_id"] == run_dir.name and index[-1]["status"] == "ok"
    # no secret anywhere the run wrote, nor in what it printed
    for path in [*run_dir.rglob("*"), tmp_path / "runs" / "index.jsonl"]:
        if path.is_file():
            data = path.read_bytes()
            for v in FAKE.values():
                assert v.encode() not in data, f"secret found in {path}"
    for v in FAKE.values():
        assert v not in r.stdout and v not in r.stderr


@pytest.mark.notebook
@pytest.mark.slow
def test_failing_notebook_stops_the_run_and_keeps_the_record(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    for name, src in (("00_ok", "x = 1"), ("01_boom", "raise RuntimeError('no data here')"), ("02_never", "x = 2")):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        params = nbformat.v4.new_code_cell("run_dir = ''\nmetrics_path = ''")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(src)]
        nbformat.write(nb, books / f"{name}.ipynb")
    from kit.runs import read_index, run_suite

    res = run_suite("smoke", runs_dir=tmp_path / "runs", notebooks_dir=books, log=lambda s: None)
    assert res.status == "failed"
    assert [n.status for n in res.notebooks] == ["ok", "failed"]
    assert res.notebooks[1].error["ename"] == "RuntimeError" and "no data here" in res.notebooks[1].error["evalue"]
    assert (res.run_dir / "00_ok.ipynb").is_file() and (res.run_dir / "01_boom.ipynb").is_file()
    assert not (res.run_dir / "02_never.ipynb").exists()
    assert read_index(tmp_path / "runs")[-1]["status"] == "failed"
