"""Chute piece 2 of 3, load: fetch the bundle, check it against the sandbox rules, load the miner.

At start-up the chute
1. downloads the Hugging Face repo at the pinned revision (`snapshot_download`; inside a
   chute this is the one network call, and a dry run answers it from a local cache entry);
2. checks `miner.py` the way the validator's chute template does, before importing it:
   only stdlib and site-packages modules (nothing imported from beside `miner.py`), no
   subprocess or other process-spawning call, a `Miner` class; network modules are the newer
   compliance rule and are logged as warnings;
3. imports `miner.py` by path (no `sys.path` change, so a module beside it cannot sneak in),
   builds `Miner(path)`, checks the loaded miner's memory (at most 5 GB), and runs the
   self-test: one random 540 x 960 frame must come back as one frame with exactly
   `n_keypoints` integer pairs.
Any failure stops the chute with a message naming the rule.

This file is plain stdlib + numpy (+ huggingface_hub for the download) so the kit can test
it directly; `tvkit generate-chute-script` inlines it into the chute file.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import queue
import sys
import sysconfig
import threading
from pathlib import Path
from typing import Any, Callable

MAX_MINER_GB = 5.0
#: Modules that start processes: the chute refuses a miner that imports them.
PROCESS_MODULES = frozenset({"subprocess", "multiprocessing", "pty", "pexpect", "concurrent.futures.process"})
#: os functions that start processes.
PROCESS_FUNCTIONS = frozenset({
    "system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "spawnl", "spawnle", "spawnlp",
    "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "execl", "execle", "execlp", "execlpe", "execv",
    "execve", "execvp", "execvpe"})
#: Network modules: newer subnet versions refuse them; the chute warns.
NETWORK_MODULES = frozenset({"socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp",
                             "websocket", "websockets", "ftplib", "smtplib", "grpc", "paramiko"})


class SandboxError(RuntimeError):
    """The bundle breaks a chute rule; the message names it as `[rule] ...`."""


def fetch_bundle(repo: str, revision: str) -> Path:
    """The HF repo at `revision`, as a local folder (a cached snapshot when offline)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo, revision=revision, token=os.environ.get("HF_TOKEN") or None))
    except Exception as e:  # the Hub's errors are many; the message says which repo and revision
        raise SandboxError(f"[download] cannot fetch {repo}@{revision}: {type(e).__name__}: {e}") from e


def _site_dirs() -> list[Path]:
    dirs = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    dirs.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return [Path(d).resolve() for d in dirs]


def module_home(name: str, bundle: Path) -> str:
    """'stdlib', 'site', 'local' (beside miner.py or outside site-packages) or 'missing'."""
    top = name.split(".")[0]
    if top != "miner" and ((bundle / f"{top}.py").exists() or (bundle / top).is_dir()
                           or any(bundle.glob(f"{top}.*.so"))):
        return "local"
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return "stdlib"
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return "missing"
    if spec is None:
        return "missing"
    origin = spec.origin or next(iter(spec.submodule_search_locations or []), None)
    if origin in (None, "built-in", "frozen"):
        return "stdlib"
    where = Path(origin).resolve()
    return "site" if any(where.is_relative_to(d) for d in _site_dirs()) else "local"


