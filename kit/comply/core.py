"""`comply`: one bundle through the validator's compliance loop, on this machine.

Usage:
    report = comply("bundle/", element="PlayerDetect_v1@1.0", clips="data/clips")
    print(format_report(report)); report.verdict        # 'PASS'

The steps and the verdict follow upstream `scorevision/validator/audit/open_source/
compliance.py` at ea7412f, `run_public_compliance_once`:

1. the repo rules (kit.comply.rules); upstream's worker refuses to start on the first broken
   one and every replayed challenge then fails, so the target's status is FAIL_OUTPUT
   (compliance.py:1096-1105, 1198-1201, 1349-1350; security.py:753-754): here, the verdict
   is FAIL_OUTPUT and `rule` names the repo rule (`findings[0]`), and nothing runs;
2. up to 10 challenges (kit.comply.challenges), each answered twice: by the chute (its
   answers from a dry run, `chute_answers`; else the chute's own code path run here, without
   a sandbox, under this kit's Python) and by the sandboxed worker (kit.comply.sandbox), under
   `python` when given;
3. per challenge, as compliance.py:1198-1304: a failed local run fails the target; else its
   call times join the latencies and the answers are compared (kit.comply.parity); a miss
   that is soft drift is forgiven twice; a challenge without a chute answer is skipped (a
   missing blob); no accepted challenge at all fails the target (compliance.py:1313-1314);
4. the latency: p95 of the wall times of whole predict_batch calls, the value at index
   `min(n-1, max(0, int(0.95 (n-1))))` of the sorted times (compliance.py:900-905), must be
   <= the element's `latency_p95_ms` (else `CHECKER_LATENCY_P95_MS`, 100 ms;
   compliance.py:908-945) + `CHECKER_LATENCY_TOLERANCE_MS` (10 ms);
5. the status (compliance.py:1323-1350): outputs fine and latency fine: PASS; outputs fine,
   latency not: PENDING_LATENCY, or FAIL_LATENCY once `CHECKER_LATENCY_FAIL_STREAK_THRESHOLD`
   (3) runs in a row missed it (a local run is one run: pass `previous_latency_failures` to
   say how many came before); outputs not fine: FAIL_OUTPUT. FAIL_RUNTIME is upstream's status
   for a target it could not even sample (compliance.py:1020-1062); here it is the status
   when the sandbox itself could not run (the worker process failed to spawn).
PENDING_LATENCY is not on the validator's failing list (compliance.py:1390), but it is one
step from it, so `ok` is True for PASS only.

In video mode the calls are the chute's 64-frame batches; the validator never times those
(it replays frames challenges only), so their latency is shown and not judged.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from . import parity
from .challenges import MAX_CHALLENGES, Challenge, ReplayMode, build_challenges, load_chute_answers
from .rules import DEFAULT_MAX_MODEL_SIZE_MB, Finding, check_repo
from .sandbox import CHUTE_PATH, Policy, Worker, WorkerError, interpreter_info, resolve_python

Verdict = Literal["PASS", "PENDING_LATENCY", "FAIL_LATENCY", "FAIL_OUTPUT", "FAIL_RUNTIME"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
DEFAULT_LATENCY_P95_MS = 100.0     # settings.py CHECKER_LATENCY_P95_MS
LATENCY_TOLERANCE_MS = 10.0        # CHECKER_LATENCY_TOLERANCE_MS
LATENCY_FAIL_STREAK = 3            # CHECKER_LATENCY_FAIL_STREAK_THRESHOLD
#: Upstream error names worth lifting out of a worker's message as the verdict's rule.
KNOWN_REASONS = ("network_disabled_in_compliance_runner", "missing_miner_class", "missing_miner_file",
                 "miner_missing_predict_batch", "predict_batch_signature_invalid", "worker_infer_timeout",
                 "worker_init_timeout", "worker_channel_eof", "worker_spawn_failed")


def p95(values: list[float]) -> float:
    """compliance.py:900-905: the sorted value at index min(n-1, max(0, int(0.95 (n-1))))."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, int(0.95 * (len(ordered) - 1))))])


