"""`tvkit`: the kit's command line. Every command's output is redacted of secrets."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import KitError, __version__


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import checks_as_dicts, essentials_ok, format_checks, run_checks

    checks = run_checks(deploy=args.deploy)
    if args.json:
        print(json.dumps({"essentials_ok": essentials_ok(checks), "checks": checks_as_dicts(checks)}, indent=2))
    else:
        print(format_checks(checks))
    return 0 if essentials_ok(checks) else 1


def _cmd_template(args: argparse.Namespace) -> int:
    import cv2

    from .pitch import draw_numbered_template, render_template

    img = draw_numbered_template(args.scale) if args.numbered else render_template()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), img):
        raise KitError(f"{out}: could not write the image (is the extension .png or .jpg?)")
    print(out)
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    import time

    from .synth import clip_seed, generate_clip

    if args.clips < 1:
        raise KitError(f"--clips must be at least 1, got {args.clips}")
    started = time.perf_counter()
    for i in range(args.clips):
        t0 = time.perf_counter()
        video, truth = generate_clip(args.out, i, args.frames, clip_seed(args.seed, i), args.width, args.height,
                                     args.fps, args.difficulty, progress=True)
        dt = time.perf_counter() - t0
        print(f"{video}  {truth.name}  {args.frames} frames  {dt:.1f} s  {args.frames / dt:.1f} frames/s", flush=True)
    total = time.perf_counter() - started
    n = args.clips * args.frames
    print(f"{args.clips} clip(s), {n} frames in {total:.1f} s: {n / total:.1f} frames/s, in {args.out}")
    return 0


def _video_geometry(path: str) -> tuple[int, int, int]:
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise KitError(f"{path}: OpenCV cannot open this video (missing file or not a video)")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    return n, w, h


def _cmd_validate(args: argparse.Namespace) -> int:
    from .contract import read_json, validate_answer

    path = Path(args.answer)
    answer = read_json(path, "no such file (pass the /predict answer saved as JSON)")
    if args.video:
        n, w, h = _video_geometry(args.video)
    else:
        if None in (args.n_frames, args.width, args.height):
            raise KitError("give --video V.mp4, or all of --n-frames, --width and --height")
        n, w, h = args.n_frames, args.width, args.height
    n_objects = None
    if args.element:
        from .manifest import load_manifest

        n_objects = len(load_manifest(args.manifest or None).element(args.element).objects or []) or None
    frame_ids = [int(f) for f in args.frame_ids.split(",")] if args.frame_ids else None
    problems = validate_answer(answer, n, w, h, frame_ids=frame_ids, n_objects=n_objects)
    if args.json:
        print(json.dumps({"ok": not problems, "n_frames": n, "width": w, "height": h,
                          "problems": [{"frame": p.frame, "path": p.path, "message": p.message} for p in problems]},
                         indent=2))
    else:
        for p in problems[: args.limit]:
            print(p)
        if len(problems) > args.limit:
            print(f"... and {len(problems) - args.limit} more (use --json for all)")
        print(f"{path}: {'OK' if not problems else f'{len(problems)} problem(s)'} "
              f"against {n} frames of {w} x {h}")
    return 0 if not problems else 1


def _image_form(args: argparse.Namespace) -> bool:
    """Whether `tvkit evaluate` scores photos (an image element) rather than a clip: --images given,
    or no --video and the one --element named is an image element."""
    if args.images:
        return True
    if args.video or not args.element or len(args.element) != 1:
        return False
    from .manifest import load_manifest

    return load_manifest(args.manifest, block=args.block).element(args.element[0]).kind == "image"


def _cmd_evaluate_images(args: argparse.Namespace) -> int:
    from .images.score import evaluate_image_files

    if len(args.element or []) > 1:
        raise KitError("photos are scored for one element: give --element ID once")
    if not (args.truth and args.answer):
        raise KitError("scoring photos needs --truth (an API ground-truth JSON, a folder of them, or a YOLO dataset) "
                       "and --answer (a /predict answer, or an answers file for a folder)")
    ev = evaluate_image_files(args.element[0] if args.element else None, args.truth, args.answer, images=args.images,
                              manifest=args.manifest, latency_ms=args.latency_ms, split=args.split, block=args.block)
    if args.report:
        from .images.report import write_image_report

        files = write_image_report(ev, args.report)
        print(f"report: {files['html']}", file=sys.stderr)
    _track_scores(ev.breakdown, args.report)
    print(json.dumps(ev.to_dict(), indent=2) if args.json else str(ev))
    return 0


def _track_scores(breakdown: dict, report: str | None) -> None:
    """Every pillar and gate of every element scored, and the report, into the command's MLflow run."""
    from . import track

    track.log_metrics(breakdown)
    if report:
        track.log_artifact(report, folder="report")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_breakdown, load_answer

    if _image_form(args):
        return _cmd_evaluate_images(args)
    missing = [n for n, v in (("--answer", args.answer), ("--truth", args.truth), ("--video", args.video)) if not v]
    if missing:
        raise KitError(f"evaluate: missing {', '.join(missing)} "
                       "(a clip: --answer A.json --truth GT.json --video V.mp4; "
                       "photos: --element ID --images PATH --truth PATH --answer PATH)")
    args.predictions, args.ground_truth = args.answer, args.truth
    answer = load_answer(args.predictions)
    manifest = None
    if args.manifest:
        from .manifest import load_manifest

        manifest = load_manifest(args.manifest, block=args.block)
    ev = evaluate(answer, args.ground_truth, args.video, manifest=manifest, elements=args.element, mode=args.mode,
                  seed=args.seed, latency_ms=args.latency_ms, min_frames_required=args.min_frames)
    if args.report:
        from .evaluate.report import write_report

        page = write_report(ev, answer, args.ground_truth, args.video, args.report)
        print(f"report: {page}", file=sys.stderr)
    _track_scores(ev.breakdown, args.report)
    if args.json:
        print(json.dumps(ev.to_dict(), indent=2))
    else:
        print(format_breakdown(ev))
    return 0