def sandbox_check(bundle: Path) -> list[str]:
    """The template's rules on `miner.py`, before it is imported. Raises SandboxError; returns warnings."""
    path = bundle / "miner.py"
    if not path.is_file():
        raise SandboxError(f"[miner_file] {path}: the repo has no miner.py")
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as e:
        raise SandboxError(f"[miner_file] miner.py:{e.lineno}: does not parse ({e.msg})") from e
    errors: list[str] = []
    warnings: list[str] = []
    aliases: dict[str, str] = {}

    def imported(name: str, line: int) -> None:
        top = name.split(".")[0]
        if top in PROCESS_MODULES or name in PROCESS_MODULES:
            errors.append(f"[process_call] miner.py:{line}: imports {name}, which spawns processes")
        elif top in NETWORK_MODULES:
            warnings.append(f"[network_import] miner.py:{line}: imports {name}; newer subnet versions refuse "
                            "network modules in miner.py")
        home = module_home(name, bundle)
        if home == "local":
            errors.append(f"[local_import] miner.py:{line}: imports {name}, which is not stdlib or site-packages "
                          "(the chute loads only miner.py from the repo)")
        elif home == "missing":
            errors.append(f"[missing_module] miner.py:{line}: imports {name}, which the chute image does not have "
                          "(add it to chute_config.yml's pip installs)")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                imported(a.name, node.lineno)
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                errors.append(f"[local_import] miner.py:{node.lineno}: relative import of {node.module or '.'}")
                continue
            imported(node.module or "", node.lineno)
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Call):
            func = node.func
            parts = []
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(aliases.get(func.id, func.id))
                dotted = ".".join(reversed(parts))
                mod, _, fn = dotted.rpartition(".")
                if mod == "os" and fn in PROCESS_FUNCTIONS:
                    errors.append(f"[process_call] miner.py:{node.lineno}: calls {dotted}(), which spawns a process")
                if dotted in ("__import__", "importlib.import_module") and node.args and \
                        isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    imported(node.args[0].value, node.lineno)
    miner = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Miner"), None)
    if miner is None:
        errors.append("[miner_class] miner.py defines no top-level class Miner")
    else:
        methods = {n.name: n for n in miner.body if isinstance(n, ast.FunctionDef)}
        pb = methods.get("predict_batch")
        params = tuple(a.arg for a in pb.args.args) if pb else ()
        if params != ("self", "batch_images", "offset", "n_keypoints"):
            errors.append("[predict_signature] Miner.predict_batch must be a plain method "
                          f"(self, batch_images, offset, n_keypoints); found ({', '.join(params) or 'none'})")
    if errors:
        raise SandboxError("\n".join(errors))
    return warnings


def _rss_gb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 30
    except (OSError, ValueError, IndexError):
        return 0.0


def load_miner(bundle: Path) -> Any:
    """Import bundle/miner.py by path and build `Miner(bundle)`; refuse one over 5 GB."""
    before = _rss_gb()
    spec = importlib.util.spec_from_file_location(f"chute_miner_{id(bundle)}_{threading.get_ident()}",
                                                  bundle / "miner.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        miner = module.Miner(bundle)
    except Exception as e:
        raise SandboxError(f"[load] importing miner.py or Miner(path) raised {type(e).__name__}: {e}") from e
    grew = _rss_gb() - before
    if grew > MAX_MINER_GB:
        raise SandboxError(f"[memory] the loaded miner takes {grew:.1f} GB, over the {MAX_MINER_GB:.0f} GB limit")
    return miner


def self_test(miner: Any, n_keypoints: int = 32) -> None:
    """One random 540 x 960 frame: one result, frame 0, boxes, exactly n_keypoints int pairs."""
    import numpy as np

    frame = np.random.default_rng(0).integers(0, 256, (540, 960, 3), dtype=np.uint8)
    try:
        out = miner.predict_batch([frame], 0, n_keypoints)
    except Exception as e:
        raise SandboxError(f"[self_test] predict_batch on a random 540 x 960 frame raised "
                           f"{type(e).__name__}: {e}") from e
    if not isinstance(out, list) or len(out) != 1 or not isinstance(out[0], dict):
        raise SandboxError(f"[self_test] predict_batch on one frame must return a list of one dict, got "
                           f"{type(out).__name__} of {len(out) if isinstance(out, list) else '?'}")
    kps = out[0].get("keypoints")
    if not isinstance(kps, list) or len(kps) != n_keypoints or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, int) for v in p) for p in kps):
        n = len(kps) if isinstance(kps, list) else "no"
        raise SandboxError(f"[self_test] the answer has {n} keypoints; it needs exactly {n_keypoints} [x, y] "
                           "integer pairs ([0, 0] for unseen points)")
    if out[0].get("frame_id") != 0 or not isinstance(out[0].get("boxes"), list):
        raise SandboxError("[self_test] the answer needs frame_id 0 (offset + index) and a boxes list")


class MinerPool:
    """One miner per concurrent request: a miner keeps per-clip state (tracks, team colours).

    The first miner is built at start-up; more are built on demand up to `size` (the chute's
    concurrency), and a request waits for a free one beyond that.
    """

    def __init__(self, factory: Callable[[], Any], size: int, first: Any = None):
        self.factory, self.size = factory, max(1, int(size))
        self._free: queue.Queue = queue.Queue()
        self._made = 0
        self._lock = threading.Lock()
        if first is not None:
            self._free.put(first)
            self._made = 1

    def acquire(self) -> Any:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            build = self._made < self.size
            if build:
                self._made += 1
        if build:
            try:
                return self.factory()
            except BaseException:
                with self._lock:
                    self._made -= 1
                raise
        return self._free.get()

    def release(self, miner: Any) -> None:
        self._free.put(miner)
