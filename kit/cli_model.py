"""`tvkit train`, `search`, `package`, `predict` and `bench latency` (kit.train, kit.search, kit.bundle, kit.latency).

Decisions: `--preset` defaults to the table's (empty: the profile's, smoke on the command line);
`--bundle` is the one name of a bundle folder.

Usage: `add_model_commands(sub)`; `tvkit train --data data/ds --preset smoke`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import KitError
from .cli_args import add_bundle_arg, add_default, add_element_arg, add_manifest_arg
from .defaults import default


def _task_data(entries: list[str], task: str, n_tasks: int) -> list[Path]:
    """The data.yaml files of `task` among --data entries (dataset roots or data.yaml files)."""
    import yaml

    out = []
    for e in entries:
        p = Path(e)
        if (p / task / "data.yaml").is_file():
            out.append(p / task / "data.yaml")
            continue
        f = p / "data.yaml" if p.is_dir() else p
        if n_tasks > 1:
            if not f.is_file():
                raise KitError(f"{p}: --task both needs dataset roots (with detect/ and pose/) or data.yaml files")
            is_pose = "kpt_shape" in (yaml.safe_load(f.read_text()) or {})
            if is_pose != (task == "pose"):
                continue
        out.append(f)
    if not out:
        raise KitError(f"no {task} dataset among --data {' '.join(entries)}")
    return out


def _cmd_train_element(args: argparse.Namespace) -> int:
    """`tvkit train --element ID`: a Detect element's detector (kit.images.train)."""
    from .images.train import train_element
    from .manifest import load_manifest

    element = load_manifest(args.manifest or None).element(args.element)
    if element.kind != "image":
        raise KitError(f"{element.id} is a clip element: train its models with --task detect|pose|both "
                       "(without --element)")
    clip_only = [f for f, v in (("--task", args.task), ("--val-data", args.val_data), ("--resume", args.resume),
                                ("--detect-weights", args.detect_weights), ("--pose-weights", args.pose_weights),
                                ("--no-export", args.no_export)) if v]
    if clip_only:
        raise KitError(f"{', '.join(clip_only)}: for clip elements; with --element give --data, --preset and one "
                       "start (--start NAME, --init PT or --from-scratch)")
    if len(args.data) != 1:
        raise KitError("--element trains on one data.yaml (`tvkit dataset import --element` writes it)")
    kw = {k: v for k, v in (("epochs", args.epochs), ("imgsz", args.imgsz), ("batch", args.batch)) if v}
    r = train_element(element, args.data[0], args.preset, start=args.start, init=args.init,
                      from_scratch=args.from_scratch, start_wheel=args.start_wheel, project=args.project,
                      name=args.name, device=args.device, **kw)
    print(json.dumps(r.record, indent=2) if args.json else r.format())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import combine_data, train

    args.preset = args.preset or default("profile")  # the table's preset is empty: the profile's
    if args.element:
        return _cmd_train_element(args)
    for flag, v in (("--start", args.start), ("--start-wheel", args.start_wheel),
                    ("--from-scratch", args.from_scratch)):
        if v:
            raise KitError(f"{flag}: for Detect elements; give --element ID (`tvkit elements list`)")
    args.task = args.task or "both"
    tasks = ("detect", "pose") if args.task == "both" else (args.task,)
    out = {}
    for task in tasks:
        found = _task_data(args.data, task, len(tasks))
        name = f"{args.name}-{task}" if args.name else f"{task}-{args.preset}"
        val_from = _task_data(args.val_data, task, len(tasks)) if args.val_data else None
        if len(found) == 1 and val_from:
            raise KitError("--val-data picks which of several --data sets validates; give two or more --data")
        d = found[0] if len(found) == 1 else combine_data(found, Path(args.project) / f"{name}-data.yaml",
                                                          val_from=val_from)
        weights = args.detect_weights if task == "detect" else args.pose_weights
        r = train(task, d, args.preset, project=args.project, name=name, weights=weights, init=args.init,
                  epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, device=args.device,
                  resume=args.resume, export=not args.no_export)
        out[task] = r.to_dict()
        if not args.json:
            mets = "  ".join(f"{k} {v:.4f}" for k, v in r.metrics.items() if "mAP" in k)
            print(f"{task}: {r.seconds:.0f} s  {mets}\n  run {r.run_dir}\n  onnx {r.onnx}")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