def _cmd_dataset_build(args: argparse.Namespace) -> int:
    from .datasets import build_from_clips

    r = build_from_clips(args.clips, args.out, task=args.task, stride=args.stride, val_fraction=args.val_fraction,
                         test_fraction=args.test_fraction, teams=args.teams,
                         min_visible_keypoints=args.min_visible_keypoints, seed=args.seed, progress=not args.json)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2))
        return 0
    for split in sorted(set(r.clip_splits.values())):
        print(f"{split}: clips {', '.join(n for n, s in r.clip_splits.items() if s == split)}")
    for task, path in r.data_yamls.items():
        print(f"{task}: " + ", ".join(f"{s} {n} images" for s, n in r.images[task].items()) + f"  {path}")
    for reason, n in r.skipped.items():
        print(f"skipped: {n} {reason}")
    return 0


def _image_element(args: argparse.Namespace):
    """The --element when it is an image (Detect) element, else None (the football import)."""
    if not getattr(args, "element", None):
        return None
    from .manifest import load_manifest

    element = load_manifest(args.manifest or None).element(args.element)
    return element if element.kind == "image" else None


def _name_pairs(groups: list[list[str]] | None, flag: str) -> dict[str, str]:
    out = {}
    for pair in (m for group in (groups or []) for m in group):
        src, sep, dst = pair.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise KitError(f"{flag} {pair!r}: expected SOURCE=OBJECT, e.g. {flag} bike=motorcycle "
                           "(quote names with spaces: \"fire_ext=fire extinguisher\")")
        out[src.strip()] = dst.strip()
    return out


def _cmd_dataset_import_images(args: argparse.Namespace, element) -> int:
    from .datasets.exports import parse_size
    from .images.importer import import_images

    r = import_images(args.src, args.out, list(element.objects or []), mapping=_name_pairs(args.map, "--map"),
                      drop=[d for group in (args.drop or []) for d in group], size=parse_size(args.size),
                      split=args.split, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                      seed=args.seed, test_groups=args.test_groups or (), fmt=args.format, progress=not args.json)
    print(json.dumps({"element": element.id, **r.to_dict()}, indent=2) if args.json else f"{element.id}\n{r}")
    return 0


def _cmd_dataset_import(args: argparse.Namespace) -> int:
    from .datasets.exports import FORMATS, import_export, parse_size

    element = _image_element(args)
    if element is not None:
        return _cmd_dataset_import_images(args, element)
    if args.drop:
        raise KitError("--drop names a class of an image element's source; give --element ID (a Detect element)")
    if args.format not in FORMATS:
        raise KitError(f"--format {args.format}: the football import reads {', '.join(FORMATS)}; voc and api are "
                       "for image elements (give --element ID)")
    mapping = [m for group in (args.map or []) for m in group]
    swaps = []
    for pair in args.swap_keypoints or []:
        try:
            a, b = (int(v) for v in pair.split(","))
        except ValueError:
            raise KitError(f"--swap-keypoints {pair!r}: expected two keypoint ids, e.g. 13,14") from None
        swaps.append((a, b))
    r = import_export(args.src, args.out, task=args.task, fmt=args.format, mapping=mapping, strict=args.strict,
                      teams=args.teams, split=args.split, group_by=args.group_by, group_pattern=args.group_pattern,
                      val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                      test_groups=args.test_groups or (), seed=args.seed, size=parse_size(args.size),
                      swap_keypoints=swaps, mirror_keypoints=args.mirror_keypoints,
                      check_order=not args.no_order_check, progress=not args.json)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2))
        return 0
    for src, ours in r.mapping.items():
        print(f"  {src!r:>24} -> {ours if ours is not None else 'dropped'}")
    for name, n in r.dropped.items():
        print(f"dropped {n} instances of {name!r} (map it with --map {name.replace(' ', '_')}=ID if it is ours)")
    for note in r.notes:
        print(f"note: {note}")
    for split, groups in r.groups.items():
        print(f"{split}: {r.images[split]} images from {len(groups)} group(s): {', '.join(groups[:12])}"
              + (" ..." if len(groups) > 12 else ""))
    print(f"{r.data_yaml}")
    return 0


