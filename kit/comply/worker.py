"""The compliance worker: loads a miner from a staged repo and answers replayed challenges.

Usage (the parent, `kit.comply.sandbox`, starts it; never by hand):
    python -I worker.py REQUEST_FD RESPONSE_FD [guard|noguard]

This file is the child side of the sandbox and runs under whatever interpreter `--python`
names, so it is self-contained: standard library, numpy and OpenCV only (the miner brings
its own onnxruntime or pydantic). It mirrors upstream
`scorevision/validator/audit/open_source/security.py` at ea7412f:

- the miner is loaded by file path as module `scorevision_hf_miner`, class `Miner`, tried
  as `Miner(path_hf_repo=Path)`, then with a str, then with no argument (security.py:99-126);
- the interface check: `predict_batch` callable with parameters `batch_images`, `offset`
  and `n_keypoints` (security.py:253-260);
- frames are decoded from image bytes with `cv2.imdecode(..., IMREAD_COLOR)` outside the
  timed section (security.py:217-250, 443-445); the latency is the wall time of the whole
  `predict_batch` call on a monotonic clock (security.py:452-458);
- each result is `.model_dump()`ed when it has one, else `dict()`ed, and in frames mode its
  `frame_id` is replaced by the payload's, zipped strictly (security.py:461-465); the rows
  then pass upstream's output checks (security.py:263-285);
- `socket.socket` raises `network_disabled_in_compliance_runner` (security.py:447-450).
  Upstream arms that guard only around `predict_batch`; here it is armed before the miner is
  imported and stays armed, since a local run has no reason to open a socket at all.

Messages are one JSON object per line on two dedicated pipes (never pickle: the parent must
not unpickle what miner code could forge), so anything the miner prints on stdout or stderr
cannot corrupt them. The OS-level limits (uid, rlimits, network namespace, CPU affinity,
parent-death signal) are set by the parent before this script starts (`kit.comply.sandbox`);
`op: probe` reports what this process actually sees.

The kit also uses `load_miner` from here in-process (`kit.comply.load_miner`), so the kit
and the compliance worker load a miner the same way.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import resource
import socket
import sys
import time
from pathlib import Path

NETWORK_ERROR = "network_disabled_in_compliance_runner"
MODULE_NAME = "scorevision_hf_miner"
REQUIRED_PARAMS = ("batch_images", "offset", "n_keypoints")


def load_miner_module(repo, filename: str = "miner.py", module_name: str = MODULE_NAME):
    """`repo/miner.py` as a fresh module, loaded by path and not registered in sys.modules,
    as the compliance worker loads it (security.py:105-114)."""
    path = Path(repo) / filename
    if not path.exists():
        raise ValueError(f"missing_miner_file:{path}")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"invalid_miner_spec:{path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_miner(repo, filename: str = "miner.py", classname: str = "Miner", module_name: str = MODULE_NAME):
    """A `Miner` instance from `repo/miner.py`, loaded by path as the compliance worker does.

    Raises ValueError("missing_miner_file:...") / ("missing_miner_class:Miner") like upstream.
    """
    repo = Path(repo)
    module = load_miner_module(repo, filename, module_name)
    cls = getattr(module, classname, None)
    if cls is None:
        raise ValueError(f"missing_miner_class:{classname}")
    try:
        return cls(path_hf_repo=repo)
    except TypeError:
        try:
            return cls(path_hf_repo=str(repo))
        except TypeError:
            return cls()


def load_miner_as_chute(repo, filename: str = "miner.py", classname: str = "Miner"):
    """The official chute's load (turbovision_chute.py.j2:189-225): module `miner`, registered in
    sys.modules before it runs, `Miner(path_hf_repo)` positionally. The compliance worker does
    not register the module, so a miner that needs it (pydantic models under `from __future__
    import annotations` resolve their fields through sys.modules) loads in the chute and fails
    compliance."""
    path = Path(repo).resolve() / filename
    if not path.is_file():
        raise FileNotFoundError(f"Required file '{filename}' not in repo {repo}")
    spec = importlib.util.spec_from_file_location("miner", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["miner"] = module
    spec.loader.exec_module(module)
    return getattr(module, classname)(Path(repo).resolve())


def check_interface(miner) -> None:
    """Upstream's interface rule: predict_batch callable, with the three named parameters."""
    predict_batch = getattr(miner, "predict_batch", None)
    if not callable(predict_batch):
        raise ValueError("miner_missing_predict_batch")
    if not set(REQUIRED_PARAMS).issubset(inspect.signature(predict_batch).parameters):
        raise ValueError("predict_batch_signature_invalid")


def check_rows(rows: list) -> None:
    """Upstream's output rules on the dumped rows (security.py:263-285)."""
    for idx, row in enumerate(rows):
        if "frame_id" not in row:
            raise ValueError(f"output_missing_frame_id_at_{idx}")
        boxes, polygons = row.get("boxes") or [], row.get("polygons") or []
        if not isinstance(boxes, list):
            raise ValueError(f"output_boxes_invalid_at_{idx}")
        if not isinstance(polygons, list):
            raise ValueError(f"output_polygons_invalid_at_{idx}")
        for j, box in enumerate(boxes):
            for key in ("x1", "y1", "x2", "y2", "cls_id"):
                if key not in box:
                    raise ValueError(f"output_box_missing_{key}_at_{idx}_{j}")
        for j, polygon in enumerate(polygons):
            if "cls_id" not in polygon:
                raise ValueError(f"output_polygon_missing_cls_id_at_{idx}_{j}")
            points = polygon.get("points") or polygon.get("polygon") or polygon.get("masks")
            if not isinstance(points, list) or not points:
                raise ValueError(f"output_polygon_points_invalid_at_{idx}_{j}")
            for k, point in enumerate(points):
                if not isinstance(point, (list, tuple)) or len(point) != 2:
                    raise ValueError(f"output_polygon_point_invalid_at_{idx}_{j}_{k}")