def histogram(values: list[float], bins: int = 8) -> list[tuple[float, float, int]]:
    """(from ms, to ms, count) over the call times, equal-width bins."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    return [(lo + i * width, lo + (i + 1) * width, c) for i, c in enumerate(counts)]


@dataclass
class LatencyReport:
    calls_ms: list[float]
    p95_ms: float
    threshold_ms: float
    tolerance_ms: float = LATENCY_TOLERANCE_MS
    judged: bool = True

    @property
    def budget_ms(self) -> float:
        return self.threshold_ms + self.tolerance_ms

    @property
    def ok(self) -> bool:
        return self.p95_ms <= self.budget_ms

    def histogram(self, bins: int = 8) -> list[tuple[float, float, int]]:
        return histogram(self.calls_ms, bins)


@dataclass
class ChallengeResult:
    """One challenge: ok, or why not (a run error, an IoU miss, soft drift, no chute answer)."""

    challenge_id: str
    ok: bool
    reason: str | None = None
    soft_drift: bool = False
    latency_ms: list[float] = field(default_factory=list)
    compare: dict[str, Any] = field(default_factory=dict)

    def disagreeing_frames(self, threshold: float = parity.IOU_MATCH_THRESHOLD) -> list[tuple[int, float]]:
        return [(int(f), s) for f, s in (self.compare.get("frames") or {}).items() if s < threshold]


@dataclass
class ParityReport:
    reference: str
    challenges: list[ChallengeResult]
    threshold: float = parity.IOU_MATCH_THRESHOLD

    @property
    def accepted(self) -> int:
        return sum(c.ok for c in self.challenges)

    @property
    def mean_iou(self) -> float | None:
        vals = [c.compare["mean_iou"] for c in self.challenges if "mean_iou" in c.compare]
        return sum(vals) / len(vals) if vals else None

    def nondeterministic_frames(self) -> list[tuple[str, int, float]]:
        """(challenge, frame id, frame score) wherever the two runs disagree on a frame."""
        return [(c.challenge_id, f, s) for c in self.challenges for f, s in c.disagreeing_frames(self.threshold)]


@dataclass
class ComplyReport:
    """The verdict, in the validator's words, and everything it rests on."""

    bundle: str
    element_id: str | None
    verdict: Verdict
    rule: str | None
    reason: str
    findings: list[Finding]
    mode: ReplayMode = "frames"
    latency: LatencyReport | None = None
    parity: ParityReport | None = None
    sandbox: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verdict == "PASS"

    def metrics(self) -> dict[str, Any]:
        """Flat figures for a run's metrics.json (notebook 04, `tvkit run`)."""
        return {"comply_verdict": self.verdict, "comply_rule": self.rule,
                "comply_p95_ms": round(self.latency.p95_ms, 2) if self.latency else None,
                "comply_budget_ms": self.latency.budget_ms if self.latency else None,
                "comply_mean_iou": round(self.parity.mean_iou, 4) if self.parity and self.parity.mean_iou is not None
                else None,
                "comply_challenges": len(self.parity.challenges) if self.parity else 0}

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["findings"] = [f.as_dict() for f in self.findings]
        if self.latency:
            d["latency"].update(budget_ms=self.latency.budget_ms, ok=self.latency.ok,
                                histogram=self.latency.histogram())
        if self.parity:
            d["parity"].update(accepted=self.parity.accepted, mean_iou=self.parity.mean_iou,
                               nondeterministic_frames=self.parity.nondeterministic_frames())
        d["ok"] = self.ok
        return d


def element_limits(element: Any, manifest: Any = None) -> tuple[str | None, float | None, float]:
    """(element id, max_model_size_mb, latency_p95_ms) for an element id, an Element, or None."""
    if element is None:
        return None, DEFAULT_MAX_MODEL_SIZE_MB, DEFAULT_LATENCY_P95_MS
    if isinstance(element, str):
        from ..manifest import load_manifest

        element = load_manifest(manifest).element(element)
    size = getattr(element, "max_model_size_mb", None)
    latency = getattr(element, "latency_p95_ms", None)
    latency = float(latency) if latency and float(latency) > 0 else DEFAULT_LATENCY_P95_MS
    return getattr(element, "id", None), (float(size) if size else None), latency


def _rule_of(error: str) -> str:
    return next((r for r in KNOWN_REASONS if r in error), error.split(":", 1)[0])


