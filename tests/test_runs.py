"""The suite runner end to end (papermill, forward wiring, summary, ledger, sweeps, comparisons),
and the notebooks' hygiene."""
import ast
import json

import nbformat
import pytest

from kit import KitError
from kit.runs import (
    PROFILES,
    compare_runs,
    format_comparison,
    load_run,
    load_sweep,
    notebook_parameters,
    read_index,
    resolve_run,
    run_suite,
    run_sweep,
)

from conftest import REPO
from test_cli import FAKE

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PNG = b"\x89PNG\r\n\x1a\n"  # enough of a picture for the summary to link it


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters` (papermill silently runs defaults without it)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_defaults_are_the_smoke_profile(path):
    """nbval runs the notebooks on their defaults: they must be what `--profile smoke` passes."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    defaults = {t.id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body
                if isinstance(node, ast.Assign) for t in node.targets}
    differ = {k: (defaults[k], v) for k, v in PROFILES["smoke"].items() if k in defaults and defaults[k] != v}
    assert not differ, f"notebook default vs PROFILES['smoke']: {differ}"


def test_notebooks_exist():
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


def test_parameters_precedence_profile_then_outputs_then_overrides():
    declared = {"a": 0, "b": 0, "c": 0, "d": "default", "e": 0, "run_dir": ""}
    passed, sources = notebook_parameters(
        declared, profile_params={"a": 1, "b": 1, "c": 1, "unused": 1},
        outputs={"b": (2, "01_x"), "c": (2, "01_x"), "undeclared": (2, "01_x")},
        overrides={"c": 3}, runner={"run_dir": "/r", "metrics_path": "/r/m.json"})
    assert passed == {"a": 1, "b": 2, "c": 3, "run_dir": "/r"}
    assert sources == {"a": "profile", "b": "01_x", "c": "override", "run_dir": "runner"}


@pytest.mark.parametrize("text, message", [
    ("{}", "non-empty `grid`"),
    ('{"grid": {"seed": 1}}', "grid.seed must be a non-empty list"),
    ('{"grid": {"seed": [1]}, "epochs": 3}', "unknown key(s) epochs"),
    ('{"grid": {"seed": [1]}, "params": {"seed": 2}}', "in both `grid` and `params`"),
    ("grid: [unclosed", "not valid YAML or JSON"),
])
def test_sweep_file_errors_say_what_to_fix(tmp_path, text, message):
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(KitError) as e:
        load_sweep(path)
    assert message in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("only", ["01,03", "[01, 03]", "['01', '03']"])
def test_sweep_file_yaml_only_as_text_numbers_or_strings(tmp_path, only):
    path = tmp_path / "sweep.yaml"
    path.write_text(f"profile: smoke\nonly: {only}\ngrid:\n  miss_rate: [0.0, 0.3]\n")
    assert load_sweep(path) == {"profile": "smoke", "only": ["01", "03"], "grid": {"miss_rate": [0.0, 0.3]}}


def fake_run(runs_dir, run_id, parameters, metrics, notebooks=("03_evaluate.ipynb",)):
    d = runs_dir / run_id
    d.mkdir(parents=True)
    (d / "params.json").write_text(json.dumps({"run_id": run_id, "parameters": parameters, "notebooks": notebooks}))
    (d / "metrics.json").write_text(json.dumps(metrics))
    return d


def test_compare_scores_latency_and_parameters(tmp_path):
    a = fake_run(tmp_path, "20260101-000000-smoke-aaaa", {"profile": "smoke", "seed": 0, "miss_rate": 0.1},
                 {"02_train": {"latency_ms": 40.0}, "03_evaluate": {"breakdown": {"objects": 0.5, "final": 0.6}}})
    b = fake_run(tmp_path, "20260101-000001-smoke-bbbb", {"profile": "smoke", "seed": 0, "miss_rate": 0.3},
                 {"02_train": {"latency_ms": 30.0}, "03_evaluate": {"breakdown": {"objects": 0.25, "final": 0.7}}})
    assert resolve_run("aaaa", tmp_path) == a and resolve_run(str(b), tmp_path) == b
    with pytest.raises(KitError, match="matches 2 runs"):
        resolve_run("20260101", tmp_path)
    with pytest.raises(KitError, match="runs list"):
        resolve_run("zzzz", tmp_path)
    cmp = compare_runs(load_run(a), load_run(b))
    assert cmp["scores"]["03_evaluate"]["objects"] == {"a": 0.5, "b": 0.25, "delta": -0.25}
    assert cmp["scores"]["03_evaluate"]["final"]["delta"] == pytest.approx(0.1)
    assert cmp["latency"]["02_train.latency_ms"]["delta"] == -10.0
    assert cmp["parameters_differ"] == {"miss_rate": {"a": 0.1, "b": 0.3}}
    text = format_comparison(cmp)
    assert "-0.2500" in text and "+0.1000" in text and "miss_rate" in text and "seed" not in text


def make_notebook(path, params_src, *cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(params_src)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(nb, path)


def assert_no_fake_secret_in(paths):
    for path in paths:
        if path.is_file():
            data = path.read_bytes()
            for v in FAKE.values():
                assert v.encode() not in data, f"secret found in {path}"


@pytest.mark.notebook
@pytest.mark.slow
def test_outputs_wire_forward_by_declared_name_and_the_summary_shows_them(tmp_path, monkeypatch, tracked):
    for k, v in FAKE.items():
        monkeypatch.setenv(k, v)
    books = tmp_path / "nb"
    books.mkdir()
    # A makes a file and a picture, prints a secret from the environment and writes one given to it
    make_notebook(books / "00_make.ipynb", "note = ''\nrun_dir = ''\nmetrics_path = ''",
                  "import json, os, pathlib\nout = pathlib.Path(run_dir)\nprint('token', os.environ['HF_TOKEN'])\n"
                  f"(out / 'made.txt').write_text(note)\n(out / 'a_plot.png').write_bytes({PNG!r})",
                  "json.dump({'made': str(out / 'made.txt'), 'count': 3, 'size': 7, 'absent': None, 'extra': 1},"
                  " open(metrics_path, 'w'))")
    # B declares some of A's outputs; it must get exactly those, the override winning
    make_notebook(books / "01_use.ipynb",
                  "made = ''\ncount = 0\nsize = 0\nabsent = 'default'\nrun_dir = ''\nmetrics_path = ''",
                  "import json\nassert open(made).read().startswith('***'), open(made).read()\n"
                  "assert (count, size, absent) == (5, 7, 'default'), (count, size, absent)\n"
                  "assert 'extra' not in globals() and 'note' not in globals()",
                  "json.dump({'breakdown': {'objects': 0.5, 'final': 0.25}}, open(metrics_path, 'w'))")
    res = run_suite("smoke", {"note": FAKE["CHUTES_API_KEY"] + " is a value, not a name", "count": 5},
                    runs_dir=tmp_path / "runs", notebooks_dir=books, log=lambda s: None)
    assert res.status == "ok", [n.error for n in res.notebooks]

    params = json.loads((res.run_dir / "params.json").read_text())
    assert params["passed"]["01_use"]["sources"] == {"made": "00_make", "count": "override", "size": "00_make",
                                                     "run_dir": "runner", "metrics_path": "runner"}
    assert params["passed"]["01_use"]["parameters"]["made"] == str(res.run_dir / "made.txt")
    assert set(params["passed"]["00_make"]["parameters"]) == {"note", "run_dir", "metrics_path"}

    page = (res.run_dir / "summary.html").read_text()
    assert res.run_id in page and "<span class=\"ok\">ok</span>" in page
    pictures = page.split("<h2>Pictures</h2>", 1)[1]
    assert "<h3>00_make</h3><figure><a href='a_plot.png'>" in pictures
    scores = page.split("<h2>Scores</h2>", 1)[1].split("</table>", 1)[0]
    assert "<th>01_use</th>" in scores and "0.2500" in scores and "0.5000" in scores
    assert "made = " in page and "(00_make)" in page and "(override)" in page
    assert read_index(tmp_path / "runs")[-1]["score"] == 0.25
    assert_no_fake_secret_in((tmp_path / "runs").rglob("*"))  # the run folder, the MLflow store and artifacts


@pytest.mark.notebook
@pytest.mark.slow
def test_failing_notebook_stops_the_run_and_keeps_the_record(tmp_path, monkeypatch, tracked):
    monkeypatch.setenv("HF_TOKEN", FAKE["HF_TOKEN"])
    books = tmp_path / "nb"
    books.mkdir()
    make_notebook(books / "00_ok.ipynb", "run_dir = ''\nmetrics_path = ''",
                  "import json\njson.dump({'kept': True}, open(metrics_path, 'w'))")
    make_notebook(books / "01_boom.ipynb", "run_dir = ''\nmetrics_path = ''", "x = 1",
                  "import os\nraise RuntimeError('no data here ' + os.environ['HF_TOKEN'])")
    make_notebook(books / "02_never.ipynb", "run_dir = ''\nmetrics_path = ''", "x = 2")

    res = run_suite("smoke", runs_dir=tmp_path / "runs", notebooks_dir=books, log=lambda s: None)
    assert res.status == "failed"
    assert [n.status for n in res.notebooks] == ["ok", "failed"]
    err = res.notebooks[1].error
    assert err["ename"] == "RuntimeError" and "no data here" in err["evalue"]
    assert err["cell"] == 2, "the index in the stored notebook, not papermill's (which counts its injected cell)"
    assert (res.run_dir / "00_ok.ipynb").is_file() and (res.run_dir / "01_boom.ipynb").is_file()
    assert not (res.run_dir / "02_never.ipynb").exists()
    assert json.loads((res.run_dir / "metrics.json").read_text()) == {"00_ok": {"kept": True}}
    assert read_index(tmp_path / "runs")[-1]["status"] == "failed"

    page = (res.run_dir / "summary.html").read_text()
    failure = page.split("<h2>Failure</h2>", 1)[1].split("<h2>Notebooks</h2>", 1)[0]
    assert f"<b>01_boom</b> failed in cell 2 of {books / '01_boom.ipynb'} (In [4] in the executed notebook)" in failure
    assert "RuntimeError" in failure and "no data here ***" in failure
    assert "raise RuntimeError(&#x27;no data here &#x27; + os.environ[&#x27;HF_TOKEN&#x27;])" in failure
    assert "<td>02_never</td><td>not run</td>" in page
    assert_no_fake_secret_in((tmp_path / "runs").rglob("*"))  # the run folder, the MLflow store and artifacts


@pytest.mark.notebook
@pytest.mark.slow
def test_parameters_nobody_declares_are_refused_before_anything_runs(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    make_notebook(books / "00_a.ipynb", "seed = 0\nrun_dir = ''\nmetrics_path = ''", "x = 1")
    with pytest.raises(KitError, match=r"-p epochs: no notebook in this run \(00_a\) declares it; they declare: seed"):
        run_suite("smoke", {"epochs": 3}, runs_dir=tmp_path / "runs", notebooks_dir=books)
    spec = {"grid": {"seed": [0, 1]}, "params": {"epochs": 3}}
    with pytest.raises(KitError, match="sweep parameter epochs"):
        run_sweep(spec, runs_dir=tmp_path / "runs", notebooks_dir=books)
    assert not (tmp_path / "runs").exists()
