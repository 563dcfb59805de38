"""Sweep points as Ray tasks: a local Ray on this machine by default, a cluster by address.

Usage: `for combo_outcome in run_points(points, env, ray_address=None, cpus_per_run=1): ...`
(kit.runs.run_sweep calls it; `tvkit run -p key=a,b,c [--ray-address HOST:PORT]`); `with
ray_session(address, env, log) as ray: ...` (the training search, kit.search, opens its Ray with
it); `map_chunks(fn, items, workers, address)` (the model pass of `tvkit tune`, in chunks);
`add_ray_arguments(parser, "trial")` (--ray-address and --cpus-per-trial for a command).

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
- **A cluster with token authentication** (what Ray 2.60's `ray start` sets up on a machine with
  a network address) refuses a process without its token only after Ray's 20 s of retries;
  the kit then says to set RAY_AUTH_MODE=token and where the token goes.
- **One way in** (`ray_session`): the sweep, the training search and the chunked model pass open
  Ray the same way (address or local, the env through runtime_env, shut down however they end).
- **Chunks** (`map_chunks`): a list split into `workers` contiguous chunks, one Ray task each,
  results concatenated in the list's order, so the caller cannot tell them from an in-process
  loop (tests/test_sweep_ray.py checks `tvkit tune`'s pass both ways). `workers <= 1` and no
  address: the plain loop, no Ray started.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["run_points", "run_point", "ray_session", "map_chunks", "add_ray_arguments", "ray_address"]


def run_point(point: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """One sweep point: a whole suite run, its outcome as plain data (what crosses Ray)."""
    from pathlib import Path

    from .runs.runner import run_suite

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


def ray_address(address: str | None = None) -> str | None:
    """The cluster to use: `address`, else $RAY_ADDRESS, else None (a local Ray)."""
    return address or os.environ.get("RAY_ADDRESS") or None


@contextlib.contextmanager
def ray_session(address: str | None, env: dict[str, str], log: Callable[[str], None] = print,
                what: str = "a run") -> Iterator[Any]:
    """`ray`, initialised on the cluster at `address` (or $RAY_ADDRESS) or locally with this machine's
    CPUs, `env` in every worker's environment; shut down when the block ends, however it ends. A Ray
    this process already started is used as it is (and `env` must travel with the work itself)."""
    import ray

    if ray.is_initialized():   # the caller's own Ray (a notebook's, a test's): used as it is, left running
        log(f"ray: the running Ray, {ray.cluster_resources().get('CPU', 0):.0f} CPUs, {what}")
        yield ray
        return
    address = ray_address(address)
    with _sigterm_interrupts():
        ctx = _init(ray, address, env, log)
        try:
            where = f"cluster {address}" if address else f"local (session {ctx.address_info.get('session_dir')})"
            log(f"ray: {where}, {ray.cluster_resources().get('CPU', 0):.0f} CPUs, {what}")
            yield ray
        finally:
            ray.shutdown()


def _init(ray: Any, address: str | None, env: dict[str, str], log: Callable[[str], None]) -> Any:
    """ray.init; a LOCAL start that times out is tried once more. Ray gives its raylet a fixed 30 s
    to register (ray/_private/node.py), which a busy 2-core machine can miss (measured here: the
    node timed out while a training and a notebook suite shared the cores); its processes are
    stopped by ray.shutdown before the second try."""
    # "local": a new Ray of this machine's own, never the last `ray start` cluster found on it (which
    # a bare ray.init() would join, refusing num_cpus)
    kw = dict(address=address or "local", include_dashboard=False, log_to_driver=False, configure_logging=False,
              runtime_env={"env_vars": env}, **({} if address else {"num_cpus": os.cpu_count() or 1}))
    try:
        return ray.init(**kw)
    except Exception as e:
        if address and _refused_for_token(e):
            from . import KitError
            ray.shutdown()
            raise KitError(
                f"the Ray cluster at {address} uses token authentication (Ray 2.60's `ray start` turns it on) and "
                f"this process has none: set RAY_AUTH_MODE=token here, with the cluster's token in ~/.ray/auth_token, "
                f"$RAY_AUTH_TOKEN_PATH or $RAY_AUTH_TOKEN (docs.ray.io: ray-security/token-auth)") from e
        if address or "timed out during startup" not in str(e):
            raise
        ray.shutdown()
        log(f"ray: the local Ray did not start in time ({_error_line(e)}); trying once more")
        return ray.init(**kw)


def _refused_for_token(e: BaseException | None) -> bool:
    """Whether a failed ray.init was the cluster refusing a process without its auth token."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if "InvalidAuthToken" in str(e) or type(e).__name__ == "AuthenticationError":
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _error_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else e}"