def _cmd_package(args: argparse.Namespace) -> int:
    from .bundle import bundle_bytes, package

    element = None
    if args.element:
        from .manifest import load_manifest

        element = load_manifest(args.manifest or None).element(args.element)
    out = package(args.out, args.detect_model, args.pose_model, element=element, model=args.model,
                  ball_model=args.ball_model)
    print(f"{out}: bundle OK, every compliance rule passes ({bundle_bytes(out) / 2**20:.1f} MB)"
          + (f"; cls_ids index {element.id}'s objects {list(element.objects)}" if element else ""))
    if element is not None and element.kind == "image":
        cfg = json.loads((out / "miner.json").read_text())
        print("  model classes -> cls_id: " + ", ".join(f"{n} -> {c if c is not None else 'not sent'}"
                                                       for n, c in zip(cfg["model_names"], cfg["class_map"])))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .bundle import predict_video
    from .contract import write_json_atomic

    if bool(args.video) == bool(args.images):
        raise KitError("say what to answer: --video V.mp4 (a clip element) or --images PATH (a Detect element's "
                       "photos: a folder or one image)")
    if args.images:
        from .images.predict import predict_images

        r = predict_images(args.bundle, args.images, element=args.element, n_keypoints=args.n_keypoints)
        out = r.write(args.out or "answers.json")
        print(r.format())
        print(f"{out}: {len(r.answers)} answers" + (f" for {r.element}" if r.element else ""))
        return 0 if r.ok else 1
    if not args.out:
        raise KitError("--out: where to write the answer JSON (e.g. --out answer.json)")
    pred = predict_video(args.bundle, args.video, batch_size=args.batch_size, n_keypoints=args.n_keypoints,
                         progress=True)
    write_json_atomic(args.out, pred.answer)
    state = "success" if pred.answer["success"] else f"failed: {pred.answer['error']}"
    print(f"{args.out}: {pred.n_frames} frames in {pred.seconds:.1f} s ({state})")
    return 0 if pred.answer["success"] else 1


def _cmd_bench_latency(args: argparse.Namespace) -> int:
    from .latency import format_report, measure

    r = measure(args.bundle, frames=args.challenge_frames, per_frame=args.per_frame or None,
                baseline=not args.no_baseline,
                baseline_weights=(args.baseline_detect, args.baseline_pose), video=args.video)
    print(json.dumps(r.to_dict(), indent=2) if args.json else format_report(r))
    return 0


def add_model_commands(sub) -> None:
    """`train`, `search`, `package`, `predict` and `bench latency` (kit.train, kit.search, kit.bundle, kit.latency)."""
    from .search.cli import add_search_arguments, run_search

    _add_train(sub)
    se = sub.add_parser("search", help="a training hyper-parameter search on Ray Tune (Optuna, ASHA), each trial "
                        "scored by the element's exact score on val; trials in MLflow")
    add_search_arguments(se)
    se.set_defaults(func=run_search)

    pk = sub.add_parser("package", help="write a checked miner bundle (miner.py, chute_config.yml, ONNX models)")
    pk.add_argument("--out", required=True, help="the bundle folder (replaced only by a bundle that passes)")
    pk.add_argument("--detect-model", help="detector ONNX (default: the committed reference model)")
    pk.add_argument("--pose-model", help="pitch keypoint ONNX (default: the committed reference model)")
    pk.add_argument("--ball-model", help="the ball's heatmap ONNX (`tvkit ball train`; default: the committed "
                                         "reference model; 'none': the detector's ball class)")
    pk.add_argument("--model", help="an image (Detect) element's ONNX detector; its class names must match the "
                                    "element's objects (default: the committed reference fire model, if they match)")
    add_element_arg(pk, "the element the miner competes in: its objects go into miner.json (cls_id "
                                      "indexes them) and its size limit applies")
    add_manifest_arg(pk)
    pk.set_defaults(func=_cmd_package)

    pr = sub.add_parser("predict", help="answer a video or photos through a bundle's miner.py, as the chute's "
                                        "/predict would")
    add_bundle_arg(pr, required=True)
    pr.add_argument("--video", help="a clip (clip elements)")
    pr.add_argument("--images", help="a photo or a folder of photos (image elements): one /predict answer each")
    add_element_arg(pr, "with --images: the element id written in the answers file (default: the "
                                      "bundle's miner.json)")
    pr.add_argument("--out", help="where to write the answer JSON (with --images default answers.json)")
    pr.add_argument("--batch-size", type=int, default=64)
    pr.add_argument("--n-keypoints", type=int, default=32)
    pr.set_defaults(func=_cmd_predict)

    be = sub.add_parser("bench", help="benchmarks of a bundle")
    be_sub = be.add_subparsers(dest="bench_command", required=True, metavar="SUBCOMMAND")
    bl = be_sub.add_parser("latency", help="per-frame p50/p95/max on 2 pinned cores, whole clip vs a naive baseline")
    add_bundle_arg(bl, required=True)
    add_default(bl, "challenge_frames", "--frames", help="frames of the whole-clip run")
    bl.add_argument("--per-frame", type=int, default=200, help="frames timed one by one (default 200; 0: all)")
    bl.add_argument("--video", help="time on this video instead of a synthetic 960 x 540 clip")
    bl.add_argument("--no-baseline", action="store_true", help="skip the naive two-model baseline")
    bl.add_argument("--baseline-detect", help="baseline detector .pt (default: yolo11n.yaml, same arithmetic)")
    bl.add_argument("--baseline-pose", help="baseline pose .pt (default: yolo11n-pose.yaml)")
    bl.add_argument("--json", action="store_true")
    bl.set_defaults(func=_cmd_bench_latency)


