"""The notebooks' steps (kit.journey): each notebook mirrors its steps' parameters, stays thin
(one call a cell, a sentence before each), and the steps show themselves and decide the fallbacks once."""
import ast
import json

import pytest

from kit import KitError, journey
from kit.journey.base import Shown
from kit.journey.fallbacks import bundle_or_reference, clip_or_synthetic, real_sets

from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def cells(path):
    return json.loads(path.read_text())["cells"]


def code_lines(cell) -> list[str]:
    return [s for s in "".join(cell["source"]).splitlines() if s.strip() and not s.strip().startswith("#")]


CODE_STARTS = ("nb.", "from kit", "import ", "metrics =", "assert", "print(")


def is_code(text: str) -> bool:
    """A markdown cell that is really code: starts like the notebooks' code cells, or parses and calls `nb.`."""
    text = text.strip()
    if text.startswith(CODE_STARTS):
        return True
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
               and n.func.value.id == "nb" for n in ast.walk(tree))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_declares_exactly_its_steps_parameters(path):
    cell = next(c for c in cells(path) if "parameters" in c.get("metadata", {}).get("tags", []))
    declared = [t.id for node in ast.parse("".join(cell["source"])).body if isinstance(node, ast.Assign)
                for t in node.targets]
    assert declared == list(journey.STEPS[path.stem].PARAMETERS)
    assert f'journey.start("{path.stem}", globals())' in "".join("".join(c["source"]) for c in cells(path))


def test_notebooks_are_thin_one_call_a_cell_with_a_sentence_before_each():
    code, one, lines = 0, 0, 0
    for path in NOTEBOOKS:
        prev = None
        for c in cells(path):
            if c["cell_type"] == "code":
                n = len(code_lines(c))
                code, lines, one = code + 1, lines + n, one + (n == 1)
                assert prev == "markdown", f"{path.name}: a code cell without a sentence before it: {c['source']}"
                assert "print(" not in "".join(c["source"]) or "standing" in "".join(c["source"]), \
                    f"{path.name}: a print block; return a result that shows itself: {c['source']}"
            elif c["cell_type"] == "markdown":
                assert not is_code("".join(c["source"])), \
                    f"{path.name}: a markdown cell holds code, not the sentence it should: {c['source']}"
            prev = c["cell_type"]
        assert "assert " in "".join(cells(path)[-1]["source"]), f"{path.name} does not end by checking its outcome"
    assert lines / code <= 4 and one / code >= 0.6, (lines / code, one / code)


def test_a_result_shows_its_text_and_its_one_picture(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    s = Shown("final <0.5>", picture=fig, data={"final": 0.5})
    assert str(s) == "final <0.5>" and s.metrics() == {"final": 0.5}
    png = s._repr_png_()
    assert png.startswith(b"\x89PNG")
    assert "final &lt;0.5&gt;" in s._repr_html_() and "data:image/png;base64," in s._repr_html_()
    assert Shown("text only")._repr_png_() is None and "<img" not in Shown("text only")._repr_html_()
    (tmp_path / "p.png").write_bytes(png)
    assert Shown("", picture=tmp_path / "p.png")._repr_png_() == png


def test_the_fallbacks_use_what_is_given_and_check_it(tmp_path):
    from kit.images.journey import resolve_element

    clip = tmp_path / "c.mp4"
    assert clip_or_synthetic(str(clip), "", tmp_path / "x", n_frames=5, seed=0) == (clip, None)
    assert not (tmp_path / "x").exists()
    with pytest.raises(KitError, match="no miner.py"):
        bundle_or_reference(str(tmp_path), resolve_element(), tmp_path)
    with pytest.raises(KitError, match="no miner.py"):
        bundle_or_reference(str(tmp_path), resolve_element("kit-example/Detect-fire"), tmp_path)
    (tmp_path / "miner.py").write_text("")
    assert bundle_or_reference(str(tmp_path), resolve_element(), tmp_path / "out") == tmp_path
    assert real_sets("none", "none") == {}
    assert real_sets(str(tmp_path / "mine"), "none") == {"detect": tmp_path / "mine"}


def test_start_names_the_notebook_or_says_the_nearest():
    with pytest.raises(KitError, match="did you mean '02_train'"):
        journey.start("02_trian", {})
    with pytest.raises(KitError, match=r"\['deploy_checks'\] not defined"):
        journey.start("00_onboarding", {"profile": "smoke", "element": "", "manifest": "", "run_dir": "",
                                        "metrics_path": ""})


def test_onboarding_follows_an_image_element_and_records_what_it_did(tmp_path, capsys):
    ns = {"profile": "smoke", "deploy_checks": False, "element": "kit-example/Detect-fire", "manifest": "",
          "run_dir": str(tmp_path), "metrics_path": str(tmp_path / "m.json")}
    nb = journey.start("00_onboarding", ns)
    assert capsys.readouterr().out.startswith("kit-example/Detect-fire (image) - outputs go to")
    assert "skipped" in str(nb.pitch()) and not (tmp_path / "pitch_template_numbered.png").exists()
    assert "kind           image" in str(nb.element())
    assert "[ok]" in str(nb.doctor())
    metrics = nb.record()
    assert json.loads((tmp_path / "m.json").read_text()) == metrics
    assert set(metrics) == {"essentials_ok", "checks_ok", "checks_total", "to_do", "element_id", "element_kind"}
    assert metrics["element_kind"] == "image" and metrics["checks_total"] == len(nb.checks)