def _answer(worker: Worker, ch: Challenge, replay: bool) -> tuple[bool, list[dict[str, Any]], list[float], str]:
    """Every call of one challenge: (ok, rows, call times, error)."""
    rows: list[dict[str, Any]] = []
    times: list[float] = []
    for offset, frames, reassign in ch.calls(replay=replay):
        call = worker.predict(frames, offset=offset, reassign_ids=reassign)
        if not call.ok:
            return False, rows, times, call.error or "worker_infer_failed"
        rows += call.rows
        times.append(call.latency_ms)
    return True, rows, times, ""


class ChutePathError(RuntimeError):
    """The chute's own code path failed every challenge (the official chute would too)."""


def chute_path_answers(bundle: Path, challenges: list[Challenge]) -> dict[str, list[dict[str, Any]]]:
    """The chute's own load and call shape, no sandbox, this kit's Python: {challenge id: frames}
    for the challenges it answered (a failed one has no answer, as a failed live challenge has
    none). Raises ChutePathError when it answered none."""
    out, errors = {}, []
    w = Worker(bundle, policy=CHUTE_PATH)
    try:
        w.start()
        for ch in challenges:
            ok, rows, _, err = _answer(w, ch, replay=False)
            if ok:
                out[ch.challenge_id] = rows
            else:
                errors.append(err)
    except WorkerError as e:
        errors.append(f"{e} {w.log_tail(600)}".strip())
    finally:
        w.close()
    if not out:
        raise ChutePathError(errors[0] if errors else "no challenge answered")
    return out


def _judge(ch: Challenge, expected: list[dict[str, Any]] | None, run: tuple, drift: int
           ) -> tuple[ChallengeResult, int]:
    ok, rows, times, error = run
    if expected is None:
        return ChallengeResult(ch.challenge_id, False, "missing_response_blob"), drift
    if not ok:
        return ChallengeResult(ch.challenge_id, False, error, latency_ms=times), drift
    good, info = parity.compare_frames(expected, rows)
    if good:
        return ChallengeResult(ch.challenge_id, True, None, latency_ms=times, compare=info), drift
    if parity.is_soft_drift(info):
        drift += 1
        if drift <= parity.DRIFT_MAX_PER_TARGET:
            return ChallengeResult(ch.challenge_id, False, "soft_output_drift", True, times, info), drift
        info["soft_output_drift_exceeded"] = True
        return ChallengeResult(ch.challenge_id, False, "soft_output_drift_exceeded", True, times, info), drift
    return ChallengeResult(ch.challenge_id, False, info.get("reason") or "iou_mismatch", latency_ms=times,
                           compare=info), drift


def _replay(bundle: Path, challenges: list[Challenge], expected: dict[str, list], python: str | None,
            policy: Policy) -> tuple[list[ChallengeResult], dict[str, Any], str | None]:
    """The sandboxed runs, judged one by one; (results, sandbox description, fatal start error)."""
    worker = Worker(bundle, python=python, policy=policy)
    info = {"python": worker.python, "privileges": worker.privileges, "network": worker.isolation,
            "limits": {"RLIMIT_AS": policy.memory_bytes, "RLIMIT_NPROC": policy.max_processes,
                       "RLIMIT_NOFILE": policy.max_open_files, "call_timeout_s": policy.call_timeout_s,
                       "cores": policy.cores}}
    results: list[ChallengeResult] = []
    drift = 0
    try:
        try:
            worker.start()
            info.update(probe=worker.probe(), init_ms=round(worker.init_ms, 1))
        except WorkerError as e:   # upstream retries per challenge and fails each the same way
            err = f"runtime_failed:{e}"
            info["worker_log"] = worker.log_tail()
            fatal = str(e) if str(e).startswith("worker_spawn_failed") else None
            return [ChallengeResult(c.challenge_id, False, err) for c in challenges], info, fatal
        for ch in challenges:
            res, drift = _judge(ch, expected.get(ch.challenge_id), _answer(worker, ch, replay=True), drift)
            results.append(res)
        if any(r.reason and r.reason.startswith("worker_") for r in results):
            info["worker_log"] = worker.log_tail()
    finally:
        worker.close()
    return results, info, None


