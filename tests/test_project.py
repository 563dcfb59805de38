"""The project's own files agree with each other: pins, README commands, CI."""
import re
import tomllib

from conftest import REPO


def pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_environment_yml_mirrors_the_pins():
    proj = pyproject()["project"]
    pins = set(proj["dependencies"]) | set(proj["optional-dependencies"]["test"])
    env = (REPO / "environment.yml").read_text()
    pip_section = env.split("- pip:", 1)[1]
    listed = {m.group(1).strip() for m in re.finditer(r"^\s*- (?!-e )(\S.*)$", pip_section, re.M)}
    assert listed == pins


def test_required_pins():
    deps = pyproject()["project"]["dependencies"]
    for pin in ("torch==2.14.*", "torchvision==0.29.*", "ultralytics==8.4.*", "supervision==0.31.*", "chutes==0.6.11rc2"):
        assert pin in deps


def test_readme_quickstart_and_ci_agree():
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [ln.split("#")[0].strip() for ln in quick.strip().splitlines()]
    assert commands == ["make run", "make test"]
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