def dump_result(result) -> dict:
    dump = getattr(result, "model_dump", None)
    return dump() if callable(dump) else dict(result)


def _deny_socket(*args, **kwargs):
    raise RuntimeError(NETWORK_ERROR)


def arm_network_guard() -> None:
    socket.socket = _deny_socket  # type: ignore[assignment]
    socket.create_connection = _deny_socket  # type: ignore[assignment]


def _decode(paths: list[str]) -> list:
    import cv2
    import numpy as np

    images = []
    for p in paths:
        with Path(p).open("rb") as f:  # the harness reads the frames, not the miner
            img = cv2.imdecode(np.frombuffer(f.read(), dtype=np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"failed_to_decode_frame:{p}")
        images.append(img)
    return images


def infer(miner, msg: dict) -> dict:
    """One predict_batch call, timed as upstream times it."""
    t0 = time.monotonic()
    images = _decode([f["path"] for f in msg["frames"]])
    decode_ms = (time.monotonic() - t0) * 1000.0
    t1 = time.monotonic()
    results = miner.predict_batch(batch_images=images, offset=int(msg.get("offset", 0)),
                                  n_keypoints=int(msg.get("n_keypoints", 32)))
    infer_ms = (time.monotonic() - t1) * 1000.0
    results = list(results)
    kinds = sorted({"model_dump" if callable(getattr(r, "model_dump", None)) else type(r).__name__
                    for r in results})
    # the chute calls .model_dump() on every result (turbovision_chute.py.j2:384, 425); the
    # compliance worker falls back to dict() (security.py:463)
    rows = [r.model_dump() if msg.get("dump") == "chute" else dump_result(r) for r in results]
    if msg.get("reassign_ids", True):
        ids = [int(f["frame_id"]) for f in msg["frames"]]
        if len(ids) != len(rows):
            raise ValueError(f"zip() argument 2 is {'shorter' if len(rows) < len(ids) else 'longer'} than "
                             f"argument 1: {len(rows)} results for {len(ids)} frames")
        for fid, row in zip(ids, rows):
            row["frame_id"] = fid
    check_rows(rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"ok": True, "decode_ms": decode_ms, "infer_ms": infer_ms, "latency_ms": infer_ms,
            "memory_mb_peak": peak, "result_kinds": kinds, "rows": rows}


def probe() -> dict:
    """What this process sees: identity, limits, CPUs, environment names, network, runtime."""
    out = {"uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(), "pid": os.getpid(),
           "python": sys.version.split()[0], "executable": sys.executable,
           "affinity": sorted(os.sched_getaffinity(0)), "env": sorted(os.environ),
           "limits": {name: list(resource.getrlimit(getattr(resource, name)))
                      for name in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_NOFILE")}}
    try:
        import ctypes

        sig = ctypes.c_int(0)
        ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
        out["pdeathsig"] = sig.value
        with Path("/proc/self/status").open() as f:  # the harness reads it, not the miner
            out["cap_eff"] = next((line.split()[1] for line in f if line.startswith("CapEff")), None)
    except (OSError, AttributeError):
        pass
    out["net_interfaces"] = sorted(name for _, name in socket.if_nameindex()) if hasattr(socket, "if_nameindex") else []
    try:
        import onnxruntime as ort

        out["onnxruntime"] = ort.__version__
        out["providers"] = list(ort.get_available_providers())
    except Exception as e:  # a miner without onnxruntime still gets probed
        out["onnxruntime"] = f"unavailable: {type(e).__name__}: {e}"
    return out


def _send(fd: int, obj: dict) -> None:
    data = (json.dumps(obj, default=_jsonable) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _jsonable(obj):
    for attr in ("tolist", "item"):  # numpy arrays and scalars
        if callable(getattr(obj, attr, None)):
            return getattr(obj, attr)()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def handle(state: dict, msg: dict) -> dict:
    op = msg.get("op")
    if op == "probe":
        return {"ok": True, "probe": probe()}
    if op == "init":
        t0 = time.monotonic()
        if msg.get("loader") == "chute":
            state["miner"] = load_miner_as_chute(Path(msg["repo"]))
        else:
            state["miner"] = load_miner(Path(msg["repo"]))
            check_interface(state["miner"])
        return {"ok": True, "init_ms": (time.monotonic() - t0) * 1000.0, "uid": os.getuid()}
    if op == "infer":
        if state.get("miner") is None:
            return {"ok": False, "error": "worker_not_initialized"}
        try:
            return infer(state["miner"], msg)
        except Exception as e:
            return {"ok": False, "error": f"worker_infer_error:{type(e).__name__}:{e}"}
    return {"ok": False, "error": f"unknown_op:{op}"}


def main(argv: list[str]) -> int:
    req_fd, resp_fd = int(argv[1]), int(argv[2])
    if argv[3:4] != ["noguard"]:
        arm_network_guard()
    state: dict = {}
    with os.fdopen(req_fd, "rb", buffering=0) as requests:
        buf = b""
        while True:
            chunk = requests.read(1 << 16)
            if not chunk:
                return 0
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg.get("op") == "close":
                    _send(resp_fd, {"ok": True})
                    return 0
                try:
                    reply = handle(state, msg)
                except BaseException as e:  # the miner's import or __init__ failed: report, then stop
                    _send(resp_fd, {"ok": False, "error": f"worker_fatal:{type(e).__name__}:{e}"})
                    return 1
                _send(resp_fd, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
