"""Score a fire/smoke detector on a SECOND labelled set, from another source than the one it was trained on.

Usage (from the repo root):
    git clone https://github.com/kalinchenko23/cyber_210_final_project /tmp/c210
    git -C /tmp/c210 checkout 5933187c336e2f676649e6836354ea0a5719508b
    .venv/bin/python chute_template/reference/fire/check_second_set.py \\
        --src /tmp/c210/fire_smoke --model data/ref-fire/runs/pretrained/weights/best.pt --split test

- Why a second set: the reference model is trained and validated on one Roboflow export (fire-wrpgm v8,
  CCTV frames, big coarse boxes); a held-out split of that export shares its cameras and labelling
  habits. The second set is Roboflow `hot-fire/hot-fire` v9 (Public Domain per its data.yaml), as
  committed in the repository above at that commit: real photos (hilltop wildfire cameras, web photos
  of building and vehicle fires), letterboxed to 640 x 640, with SMALL boxes (median fire box 1.3% of
  the image in test, 2.3% in valid): closer to challenge photos than the training set. No image of it
  is a near-duplicate of the training set (grey-thumbnail correlation at most 0.83).
- What runs: the kit's own commands, the ones a miner runs: `tvkit dataset import --split keep --size
  keep` (the export's valid/test as they are; the letterbox is kept), `tvkit package`, `tvkit predict`
  on the split's photos, `tvkit evaluate --json`; a `.pt` is exported first with
  `kit.train.export_onnx(hw=(384, 640))`. The floor (an EMPTY answer on every photo: 0.01) and the
  ceiling (the labels themselves) are scored on the same photos, so a figure reads between them.
- The figure is the element's mean composite `max(0.6 map50 + 0.4 FP - theta, 0.01)` over the photos
  with at least one box (the validator scores no empty-truth photo), theta of kit-example/Detect-fire.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

ELEMENT = "kit-example/Detect-fire"
TVKIT = str(Path(sys.executable).with_name("tvkit"))


def tvkit(*args: str) -> str:
    print("$ tvkit " + " ".join(args), flush=True)
    done = subprocess.run([TVKIT, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"tvkit {args[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def reference_answers(ds: Path, split: str, out: Path) -> dict[str, Path]:
    """EMPTY and PERFECT answers files for the split's photos (the floor and the ceiling)."""
    from kit.contract import answer_ok
    from kit.images.labels import read_yolo

    images, names = read_yolo(ds)
    files = {}
    for tag in ("empty", "perfect"):
        answers = {}
        for im in (i for i in images if i.split == split):
            boxes = [] if tag == "empty" else [
                {"x1": int(o.box[0]), "y1": int(o.box[1]), "x2": int(o.box[2]), "y2": int(o.box[3]),
                 "cls_id": names.index(o.name), "conf": 1.0} for o in im.objects]
            answers[Path(im.image).name] = answer_ok([{"frame_id": 0, "boxes": boxes}])
        files[tag] = out / f"{split}-{tag}.json"
        files[tag].write_text(json.dumps({"element": ELEMENT, "answers": answers, "latency_ms": {}}))
    return files


def score(ds: Path, split: str, answers: Path) -> dict:
    doc = json.loads(tvkit("evaluate", "--element", ELEMENT, "--truth", str(ds / "data.yaml"), "--split", split,
                           "--answer", str(answers), "--json"))
    el = doc["elements"][ELEMENT]
    return {"final": round(doc["final"], 4), "S": round(el["score"], 4), "map50": round(el["pillars"]["map50"], 4),
            "false_positive": round(el["pillars"]["false_positive"], 4), "scored": doc["n_scored"],
            "images": doc["n_images"]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="the export's folder (fire_smoke/ of the clone)")
    ap.add_argument("--model", required=True, help="a detector of the element's objects: .pt (exported) or .onnx")
    ap.add_argument("--split", default="test", choices=["val", "test"])
    ap.add_argument("--work", default=str(ROOT / "data" / "second-set"), help="where the import, bundle, answers go")
    a = ap.parse_args(argv)
    work, ds = Path(a.work), Path(a.work) / "ds"
    work.mkdir(parents=True, exist_ok=True)
    if not (ds / "data.yaml").is_file():
        tvkit("dataset", "import", "--element", ELEMENT, "--src", a.src, "--out", str(ds), "--split", "keep",
              "--size", "keep")
    model = Path(a.model)
    if model.suffix == ".pt":
        from kit.train import export_onnx
        model = export_onnx(model, hw=(384, 640), out=work / f"{model.stem}.onnx")
    bundle, answers = work / "bundle", work / f"{a.split}-{model.stem}.json"
    tvkit("package", "--element", ELEMENT, "--model", str(model), "--out", str(bundle))
    tvkit("predict", "--bundle", str(bundle), "--images", str(ds / "images" / a.split), "--out", str(answers))
    rows = {"model": score(ds, a.split, answers)}
    for tag, path in reference_answers(ds, a.split, work).items():
        rows[tag] = score(ds, a.split, path)
    for tag, r in rows.items():
        print(f"{tag:>8}: final {r['final']:.4f}  S {r['S']:.4f}  map50 {r['map50']:.4f}  "
              f"FP {r['false_positive']:.4f}  ({r['scored']} of {r['images']} photos scored)")
    (work / f"{a.split}-{model.stem}.scores.json").write_text(json.dumps({"model": str(a.model), **rows}, indent=2))


if __name__ == "__main__":
    main()
