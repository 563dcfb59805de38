"""One table of every default a user can set in a run: key, type, value, meaning.

Decisions and reasons:
- **One table, read by everyone.** The `tvkit` options, the library's signatures where they take
  a run setting, and the notebooks' `parameters` cells all read (or mirror) `TABLE`; a literal
  default is written once, here. Before it, a clip was 250, 100, 60 or 30 frames long depending
  on the door, the dataset stride 5 or 2, `teams` False in the CLI and True in notebook 01.
- **The values are the offline, 2-core CPU ones** (the kit's promise: everything runs offline on
  a laptop by default), which are also the `smoke` profile: a notebook opened alone, `make
  test-notebooks` and `tvkit run --profile smoke` run the same. `tests/test_defaults.py` holds
  every notebook's `parameters` cell to the table for each key they share.
- **Profiles are overlays** (`PROFILES`): `cpu` and `gpu` change a few keys; everything else is
  the table's. `kit.runs` passes a profile's overlaid keys to the notebooks that declare them.
- **Budgets and caps are not defaults.** The latency budget (`latency_p95_ms`), the repo size cap
  (`max_model_size_mb`), the service rate and the like come from the element of the manifest,
  never from this table (the validator publishes them as data).
- **A key is spelt once across the CLI, the API and the notebooks** (`answer`, `truth`,
  `bundle`, `element`, `clips` a count and `clips_dir` a folder, `real_pose_data` and
  `real_detect_data`); `--flag-name` is the key with `-` for `_`. Names no longer used are in
  `RENAMED`, so a typo or an old name gets told the new one.
- The key names are stable: the notebooks and the sweep files spell them.

Usage: `from kit.defaults import default; default("stride")` -> 2;
`resolved("cpu")["frames"]` -> 150; `check_key("strde", "-p")` raises "did you mean stride?".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from . import KitError


@dataclass(frozen=True)
class Default:
    """One row of the table: the key (a notebook parameter and, with `-` for `_`, a `tvkit` option),
    its type, its value, what it means, and where a closed set applies, the allowed values."""

    key: str
    type: type
    value: Any
    meaning: str
    choices: tuple[Any, ...] = ()


def _r(key: str, typ: type, value: Any, meaning: str, choices: tuple[Any, ...] = ()) -> Default:
    return Default(key, typ, value, meaning, choices)


#: The table. Sections follow the journey (notebooks 00 -> 06). An empty string means "none:
#: the kit picks" (said in the meaning); 0 for a count means "the preset's" or "all" (said too).
TABLE: tuple[Default, ...] = (
    # --- the run -------------------------------------------------------------------------------
    _r("profile", str, "smoke", "the run profile: smoke (minutes on a CPU), cpu, gpu (overlays below)",
       ("smoke", "cpu", "gpu")),
    _r("element", str, "", "the element the journey follows (`tvkit elements list`); empty: the football journey"),
    _r("manifest", str, "", "where the element is defined: a manifest file, 'live', or empty for the kit's example"),
    _r("deploy_checks", bool, False, "`doctor`: credentials and wallet count as essential too"),
    _r("seed", int, 0, "every seeded choice: synthetic clips, the train/val split, the validator's frame pick"),
    # --- inputs (paths; empty: the kit makes or picks one, and says which) ----------------------
    _r("video", str, "", "a challenge clip (mp4); empty: a synthetic one is generated"),
    _r("truth", str, "", "the ground truth of what is scored: a clip's JSON, an API truth JSON or a YOLO dataset"),
    _r("answer", str, "", "a /predict answer (JSON) to score; empty: a damaged copy of the truth"),
    _r("bundle", str, "", "a miner bundle folder (`tvkit package`); empty: the committed reference model"),
    _r("images", str, "", "image elements: a photo or a folder of photos; empty: the element's own"),
    _r("clips_dir", str, "", "a folder of clips (NAME.mp4 + NAME.json); empty: synthetic ones"),
    # --- synthetic clips (kit.synth) -------------------------------------------------------------
    _r("clips", int, 2, "how many synthetic clips to generate (a count; a folder of clips is `clips_dir`)"),
    _r("frames", int, 40, "frames per synthetic training clip"),
    _r("clip_frames", int, 60, "frames of a synthetic challenge clip (evaluate, dry run, rehearse, deploy test) "
       "when none is given"),
    _r("width", int, 640, "synthetic clip width in pixels"),
    _r("height", int, 360, "synthetic clip height in pixels"),
    _r("fps", float, 25.0, "synthetic clip frame rate"),
    _r("difficulty", str, "default", "kit.synth difficulty preset", ("easy", "default", "hard")),
    # --- datasets (kit.datasets, kit.images.importer) -------------------------------------------
    _r("stride", int, 2, "every Nth frame of a clip becomes a training image"),
    _r("val_fraction", float, 0.2, "share of clips (not frames) for validation; at least one clip"),
    _r("test_fraction", float, 0.0, "share of clips for a test split"),
    _r("teams", bool, False, "detection classes 'player team 1' / 'player team 2' as well as 'player' (False: the "
       "four classes of the real labelled set, so real boxes train alongside)"),
    _r("min_visible_keypoints", int, 4, "pose datasets: skip frames with fewer visible pitch keypoints"),
    _r("import_val_fraction", float, 0.15, "`dataset import`: share of images (whole groups) for val"),
    _r("import_test_fraction", float, 0.15, "`dataset import`: share of images for test when no test groups"),
    _r("lookback_days", int, 4, "`dataset pull`: the console's lookback_days"),
    _r("top", int, 3, "the top miners' answers: kept per photo by `dataset pull --challenges`, drawn beside "
       "yours by `beside`"),
    # --- training (kit.train) --------------------------------------------------------------------
    _r("preset", str, "", "training preset (kit.train.PRESETS: smoke, cpu, gpu); empty: the profile's",
       ("", "smoke", "cpu", "gpu")),
    _r("epochs", int, 0, "training epochs; 0: the preset's"),
    _r("imgsz", int, 0, "training image size; 0: the preset's"),
    _r("device", str, "cpu", "where to train: cpu, or a CUDA device such as 0"),
    _r("real_detect_data", str, "", "real labelled boxes (a data.yaml or an export folder); empty: "
       "../shared/data/real's, if there; 'none': synthetic only"),
    _r("real_pose_data", str, "", "real frames with the 32 pitch keypoints; empty: ../shared/data/real's, if there"),
    _r("real_frames", int, 12, "held-out real frames a model is checked on (0: the whole split)"),
    _r("real_split", str, "test", "the split of the real sets a model is checked on", ("train", "val", "test")),
    _r("hand_on", str, "auto", "the bundle later notebooks get: trained, reference, or auto (reference under smoke)",
       ("auto", "trained", "reference")),
    # --- latency (kit.latency; the budget is the element's) --------------------------------------
    _r("latency_frames", int, 30, "whole-clip frames timed by the latency check"),
    _r("latency_per_frame", int, 20, "frames timed one at a time for p50/p95/max (0: all)"),
    _r("latency_baseline", bool, False, "also time the clip through a naive miner (two ultralytics models a batch) "
       "for a ratio; about 15 s, so the cpu and gpu profiles only"),
    _r("latency_images", int, 8, "image elements: photos timed, one predict_batch call each"),
    _r("challenge_frames", int, 750, "frames of a whole challenge clip as validators send it (`bench latency`)"),
    # --- evaluation (kit.evaluate, kit.images.score) ---------------------------------------------
    _r("mode", str, "full", "full: every ground-truth frame; validator: 3 consecutive ones picked with the seed",
       ("full", "validator")),
    _r("min_frames", int, 3, "the answer gate's min_frames_required (the validator's frame pick)"),
    _r("box_jitter_px", float, 2.0, "the damaged copy of the truth scored when no answer is given: box jitter"),
    _r("miss_rate", float, 0.1, "the damaged copy: share of boxes dropped"),
    _r("false_positives", float, 0.3, "the damaged copy: false boxes added per frame"),
    _r("keypoint_jitter_px", float, 3.0, "the damaged copy: keypoint jitter"),
    # --- tuning (kit.tune) -----------------------------------------------------------------------
    _r("tune_split", str, "val", "Detect: the split the thresholds are chosen on"),
    _r("tune_holdout", str, "test", "Detect: the split the choice is reported on ('none': no report)"),
    _r("min_images", int, 30, "tuning refuses with fewer scored photos"),
    _r("min_clips", int, 3, "tuning refuses with fewer clips"),
    _r("tune_write", bool, True, "write the tuned thresholds into the bundle's miner.json"),
    # --- dry run, rehearsal, compliance (kit.chute, kit.comply) ----------------------------------
    _r("frames_in_body", int, 16, "frames-mode challenge: how many frames the body carries"),
    _r("max_images", int, 3, "image elements: photos sent in a dry run"),
    _r("port", int, 0, "a dry-run chute's port; 0: any free port (`tvkit dry-run` serves on 8000)"),
    # --- deploy and maintain (kit.deploy) --------------------------------------------------------
    _r("plan_only", bool, True, "show the deploy steps and the commitment, touch nothing"),
    _r("deploy", bool, True, "False: upload to Hugging Face only (the repo stays private)"),
    _r("commit", bool, False, "commit on chain (needs bittensor and your wallet), then make the repo public"),
    _r("test_after_push", bool, True, "send one validator-style challenge to the new chute"),
    _r("warmup_seconds", float, 900.0, "how long a new chute may take to get hot"),
    _r("keep_last", int, 2, "deployed revisions to keep; older ones are stale"),
    _r("live", bool, False, "read the live chutes and public lists (needs CHUTES_API_KEY)"),
    _r("delete_stale", bool, False, "delete the stale chutes and their images"),
)

DEFAULTS: dict[str, Default] = {d.key: d for d in TABLE}

#: Run profiles: overlays on the table. `smoke` is the table itself.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {},
    "cpu": {"clips": 6, "frames": 150, "width": 960, "height": 540, "stride": 3, "clip_frames": 250,
            "latency_baseline": True},
    "gpu": {"clips": 24, "frames": 250, "width": 960, "height": 540, "stride": 2, "clip_frames": 750,
            "latency_baseline": True},
}

#: Keys any profile overlays: what `tvkit run --profile P` passes to the notebooks that declare them.
PROFILE_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for o in PROFILES.values() for k in o))

#: Old names -> the key that replaced them (CLI options are hidden aliases for one release).
RENAMED: dict[str, str] = {
    "predictions": "answer",
    "ground_truth": "truth",
    "model_path": "bundle",
    "element_id": "element",
    "real_data": "real_pose_data",
    "real_boxes": "real_detect_data",
}


def did_you_mean(name: str, choices: list[str] | tuple[str, ...] | set[str], cutoff: float = 0.6) -> str:
    """' (did you mean X?)' for the nearest of `choices`, or '' when none is near; for error messages."""
    near = difflib.get_close_matches(str(name), sorted(map(str, choices)), n=1, cutoff=cutoff)
    return f" (did you mean {near[0]}?)" if near else ""


def check_key(key: str, where: str = "default") -> Default:
    """The table's row for `key`; an unknown key is a KitError with the nearest key or its new name."""
    if key in DEFAULTS:
        return DEFAULTS[key]
    if key in RENAMED:
        raise KitError(f"{where} {key}: renamed to {RENAMED[key]}; use that name")
    raise KitError(f"{where} {key}: not a key of the defaults table (kit/defaults.py){did_you_mean(key, DEFAULTS)}")


