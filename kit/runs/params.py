"""A run's parameters: which notebooks run, what each one declares, what it is given and from where.

Decisions: a notebook is only ever given the parameters its `parameters` cell declares (so the
suite works with whichever notebooks exist); a name no notebook of the run declares is refused
before anything runs (it would be silently dropped), with the nearest declared name; credentials
are never parameters (parameters are stored in the run folder). Precedence, lowest first: the
profile, what earlier notebooks produced (by name), the user's `-p`; the runner's paths last.

Usage: `passed, sources = notebook_parameters(declared, PROFILES["smoke"], outputs, overrides, runner)`.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from .. import KitError
from ..defaults import did_you_mean
from ..settings import SETTINGS_HELP
from .common import NOTEBOOKS_DIR, RUNNER_PARAMETERS


def list_notebooks(only: list[str] | None = None, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The suite in order; `only` picks by number prefix ("01") or stem ("01_data_prep")."""
    books = sorted(p for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return books
    picked = [b for b in books if any(b.stem == o or b.stem.split("_")[0] == o for o in only)]
    unknown = [o for o in only if not any(b.stem == o or b.stem.split("_")[0] == o for b in books)]
    if unknown:
        names = [b.stem for b in books] + [b.stem.split("_")[0] for b in books]
        raise KitError(f"--only {','.join(unknown)}: no such notebook in {notebooks_dir}"
                       f"{did_you_mean(unknown[0], names)} (have {', '.join(b.stem for b in books)})")
    return picked


def check_parameter_name(key: str, where: str) -> None:
    """Refuse names a run must not take from the user: credentials (parameters are stored in the
    run folder) and the runner's own output paths."""
    if not key.isidentifier():
        raise KitError(f"{where} {key!r}: a parameter name must be a Python identifier")
    if key.upper() in SETTINGS_HELP and SETTINGS_HELP[key.upper()][0]:
        raise KitError(f"{where} {key}: credentials come from the environment or .env, never from run parameters "
                       "(parameters are stored in the run folder)")
    if key in RUNNER_PARAMETERS:
        raise KitError(f"{where} {key}: set by `tvkit run` itself (the run's folder); pass other parameters")


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values are read as JSON when they parse (numbers, true, lists), else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise KitError(f"-p {pair!r}: expected key=value with a Python identifier as key")
        check_parameter_name(key, "-p")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def split_sweep(overrides: dict[str, Any], pairs: list[str]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(fixed parameters, sweep grid) from `-p` pairs: `key=a,b,c` (a value that is not JSON and
    holds commas) sweeps key over a, b and c, each read as JSON when it parses; a JSON value
    (`key=[1,2]`, `key="a,b"`) stays one value."""
    grid: dict[str, list[Any]] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        key = key.strip()
        if isinstance(overrides.get(key), str) and "," in raw and overrides[key] == raw:
            try:
                json.loads(raw)
            except json.JSONDecodeError:
                grid[key] = [_json_or_text(x.strip()) for x in raw.split(",") if x.strip()]
    return {k: v for k, v in overrides.items() if k not in grid}, grid


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def declared_parameters(book: Path) -> dict[str, Any]:
    """The parameters a notebook's `parameters` cell declares, with their defaults (as Python
    values where they are literals, else their source text)."""
    import logging

    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.WARNING)  # our own lines say what runs
    out: dict[str, Any] = {}
    for name, p in pm.inspect_notebook(str(book)).items():
        try:
            out[name] = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            out[name] = p["default"]
    return out


def check_declared(names: list[str], declared: dict[str, dict[str, Any]], where: str) -> None:
    """A parameter that no notebook of the run declares would be silently dropped: say so instead."""
    known = sorted({n for d in declared.values() for n in d if n not in RUNNER_PARAMETERS})
    for name in names:
        if not any(name in d for d in declared.values()):
            raise KitError(f"{where} {name}: no notebook in this run ({', '.join(declared)}) declares it"
                           f"{did_you_mean(name, known)}; they declare: {', '.join(known)}")


def notebook_parameters(declared: dict[str, Any], profile_params: dict[str, Any],
                        outputs: dict[str, tuple[Any, str]], overrides: dict[str, Any],
                        runner: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """What one notebook is given, and where each value came from.

    Only declared names are passed. Precedence, lowest first: the profile, then what earlier
    notebooks produced (their metrics, by name; the latest producer wins), then the user's
    overrides; the runner's output paths are always its own. An output of None means "not
    produced" and leaves the notebook's default alone.
    """
    passed: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in declared:
        if name in runner:
            passed[name], sources[name] = runner[name], "runner"
        elif name in overrides:
            passed[name], sources[name] = overrides[name], "override"
        elif name in outputs:
            passed[name], sources[name] = outputs[name]
        elif name in profile_params:
            passed[name], sources[name] = profile_params[name], "profile"
    return passed, sources