def run_points(points: list[dict[str, Any]], env: dict[str, str], ray_address: str | None = None,
               cpus_per_run: float = 1.0, log: Callable[[str], None] = print) -> Iterator[tuple[dict, dict]]:
    """(combination, outcome) per point as they finish: on Ray, else one after another here."""
    try:
        import ray  # noqa: F401
    except ImportError:
        log("note: ray is not installed: the sweep runs its points one after another (pip install -e '.[scale]')")
        for point in points:
            yield point["sweep"]["combination"], run_point(point, env)
        return
    with ray_session(ray_address, env, log, f"{cpus_per_run:g} a run") as ray:
        task = ray.remote(num_cpus=cpus_per_run, max_retries=0)(run_point)
        pending = {task.remote(p, env): p for p in points}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            point = pending.pop(done[0])
            try:
                outcome = ray.get(done[0])
            except Exception as e:  # noqa: BLE001 - the worker died, or Ray could not run it
                outcome = {"error": _error_line(e)}
            yield point["sweep"]["combination"], outcome


def chunks(items: list[Any], n: int) -> list[list[Any]]:
    """`items` in `n` contiguous chunks of near-equal size (fewer when there are fewer items)."""
    n = max(1, min(int(n), len(items)))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return [c for c in out if c]


def _call(fn: Callable[[list[Any]], list[Any]], chunk: list[Any]) -> list[Any]:
    """A chunk's task: `fn` may be any picklable callable (a function, or an object with __call__)."""
    return list(fn(chunk))


def map_chunks(fn: Callable[[list[Any]], list[Any]], items: list[Any], workers: int = 1,
               address: str | None = None, cpus_per_chunk: float = 1.0, env: dict[str, str] | None = None,
               log: Callable[[str], None] = print) -> list[Any]:
    """fn(chunk) over `items` split into `workers` chunks, as Ray tasks when `workers > 1` or a Ray
    address is given (else here, in one call); the results concatenated in the items' order.
    A chunk that fails raises KitError naming it, with its error."""
    from . import KitError

    if not items:
        return []
    if workers <= 1 and not ray_address(address):
        return list(fn(list(items)))
    try:
        import ray  # noqa: F401
    except ImportError:
        log("note: ray is not installed: the pass runs here in one process (pip install -e '.[scale]')")
        return list(fn(list(items)))
    parts = chunks(list(items), max(workers, 1))
    with ray_session(address, env or {}, log, f"{len(parts)} chunks of {len(items)}") as ray:
        task = ray.remote(num_cpus=cpus_per_chunk, max_retries=0)(_call)
        refs = [task.remote(fn, part) for part in parts]
        out: list[Any] = []
        for i, ref in enumerate(refs):
            try:
                out += list(ray.get(ref))
            except Exception as e:  # noqa: BLE001 - named with its chunk
                raise KitError(f"chunk {i + 1} of {len(parts)} ({len(parts[i])} items) failed on Ray: "
                               f"{_error_line(e)}") from e
    return out


def add_ray_arguments(parser: Any, per: str | None = None, default_cpus: float = 1.0) -> None:
    """--ray-address (and, with `per`, --cpus-per-<per>) on a command's parser."""
    parser.add_argument("--ray-address", metavar="HOST:PORT",
                        help="run on this Ray cluster (default $RAY_ADDRESS, else a local Ray with this machine's "
                             "CPUs); its nodes need the kit installed and the data at the same paths")
    if per:
        parser.add_argument(f"--cpus-per-{per}", type=float, default=default_cpus,
                            help=f"Ray CPUs each {per} takes (default {default_cpus:g}: as many at once as the "
                                 "cluster has CPUs)")
