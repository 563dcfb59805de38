"""`tvkit tune`'s sweep: 1,000 settings on 200 photos, against re-running the model per setting.

Run: .venv/bin/python bench/bench_tune.py [--photos 200] [--settings 1000]

The reference fire bundle (packaged into data/bench/tune-bundle) on the shared fire-smoke
photos (valid, test, then train, Fire -> fire; the `default` class dropped): the model runs once
per photo (`ImageObjective`: candidates cached, the floor answer per NMS IoU), then `settings`
random settings (global and per-class thresholds, NMS IoU, max detections) are scored through
the exact scorer. Without the cache each setting would re-run the model on every photo: that
cost is measured as one full pass (`predict_images`, the chute's path) times the settings.

Prints: model pass, sweep time, per-setting cost, distinct answers scored, and the ratio of
re-running to caching. On a shared 2-core box, anything else running multiplies the figures.
"""
from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from kit.bundle import package
from kit.comply import load_miner
from kit.images.labels import Obj, read_yolo
from kit.images.predict import SHARED_DETECT, predict_images
from kit.manifest import load_manifest
from kit.tune.images import CONF_GRID, MAX_DET_GRID, NMS_GRID, ImageObjective

ELEMENT = "kit-example/Detect-fire"
RENAME = {"Fire": "fire", "smoke": "smoke"}


def photos(n: int) -> tuple[dict, dict]:
    root = SHARED_DETECT / "fire-smoke"
    images, _ = read_yolo(root)
    order = {"val": 0, "test": 1, "train": 2}
    labelled = [li for li in images if any(o.name in RENAME for o in li.objects)]
    chosen = sorted(labelled, key=lambda li: (order.get(li.split, 3), li.image.name))[:n]
    truths = {li.image.name: [Obj(RENAME[o.name], o.box) for o in li.objects if o.name in RENAME] for li in chosen}
    return truths, {li.image.name: li.image for li in chosen}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--settings", type=int, default=1000)
    args = ap.parse_args()
    el = load_manifest().element(ELEMENT)
    bundle = package(Path("data/bench/tune-bundle"), element=el)
    miner = load_miner(bundle)
    truths, images = photos(args.photos)
    t0 = time.perf_counter()
    obj = ImageObjective(miner, el, truths, images)
    cache_s = time.perf_counter() - t0
    rng = random.Random(0)
    settings = []
    for _ in range(args.settings):
        s = {"conf": rng.choice(CONF_GRID), "nms_iou": rng.choice(NMS_GRID), "max_det": rng.choice(MAX_DET_GRID)}
        s.update({f"conf:{o}": rng.choice([None, *CONF_GRID]) for o in el.objects})
        settings.append(s)
    t0 = time.perf_counter()
    best = max(float(obj.finals(s).mean()) for s in settings)
    sweep_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    predict_images(bundle, list(images.values()), miner=miner)
    pass_s = time.perf_counter() - t0
    rerun_s = pass_s * args.settings
    print(f"{obj.n} photos, {args.settings} settings (best mean final {best:.4f})")
    print(f"  model once (candidates + floor answers, {len(obj.nms_values)} NMS IoUs): {cache_s:.1f} s")
    print(f"  sweep: {sweep_s:.2f} s ({1000 * sweep_s / args.settings:.2f} ms a setting), "
          f"{len(obj.memo)} distinct answers scored")
    print(f"  re-running the model per setting: {pass_s:.1f} s a pass x {args.settings} = {rerun_s:.0f} s")
    print(f"  ratio re-run / (model once + sweep): {rerun_s / (cache_s + sweep_s):.0f}x")


if __name__ == "__main__":
    main()
