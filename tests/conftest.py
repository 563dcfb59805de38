import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
TVKIT = str(Path(sys.executable).with_name("tvkit"))

#: The validator's chute template (upstream's file, unchanged), standing in for a miner's checkout.
CHUTE_TEMPLATE = REFERENCE / "validator-ea7412f" / "turbovision_chute.py.j2"

# The kit never needs the network; make any hub lookup fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TVKIT_CHUTE_TEMPLATE", str(CHUTE_TEMPLATE))
# Runs and their MLflow store go to a folder of this test process, never the clone's papermill_runs/.
os.environ.setdefault("TVKIT_RUNS_DIR", tempfile.mkdtemp(prefix="tvkit-test-runs-"))
atexit.register(shutil.rmtree, os.environ["TVKIT_RUNS_DIR"], True)
# MLflow tracking off, except in the tests that read it (the `tracked` fixture: this process and those
# it starts). A tracked command first imports MLflow and opens its SQLite store, about 6 s here (a
# `tvkit push` that stops early: 8.0 s tracked, 2.0 s untracked), paid by every CLI test of push,
# comply, evaluate and dry-run. tests/test_track.py, test_runs.py, the two notebook suites, the sweeps
# and the training search run tracked and check what it records, secrets kept out included.
os.environ.setdefault("TVKIT_TRACKING", "off")


@pytest.fixture
def tracked(monkeypatch):
    """MLflow tracking on for this test (and the processes it starts)."""
    monkeypatch.setenv("TVKIT_TRACKING", "on")


@pytest.fixture
def reference_template():
    import cv2

    path = REFERENCE / "football_pitch_template.png"
    if not path.is_file():
        pytest.fail(f"{path} missing: the tests read the validator's template from ../shared/reference")
    return cv2.imread(str(path))


#: Test files of several minutes each (the two notebook suites, the Ray sweeps and search):
#: collected first, in this order, so that pytest-xdist's per-file scheduling starts them early
#: instead of leaving them for the end of the run, where one of them would be the whole tail
#: (measured on a fresh clone: the Ray file, 400 s, ran last on one worker).
LONG_FILES = ("test_suite_football.py", "test_suite_detect.py", "test_sweep_ray.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keeps its order