def _verdict(results: list[ChallengeResult], latency: LatencyReport, previous_latency_failures: int
             ) -> tuple[Verdict, str | None, str]:
    hard = [r for r in results if not r.ok and r.reason not in ("missing_response_blob", "soft_output_drift")]
    if hard:
        r = hard[0]
        return "FAIL_OUTPUT", _rule_of(r.reason or ""), f"challenge {r.challenge_id}: {r.reason}"
    if not any(r.ok for r in results):
        return "FAIL_OUTPUT", "no_usable_challenges", "no challenge was accepted (compliance.py:1313)"
    if not latency.judged or latency.ok:
        return "PASS", None, f"{sum(r.ok for r in results)}/{len(results)} challenges match the chute"
    streak = previous_latency_failures + 1
    status: Verdict = "FAIL_LATENCY" if streak >= LATENCY_FAIL_STREAK else "PENDING_LATENCY"
    return status, "latency_p95", (f"p95 {latency.p95_ms:.1f} ms > {latency.budget_ms:.0f} ms "
                                   f"(latency_p95_ms {latency.threshold_ms:g} + {latency.tolerance_ms:g}); "
                                   f"{streak} of {LATENCY_FAIL_STREAK} runs in a row")


def _default_clips(work: Path, element: Any = None, manifest: Any = None) -> Any:
    """Without clips: an image element's own photos (kit.images.predict.element_images: one
    challenge each, frame id 0, as upstream's image challenges); else one synthetic 30-frame
    clip (kit.synth), made in the work folder."""
    if isinstance(element, str):
        from ..manifest import load_manifest

        element = load_manifest(manifest).element(element)
    if getattr(element, "kind", None) == "image":
        from ..images.predict import element_images

        return element_images(element)
    from ..synth import generate_clip

    video, _ = generate_clip(work / "clips", index=0, n_frames=30, seed=0)
    return video.parent


def _reference(bundle: Path, challenges: list[Challenge], chute_answers: Any) -> tuple[dict[str, list], str]:
    if chute_answers is None:
        return (chute_path_answers(bundle, challenges),
                f"the chute's code path run here without a sandbox ({sys.executable})")
    if isinstance(chute_answers, dict):   # {challenge id or clip stem: an answer or its frames}
        from .challenges import answer_frames

        picked = {c.challenge_id: chute_answers.get(c.challenge_id, chute_answers.get(c.source.stem))
                  for c in challenges}
        return ({cid: answer_frames(a, f"chute answer {cid}") for cid, a in picked.items() if a is not None},
                "chute answers given in memory")
    return load_chute_answers(chute_answers, challenges), f"chute answers from {chute_answers}"


def comply(bundle: str | os.PathLike, element: Any = None, clips: Any = None, chute_answers: Any = None,
           python: str | os.PathLike | None = None, mode: ReplayMode = "frames", manifest: Any = None,
           max_challenges: int = MAX_CHALLENGES, frames_per_challenge: int = 1,
           previous_latency_failures: int = 0, policy: Policy | None = None) -> ComplyReport:
    """Run a bundle through the validator's compliance loop here: repo rules, sandboxed replay,
    latency and output parity, one verdict.

    Args:
        bundle: the Hugging Face repo folder (`tvkit package` writes one).
        element: an element id (read from `manifest`, the kit's example by default) or an
            Element; its max_model_size_mb and latency_p95_ms apply. None: 30 MiB and 100 ms.
        clips: a folder, video or image, or a list of them, to cut challenges from (a photo is one
            image challenge, frame id 0); None: an image element's own test photos, else one
            synthetic 30-frame clip.
        chute_answers: the chute's answers to the same challenges: a file or folder
            (kit.comply.challenges), or {challenge id or clip stem: answer or frames} (e.g. a
            dry run's answer to a clip); None: the chute's code path run here unsandboxed.
        python: the interpreter for the sandboxed worker (e.g. a venv with onnxruntime 1.26).
        mode: "frames" (the validator's replay) or "video" (the chute's video batches).
        previous_latency_failures: latency misses in a row before this run (3 in all: FAIL_LATENCY).
        policy: the sandbox limits (default: the validator's).

    Returns:
        ComplyReport: `.verdict`, `.rule`, `.findings`, `.latency`, `.parity`, `.sandbox`.

    Raises:
        KitError: no such bundle, clips, element or interpreter; unreadable chute answers.

    Example:
        >>> r = comply("bundle/", element="PlayerDetect_v1@1.0")
        >>> r.verdict, round(r.latency.p95_ms), r.parity.accepted
        ('PASS', 74, 10)
    """
    bundle = Path(bundle)
    element_id, max_mb, latency_ms = element_limits(element, manifest)
    if python is not None:
        python = resolve_python(python)
        interpreter_info(python)
    findings = check_repo(bundle, max_model_size_mb=max_mb)
    if findings:
        return ComplyReport(str(bundle), element_id, "FAIL_OUTPUT", findings[0].rule, str(findings[0]), findings,
                            mode)
    work = Path(tempfile.mkdtemp(prefix="tvkit-comply-challenges-"))
    try:
        os.chmod(work, 0o755)
        challenges = build_challenges(clips if clips is not None else _default_clips(work, element, manifest),
                                      work / "frames",
                                      mode, max_challenges, frames_per_challenge)
        try:
            expected, source = _reference(bundle, challenges, chute_answers)
        except ChutePathError as e:
            return ComplyReport(str(bundle), element_id, "FAIL_OUTPUT", "chute_path_failed",
                                f"the official chute's load/predict path fails here: {e}", [], mode)
        results, info, fatal = _replay(bundle, challenges, expected, python, policy or Policy())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _replay_report(str(bundle), element_id, mode, source, results, info, fatal, latency_ms,
                          previous_latency_failures)


