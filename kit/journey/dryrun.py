"""Notebook 04's steps: the validator's own chute, rendered, verified, served under the real runtime and
challenged as a validator would; then the compliance loop. Either kind of element.

Usage: `nb = journey.start("04_chute_dry_run", globals())`; clips: `nb.verify()`, `nb.serve()`,
`nb.video_challenge()`, `nb.frames_challenge()`, `nb.same_answer()`, `nb.bad_requests()`, `nb.stop()`;
photos: `nb.photos_through_chute()`; both: `nb.comply()`, `nb.verdict()`, `metrics = nb.record()`.

Decisions: the chute never outlives the kernel (`atexit` and the dry run's PDEATHSIG); the dry
run passes when the official chute (hash-identical) started under the real runtime, answered both
challenge modes within the contract, gave the local path's answer, and bad requests left it
serving (clips), or when every photo's answer followed the contract and matched the local miner
(photos). The compliance verdict is shown, not enforced: on a busy machine it can wait on latency.
"""

from __future__ import annotations

import json
from typing import Any

from .base import Shown, Steps
from .fallbacks import bundle_or_reference, clip_or_synthetic

__all__ = ["DryRunSteps"]


class DryRunSteps(Steps):
    NAME = "04_chute_dry_run"
    PARAMETERS = ("bundle", "video", "truth", "clip_frames", "frames_in_body", "element", "manifest",
                  "images", "seed", "port", "run_dir", "metrics_path")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.p
        self.bundle = bundle_or_reference(p.bundle, self.el, self.out_dir, "bundle")
        if self.kind == "clip":
            self.video, self.truth = clip_or_synthetic(p.video, p.truth, self.out_dir / "clip", p.clip_frames,
                                                       p.seed, index=0)

    # --- clip elements ---------------------------------------------------------------------------

    def verify(self) -> Shown:
        """The official chute rendered for the bundle and its integrity hash checked against the template's."""
        if self.kind != "clip":
            return self.skipped("the clip dry run", "clip")
        import atexit

        from ..chute.dryrun import DryRun
        from ..chute.official import verify_text

        self.run = DryRun(self.bundle, port=self.p.port or None)
        atexit.register(self.run.cleanup)
        self.check = verify_text(self.run.chute.text, source=self.run.source)
        head = (f"bundle      : {self.bundle}\nclip        : {self.video}\n"
                f"ground truth: {self.truth or '(none: the answer is checked, not scored)'}\n")
        return Shown(head + self.check.format(f"{self.run.chute.chute_name} ({self.run.hf_repo}@"
                                              f"{self.run.revision[:12]})"), value=self.check)

    def serve(self) -> Shown:
        """The chute started under the real `chutes` runtime; its /health."""
        if self.kind != "clip":
            return self.skipped("serving the chute", "clip")
        from ..chute.rehearse import ping

        self.run.start()
        self.health = ping(self.run.base_url)
        return Shown(f"base URL: {self.run.base_url}\n{self.health}")

    def video_challenge(self) -> Shown:
        """A video-url challenge with today's meta, answered and checked (scored with a ground truth)."""
        if self.kind != "clip":
            return self.skipped("a video challenge", "clip")
        from ..chute.rehearse import format_rehearsal, rehearse

        self.video_run = rehearse(self.run.base_url, self.video, self.truth or None, seed=self.p.seed)
        return Shown(format_rehearsal(self.video_run), value=self.video_run)

    def frames_challenge(self) -> Shown:
        """A frames challenge: base64 PNGs with their urls; the answer carries the payload's frame ids."""
        if self.kind != "clip":
            return self.skipped("a frames challenge", "clip")
        from ..chute.rehearse import format_rehearsal, rehearse

        self.frames_run = rehearse(self.run.base_url, self.video, self.truth or None, mode="frames",
                                   n_frames=self.p.frames_in_body, frame_urls=True, seed=self.p.seed)
        return Shown(format_rehearsal(self.frames_run), value=self.frames_run)

    def same_answer(self) -> Shown:
        """Is the chute's answer `tvkit predict`'s (the same miner.py loaded by path)?"""
        if self.kind != "clip":
            return self.skipped("the local comparison", "clip")
        from ..bundle import predict_video

        local = predict_video(self.bundle, self.video)
        self.same = self.video_run.answer == json.loads(json.dumps(local.answer))
        return Shown(f"same answer as tvkit predict: {self.same}")

    def bad_requests(self) -> Shown:
        """No url, a 404 url, an empty frame: each `success: false` with a reason, and the chute still serving."""
        if self.kind != "clip":
            return self.skipped("bad requests", "clip")
        from ..chute.rehearse import ping, post_challenge

        body, self.bad, lines = self.video_run.body, {}, []
        for label, bad_body in [("no url", {"meta": body["meta"]}),
                                ("404 url", {**body, "url": body["url"] + ".missing"}),
                                ("empty frame", {"frames": [{"frame_id": 3}], "meta": {}})]:
            status, answer, _ = post_challenge(self.run.base_url, bad_body)
            self.bad[label] = answer.get("error") if isinstance(answer, dict) and answer.get("success") is False \
                else None
            lines.append(f"{label:<12} -> HTTP {status}: {self.bad[label]}")
        self.still_up = ping(self.run.base_url)["status"] == "healthy"
        return Shown("\n".join([*lines, f"still serving: {self.still_up}"]))

    def stop(self) -> Shown:
        """The chute's predict lines from its log; then it stops."""
        if self.kind != "clip":
            return self.skipped("the chute's log", "clip")
        lines = [line for line in self.run.log_text().splitlines() if "Predict" in line or "predict" in line]
        self.run.cleanup()
        return Shown("\n".join(lines)[-1500:])

    # --- image elements --------------------------------------------------------------------------

    def photos_through_chute(self) -> Shown:
        """Each photo sent as an `image_url` challenge and as a payload frame, checked against the local miner."""
        if self.kind != "image":
            return self.skipped("the photo dry run", "image")
        from ..chute.imagerun import format_image_dry_run
        from ..images.journey import dry_run

        self.image_run = dry_run(self.bundle, self.el, self.p.images)
        return Shown(format_image_dry_run(self.image_run), value=self.image_run)

    # --- both ------------------------------------------------------------------------------------

    def comply(self) -> Shown:
        """The compliance loop: repo rules, a sandboxed replay, latency against the budget, output parity."""
        from ..comply import format_report

        if self.kind == "image":
            from ..images.journey import comply_images

            self.report = comply_images(self.bundle, self.el, self.p.images)
        else:
            from ..comply import comply

            self.report = comply(self.bundle, element=self.el, clips=self.video)
        return Shown(format_report(self.report), value=self.report)

    def checks(self) -> dict[str, bool]:
        """The dry run's checks by name (clip elements)."""
        return {"official_chute_hash_matches": self.check.match,
                "started_and_healthy": self.health.get("status") == "healthy",
                "video_challenge_follows_contract": self.video_run.ok,
                "frames_challenge_follows_contract": self.frames_run.ok,
                "same_answer_as_local": self.same,
                "bad_requests_answered": all(self.bad.values()) and self.still_up}

    def dry_run_verdict(self) -> str:
        ok = self.image_run.ok if self.kind == "image" else all(self.checks().values())
        return "PASS" if ok else "FAIL"

    def verdict(self) -> Shown:
        """The dry run's verdict (each check, for clips) and the compliance verdict."""
        lines = [f"  {'ok  ' if v else 'FAIL'} {k}" for k, v in self.checks().items()] if self.kind == "clip" else []
        lines += [f"dry run   : {self.dry_run_verdict()}",
                  f"compliance: {self.report.verdict} " + (f"({self.report.rule})" if self.report.rule else "")]
        return Shown("\n".join(lines))

    def metrics(self) -> dict[str, Any]:
        verdict = self.dry_run_verdict()
        if self.kind == "image":
            return {"dry_run_verdict": verdict, **self.image_run.metrics(), "bundle": str(self.bundle),
                    **self.report.metrics()}
        run, vr, fr = self.run, self.video_run, self.frames_run
        return {"dry_run_verdict": verdict, "dry_run_checks": self.checks(), "dry_run_seconds": round(vr.seconds, 3),
                "dry_run_ms_per_frame": {"video": round(vr.ms_per_frame, 2), "frames": round(fr.ms_per_frame, 2)},
                "breakdown": vr.scores, "chute_name": run.chute.chute_name, "chute_hash": self.check.file_hash,
                "template": run.source.describe(), "bundle": str(self.bundle), **self.report.metrics()}