def _add_train(sub) -> None:
    tr = sub.add_parser("train", help="train the detector and/or pitch keypoint model (ultralytics), export ONNX; "
                        "with --element, a Detect element's detector of exactly its objects")
    tr.add_argument("--task", choices=("detect", "pose", "both"), help="clip elements: which model (default both)")
    add_element_arg(tr, "a Detect element: train a detector of exactly its objects (photo augmentation, from the "
                    "kit's pretrained start); --data is `tvkit dataset import --element`'s")
    add_manifest_arg(tr)
    st = tr.add_mutually_exclusive_group()
    st.add_argument("--start", help="with --element: a known pretrained start (default smartrail-yolov8n: the kit "
                    "obtains and verifies it; objects it knows by name keep its class channels)")
    st.add_argument("--from-scratch", action="store_true",
                    help="with --element: random weights (yolov8n.yaml, the default start's architecture)")
    tr.add_argument("--start-wheel", metavar="WHL", help="with --element: the start's wheel, downloaded by hand "
                    "(`pip download --no-deps smartrail-obstacle-detector==0.1.1 -d DIR`), for offline machines")
    tr.add_argument("--data", required=True, action="append",
                    help="a data.yaml, or the dataset root of `tvkit dataset build`; repeat it to train on several "
                         "at once (synthetic and real: one combined data.yaml per task)")
    tr.add_argument("--val-data", action="append",
                    help="validate (and pick the best checkpoint) on this --data set's val split only, e.g. the "
                         "real one; repeatable; default: every set's")
    add_default(tr, "preset", choices=True, help="training preset (kit.train.PRESETS); empty: the profile's, smoke")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--imgsz", type=int)
    tr.add_argument("--batch", type=int)
    add_default(tr, "device", help="cpu, 0, 0,1 ...")
    tr.add_argument("--detect-weights", help="start the detector from these .pt weights (default: from scratch)")
    tr.add_argument("--pose-weights", help="start the pose model from these .pt weights (default: from scratch)")
    st.add_argument("--init", metavar="PATH", help="start from any ultralytics checkpoint (.pt; a detector's "
                    "backbone also starts the pose model; with --element, a detector whose classes carry over by "
                    "name); default: from scratch (clip elements)")
    tr.add_argument("--project", default="runs/train", help="runs go to PROJECT/NAME (default runs/train)")
    tr.add_argument("--name", help="run name (default TASK-PRESET; with --task both, NAME-TASK)")
    tr.add_argument("--resume", action="store_true", help="continue PROJECT/NAME from weights/last.pt")
    tr.add_argument("--no-export", action="store_true", help="skip the ONNX export")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=_cmd_train)