def _replay_report(bundle: str, element_id: str | None, mode: ReplayMode, source: str, results: list[ChallengeResult],
                   info: dict[str, Any],
                   fatal: str | None, budget_ms: float, previous_latency_failures: int) -> ComplyReport:
    """The report of a replay: its latency against the budget, the parity, and the verdict (a worker that
    never started is FAIL_RUNTIME)."""
    latency = LatencyReport([t for r in results for t in r.latency_ms],
                            p95([t for r in results for t in r.latency_ms]), budget_ms, judged=mode == "frames")
    report = ComplyReport(bundle, element_id, "FAIL_RUNTIME", "worker_spawn_failed", fatal or "", [], mode,
                          latency, ParityReport(source, results), info)
    if not fatal:
        report.verdict, report.rule, report.reason = _verdict(results, latency, previous_latency_failures)
    return report


def format_report(r: ComplyReport) -> str:
    """The report as a person reads it: verdict first, then the figures it rests on."""
    lines = [f"compliance: {r.verdict}" + (f" ({r.rule})" if r.rule else "") + f"  {r.bundle}"
             + (f"  element {r.element_id}" if r.element_id else ""), f"  {r.reason}"]
    lines += [f"  {f}" for f in r.findings]
    if r.latency and r.latency.calls_ms:
        lat = r.latency
        judged = "" if lat.judged else "  (video mode: shown, not judged; the validator times frames challenges)"
        lines.append(f"latency: p95 {lat.p95_ms:.1f} ms over {len(lat.calls_ms)} predict_batch calls, budget "
                     f"{lat.budget_ms:g} ms ({lat.threshold_ms:g} + {lat.tolerance_ms:g}): "
                     f"{'ok' if lat.ok else 'over'}{judged}")
        top = max(c for _, _, c in lat.histogram()) or 1
        lines += [f"  {a:8.1f} - {b:8.1f} ms  {c:3d} {'#' * max(1 if c else 0, round(30 * c / top))}"
                  for a, b, c in lat.histogram()]
    if r.parity:
        p = r.parity
        mean = f", mean IoU {p.mean_iou:.4f}" if p.mean_iou is not None else ""
        lines.append(f"parity: {p.accepted}/{len(p.challenges)} challenges accepted{mean} (threshold "
                     f"{p.threshold:g}) against {p.reference}")
        for c in p.challenges:
            if not c.ok:
                lines.append(f"  {c.challenge_id}: {c.reason}" + (f" (mean IoU {c.compare['mean_iou']:.4f}, missing "
                             f"{c.compare['missing_boxes']}, extra {c.compare['extra_boxes']})"
                             if "mean_iou" in c.compare else ""))
        frames = p.nondeterministic_frames()
        if frames:
            lines.append("  frames where the runs disagree: "
                         + ", ".join(f"{c}#{f} ({s:.3f})" for c, f, s in frames[:20])
                         + (f" ... {len(frames) - 20} more" if len(frames) > 20 else ""))
    if r.sandbox:
        s = r.sandbox
        probe = s.get("probe") or {}
        lines.append(f"sandbox: {s.get('python')} (Python {probe.get('python', '?')}, onnxruntime "
                     f"{probe.get('onnxruntime', '?')}); user: {s.get('privileges')}; network: {s.get('network')}; "
                     f"cores {probe.get('affinity', '?')}")
    return "\n".join(lines)