def default(key: str) -> Any:
    """The table's value for `key` (KitError with a did-you-mean for an unknown key)."""
    return check_key(key).value


def check_profile(profile: str, where: str = "--profile") -> str:
    """`profile` if it is one of PROFILES, else a KitError naming them (and the nearest)."""
    if profile not in PROFILES:
        raise KitError(f"{where} {profile}: unknown profile{did_you_mean(profile, PROFILES)} "
                       f"(choose from {', '.join(PROFILES)})")
    return profile


def resolved(profile: str = "smoke") -> dict[str, Any]:
    """Every key's value under `profile`: the table, then the profile's overlay."""
    check_profile(profile)
    return {**{d.key: d.value for d in TABLE}, "profile": profile, **PROFILES[profile]}


def profile_parameters(profile: str) -> dict[str, Any]:
    """What `tvkit run --profile P` passes: the profile's name and every key some profile overlays."""
    values = resolved(profile)
    return {"profile": profile, **{k: values[k] for k in PROFILE_KEYS}}


def help_for(key: str, text: str | None = None) -> str:
    """An option's help: `text` (or the table's meaning) and the table's value as its default."""
    d = check_key(key)
    value = d.value if d.value != "" else "none"
    return f"{text or d.meaning} (default {value})"


def format_table() -> str:
    """The table as text, one key a line: key, type, value, meaning (the profiles' overlays after)."""
    width = max(len(d.key) for d in TABLE) + 2
    lines = [f"{d.key:<{width}}{d.type.__name__:<7}{d.value!r:<10} {d.meaning}" for d in TABLE]
    lines += ["", "profiles (overlays on the table):"]
    lines += [f"  {name:<7}" + (", ".join(f"{k}={v}" for k, v in o.items()) or "the table itself")
              for name, o in PROFILES.items()]
    return "\n".join(lines)
