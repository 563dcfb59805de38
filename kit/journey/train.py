"""Notebook 02's steps: train, export, package, hand a bundle on, score it, time it, for either kind.

Usage: `nb = journey.start("02_train", globals())`; `nb.data()`, `nb.train("detect")`, `nb.train("pose")`,
`nb.validation()`, `nb.package()`, `nb.real_frames()`, `nb.hand_on()`, `nb.score()`, `nb.latency()`,
`metrics = nb.record()`.

Decisions:
- **Real labelled frames join the synthetic ones** (clip elements): a raw export is imported split
  by clip with the groups the reference model held out pinned to its test split, so the test
  frames are frames neither model trained on; validation (the best checkpoint) uses real frames
  only. A real set whose classes differ from the synthetic set's (players split by team) is left
  out, and said so.
- **Which bundle goes on** is decided once (`hand_on`): "auto" hands on the committed reference
  model under the smoke preset (a smoke-trained model cannot score), what was trained otherwise.
- **No data given**: a clip element builds small synthetic data here; an image element imports
  its default photos (`kit.images.journey.train_detector`). No held-out clip given: the first clip
  made here, else a synthetic one (`clip_or_synthetic`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Shown, Steps
from .fallbacks import bundle_or_reference, clip_or_synthetic, real_sets

__all__ = ["Train", "HAND_ON"]

#: What `hand_on` may say.
HAND_ON = ("auto", "trained", "reference")
_VALIDATION_KEYS = {"detect": ("mAP50", "mAP50-95", "precision", "recall"),
                    "pose": ("mAP50", "kpt_mAP50", "kpt_mAP50-95", "kpt_precision", "kpt_recall")}


class Train(Steps):
    NAME = "02_train"
    PARAMETERS = ("profile", "preset", "epochs", "imgsz", "detect_data_yaml", "pose_data_yaml", "video",
                  "truth", "detect_weights", "pose_weights", "init", "real_detect_data", "real_pose_data",
                  "real_frames", "device", "clips", "frames", "width", "height", "stride", "seed", "hand_on",
                  "latency_frames", "latency_per_frame", "latency_baseline", "element", "manifest", "images",
                  "latency_images", "run_dir", "metrics_path")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        from ..train import PRESETS

        self.preset_name = self.p.preset or (self.p.profile if self.p.profile in PRESETS else "smoke")
        self.clips_dir: Path | None = None
        self.results: dict[str, Any] = {}
        self.real_yaml: dict[str, Path] = {}
        self.real_metrics: dict[str, Any] = {}

    def data(self) -> Shown:
        """What trains: the given datasets (or small synthetic ones), with the real labelled frames mixed in."""
        from ..train import PRESETS

        head = f"preset: {self.preset_name} {({t: vars(p) for t, p in PRESETS[self.preset_name].items()})}"
        if self.kind != "clip":
            return Shown(f"{head}\ndetect data: {self.p.detect_data_yaml or 'the element default photos'}")
        p, notes = self.p, []
        train_data = {"detect": p.detect_data_yaml, "pose": p.pose_data_yaml}
        if not p.detect_data_yaml or not p.pose_data_yaml:
            train_data = self._synthetic_data(train_data)
        for task, src in real_sets(p.real_detect_data, p.real_pose_data).items():
            mixed = self._mix_real(task, src, train_data[task])
            if isinstance(mixed, str):
                notes.append(mixed)
            else:
                train_data[task] = mixed
        self.train_data = train_data
        lines = [*notes, head, f"detect data: {train_data['detect']}", f"pose data:   {train_data['pose']}"]
        return Shown("\n".join(lines), data={"train_data": train_data})

    def _synthetic_data(self, given: dict[str, str]) -> dict[str, str]:
        from ..datasets import build_from_clips
        from ..synth import generate_clips

        p = self.p
        self.clips_dir = self.out_dir / "clips"
        generate_clips(self.clips_dir, p.clips, p.frames, p.seed, p.width, p.height, progress=True)
        built = build_from_clips(self.clips_dir, self.out_dir / "datasets", stride=p.stride, seed=p.seed,
                                 progress=True)
        return {task: given[task] or str(built.data_yamls[task]) for task in ("detect", "pose")}

    def _mix_real(self, task: str, src: Path, ours: str) -> str:
        """The real set imported and combined with ours (validated on it alone); a note when it cannot be."""
        from ..bundle import REFERENCE_DIR
        from ..datasets import read_data_yaml
        from ..datasets.exports import as_kit_dataset
        from ..train import combine_data

        real = as_kit_dataset(src, None, task, held_out_from=REFERENCE_DIR / "run.json")
        real_names, our_names = read_data_yaml(real).names, read_data_yaml(ours).names
        if real_names != our_names:
            return (f"{task}: the real set's classes {real_names} differ from {ours}'s {our_names} "
                    "(players split by team?); training without the real set")
        self.real_yaml[task] = real
        return str(combine_data([ours, real], self.out_dir / "mixed" / task / "data.yaml", val_from=[real]))

    def train(self, task: str = "detect") -> Shown:
        """One model trained (clip: `detect` or `pose`; image: the element's detector), its curves shown."""
        p = self.p
        if self.kind == "image":
            if task != "detect":
                return self.skipped(f"the {task} model", "clip")
            from ..images.journey import train_detector

            self.training = train_detector(self.el, p.detect_data_yaml, self.preset_name, self.out_dir,
                                           epochs=p.epochs, imgsz=p.imgsz, device=p.device)
            return Shown(self.training.format(), picture=self.training.result.curves, value=self.training)
        from ..train import train

        weights = {"detect": p.detect_weights, "pose": p.pose_weights}[task]
        r = train(task, self.train_data[task], self.preset_name, project=self.out_dir / "train", name=task,
                  weights=weights or None, init=p.init or None, epochs=p.epochs or None, imgsz=p.imgsz or None,
                  device=p.device)
        self.results[task] = r
        return Shown(f"{r.seconds:.0f} s, run folder {r.run_dir}", picture=r.curves, value=r)

    def validation(self) -> Shown:
        """Box and keypoint mAP on the validation split, as bars (clip elements; an image's are in `train`)."""
        if self.kind != "clip":
            return self.skipped("the validation bars", "clip")
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 3), layout="constrained")
        for ax, (task, keys) in zip(fig.subplots(1, 2), _VALIDATION_KEYS.items()):
            vals = [self.results[task].metrics.get(k, 0.0) for k in keys]
            ax.bar(keys, vals, color="#3949ab")
            ax.set_ylim(0, 1)
            ax.set_title(f"{task} (validation)")
            ax.tick_params(axis="x", labelsize=8, rotation=20)
            for i, v in enumerate(vals):
                ax.text(i, v + 0.02, f"{v:.3f}", ha="center", fontsize=8)
        text = "\n".join(f"{task} {({k: round(v, 4) for k, v in self.results[task].metrics.items()})}"
                         for task in _VALIDATION_KEYS)
        return Shown(text, picture=fig)

    def package(self) -> Shown:
        """The trained model(s) packaged into `bundle/`, every chute rule checked, and its size."""
        if self.kind == "image":
            from ..images.journey import size_check

            self.trained_bundle = self.training.package(self.out_dir / "bundle")
            return Shown(size_check(self.trained_bundle, self.el))
        from ..bundle import bundle_bytes, package
        from ..comply import check_repo

        lines = [f"{task}: {r.onnx} ({r.onnx.stat().st_size / 2**20:.1f} MB)" for task, r in self.results.items()]
        self.trained_bundle = package(self.out_dir / "bundle", self.results["detect"].onnx, self.results["pose"].onnx)
        lines.append(f"bundle {self.trained_bundle}: {bundle_bytes(self.trained_bundle) / 2**20:.1f} MB, "
                     f"compliance findings: {check_repo(self.trained_bundle)}")
        return Shown("\n".join(lines))

    def real_frames(self) -> Shown:
        """The trained bundle on held-out real frames (clip elements)."""
        if self.kind != "clip":
            return self.skipped("real frames", "clip")
        if not self.real_yaml:
            return Shown("no real labelled frames: set real_detect_data / real_pose_data "
                         "(an export or `tvkit dataset import` output)")
        from ..datasets.labelled import evaluate_labelled, format_labelled

        texts = []
        for task, data in self.real_yaml.items():
            ev = evaluate_labelled(data, self.trained_bundle, "test", max_frames=self.p.real_frames or None,
                                   progress=True)
            texts.append(format_labelled(ev))
            self.real_metrics[f"real_{task}"] = ev.summary
        return Shown("\n".join(texts), data=self.real_metrics)

    def hand_on(self) -> Shown:
        """The bundle later notebooks get: the reference model or the one trained here (`hand_on`)."""
        from .. import KitError

        if self.p.hand_on not in HAND_ON:
            raise KitError(f"hand_on = {self.p.hand_on!r}: choose 'auto', 'trained' or 'reference'")
        use_reference = self.p.hand_on == "reference" or (self.p.hand_on == "auto" and self.preset_name == "smoke")
        self.bundle_source = "reference" if use_reference else "trained"
        self.bundle = (bundle_or_reference(None, self.el, self.out_dir, "reference_bundle") if use_reference
                       else self.trained_bundle)
        said = {"reference": "the committed reference model", "trained": "the model trained here"}
        return Shown(f"handed on: {said[self.bundle_source]} -> {self.bundle}", data={"bundle": str(self.bundle)})

    def score(self) -> Shown:
        """The handed-on bundle predicts a held-out clip as the chute would, scored; the trained one too (clips)."""
        if self.kind != "clip":
            return self.skipped("a clip's score", "clip")
        import json

        from ..bundle import predict_video
        from ..evaluate import evaluate, format_breakdown

        video, truth = self._eval_clip()
        pred = predict_video(self.bundle, video)
        (self.out_dir / "predictions.json").write_text(json.dumps(pred.answer))
        self.ev = self.trained_ev = evaluate(pred.answer, truth, video)
        lines = [f"handed-on bundle: {pred.n_frames} frames in {pred.seconds:.1f} s", format_breakdown(self.ev)]
        if self.bundle != self.trained_bundle:
            self.trained_ev = evaluate(predict_video(self.trained_bundle, video).answer, truth, video)
            lines.append(f"the model trained here scores final {self.trained_ev.breakdown['final']:.4f} "
                         "on the same clip")
        return Shown("\n".join(lines), data={"breakdown": self.ev.breakdown}, value=self.ev)

    def _eval_clip(self) -> tuple[Any, Any]:
        p = self.p
        if not p.video and self.clips_dir is not None:
            return self.clips_dir / "clip_000.mp4", self.clips_dir / "clip_000.json"
        return clip_or_synthetic(p.video, p.truth, self.out_dir / "eval_clip", p.frames, p.seed + 1000,
                                 index=0, width=p.width, height=p.height)

    def latency(self) -> Shown:
        """Per-call latency as the compliance loop measures it, against the element's budget."""
        if self.kind == "image":
            from ..images.journey import latency_check, latency_figure

            self.timed = latency_check(self.bundle, self.el, self.p.images, n=self.p.latency_images)
            fig = latency_figure(self.timed, self.el)
            fig.savefig(self.out_dir / "latency.png", dpi=100)
            return Shown(self.timed.format(), picture=fig, value=self.timed)
        from ..latency import format_report, measure

        self.lat = measure(self.bundle, frames=self.p.latency_frames, per_frame=self.p.latency_per_frame,
                           baseline=self.p.latency_baseline, element=self.el)
        return Shown(format_report(self.lat), picture=_latency_figure(self.lat, self.el.id), value=self.lat)

    def metrics(self) -> dict[str, Any]:
        from ..bundle import bundle_bytes

        common = {"preset": self.preset_name}
        if self.kind == "image":
            t = self.training
            return {**common, "detect_onnx": str(t.onnx), "bundle": str(self.bundle),
                    "bundle_source": self.bundle_source, "trained_bundle": str(self.trained_bundle),
                    "bundle_mb": round(bundle_bytes(self.bundle) / 2**20, 2), "detect_metrics": t.record["metrics"],
                    "train_seconds": {"detect": t.record["seconds"]},
                    "latency_p50_ms_per_photo": round(self.timed.p50_ms, 2),
                    "latency_p95_ms_per_photo": round(self.timed.p95_ms, 2),
                    "latency_budget_ms": self.el.latency_p95_ms}
        r = self.results
        m = {**common, "detect_onnx": str(r["detect"].onnx), "pose_onnx": str(r["pose"].onnx),
             "bundle": str(self.bundle), "bundle_source": self.bundle_source,
             "trained_bundle": str(self.trained_bundle), "trained_final": self.trained_ev.breakdown["final"],
             "bundle_mb": round(bundle_bytes(self.bundle) / 2**20, 2), "detect_metrics": r["detect"].metrics,
             "pose_metrics": r["pose"].metrics, "train_seconds": {t: round(x.seconds, 1) for t, x in r.items()},
             "latency": self.lat.to_dict(), "breakdown": self.ev.breakdown,
             "predictions": str(self.out_dir / "predictions.json"), "answer": str(self.out_dir / "predictions.json"),
             **self.real_metrics}
        # the real sets as imported here, for notebook 03 (`tvkit run` passes metrics on by parameter name)
        for task, keys in (("pose", ("real_data", "real_pose_data")), ("detect", ("real_boxes", "real_detect_data"))):
            m.update({key: str(self.real_yaml[task]) for key in keys if task in self.real_yaml})
        return m


def _latency_figure(lat: Any, element_id: str) -> Any:
    """p50/p95/max per frame against the element's budget and the sandbox's tolerance."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 2.6), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(["p50", "p95", "max"], [lat.p50_ms, lat.p95_ms, lat.max_ms], color="#00897b")
    ax.axhline(lat.budget_ms, color="#e53935", ls="--", label=f"{element_id} budget p95 {lat.budget_ms:g} ms")
    ax.axhline(lat.limit_ms, color="#e53935", ls=":", label="+10 ms sandbox tolerance")
    ax.set_ylabel("ms per frame")
    ax.legend()
    return fig