def _cmd_dataset_pull(args: argparse.Namespace) -> int:
    from .images.pull import pull_element

    objects = None
    if args.manifest:
        from .manifest import load_manifest

        objects = load_manifest(args.manifest).element(args.element).objects
    r = pull_element(args.element, args.out, objects=objects, lookback_days=args.lookback_days,
                     challenges=args.challenges, top=args.top, mapping=_name_pairs(args.map, "--map"),
                     drop=[d for group in (args.drop or []) for d in group], timeout=args.timeout,
                     progress=not args.json)
    print(json.dumps(r.to_dict(), indent=2) if args.json else r)
    return 0


def _cmd_dataset_evaluate(args: argparse.Namespace) -> int:
    from .datasets.exports import parse_size
    from .datasets.labelled import evaluate_labelled, format_labelled

    size = parse_size(args.size)
    if not isinstance(size, tuple):
        raise KitError(f"--size {args.size}: give WIDTHxHEIGHT (default 960x540)")
    ev = evaluate_labelled(args.data, args.bundle, args.split, size=size, max_frames=args.frames or None,
                           repeat=args.repeat, report=args.report, progress=not args.json)
    if args.report:
        print(f"report: {ev.pictures.get('json')}", file=sys.stderr)
    print(json.dumps(ev.to_dict() if args.all_frames else {**ev.to_dict(), "frames": None}, indent=2)
          if args.json else format_labelled(ev))
    return 0


