"""Notebook 01's steps: synthetic clips into YOLO datasets (clip elements), or the element's labelled
photos imported by name (image elements); each checked and pictured.

Usage: `nb = journey.start("01_data_prep", globals())`; clips: `nb.clips()`, `nb.datasets()`,
`nb.check("detect", "counts")`, `nb.gallery("detect")`, `nb.external()`; photos: `nb.photos()`,
`nb.class_counts()`, `nb.box_sizes()`, `nb.photo_gallery()`; then `metrics = nb.record()`.

Decisions: every picture is saved under the name the notebook gave it before (`clip_preview.png`,
`<task>_<figure>.png`, `<task>_gallery.png`, `class_counts.png`, `box_sizes.png`,
`photo_gallery.png`), so a run folder holds what it held; a step of the other kind says so in a
line. Later notebooks evaluate on a clip no model trains on: the first test clip, else the first
val clip (`eval_clip`).
"""

from __future__ import annotations

from typing import Any

from .base import Shown, Steps

__all__ = ["DataPrep"]


class DataPrep(Steps):
    NAME = "01_data_prep"
    PARAMETERS = ("clips", "frames", "seed", "width", "height", "difficulty", "stride", "val_fraction", "teams",
                  "external_dataset", "external_task", "external_map", "element", "manifest", "source",
                  "source_map", "source_drop", "run_dir", "metrics_path")

    # --- clip elements ---------------------------------------------------------------------------

    def clips(self) -> Shown:
        """Synthetic clips with exact ground truth, and a few frames of the first with it drawn."""
        if self.kind != "clip":
            return self.skipped("synthetic clips", "clip")
        from .. import synth, viz

        p = self.p
        self.pairs = synth.generate_clips(self.out_dir / "clips", n_clips=p.clips, n_frames=p.frames, seed=p.seed,
                                          width=p.width, height=p.height, difficulty=p.difficulty, progress=True)
        preview = viz.clip_preview(*self.pairs[0], n=4, cols=2, tile_width=480)
        path = viz.save_image(preview, self.out_dir / "clip_preview.png")
        lines = [f"{mp4.name} {gt.name} {mp4.stat().st_size / 1e6:.1f} MB" for mp4, gt in self.pairs]
        return Shown("\n".join(lines), picture=path, value=self.pairs)

    def datasets(self) -> Shown:
        """The detect and pose datasets, whole clips to train or val."""
        if self.kind != "clip":
            return self.skipped("datasets from clips", "clip")
        from .. import datasets

        p = self.p
        self.built = datasets.build_from_clips(self.out_dir / "clips", self.out_dir / "datasets", task="both",
                                               stride=p.stride, val_fraction=p.val_fraction, teams=p.teams,
                                               seed=p.seed)
        b = self.built
        lines = [f"{name}: {split}" for name, split in b.clip_splits.items()]
        lines += [f"{task}: {b.images[task]} -> {path}" for task, path in b.data_yamls.items()]
        lines.append(f"skipped: {b.skipped or 'nothing'}")
        return Shown("\n".join(lines), value=b)

    def check(self, task: str, figure: str = "counts") -> Shown:
        """A dataset read back label by label, counted; one of its check plots (saved as `<task>_<figure>.png`)."""
        if self.kind != "clip":
            return self.skipped("dataset checks", "clip")
        from .. import datasets, viz

        self.stats = getattr(self, "stats", {})
        first = task not in self.stats
        if first:
            self.stats[task] = datasets.check_dataset(self.built.data_yamls[task])
            for name, fig in viz.dataset_figures(self.stats[task]).items():
                fig.savefig(self.out_dir / f"{task}_{name}.png", dpi=100)
        text = datasets.format_stats(self.stats[task]) if first else f"{task}: {figure}"
        return Shown(text, picture=self.out_dir / f"{task}_{figure}.png", value=self.stats[task])

    def gallery(self, task: str) -> Shown:
        """A seeded sample of the training images with the labels as written to disk."""
        if self.kind != "clip":
            return self.skipped("the dataset gallery", "clip")
        from .. import viz

        grid = viz.sample_grid(self.built.data_yamls[task], split="train", n=6, cols=3, tile_width=400,
                               seed=self.p.seed)
        return Shown(task, picture=viz.save_image(grid, self.out_dir / f"{task}_gallery.png"))

    def external(self) -> Shown:
        """An external YOLO dataset imported into our classes (when `external_dataset` is set)."""
        self.imported_external = None
        if self.kind != "clip":
            return self.skipped("an external dataset", "clip")
        p = self.p
        if not p.external_dataset:
            return Shown("no external dataset (set external_dataset to import one)")
        from .. import datasets, viz

        ext = datasets.import_yolo(p.external_dataset, self.out_dir / "datasets" / f"external_{p.external_task}",
                                   task=p.external_task, mapping=p.external_map, teams=p.teams)
        self.imported_external = ext
        st = datasets.check_dataset(ext.data_yaml)
        for name, fig in viz.dataset_figures(st).items():
            fig.savefig(self.out_dir / f"external_{name}.png", dpi=100)
        grid = viz.sample_grid(ext.data_yaml, n=6, cols=3, tile_width=400, seed=p.seed)
        text = f"mapping: {ext.mapping}\ndropped: {ext.dropped or 'nothing'}\n{datasets.format_stats(st)}"
        return Shown(text, picture=grid, value=ext)

    # --- image elements --------------------------------------------------------------------------

    def photos(self) -> Shown:
        """The element's labelled photos imported by name, split by scene."""
        if self.kind != "image":
            return self.skipped("labelled photos", "image")
        from ..images.journey import prepare_data

        p = self.p
        self.imported = prepare_data(self.el, self.out_dir, p.source, seed=p.seed, mapping=p.source_map,
                                     drop=p.source_drop)
        return Shown(str(self.imported), value=self.imported)

    def class_counts(self) -> Shown:
        """Boxes per class before (the source's names) and after the import (the element's objects)."""
        if self.kind != "image":
            return self.skipped("class counts", "image")
        from ..images.journey import class_counts_figure

        return self._saved(class_counts_figure(self.imported), "class_counts.png")

    def box_sizes(self) -> Shown:
        """How much of the photo each box covers, against a challenge photo's ~1%."""
        if self.kind != "image":
            return self.skipped("box sizes", "image")
        from ..images.journey import box_size_figure

        return self._saved(box_size_figure(self.imported.data_yaml), "box_sizes.png")

    def photo_gallery(self) -> Shown:
        """A seeded sample of the training photos with their labels as written to disk."""
        if self.kind != "image":
            return self.skipped("the photo gallery", "image")
        from .. import viz
        from ..images.journey import gallery

        grid = gallery(self.imported.data_yaml, split="train", n=6, seed=self.p.seed)
        return Shown("", picture=viz.save_image(grid, self.out_dir / "photo_gallery.png"))

    def _saved(self, fig: Any, name: str) -> Shown:
        fig.savefig(self.out_dir / name, dpi=100)
        return Shown("", picture=fig)

    # --- outcome ---------------------------------------------------------------------------------

    def eval_clip(self) -> tuple[Any, Any]:
        """The clip later notebooks score on: the first test clip, else the first val clip, else the first."""
        splits = self.built.clip_splits
        return next((pr for split in ("test", "val") for pr in self.pairs if splits.get(pr[0].stem) == split),
                    self.pairs[0])

    def training_images(self) -> int:
        """How many training images the detection dataset holds (what 02 can learn from)."""
        if self.kind == "clip":
            return self.built.images["detect"]["train"]
        return self.imported.images.get("train", 0)

    def metrics(self) -> dict[str, Any]:
        if self.kind != "clip":
            from ..images.journey import held_out

            r = self.imported
            return {"detect_data_yaml": str(r.data_yaml), **held_out(r), "instances": r.after_total(),
                    "images_per_split": r.images, "dropped": r.dropped, "import_notes": r.notes}
        b, ext = self.built, self.imported_external
        video, truth = self.eval_clip()
        return {"clips": len(self.pairs), "frames_per_clip": self.p.frames, "clips_dir": str(self.out_dir / "clips"),
                "video": str(video), "ground_truth": str(truth), "truth": str(truth),
                "detect_data_yaml": str(b.data_yamls["detect"]), "pose_data_yaml": str(b.data_yamls["pose"]),
                "external_data_yaml": str(ext.data_yaml) if ext else None,
                "detect_train_images": b.images["detect"]["train"], "detect_val_images": b.images["detect"]["val"],
                "pose_train_images": b.images["pose"]["train"], "pose_val_images": b.images["pose"]["val"],
                "teams": self.p.teams, "clip_splits": b.clip_splits,
                "instances": {task: st.to_dict()["instances_total"] for task, st in self.stats.items()},
                "skipped": b.skipped}

