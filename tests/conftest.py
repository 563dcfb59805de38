import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
TVKIT = str(Path(sys.executable).with_name("tvkit"))

# The kit never needs the network; make any hub lookup fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def reference_template():
    import cv2

    path = REFERENCE / "football_pitch_template.png"
    if not path.is_file():
        pytest.fail(f"{path} missing: the tests read the validator's template from ../shared/reference")
    return cv2.imread(str(path))
