"""Sweep points as Ray tasks: a local Ray on this machine by default, a cluster by address.

Usage: `for combo_outcome in run_points(points, env, ray_address=None, cpus_per_run=1): ...`
(kit.runs.run_sweep calls it; `tvkit run -p key=a,b,c [--ray-address HOST:PORT]`).

Decisions:
- **Ray Core tasks**, one per sweep point, each `kit.runs.run_suite` in a Ray worker process
  (papermill then starts that point's kernel). `cpus_per_run` Ray CPUs each (default 1: two
  points at once on a 2-core machine); the scheduler queues the rest. Results come back as they
  finish (`ray.wait`), so the comparison grows point by point.
- **Where**: `ray_address` or $RAY_ADDRESS, else a local Ray started here with this machine's
  CPUs and no dashboard, shut down when the sweep ends, however it ends (Ctrl-C, SIGTERM: the
  handler turns it into KeyboardInterrupt; a SIGKILL: Ray ties the processes it starts locally
  to this one). A cluster's nodes need the kit installed (`pip install -e .`) and the data at
  the same paths; the MLflow store must be one they reach ($MLFLOW_TRACKING_URI).
- **Failures**: a point whose task raised is reported with its error and the others go on;
  a point whose notebook failed is a failed run like any other (its record says where).
- **The store and the parent**: `env` (kit.track.child_env of the sweep's MLflow run) goes to
  every task through Ray's runtime_env, so each suite nests under the sweep in the same store.
- Without Ray installed the points run one after another here, and the kit says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["run_points", "run_point"]


def run_point(point: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """One sweep point: a whole suite run, its outcome as plain data (what crosses Ray)."""
    from pathlib import Path

    from .runs import run_suite

    os.environ.update(env)
    try:
        r = run_suite(point["profile"], point["overrides"], point["only"], Path(point["runs_dir"]),
                      Path(point["notebooks_dir"]), log=lambda s: None, sweep=point["sweep"])
    except Exception as e:  # noqa: BLE001 - reported with the point, the sweep goes on
        return {"error": f"{type(e).__name__}: {e}"}
    return {"run_id": r.run_id, "run_dir": str(r.run_dir), "status": r.status, "metrics": r.metrics,
            "parameters": r.parameters, "seconds": r.seconds}


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_points(points: list[dict[str, Any]], env: dict[str, str], ray_address: str | None = None,
               cpus_per_run: float = 1.0, log: Callable[[str], None] = print) -> Iterator[tuple[dict, dict]]:
    """(combination, outcome) per point as they finish: on Ray, else one after another here."""
    try:
        import ray
    except ImportError:
        log("note: ray is not installed: the sweep runs its points one after another (pip install -e '.[scale]')")
        for point in points:
            yield point["sweep"]["combination"], run_point(point, env)
        return
    address = ray_address or os.environ.get("RAY_ADDRESS") or None
    with _sigterm_interrupts():
        ctx = ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                       runtime_env={"env_vars": env}, **({} if address else {"num_cpus": os.cpu_count() or 1}))
        try:
            where = f"cluster {address}" if address else f"local (session {ctx.address_info.get('session_dir')})"
            log(f"ray: {where}, {ray.cluster_resources().get('CPU', 0):.0f} CPUs, {cpus_per_run:g} a run")
            task = ray.remote(num_cpus=cpus_per_run, max_retries=0)(run_point)
            pending = {task.remote(p, env): p for p in points}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                point = pending.pop(done[0])
                try:
                    outcome = ray.get(done[0])
                except Exception as e:  # noqa: BLE001 - the worker died, or Ray could not run it
                    outcome = {"error": f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e) else e}"}
                yield point["sweep"]["combination"], outcome
        finally:
            ray.shutdown()
