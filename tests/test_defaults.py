"""The defaults table (kit/defaults.py): well formed, mirrored by the notebooks' parameters cells,
read by the command line, and the profiles are overlays on it."""
import argparse
import ast
import json

import pytest

from kit import KitError
from kit.defaults import (
    DEFAULTS,
    PROFILE_KEYS,
    PROFILES,
    RENAMED,
    TABLE,
    check_key,
    default,
    did_you_mean,
    profile_parameters,
    resolved,
)

from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def parameters_cell(path) -> dict:
    """What a notebook's `parameters` cell assigns, as Python values (read from the stored JSON)."""
    cells = json.loads(path.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"])
    return {t.id: ast.literal_eval(node.value) for node in ast.parse(source).body
            if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_parameters_mirror_the_table(path):
    assigned = parameters_cell(path)
    differ = {k: {"notebook": v, "table": DEFAULTS[k].value} for k, v in assigned.items()
              if k in DEFAULTS and (v != DEFAULTS[k].value or type(v) is not type(DEFAULTS[k].value))}
    assert not differ, f"{path.name}: parameters that differ from kit/defaults.py: {differ}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_use_no_renamed_parameter(path):
    old = {k: RENAMED[k] for k in parameters_cell(path) if k in RENAMED}
    assert not old, f"{path.name}: old parameter names (old -> new): {old}"


def test_every_row_is_well_formed():
    assert len(DEFAULTS) == len(TABLE), "a key appears twice in the table"
    for d in TABLE:
        assert d.key.isidentifier() and d.meaning, d
        assert type(d.value) is d.type, f"{d.key}: value {d.value!r} is not a {d.type.__name__}"
        assert not d.choices or d.value in d.choices, f"{d.key}: {d.value!r} not among {d.choices}"
    assert not set(RENAMED) & set(DEFAULTS), "an old name is still a key"
    assert set(RENAMED.values()) <= set(DEFAULTS)


def test_choices_are_the_kits_own_vocabularies():
    from kit.manifest import EVALUATE_MODES
    from kit.synth import DIFFICULTIES
    from kit.train import PRESETS

    assert set(DEFAULTS["profile"].choices) == set(PROFILES)
    assert set(DEFAULTS["preset"].choices) - {""} == set(PRESETS)
    assert set(DEFAULTS["mode"].choices) == set(EVALUATE_MODES)
    assert set(DEFAULTS["difficulty"].choices) == set(DIFFICULTIES)


def test_budgets_and_caps_are_never_defaults():
    """The element's numbers (latency budget, size cap, service rate) come from the manifest."""
    for key in DEFAULTS:
        assert not any(w in key for w in ("latency_p95", "budget", "max_model_size", "service_rate")), key


def test_profiles_are_overlays_on_the_table():
    for name, overlay in PROFILES.items():
        for k, v in overlay.items():
            assert type(v) is DEFAULTS[k].type, f"{name}.{k}"
        values = resolved(name)
        assert values["profile"] == name and set(values) == set(DEFAULTS)
        assert all(values[k] == d.value for k, d in DEFAULTS.items() if k not in overlay and k != "profile")
    assert PROFILES["smoke"] == {}, "smoke is the table itself (the notebooks' defaults)"
    assert profile_parameters("cpu") == {"profile": "cpu", **PROFILES["cpu"]}
    assert profile_parameters("smoke") == {"profile": "smoke", **{k: DEFAULTS[k].value for k in PROFILE_KEYS}}


def test_runs_profiles_come_from_the_table():
    from kit.runs import PROFILES as RUN_PROFILES

    assert RUN_PROFILES == {name: profile_parameters(name) for name in PROFILES}


def test_unknown_keys_get_a_did_you_mean():
    assert default("stride") == 2
    with pytest.raises(KitError, match=r"strde: not a key .*did you mean stride\?"):
        check_key("strde")
    with pytest.raises(KitError, match="ground_truth: renamed to truth"):
        check_key("ground_truth")
    with pytest.raises(KitError, match=r"unknown profile \(did you mean smoke\?\)"):
        resolved("smoek")
    assert did_you_mean("zzzz", ["stride"]) == ""


def _option_defaults(parser: argparse.ArgumentParser, path: str = "tvkit"):
    """(command path, option, dest, default) of every option of every command, walking the subparsers."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _option_defaults(sub, f"{path} {name}")
        elif action.option_strings and action.help != argparse.SUPPRESS:
            yield path, action.option_strings[-1], action.dest, action.default


#: Options whose dest is a table key but that mean something else on purpose (say why).
NOT_THE_TABLES = {
    ("tvkit dry-run", "--port"): "a served chute listens on the chute's conventional 8000; notebooks pick a free one",
    ("tvkit ui", "--port"): "the MLflow UI's port, not a chute's",
    ("tvkit test-chute", "--mode"): "a challenge mode (video, frames, both), not the evaluate mode",
    ("tvkit comply", "--mode"): "a replay mode (frames, video), not the evaluate mode",
}


def test_command_line_defaults_read_the_table():
    from kit.cli import build_parser

    differ = []
    for cmd, opt, dest, value in _option_defaults(build_parser()):
        if dest not in DEFAULTS or (cmd, opt) in NOT_THE_TABLES or value is None:
            continue
        want = DEFAULTS[dest].value
        if value != want and not (want in ("", 0) and value in ("", 0)):
            differ.append(f"{cmd} {opt}: {value!r} (table {want!r})")
    assert not differ, "command-line defaults that are not the table's:\n" + "\n".join(differ)