def _cmd_dataset_check(args: argparse.Namespace) -> int:
    from .datasets import check_dataset, format_stats

    stats = check_dataset(args.data)
    if args.plots:
        from .viz import dataset_figures, sample_grid, save_image

        out = Path(args.plots)
        out.mkdir(parents=True, exist_ok=True)
        for name, fig in dataset_figures(stats).items():
            fig.savefig(out / f"{name}.png", dpi=100)
        save_image(sample_grid(stats.data_yaml, split="train"), out / "sample_grid.png")
        print(f"plots: {out}", file=sys.stderr)
    print(json.dumps(stats.to_dict(), indent=2) if args.json else format_stats(stats))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .runs import (
        format_markdown_table,
        format_score_table,
        load_sweep,
        parse_overrides,
        run_suite,
        run_sweep,
        split_sweep,
        sweep_rows,
    )

    only = [o for chunk in (args.only or []) for o in chunk.split(",") if o]
    overrides, grid = split_sweep(parse_overrides(args.param or []), args.param or [])
    if args.element:  # the whole journey for one element: every notebook that declares `element` follows it
        from .manifest import load_manifest

        load_manifest(args.manifest or None).element(args.element)  # an unknown id stops here, with a did-you-mean
        overrides.setdefault("element", args.element)
    if args.manifest:
        overrides.setdefault("manifest", args.manifest)
    if args.sweep or grid:
        spec = load_sweep(args.sweep) if args.sweep else {"grid": {}}
        spec["grid"] = {**spec["grid"], **grid}
        sweep = run_sweep(spec, args.profile, only or None, overrides, ray_address=args.ray_address,
                          cpus_per_run=args.cpus_per_run)
        print()
        print(format_markdown_table(*sweep_rows(sweep)))
        print(f"comparison: {sweep.sweep_dir / 'comparison.md'}  plot: {sweep.sweep_dir / 'comparison.png'}")
        print(f"sweep {sweep.status}: {len(sweep.runs)} runs, {sweep.sweep_id}")
        print(sweep.sweep_dir)
        return 0 if sweep.status == "ok" else 1
    result = run_suite(args.profile or "smoke", overrides, only or None)
    print()
    for nb in result.notebooks:
        line = f"  {nb.name:<24} {nb.status:<7} {nb.seconds:6.1f} s"
        if nb.error:
            line += f"  cell {nb.error['cell']}: {nb.error['ename']}: {nb.error['evalue']}"
        print(line)
    for name, metrics in result.metrics.items():
        print(f"  {name}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items()
                                        if not isinstance(v, (dict, list))))
        for k, v in metrics.items():  # counts such as zeroing rules; the breakdowns make the table below
            if k != "breakdown" and isinstance(v, dict) and v and all(isinstance(x, (int, float)) for x in v.values()):
                print(f"    {k}: " + "  ".join(f"{kk} {_fmt(vv)}" for kk, vv in v.items()))
    table = format_score_table(result.metrics)
    if table:
        print(table)
    for name, metrics in result.metrics.items():  # the verdicts last, where the eye lands
        if "dry_run_verdict" in metrics:
            failed = [k for k, ok in (metrics.get("dry_run_checks") or {}).items() if not ok]
            print(f"dry run ({name}): {metrics['dry_run_verdict']}" + (f" (failed: {', '.join(failed)})" if failed
                                                                        else ""))
        if "comply_verdict" in metrics:
            p95 = metrics.get("comply_p95_ms")
            print(f"compliance ({name}): {metrics['comply_verdict']}"
                  + (f" ({metrics['comply_rule']})" if metrics.get("comply_rule") else "")
                  + (f", p95 {p95} ms" if p95 is not None else ""))
        if "planned_steps" in metrics:
            missing = metrics.get("missing_settings") or []
            mode = "plan only, nothing shipped" if metrics.get("plan_only") else \
                f"shipped: {metrics.get('chute_name')} ({metrics.get('slug')})"
            print(f"deploy plan ({name}): {' -> '.join(metrics['planned_steps'])}; {mode}"
                  + (f"; to ship, set {', '.join(missing)}" if missing else ""))
    print(f"summary: {result.summary}")
    print(f"run {result.status}: {result.run_id}")
    print(result.run_dir)
    return 0 if result.status == "ok" else 1


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _cmd_ui(args: argparse.Namespace) -> int:
    """`mlflow ui` on the kit's store, under kit.reaper: it and its workers stop with this process,
    however it stops (Ctrl-C, SIGTERM, or SIGKILL, which the reaper notices)."""
    import signal
    import subprocess

    from . import track
    from .reaper import reaped

    if not track.enabled():
        raise KitError("mlflow is not installed: pip install -e '.[scale]' (make setup installs it)")
    uri = track.tracking_uri()
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host,
           "--port", str(args.port), "--workers", "1"]
    print(f"MLflow UI of {uri}\n  http://{args.host}:{args.port}  (experiment {track.EXPERIMENT}; Ctrl-C stops it)",
          flush=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    proc = subprocess.Popen(reaped(cmd))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def _cmd_runs_list(args: argparse.Namespace) -> int:
    from .runs import read_index

    rows = read_index()
    if not rows:
        print("no runs yet: `tvkit run --profile smoke` makes one")
        return 0
    for r in rows[-args.last:]:
        score = f"{r['score']:.4f}" if isinstance(r.get("score"), (int, float)) else "-"
        print(f"{r['run_id']:<32} {r['status']:<11} {r['seconds']:7.1f} s  score {score:<7} {r['dir']}")
    return 0


def _cmd_runs_compare(args: argparse.Namespace) -> int:
    from .runs import RUNS_DIR, compare_runs, format_comparison, load_run, resolve_run, write_comparison_plot

    a, b = (load_run(resolve_run(ref)) for ref in (args.a, args.b))
    cmp = compare_runs(a, b)
    out = Path(args.plot) if args.plot else RUNS_DIR / "compare" / f"{a['run_id']}_vs_{b['run_id']}.png"
    plot = write_comparison_plot(cmp, out)
    cmp["plot"] = str(plot) if plot else None
    if args.json:
        print(json.dumps(cmp, indent=2, default=str))
    else:
        print(format_comparison(cmp))
        print(f"plot: {plot}" if plot else "no plot: the runs share no scored notebook")
    return 0


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
    out = package(args.out, args.detect_model, args.pose_model, element=element, model=args.model)
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

    r = measure(args.bundle, frames=args.frames, per_frame=args.per_frame or None, baseline=not args.no_baseline,
                baseline_weights=(args.baseline_detect, args.baseline_pose), video=args.video)
    print(json.dumps(r.to_dict(), indent=2) if args.json else format_report(r))
    return 0


def _add_model_commands(sub) -> None:
    """`train`, `package`, `predict` and `bench latency` (kit.train, kit.bundle, kit.latency)."""
    tr = sub.add_parser("train", help="train the detector and/or pitch keypoint model (ultralytics), export ONNX; "
                        "with --element, a Detect element's detector of exactly its objects")
    tr.add_argument("--task", choices=("detect", "pose", "both"), help="clip elements: which model (default both)")
    tr.add_argument("--element", help="a Detect element: train a detector of exactly its objects (photo "
                    "augmentation, from the kit's pretrained start); --data is `tvkit dataset import --element`'s")
    tr.add_argument("--manifest", help="with --element: a manifest file or 'live' (default: the kit's example)")
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
    tr.add_argument("--preset", choices=("smoke", "cpu", "gpu"), default="smoke")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--imgsz", type=int)
    tr.add_argument("--batch", type=int)
    tr.add_argument("--device", default="cpu", help="cpu, 0, 0,1 ...")
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

    pk = sub.add_parser("package", help="write a checked miner bundle (miner.py, chute_config.yml, ONNX models)")
    pk.add_argument("--out", required=True, help="the bundle folder (replaced only by a bundle that passes)")
    pk.add_argument("--detect-model", help="detector ONNX (default: the committed reference model)")
    pk.add_argument("--pose-model", help="pitch keypoint ONNX (default: the committed reference model)")
    pk.add_argument("--model", help="an image (Detect) element's ONNX detector; its class names must match the "
                                    "element's objects (default: the committed reference fire model, if they match)")
    pk.add_argument("--element", help="the element the miner competes in: its objects go into miner.json (cls_id "
                                      "indexes them) and its size limit applies")
    pk.add_argument("--manifest", help="with --element: a manifest file or 'live' (default: the kit's example)")
    pk.set_defaults(func=_cmd_package)

    pr = sub.add_parser("predict", help="answer a video or photos through a bundle's miner.py, as the chute's "
                                        "/predict would")
    pr.add_argument("--bundle", required=True)
    pr.add_argument("--video", help="a clip (clip elements)")
    pr.add_argument("--images", help="a photo or a folder of photos (image elements): one /predict answer each")
    pr.add_argument("--element", help="with --images: the element id written in the answers file (default: the "
                                      "bundle's miner.json)")
    pr.add_argument("--out", help="where to write the answer JSON (with --images default answers.json)")
    pr.add_argument("--batch-size", type=int, default=64)
    pr.add_argument("--n-keypoints", type=int, default=32)
    pr.set_defaults(func=_cmd_predict)

    be = sub.add_parser("bench", help="benchmarks of a bundle")
    be_sub = be.add_subparsers(dest="bench_command", required=True, metavar="SUBCOMMAND")
    bl = be_sub.add_parser("latency", help="per-frame p50/p95/max on 2 pinned cores, whole clip vs a naive baseline")
    bl.add_argument("--bundle", required=True)
    bl.add_argument("--frames", type=int, default=750, help="frames of the whole-clip run (default 750)")
    bl.add_argument("--per-frame", type=int, default=200, help="frames timed one by one (default 200; 0: all)")
    bl.add_argument("--video", help="time on this video instead of a synthetic 960 x 540 clip")
    bl.add_argument("--no-baseline", action="store_true", help="skip the naive two-model baseline")
    bl.add_argument("--baseline-detect", help="baseline detector .pt (default: yolo11n.yaml, same arithmetic)")
    bl.add_argument("--baseline-pose", help="baseline pose .pt (default: yolo11n-pose.yaml)")
    bl.add_argument("--json", action="store_true")
    bl.set_defaults(func=_cmd_bench_latency)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tvkit", description="Turbo Vision (subnet 44) miner kit.")
    p.add_argument("--version", action="version", version=f"tvkit {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("doctor", help="check this machine and your credentials, with the next step for each gap")
    d.add_argument("--deploy", action="store_true", help="also require what shipping needs (credentials, wallet)")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=_cmd_doctor)

    t = sub.add_parser("template", help="draw the 1050 x 680 pitch template (optionally with numbered keypoints)")
    t.add_argument("--out", default="pitch_template.png")
    t.add_argument("--numbered", action="store_true", help="mark and number the 32 keypoints")
    t.add_argument("--scale", type=float, default=1.0)
    t.set_defaults(func=_cmd_template)

    sy = sub.add_parser("synth", help="generate synthetic broadcast clips with exact ground truth (mp4 + JSON)")
    sy.add_argument("--clips", type=int, default=1, help="how many clips (default 1)")
    sy.add_argument("--frames", type=int, default=250, help="frames per clip (default 250)")
    sy.add_argument("--seed", type=int, default=0, help="same seed, same clips (default 0)")
    sy.add_argument("--out", default="data/synth",
                    help="folder for clip_XXX.mp4 and clip_XXX.json (default data/synth)")
    sy.add_argument("--width", type=int, default=960)
    sy.add_argument("--height", type=int, default=540)
    sy.add_argument("--fps", type=float, default=25.0)
    sy.add_argument("--difficulty", default="default", help="easy, default or hard")
    sy.set_defaults(func=_cmd_synth)

    v = sub.add_parser("validate", help="check a /predict answer against the wire contract")
    v.add_argument("--answer", required=True, help="the answer JSON (what /predict returned)")
    v.add_argument("--video", help="the challenge video (frame count and size read with OpenCV)")
    v.add_argument("--n-frames", type=int)
    v.add_argument("--width", type=int)
    v.add_argument("--height", type=int)
    v.add_argument("--element", help="the element whose objects the answer's cls_ids index (checks their range)")
    v.add_argument("--manifest", help="with --element: a manifest file or 'live' (default: the kit's example)")
    v.add_argument("--frame-ids", help="a frames challenge: the payload's frame ids, comma-separated")
    v.add_argument("--limit", type=int, default=50, help="problems to print (default 50)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_validate)

    from .manifest import EVALUATE_MODES

    e = sub.add_parser("evaluate", help="score /predict answers per manifest element, as a validator does: a clip "
                       "(--video) or photos of an image element (--images) (SCORING.md)")
    e.add_argument("--answer", help="the answer JSON (what /predict returned); for a folder of photos, an answers "
                   "file {element, answers: {image name: answer}, latency_ms}")
    e.add_argument("--predictions", dest="answer", help=argparse.SUPPRESS)   # the earlier name
    e.add_argument("--truth", help="a clip's ground-truth JSON; for photos: an API ground-truth JSON, a folder of "
                   "<image stem>.json, or a YOLO dataset (data.yaml)")
    e.add_argument("--ground-truth", dest="truth", help=argparse.SUPPRESS)   # the earlier name
    e.add_argument("--video", help="the challenge video (decoded with OpenCV, frames from 0)")
    e.add_argument("--images", help="photos (an image element): one image file, or a folder of them")
    e.add_argument("--split", help="with a YOLO dataset as --truth: the split to score (train, val, test)")
    e.add_argument("--manifest", help="a manifest file, 'live' (the public index) or a URL; default: the kit's "
                   "example manifest")
    e.add_argument("--block", type=int, help="with --manifest live: the chain block to pick the manifest for")
    e.add_argument("--element", action="append", metavar="ID", help="score only this element (repeatable); "
                   "default: every clip element (`tvkit elements list`); photos: the one image element")
    e.add_argument("--mode", choices=EVALUATE_MODES, default="full",
                   help="full: every ground-truth frame; validator: 3 consecutive ones picked with --seed")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--latency-ms", type=float, help="p95 latency of the /predict calls, for the RTF gate "
                   "(p95/10000 x service_rate_fps/5 > 1 scores 0)")
    e.add_argument("--min-frames", type=int, default=3, help="the answer gate's min_frames_required (default 3, "
                   "the validator's frame pick)")
    e.add_argument("--report", metavar="DIR", help="also write the visual report (PNGs and index.html) here")
    e.add_argument("--json", action="store_true", help="print the evaluation as JSON: per element pillars, score, "
                   "gated, final; the overall final")
    e.set_defaults(func=_cmd_evaluate)

    ds = sub.add_parser("dataset", help="YOLO datasets: build from clips, import external ones, check")
    ds_sub = ds.add_subparsers(dest="dataset_command", required=True, metavar="SUBCOMMAND")
    db = ds_sub.add_parser("build", help="detection and pose datasets from clips (NAME.mp4 + NAME.json)")
    db.add_argument("--clips", required=True, help="folder of clips with their ground-truth JSON")
    db.add_argument("--out", required=True, help="writes OUT/detect/data.yaml and/or OUT/pose/data.yaml")
    db.add_argument("--task", choices=("detect", "pose", "both"), default="both")
    db.add_argument("--stride", type=int, default=5, help="every Nth frame (default 5)")
    db.add_argument("--val-fraction", type=float, default=0.2, help="share of clips for val (default 0.2)")
    db.add_argument("--test-fraction", type=float, default=0.0, help="share of clips for a test split (default 0)")
    db.add_argument("--teams", action="store_true", help="split players into 'player team 1' / 'player team 2'")
    db.add_argument("--min-visible-keypoints", type=int, default=4, help="pose: skip frames with fewer (default 4)")
    db.add_argument("--seed", type=int, default=0, help="seed of the clip split")
    db.add_argument("--json", action="store_true")
    db.set_defaults(func=_cmd_dataset_build)
    di = ds_sub.add_parser("import", help="import a labelled export into an element's classes: football (YOLO "
                           "detect/pose, COCO boxes; restored to 16:9, split by clip) or, with --element of a Detect "
                           "element, any photo set (YOLO, COCO, VOC, the API's ground truth) by class name")
    di.add_argument("--element", metavar="ID", help="import onto this element's objects, by name (an image element: "
                    "manak0/Detect-fire ...); without it, the football classes")
    di.add_argument("--manifest", help="with --element: a manifest file or 'live' (default: the kit's example)")
    di.add_argument("--drop", action="append", nargs="+", metavar="NAME",
                    help="image elements: leave out this source class (its boxes are dropped, e.g. --drop default)")
    di.add_argument("--src", required=True, help="the export's folder (data.yaml, or split folders with COCO JSON), "
                    "or its data.yaml / JSON file")
    di.add_argument("--out", required=True, help="the new dataset's folder (OUT/data.yaml)")
    di.add_argument("--task", choices=("detect", "pose"), default="detect")
    di.add_argument("--map", action="append", nargs="+", metavar="NAME=ID",
                    help="map a source class to ours: 0 ball, 1 goalkeeper, 2 player, 3 referee, 6/7 team players "
                         "(or our class name); pose: 0 or pitch. Image elements: SOURCE=OBJECT by name "
                         "(--map bike=motorcycle)")
    di.add_argument("--strict", action="store_true", help="fail if a source class maps to none of ours")
    di.add_argument("--teams", action="store_true", help="keep team classes (6/7) as their own classes")
    from .datasets.exports import FORMATS, GROUP_LEVELS, SPLIT_MODES
    from .images.labels import FORMATS as IMAGE_FORMATS

    di.add_argument("--format", choices=tuple(dict.fromkeys(FORMATS + IMAGE_FORMATS)), default="auto",
                    help="auto (default), yolo, coco; image elements also voc and api (the ScoreVision API's "
                    "ground truth: photos with <stem>.json)")
    di.add_argument("--split", choices=SPLIT_MODES, default="group",
                    help="group (default): whole clips to train/val/test, seeded; keep: the export's own splits "
                         "(exporters split frames at random, so near-duplicates leak into val)")
    di.add_argument("--group-by", choices=GROUP_LEVELS, default="clip", help="group images by clip (default) or match")
    di.add_argument("--group-pattern", metavar="REGEX", help="group key: this regex's first group in the file name")
    di.add_argument("--test-groups", action="append", metavar="PATTERN",
                    help="put these groups in test (fnmatch, e.g. 'worldcup2*'; repeatable): a held-out match")
    di.add_argument("--val-fraction", type=float, default=0.15, help="share of images for val (default 0.15)")
    di.add_argument("--test-fraction", type=float, default=0.15,
                    help="share of images for test when no --test-groups (default 0.15)")
    di.add_argument("--seed", type=int, default=0, help="seed of the group split")
    di.add_argument("--size", default="auto", help="auto (default: restore a stretched square export to 16:9, from "
                    "the exporter's README), WIDTHxHEIGHT, or keep")
    di.add_argument("--swap-keypoints", action="append", metavar="A,B",
                    help="pose: exchange keypoint ids A and B (1-based; repeatable) to fix the order")
    di.add_argument("--mirror-keypoints", action="store_true", help="pose: the order is left-right mirrored; "
                    "remap with kit.pitch.FLIP_IDX")
    di.add_argument("--no-order-check", action="store_true", help="pose: import even if the pitch geometry says "
                    "the keypoint order is wrong")
    di.add_argument("--json", action="store_true")
    di.set_defaults(func=_cmd_dataset_import)
    dp = ds_sub.add_parser("pull", help="a Detect element's starter pack (photos + ground truth) from the console, "
                           "and recent challenge photos with the top miners' answers (pseudo-labels); cached")
    dp.add_argument("--element", required=True, metavar="ID", help="the element, e.g. manak0/Detect-fire")
    dp.add_argument("--out", required=True, help="the folder: starter/, dataset/data.yaml, challenges/, "
                    "provenance.json (a rerun reuses what is there)")
    dp.add_argument("--lookback-days", type=int, default=4, help="the console's lookback_days (default 4)")
    dp.add_argument("--challenges", type=int, default=0, metavar="N",
                    help="also the N latest challenge photos from the public results index (unlabelled)")
    dp.add_argument("--top", type=int, default=3, help="with --challenges: keep this many miners' answers a photo")
    dp.add_argument("--manifest", help="take the element's objects from this manifest (default: the console's)")
    dp.add_argument("--map", action="append", nargs="+", metavar="SOURCE=OBJECT",
                    help="a starter class the element spells otherwise")
    dp.add_argument("--drop", action="append", nargs="+", metavar="NAME", help="leave out this starter class")
    dp.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30; retried)")
    dp.add_argument("--json", action="store_true")
    dp.set_defaults(func=_cmd_dataset_pull)
    dc = ds_sub.add_parser("check", help="check every label of a dataset and count images, classes, box sizes")
    dc.add_argument("--data", required=True, help="the dataset's data.yaml")
    dc.add_argument("--plots", metavar="DIR", help="also save the check plots and a sample grid as PNGs here")
    dc.add_argument("--json", action="store_true")
    dc.set_defaults(func=_cmd_dataset_check)
    dv = ds_sub.add_parser("evaluate", help="run a bundle's miner on a labelled split (real frames): keypoint px "
                           "error and validator score, box P/R/F1 per class")
    dv.add_argument("--data", required=True, help="a data.yaml (an export, or one `dataset import` wrote)")
    dv.add_argument("--bundle", required=True, help="the bundle folder (`tvkit package --out DIR`)")
    dv.add_argument("--split", choices=("train", "val", "test"), default="test")
    dv.add_argument("--frames", type=int, default=0, help="at most this many frames, spread over the split (0: all)")
    dv.add_argument("--size", default="960x540", help="frames are resized to this (default 960x540)")
    dv.add_argument("--repeat", type=int, default=2, help="each frame is a still clip of this many frames (the "
                    "miner's tracker reports an object from its 2nd detection); default 2")
    dv.add_argument("--report", metavar="DIR", help="write evaluation.json and pictures of the worst frames here")
    dv.add_argument("--json", action="store_true", help="print the summary as JSON")
    dv.add_argument("--all-frames", action="store_true", help="with --json: include every frame's figures")
    dv.set_defaults(func=_cmd_dataset_evaluate)

    r = sub.add_parser("run", help="run the notebook suite headless with papermill into papermill_runs/")
    r.add_argument("--profile", help="smoke (minutes on a CPU; the default), cpu or gpu")
    r.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="set a parameter in every notebook that declares it (wins over the profile and over "
                        "what earlier notebooks produced); KEY=a,b,c sweeps it: one run per value, on Ray")
    r.add_argument("--only", action="append", metavar="NN[,NN]", help="run only these notebooks, e.g. 00,01")
    r.add_argument("--element", metavar="ID", help="the element the whole journey follows (tvkit elements list), e.g. "
                   "kit-example/Detect-fire; default: the notebooks' own (football PlayerDetect)")
    r.add_argument("--manifest", metavar="M", help="where the element is defined: a file, 'live', or empty for the "
                   "kit's example manifest")
    r.add_argument("--sweep", metavar="FILE",
                   help='one run per combination of a grid (YAML or JSON, e.g. {"grid": {"miss_rate": [0.0, 0.3]}, '
                        '"only": ["01", "03"]}), then a comparison in papermill_runs/sweeps/')
    r.add_argument("--ray-address", metavar="HOST:PORT", help="run a sweep's points on this Ray cluster (default "
                   "$RAY_ADDRESS, else a local Ray with this machine's CPUs)")
    r.add_argument("--cpus-per-run", type=float, default=1.0, help="Ray CPUs each sweep point takes (default 1)")
    r.set_defaults(func=_cmd_run)

    ui = sub.add_parser("ui", help="the MLflow UI on the kit's runs (every run, train, tune, evaluate, dry-run, comply "
                                   "and push; $MLFLOW_TRACKING_URI or the store beside papermill_runs/)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(func=_cmd_ui)

    rs = sub.add_parser("runs", help="the run ledger (read from the MLflow store)")
    rs_sub = rs.add_subparsers(dest="runs_command", required=True, metavar="SUBCOMMAND")
    rl = rs_sub.add_parser("list", help="the latest runs")
    rl.add_argument("--last", type=int, default=20)
    rl.set_defaults(func=_cmd_runs_list)
    rc = rs_sub.add_parser("compare", help="two runs side by side: scores with deltas, latency, parameters, a plot")
    rc.add_argument("a", help="run id (or a unique part of one) or run folder")
    rc.add_argument("b", help="run id (or a unique part of one) or run folder; deltas are B - A")
    rc.add_argument("--plot", metavar="FILE.png",
                    help="where the plot goes (default papermill_runs/compare/A_vs_B.png)")
    rc.add_argument("--json", action="store_true")
    rc.set_defaults(func=_cmd_runs_compare)
    _add_model_commands(sub)
    from .chute.cli import add_chute_commands

    add_chute_commands(sub)
    from .evaluate.cli import add_manifest_commands

    add_manifest_commands(sub)
    from .deploy.cli import add_deploy_commands

    add_deploy_commands(sub)
    from .comply.cli import add_comply_commands

    add_comply_commands(sub)
    from .tune.cli import add_tune_command

    add_tune_command(sub)
    return p


#: Commands that are MLflow runs (kit.track); `run` opens its own (the suite, each notebook nested).
TRACKED = ("train", "tune", "evaluate", "dry-run", "comply", "push")


def _tracked(args: argparse.Namespace) -> int:
    """The command, as an MLflow run when it is one of TRACKED: its arguments as parameters, its
    exit code as a metric (the command logs its own scores into the run)."""
    from . import track

    if args.command not in TRACKED:
        return args.func(args)
    params = {k: v for k, v in vars(args).items() if k not in ("func", "command", "verbose")}
    with track.run(args.command, params=params, tags={"tvkit.kind": "command"}) as run:
        code = args.func(args)
        run.log_metrics({"exit_code": code})
        if code:
            run.status = "FAILED"
        return code


def main(argv: list[str] | None = None) -> int:
    from .settings import install_redaction, load_settings

    install_redaction()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    install_redaction()  # again, for the handler basicConfig just added
    try:
        load_settings()  # registers the secrets of .env for redaction
        return _tracked(args)
    except KitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tvkit ... | head`: the reader left; say nothing more
        _silence_stdout()
        return 141
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            _silence_stdout()


def _silence_stdout() -> None:
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
