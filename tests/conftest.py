import os
import sys
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


@pytest.fixture
def reference_template():
    import cv2

    path = REFERENCE / "football_pitch_template.png"
    if not path.is_file():
        pytest.fail(f"{path} missing: the tests read the validator's template from ../shared/reference")
    return cv2.imread(str(path))
