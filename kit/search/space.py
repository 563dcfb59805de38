"""What a training search may change: a default per element kind, a user's override, Ray Tune's form.

Usage: `space = search_space("image", ["lr0=1e-4:1e-2:log", "imgsz=320,416"])` (or a YAML file's
path among the overrides), then `to_tune(space)` for `tune.Tuner(param_space=...)`,
`describe(space)` for a record.

One grammar, on the command line (`--space key=...`) and in a YAML file (`key: ...`):
`lo:hi` a uniform float, `lo:hi:log` a log-uniform one, `lo:hi:int` an integer (hi included),
`a,b,c` a choice, one value a fixed setting; in YAML a list is a choice and a number a fixed
value too. Keys are ultralytics training arguments (`lr0`, `scale`, `mosaic`, `imgsz`...), checked
against ultralytics' own table with a did-you-mean.

Decisions:
- **Defaults per kind** (`DEFAULT_SPACES`), what moves a small detector most on each kind: the
  learning rate (log scale), the zoom range `scale` and `mosaic` (Detect photos: objects in
  labelled sets are far larger than in a challenge photo, kit.train.PHOTO_AUG; broadcasts:
  modest zoom, kit.train.BROADCAST_AUG), brightness jitter for photos, translate for broadcasts,
  and `imgsz` among a few sizes a CPU can afford (the ONNX export follows it:
  `export_hw(imgsz)`, 16:9 rounded up to the stride). An override replaces or adds keys; a key
  set to `default` drops it from the space (the preset's value is used).
- **`lr0` needs a named optimizer**: ultralytics' `optimizer=auto` ignores `lr0` (it picks its
  own rate), so a space with `lr0` and no `optimizer` fixes `optimizer=AdamW` (what `auto`
  picks for short runs) and says so in the record.
- **Not hyper-parameters**: `epochs` (the search's budget: ASHA's max_t), `data`, `project`,
  `name`, `device`, `export` belong to the search itself and are refused in a space.
- **`imgsz` is checked up front**: every size a multiple of 32 (the network's stride; the
  export needs it), so no trial dies of it late.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import KitError

__all__ = ["Dim", "DEFAULT_SPACES", "search_space", "parse_dim", "to_tune", "describe", "export_hw",
           "NOT_IN_SPACE", "LR_OPTIMIZER"]

#: The default search space per element kind (`kit.manifest.Element.kind`), in the override grammar.
DEFAULT_SPACES: dict[str, dict[str, str]] = {
    "image": {"lr0": "1e-4:2e-2:log", "scale": "0.3:0.9", "mosaic": "0.0:1.0", "hsv_v": "0.2:0.6",
              "imgsz": "320,416,512,640"},
    "clip": {"lr0": "1e-4:2e-2:log", "scale": "0.1:0.5", "translate": "0.0:0.15", "mosaic": "0.0:1.0",
             "imgsz": "320,480,640"},
}
#: Settings of the search itself, never of a trial.
NOT_IN_SPACE = ("epochs", "data", "project", "name", "device", "export", "resume", "exist_ok")
#: The optimizer fixed when `lr0` is searched and the space names none (see the module docstring).
LR_OPTIMIZER = "AdamW"


@dataclass(frozen=True)
class Dim:
    """One searched knob: `kind` one of float, log, int (lo..hi), choice (values), fixed (values[0])."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    values: tuple[Any, ...] = ()

    def middle(self) -> Any:
        """The middle of the range (geometric for log), the first choice: what a start point that
        leaves this knob out tries."""
        if self.kind == "float":
            return (self.lo + self.hi) / 2
        if self.kind == "log":
            return float((self.lo * self.hi) ** 0.5)
        if self.kind == "int":
            return int(round((self.lo + self.hi) / 2))
        return self.values[0]

    def text(self) -> str:
        if self.kind in ("float", "log", "int"):
            return f"{self.lo:g}:{self.hi:g}" + ("" if self.kind == "float" else f":{self.kind}")
        return ",".join(str(v) for v in self.values)


def _value(text: str) -> Any:
    t = text.strip()
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(t.lower(), t)


def parse_dim(key: str, spec: Any) -> Dim:
    """A Dim from the grammar (module docstring): a string, or a YAML list / number / bool."""
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise KitError(f"--space {key}: an empty list of choices")
        return Dim("choice", values=tuple(spec)) if len(spec) > 1 else Dim("fixed", values=(spec[0],))
    if not isinstance(spec, str):
        return Dim("fixed", values=(spec,))
    parts = spec.split(":")
    if len(parts) in (2, 3):
        kind = parts[2].strip() if len(parts) == 3 else "float"
        if kind not in ("float", "log", "int"):
            raise KitError(f"--space {key}={spec}: the third part is log or int (lo:hi:log, lo:hi:int), not {kind!r}")
        try:
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise KitError(f"--space {key}={spec}: lo:hi takes two numbers (e.g. {key}=0.1:0.9)") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi or (kind == "log" and lo <= 0):
            raise KitError(f"--space {key}={spec}: needs lo < hi{' and lo > 0 (log scale)' if kind == 'log' else ''}")
        return Dim(kind, lo, hi)
    if len(parts) > 3:
        raise KitError(f"--space {key}={spec}: use lo:hi, lo:hi:log, lo:hi:int, a,b,c or one value")
    values = tuple(_value(v) for v in spec.split(",") if v.strip())
    if not values:
        raise KitError(f"--space {key}={spec}: no value")
    return Dim("choice", values=values) if len(values) > 1 else Dim("fixed", values=values)


