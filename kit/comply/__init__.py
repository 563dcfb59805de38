"""The validator's compliance loop, locally: repo rules, a sandboxed replay, latency, output parity.

Usage:
    from kit.comply import comply, format_report
    report = comply("bundle/", element="PlayerDetect_v1@1.0")   # or `tvkit comply --bundle DIR`
    print(format_report(report)); report.metrics()             # {"comply_verdict": "PASS", ...}

Validators re-run the top miners' repos offline and zero-score a commit that breaks a rule
(upstream scorevision/validator/audit/open_source/, DESIGN.md "The compliance loop"). This
package says it before the upload:

- `rules`: the repo rules, each finding naming its rule, file and line (`check_repo`);
- `sandbox`: the worker process, with the validator's limits and what this machine allows;
- `challenges`: challenges cut from clips (frames and video modes), the chute's answers;
- `parity`: the validator's comparison of the local answers with the chute's;
- `core`: `comply` and the verdict, in the validator's vocabulary (`Verdict`).

`load_miner` / `load_miner_module` load a bundle's miner in this process the way the
compliance worker does (by path, not registered in sys.modules), for the kit's predict,
latency and evaluation paths.
"""

from .core import VERDICTS, ComplyReport, LatencyReport, ParityReport, Verdict, comply, format_report, p95
from .rules import RULES, Finding, Rule, check_repo
from .worker import load_miner, load_miner_module

__all__ = ["VERDICTS", "RULES", "ComplyReport", "Finding", "LatencyReport", "ParityReport", "Rule", "Verdict",
           "check_repo", "comply", "format_report", "load_miner", "load_miner_module", "p95"]
