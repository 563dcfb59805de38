"""Notebook 03's steps: score like a validator, element by element (clips) or photo by photo (images),
the report's pictures, the thresholds tuned by the exact score, and real frames (clips).

Usage: `nb = journey.start("03_evaluate", globals())`; clips: `nb.inputs()`, `nb.score()`, `nb.timeline()`,
`nb.spread()`, `nb.report()`, `nb.explorer()`, `nb.compare()`, `nb.real_frames("keypoints")` (and "boxes",
"ball"); photos:
`nb.score_photos()`, `nb.photo_report("scores")`, `nb.tune()`; then `metrics = nb.record()`.

Decisions:
- **Nothing given, something to score** (clips): a synthetic clip (`clip_or_synthetic`) and, with
  no answer, a deliberately damaged copy of its ground truth (`kit.evaluate.perturb`), so the
  cost of each kind of error shows before a model exists. With no earlier run to compare with,
  the comparison is with the perfect answer, the ceiling on the clip.
- **Real frames** are the shared exports (or the sets 02 imported), split as the reference model
  held them out, scored through the bundle handed on (else the reference, packaged without its
  self-test, as before); their summaries join the recorded metrics as `real_keypoints` / `real_boxes` /
  `real_ball` (the ball model, when the bundle has one, on the clips the reference held out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Shown, Steps
from .fallbacks import bundle_or_reference, clip_or_synthetic

__all__ = ["Evaluate"]

_REAL_SETS = {"keypoints": ("pose", "real_pose_data"), "boxes": ("detect", "real_detect_data"),
              "ball": ("detect", "real_detect_data")}


class Evaluate(Steps):
    NAME = "03_evaluate"
    PARAMETERS = ("answer", "truth", "video", "manifest", "element", "mode", "seed", "latency_ms",
                  "compare_with", "clip_frames", "box_jitter_px", "miss_rate", "false_positives",
                  "keypoint_jitter_px", "bundle", "real_pose_data", "real_detect_data", "real_split", "real_frames",
                  "images", "tune_write", "run_dir", "metrics_path")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        from ..manifest import load_manifest

        self.the_manifest = load_manifest(self.p.manifest or None)
        self.real_metrics: dict[str, Any] = {}

    # --- clip elements ---------------------------------------------------------------------------

    def inputs(self) -> Shown:
        """The clip, its ground truth and the answer to score (a damaged ground truth when none is given)."""
        if self.kind != "clip":
            return self.skipped("a clip to score", "clip")
        from ..contract import load_ground_truth
        from ..evaluate import load_answer
        from ..evaluate.perturb import perturbed_answer

        p = self.p
        self.video, self.truth = clip_or_synthetic(p.video, p.truth, self.out_dir / "clip", p.clip_frames,
                                                   p.seed, index=0, progress=True)
        self.gt = load_ground_truth(self.truth)
        if p.answer:
            self.answer, source = load_answer(p.answer), p.answer
        else:
            self.answer = perturbed_answer(self.gt, seed=p.seed, box_jitter_px=p.box_jitter_px, miss_rate=p.miss_rate,
                                           false_positives=p.false_positives, keypoint_jitter_px=p.keypoint_jitter_px)
            source = (f"ground truth damaged: box jitter {p.box_jitter_px} px, {p.miss_rate:.0%} missed, "
                      f"{p.false_positives} false positives/frame, keypoint jitter {p.keypoint_jitter_px} px")
        return Shown(f"manifest    : {self.the_manifest.describe()}\nvideo       : {self.video}\n"
                     f"ground truth: {self.truth} ({len(self.gt.frames)} frames)\npredictions : {source}")

    def _evaluate(self, answer: Any) -> Any:
        from ..evaluate import evaluate

        p = self.p
        return evaluate(answer, self.gt, self.video, manifest=self.the_manifest,
                        elements=[p.element] if p.element else None, mode=p.mode, seed=p.seed,
                        latency_ms=p.latency_ms)

    def score(self) -> Shown:
        """Each element's pillars, weights, S, gates and final, with the components as bars."""
        if self.kind != "clip":
            return self.skipped("the clip score", "clip")
        from ..evaluate import format_breakdown, report

        self.ev = self._evaluate(self.answer)
        return Shown(format_breakdown(self.ev), picture=report.components_figure(self.ev), value=self.ev)

    def timeline(self) -> Shown:
        """The per-frame pillars, and every keypoint frame a validator rule zeroed."""
        if self.kind != "clip":
            return self.skipped("the timeline", "clip")
        from ..evaluate import report

        ev, zeroed = self.ev, self.ev.zero_reasons()
        total, lines = max(1, len(ev.keypoint_frames)), []
        for rule, n in zeroed.most_common():
            frames = sorted(f for f, k in ev.keypoint_frames.items() if k.rule == rule)
            example = ev.keypoint_frames[frames[0]].detail
            lines.append(f"{rule:<26} {n:4d} frames ({n / total:.0%}): {frames[:12]}{' ...' if n > 12 else ''}  "
                         f"e.g. {example}")
        return Shown("\n".join(lines) or "no keypoint frame was zeroed by a rule", picture=report.timeline_figure(ev))

    def spread(self) -> Shown:
        """Each element's final over every window of three consecutive frames (what one challenge sees)."""
        if self.kind != "clip":
            return self.skipped("the spread", "clip")
        lines = []
        for eid, es in self.ev.elements.items():
            if es.spread:
                s = es.spread.final
                lines.append(f"{eid:<22} {es.spread.n_windows} windows: min {s['min']:.4f}  p10 {s['p10']:.4f}  "
                             f"median {s['median']:.4f}  p90 {s['p90']:.4f}  max {s['max']:.4f}  (std {s['std']:.4f})")
        return Shown("\n".join(lines))

    def report(self, picture: int = 0) -> Shown:
        """The report (`report/index.html`), and one of its frame pictures."""
        if self.kind != "clip":
            return self.skipped("the clip report", "clip")
        from ..evaluate import report

        if not hasattr(self, "page"):
            self.page = report.write_report(self.ev, self.answer, self.gt, self.video, self.out_dir / "report")
        pngs = sorted(self.page.parent.glob("*_*.png"))
        return Shown(f"report: {self.page}", picture=pngs[picture] if picture < len(pngs) else None)

    def explorer(self) -> Any:
        """A slider over the frames (static under papermill)."""
        if self.kind != "clip":
            return self.skipped("the explorer", "clip")
        from ..evaluate import report

        return report.explorer(self.ev, self.answer, self.gt, self.video)

    def compare(self) -> Shown:
        """This run beside an earlier one (`compare_with`), or beside the perfect answer."""
        if self.kind != "clip":
            return self.skipped("the comparison", "clip")
        from ..evaluate import report
        from ..evaluate.perturb import perturbed_answer

        if self.p.compare_with:
            earlier, label = report.load_breakdown(self.p.compare_with), Path(self.p.compare_with).name
        else:
            earlier, label = self._evaluate(perturbed_answer(self.gt)).breakdown, "perfect answer"
        return Shown(f"this run against {label}",
                     picture=report.compare_figure(self.ev.breakdown, earlier, labels=(label, "this run")))

    def real_frames(self, what: str) -> Shown:
        """The bundle on real labelled frames it never trained on: "keypoints", "boxes" or "ball" (clip elements)."""
        if self.kind != "clip":
            return self.skipped("real frames", "clip")
        from ..bundle import REFERENCE_DIR
        from ..datasets.exports import SHARED_EXPORTS, as_kit_dataset
        from ..datasets.labelled import evaluate_labelled, format_labelled

        task, param = _REAL_SETS[what]
        src = getattr(self.p, param) or SHARED_EXPORTS[task]
        if not Path(src).exists():
            return Shown(f"{what}: no data at {src} (import some with `tvkit dataset import` and set {param})")
        self.bundle = bundle_or_reference(getattr(self, "bundle", None) or self.p.bundle, self.el, self.out_dir,
                                          "reference_bundle", run_self_test=False)
        if what == "ball":
            return self._real_ball(Path(src), Path(src) == Path(SHARED_EXPORTS[task]))
        data = as_kit_dataset(src, None, task, held_out_from=REFERENCE_DIR / "run.json")
        ev = evaluate_labelled(data, self.bundle, self.p.real_split, max_frames=self.p.real_frames or None,
                               report=self.out_dir / f"real_{what}", progress=True)
        self.real_metrics[f"real_{what}"] = ev.summary
        pngs = [p for p in ev.pictures.values() if Path(p).suffix == ".png"]
        return Shown(format_labelled(ev), picture=pngs[0] if pngs else None, value=ev)

    def _real_ball(self, src: Path, shared: bool) -> Shown:
        """The ball model (kit.ball) on held-out real frames: the reference's held-out clips of the shared
        export, else the `real_split` of the set given (02 hands on the shared set imported with those
        clips as its test split); at most `real_frames` of them; the misses enlarged."""
        from ..ball.data import real_frames, real_split, reference_groups
        from ..ball.evaluate import frame_report, miss_gallery

        if not (Path(self.bundle) / "ball.onnx").is_file():
            return Shown(f"the ball: {self.bundle} has no ball.onnx (`tvkit package --ball-model`), so the detector's "
                         "ball class answers; `tvkit ball evaluate` measures a ball model")
        frames = real_frames(src, groups=set(reference_groups())) if shared else real_split(src, self.p.real_split)
        frames = frames[:self.p.real_frames or None]
        rep = frame_report(self.bundle, frames, f"{(src.parent if src.is_file() else src).name} (held out)")
        self.real_metrics["real_ball"] = rep.to_dict()
        return Shown(str(rep), picture=miss_gallery(frames, rep, self.out_dir / "real_ball" / "misses.png"), value=rep)

    # --- image elements --------------------------------------------------------------------------

    def score_photos(self) -> Shown:
        """The held-out photos through the bundle's miner, each scored as the validator scores it."""
        if self.kind != "image":
            return self.skipped("the photos' score", "image")
        from ..images.journey import score_images
        from ..images.score import format_image_evaluation

        p = self.p
        self.ev = score_images(p.bundle, self.el, p.truth, self.out_dir, images=p.images, latency_ms=p.latency_ms)
        return Shown(format_image_evaluation(self.ev), value=self.ev)

    def photo_report(self, picture: str = "scores") -> Shown:
        """The report (`report/index.html`), and one of its pictures: scores, per_class, false_positives,
        misses or confusion."""
        if self.kind != "image":
            return self.skipped("the photo report", "image")
        from ..images.report import write_image_report

        if not hasattr(self, "files"):
            self.files = write_image_report(self.ev, self.out_dir / "report")
        if picture not in self.files:
            return Shown(f"no {picture.replace('_', ' ')} on these photos")
        return Shown(f"report: {self.files['html']}" if picture == "scores" else "", picture=self.files[picture])

    def tune(self) -> Shown:
        """Thresholds chosen on val by the exact score, reported on test (written into the bundle: `tune_write`)."""
        if self.kind != "image":
            return self.skipped("threshold tuning", "image")
        from ..images.journey import tune_thresholds

        self.tuned = tune_thresholds(self.p.bundle, self.el, self.p.truth, self.out_dir, write=self.p.tune_write)
        return Shown(str(self.tuned), picture=self.out_dir / "tune.png", value=self.tuned)

    def metrics(self) -> dict[str, Any]:
        if self.kind == "image":
            from ..images.journey import score_metrics

            return {**score_metrics(self.ev), "report": str(self.files["html"]),
                    "predictions": str(self.out_dir / "answers.json"), "tune": self.tuned.to_dict()["metrics"],
                    "tuned": self.tuned.chosen}
        ev = self.ev
        return {"breakdown": ev.breakdown,
                "elements": {eid: {"score": es.score, "gated": es.gated, "final": es.final, "rtf": es.rtf}
                             for eid, es in ev.elements.items()},
                "manifest_used": self.the_manifest.describe(),  # not "manifest": later notebooks take that as a path
                "mode": self.p.mode, "gate_passed": ev.gate_passed, "keypoint_zero_rules": dict(ev.zero_reasons()),
                "report": str(self.page), "video": str(self.video), "ground_truth": str(self.truth),
                "truth": str(self.truth),
                **self.real_metrics}
