"""The packaging gate: what `tvkit package` refuses, so no bundle it writes fails compliance.

Usage:
    ensure_compliant("bundle/", max_model_size_mb=30)   # raises ComplianceError naming each rule

The repo rules (kit.comply.rules) and, unless `self_test=False`, a load in the sandboxed
worker exactly as the compliance runner loads a miner (kit.comply.sandbox; upstream
security.py:99-126, 253-260) and one predict_batch call on a random 540 x 960 frame whose
dumped rows must pass the runner's output checks (security.py:263-285). Latency and parity
need clips and a chute: `tvkit comply` judges those.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .. import KitError
from .rules import DEFAULT_MAX_MODEL_SIZE_MB, Finding, check_repo
from .sandbox import Policy, Worker, WorkerError


class ComplianceError(KitError):
    """A bundle the compliance runner would fail; `findings` names each rule, file and line."""

    def __init__(self, bundle: Path, findings: list[Finding]):
        self.findings = findings
        lines = "\n".join(f"  {f}" for f in findings)
        super().__init__(f"{bundle}: the bundle breaks {len(findings)} compliance rule(s) (`tvkit comply` "
                         f"explains them):\n{lines}")


def self_test(bundle: str | os.PathLike, n_keypoints: int = 32) -> list[Finding]:
    """Load the miner in the sandboxed worker and answer one random 540 x 960 frame."""
    import cv2
    import numpy as np

    frame = np.random.default_rng(0).integers(0, 256, (540, 960, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="tvkit-selftest-") as tmp:
        os.chmod(tmp, 0o755)
        png = Path(tmp) / "frame.png"
        cv2.imwrite(str(png), frame)
        os.chmod(png, 0o644)
        w = Worker(bundle, policy=Policy())
        try:
            w.start()
            call = w.predict([(0, png)], n_keypoints=n_keypoints)
        except WorkerError as e:
            return [Finding("runtime_failed", "miner.py", None, f"the miner does not load in the compliance "
                            f"worker: {e} {w.log_tail(400)}".strip())]
        finally:
            w.close()
    if not call.ok:
        return [Finding("worker_infer_error", "miner.py", None, f"predict_batch on one random 540 x 960 frame: "
                        f"{call.error}")]
    return []


def ensure_compliant(bundle: str | os.PathLike, max_model_size_mb: float | None = DEFAULT_MAX_MODEL_SIZE_MB,
                     self_test_frame: bool = True) -> None:
    """Raise ComplianceError when the repo rules or the sandboxed load and self-test fail."""
    bundle = Path(bundle)
    findings = check_repo(bundle, max_model_size_mb=max_model_size_mb)
    if not findings and self_test_frame:
        findings = self_test(bundle)
    if findings:
        raise ComplianceError(bundle, findings)