def _train_args() -> set[str]:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return set(DEFAULT_CFG_DICT)


def _check_key(key: str, known: set[str]) -> None:
    if key in NOT_IN_SPACE:
        raise KitError(f"--space {key}: a setting of the search itself, not a hyper-parameter (give --{key} "
                       "to the search)" if key == "epochs" else f"--space {key}: set by the search, not searchable")
    if key not in known:
        near = difflib.get_close_matches(key, sorted(known), n=1)
        raise KitError(f"--space {key}: not an ultralytics training argument"
                       + (f"; did you mean {near[0]!r}?" if near else " (ultralytics/cfg/default.yaml lists them)"))


def _check_imgsz(dim: Dim) -> None:
    sizes = dim.values if dim.kind in ("choice", "fixed") else ()
    if dim.kind in ("float", "log", "int"):
        raise KitError("--space imgsz: give a few sizes (imgsz=320,416,512), not a range: each must be a multiple "
                       "of 32 (the network's stride)")
    bad = [s for s in sizes if not isinstance(s, int) or s <= 0 or s % 32]
    if bad:
        raise KitError(f"--space imgsz: {bad} not multiples of 32 (the network's stride; the ONNX export needs it)")


def _overrides(items: list[str] | None) -> dict[str, Any]:
    """key -> spec from `key=spec` items and YAML files among them (later items win)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            path = Path(item)
            if not path.is_file():
                raise KitError(f"--space {item}: give key=lo:hi (or a,b,c, or a value) or a YAML file of them; no "
                               "such file")
            doc = yaml.safe_load(path.read_text()) or {}
            if not isinstance(doc, dict):
                raise KitError(f"{path}: a search space file maps names to specs (lr0: 1e-4:1e-2:log)")
            out.update({str(k): v for k, v in doc.items()})
        else:
            key, spec = item.split("=", 1)
            out[key.strip()] = spec.strip()
    return out


def search_space(kind: str, overrides: list[str] | None = None) -> dict[str, Dim]:
    """The element kind's default space with the overrides (module docstring), checked."""
    if kind not in DEFAULT_SPACES:
        raise KitError(f"element kind {kind!r}: the search knows {', '.join(DEFAULT_SPACES)}")
    specs: dict[str, Any] = dict(DEFAULT_SPACES[kind])
    for key, spec in _overrides(overrides).items():
        if spec == "default":
            specs.pop(key, None)
        else:
            specs[key] = spec
    known = _train_args()
    space = {}
    for key, spec in specs.items():
        _check_key(key, known)
        space[key] = parse_dim(key, spec)
    if "imgsz" in space:
        _check_imgsz(space["imgsz"])
    if "lr0" in space and "optimizer" not in space:
        space["optimizer"] = Dim("fixed", values=(LR_OPTIMIZER,))
    if not any(d.kind != "fixed" for d in space.values()):
        raise KitError("the search space fixes every knob: nothing to search (give a range or a choice)")
    return space


def to_tune(space: dict[str, Dim]) -> dict[str, Any]:
    """Ray Tune's param_space: tune.uniform / loguniform / randint / choice, fixed values as they are."""
    from ray import tune

    out: dict[str, Any] = {}
    for key, d in space.items():
        if d.kind == "float":
            out[key] = tune.uniform(d.lo, d.hi)
        elif d.kind == "log":
            out[key] = tune.loguniform(d.lo, d.hi)
        elif d.kind == "int":
            out[key] = tune.randint(int(d.lo), int(d.hi) + 1)
        elif d.kind == "choice":
            out[key] = tune.choice(list(d.values))
        else:
            out[key] = d.values[0]
    return out


def describe(space: dict[str, Dim]) -> dict[str, str]:
    return {k: d.text() for k, d in space.items()}


def export_hw(imgsz: int) -> tuple[int, int]:
    """The ONNX input for a training size: 16:9, height rounded up to the stride (320 -> 192 x 320,
    512 -> 288 x 512, 960 -> 544 x 960: the kit's presets)."""
    return max(32, int(math.ceil(imgsz * 9 / 16 / 32)) * 32), int(imgsz)

