"""`tvkit run`, `ui` and `runs list | compare`: the notebook suite, sweeps, the MLflow UI and the ledger.

Usage: `add_run_commands(sub)`; `tvkit run --profile smoke -p miss_rate=0.0,0.3`; `tvkit runs compare A B`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import KitError
from .cli_args import add_element_arg, add_json_arg, add_manifest_arg
from .defaults import default


def _cmd_run(args: argparse.Namespace) -> int:
    from .runs import parse_overrides, run_suite, split_sweep

    only = [o for chunk in (args.only or []) for o in chunk.split(",") if o]
    overrides, grid = split_sweep(parse_overrides(args.param or []), args.param or [])
    if args.element:  # the whole journey for one element: every notebook that declares `element` follows it
        from .manifest import load_manifest

        load_manifest(args.manifest or None).element(args.element)  # an unknown id stops here, with a did-you-mean
        overrides.setdefault("element", args.element)
    if args.manifest:
        overrides.setdefault("manifest", args.manifest)
    if args.sweep or grid:
        return _run_sweep(args, only, overrides, grid)
    result = run_suite(args.profile or default("profile"), overrides, only or None)
    print()
    _print_run(result)
    print(f"summary: {result.summary}")
    print(f"run {result.status}: {result.run_id}")
    print(result.run_dir)
    return 0 if result.status == "ok" else 1


def _run_sweep(args: argparse.Namespace, only: list[str], overrides: dict, grid: dict) -> int:
    from .runs import format_markdown_table, load_sweep, run_sweep, sweep_rows

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


def _print_run(result) -> None:
    """Each notebook's status, its flat metrics, the score table, then the verdicts (where the eye lands)."""
    from .runs import format_score_table

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
    for name, metrics in result.metrics.items():
        _print_verdicts(name, metrics)


def _print_verdicts(name: str, metrics: dict) -> None:
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


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _cmd_ui(args: argparse.Namespace) -> int:
    """`mlflow ui` on the kit's store, under kit.reaper: it and its workers stop with this process,
    however it stops (Ctrl-C, SIGTERM, or SIGKILL, which the reaper notices)."""
    import importlib.util
    import signal
    import subprocess

    from . import track
    from .reaper import reaped

    if importlib.util.find_spec("mlflow") is None:    # the store is shown whether or not tracking is on
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


def add_run_commands(sub) -> None:
    """`run`, `ui`, `runs list | compare`."""
    r = sub.add_parser("run", help="run the notebook suite headless with papermill into papermill_runs/")
    r.add_argument("--profile", help="smoke (minutes on a CPU; the default), cpu or gpu: overlays on the defaults "
                   "table (kit/defaults.py)")
    r.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="set a parameter in every notebook that declares it (wins over the profile and over "
                        "what earlier notebooks produced); KEY=a,b,c sweeps it: one run per value, on Ray")
    r.add_argument("--only", action="append", metavar="NN[,NN]", help="run only these notebooks, e.g. 00,01")
    add_element_arg(r, "the element the whole journey follows (tvkit elements list), e.g. kit-example/Detect-fire; "
                    "default: the notebooks' own (football PlayerDetect)")
    add_manifest_arg(r)
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
    ui.add_argument("--port", type=int, default=5000, help="the UI's port (default 5000, MLflow's)")
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
    add_json_arg(rc)
    rc.set_defaults(func=_cmd_runs_compare)
