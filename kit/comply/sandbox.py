"""The sandboxed replay: a separate worker process as the validator's compliance runner starts it.

Usage:
    with Worker(bundle) as w:                       # stages the repo, starts, loads the miner
        call = w.predict([(0, "/tmp/f0.png")])      # one predict_batch call, timed in the child
        print(call.ok, call.latency_ms, call.rows)

Upstream (`scorevision/validator/audit/open_source/security.py` at ea7412f) vets and copies
the repo in the parent (security.py:536-576: `copytree(symlinks=False)`, dirs 0755, files
0644), then runs the miner in a spawned worker that sets RLIMIT_AS 8 GiB, RLIMIT_NPROC 16 and
RLIMIT_NOFILE 128 (security.py:288-312, 393), points HOME, TMPDIR and the HF caches at a
throwaway folder (security.py:377-379), scrubs credentials (security.py:376, 380-382), drops
to `sv-worker`/`nobody`/`nfsnobody` when it runs as root (security.py:315-366), and waits at
most 45 s for the miner to load and for each call (security.py:615, 653). The kit does the
same with these local choices:

- **Environment**: not scrubbed of a list of secrets but rebuilt from an allowlist (`PATH`,
  `LANG`, the cache variables above, `PYTHONDONTWRITEBYTECODE`, `CUDA_VISIBLE_DEVICES=""`):
  nothing of the kit's environment reaches miner code. Upstream keeps the rest of its
  environment, so a miner must not depend on any variable.
- **Network**: the worker gets a fresh network namespace (`unshare(CLONE_NEWNET)` in the
  forked child before exec) when the kernel allows it (root, or unprivileged user
  namespaces): only a loopback interface that is down, so every connect fails, from Python
  or from C. Where it is refused, only the in-process guard remains (worker.py replaces
  `socket.socket`), which C extensions and `_socket` walk around; `Worker.isolation` says
  which one held.
- **User**: as root, the worker drops to the first of `sv-worker`, `nobody`, `nfsnobody`
  with a non-zero uid, as upstream, but only when that user can reach the interpreter, its
  standard library and site-packages (every directory on the way world-searchable). A
  Python under /root (mode 0700, e.g. pyenv's) cannot be run by `nobody`: then the worker
  stays root, and `privileges` says so, like upstream's `NOT_DROPPED` state. RLIMIT_NPROC
  does not bind root, so it is only in force after a drop.
- **CPU**: two cores (`sched_setaffinity`, the first two this process may use), as the
  validator's runner gives a worker.
- **Lifetime**: the worker leads its own process group (killed as a group), and asks the
  kernel for SIGKILL when the kit dies (`prctl(PR_SET_PDEATHSIG)`, set after the uid change,
  which would clear it; the kill comes when the *thread* that started the worker ends, so
  start and close a Worker on one thread). A call past its timeout kills the worker and the
  next call starts a fresh one (upstream answers `worker_infer_timeout` and keeps a worker
  that may still be busy).
- **Messages**: JSON lines over two dedicated pipes; the miner's own stdout and stderr go to
  a log file whose tail comes with any failure.

`Policy(isolate=False)` runs the same worker without limits, user change or network
namespace, loading and dumping as the official chute does (module `miner` registered in
sys.modules, `Miner(path)`, `.model_dump()` on every result): the chute's own code path on
this machine, the reference for output parity when no chute answers are given.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import pwd
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import KitError

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
UNPRIVILEGED_USERS = ("sv-worker", "nobody", "nfsnobody")   # security.py:315
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ")
CACHE_VARS = ("HOME", "TMPDIR", "HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME")   # security.py:377


@dataclass(frozen=True)
class Policy:
    """The worker's limits; the defaults are the validator's (settings.py CHECKER_RUNTIME_*)."""

    isolate: bool = True
    memory_bytes: int = 8 * 1024 ** 3
    max_processes: int = 16
    max_open_files: int = 128
    cores: int = 2
    init_timeout_s: float = 45.0
    call_timeout_s: float = 45.0


CHUTE_PATH = Policy(isolate=False, init_timeout_s=600.0, call_timeout_s=600.0)


@dataclass
class Call:
    """One predict_batch call in the worker: rows as dumped, wall time of the call, or an error."""

    ok: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: float = 0.0
    error: str | None = None
    result_kinds: list[str] = field(default_factory=list)


class WorkerError(RuntimeError):
    """The worker could not start or load the miner; the message is upstream-style (`worker_...`)."""


@functools.lru_cache(maxsize=8)
def interpreter_info(python: str) -> dict[str, Any]:
    """Version, paths and harness dependencies of an interpreter (run once, as this user)."""
    code = ("import json,sys,sysconfig;p=sysconfig.get_paths();d={'version':sys.version.split()[0],"
            "'executable':sys.executable,'paths':sorted({p['stdlib'],p['purelib'],p['platlib']})}\n"
            "for m in ('numpy','cv2','onnxruntime','pydantic'):\n"
            " try:\n  d[m]=__import__(m).__version__\n except Exception as e:\n  d[m]=None\n"
            "print(json.dumps(d))")
    try:
        r = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise KitError(f"{python}: cannot run this interpreter ({e}); pass --python PATH to a Python 3 "
                       "with numpy and opencv-python-headless") from e
    if r.returncode != 0:
        raise KitError(f"{python}: the interpreter failed: {r.stderr.strip()[-300:]}")
    info = json.loads(r.stdout.strip().splitlines()[-1])
    missing = [m for m in ("numpy", "cv2") if not info.get(m)]
    if missing:
        raise KitError(f"{python}: lacks {', '.join(missing)}, which the compliance worker needs to decode "
                       "frames; pip install numpy opencv-python-headless into it")
    return info


def resolve_python(python: str | os.PathLike | None) -> str:
    """An absolute interpreter path (symlinks kept: a venv's python must be called by its own path)."""
    if not python:
        return sys.executable
    python = str(python)
    found = os.path.abspath(python) if os.sep in python else shutil.which(python)
    if not found or not os.access(found, os.X_OK):
        raise KitError(f"{python}: no such interpreter; pass --python PATH to a Python with numpy and "
                       "opencv-python-headless (e.g. a venv's bin/python)")
    return found


def _world_reachable(path: Path) -> bool:
    """Every directory from / to `path` searchable by others, and `path` readable by others."""
    try:
        path = path.resolve()
        for d in reversed(path.parents):
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return False
        return bool(os.stat(path).st_mode & stat.S_IROTH)
    except OSError:
        return False


def unprivileged_ids(python: str) -> tuple[tuple[int, int] | None, str]:
    """(uid, gid) to drop to, or None and why not (the `privileges` line of the report)."""
    if os.geteuid() != 0:
        return None, f"not dropped: already uid {os.getuid()} (no privileges to drop)"
    for name in UNPRIVILEGED_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid == 0:
            continue
        info = interpreter_info(python)
        blocked = [p for p in [info["executable"], *info["paths"], str(WORKER_SCRIPT)]
                   if not _world_reachable(Path(p))]
        if blocked:
            return None, (f"not dropped: {name} cannot reach {blocked[0]} (a parent folder is not "
                          "world-searchable); the worker runs as root")
        return (entry.pw_uid, entry.pw_gid), f"dropped to {name} (uid {entry.pw_uid}, gid {entry.pw_gid})"
    return None, "not dropped: no sv-worker/nobody/nfsnobody user here; the worker runs as root"


@functools.lru_cache(maxsize=1)
def netns_available() -> bool:
    """Whether this process may give a child its own network namespace (tried in a forked child)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked probe
        os._exit(0 if libc.unshare(CLONE_NEWNET) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _cores(n: int) -> set[int]:
    allowed = sorted(os.sched_getaffinity(0))
    return set(allowed[:max(1, n)])


def _preexec(policy: Policy, ids: tuple[int, int] | None, netns: bool, cores: set[int], parent: int):
    """What the forked child does before exec: limits, namespace, CPUs, user, parent-death signal."""
    libc = ctypes.CDLL(None, use_errno=True)   # resolved before the fork, only called after
    unshare, prctl = libc.unshare, libc.prctl

    def limit(which: int, value: int) -> None:   # security.py:288-296: never raise the hard limit
        soft, hard = resource.getrlimit(which)
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (cap, cap))

    def run() -> None:
        limit(resource.RLIMIT_AS, policy.memory_bytes)
        limit(resource.RLIMIT_NPROC, policy.max_processes)
        limit(resource.RLIMIT_NOFILE, policy.max_open_files)
        if netns and unshare(CLONE_NEWNET) != 0:
            os._exit(97)
        os.sched_setaffinity(0, cores)
        if ids is not None:
            os.setgroups([])
            os.setgid(ids[1])
            os.setuid(ids[0])
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(98)
    return run


def _stage(bundle: Path, root: Path, ids: tuple[int, int] | None) -> Path:
    """Copy the repo as upstream stages it (security.py:563-576) and make the worker's home."""
    repo = root / "repo"
    shutil.copytree(bundle, repo, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    os.chmod(root, 0o755)
    for p in [repo, *repo.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    home = root / "home"
    home.mkdir(mode=0o700)
    if ids is not None:
        os.chown(home, *ids)
    return repo


class Worker:
    """One miner in one worker process; `predict` is one predict_batch call, timed in the worker."""

    def __init__(self, bundle: str | os.PathLike, python: str | None = None, policy: Policy = Policy()):
        self.bundle = Path(bundle)
        self.python = resolve_python(python)
        self.policy = policy
        self.root: Path | None = None
        self.repo: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._req = self._resp = None
        self._buf = b""
        self.init_ms = 0.0
        self.loader = "compliance" if policy.isolate else "chute"
        if policy.isolate:
            self.ids, self.privileges = unprivileged_ids(self.python)
            self.netns = netns_available()
        else:
            self.ids, self.privileges, self.netns = None, "not dropped: chute path (no sandbox)", False
        self.isolation = ("network namespace (loopback only, down) + socket guard" if self.netns else
                          "socket guard only (no network namespace here)") if policy.isolate else "none"

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> Worker:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="tvkit-comply-"))
            self.repo = _stage(self.bundle, self.root, self.ids)
        self._spawn()
        reply = self._request({"op": "init", "repo": str(self.repo), "loader": self.loader},
                              self.policy.init_timeout_s, "init")
        if not reply.get("ok"):
            err = reply.get("error", "worker_init_failed")
            self._kill()
            raise WorkerError(err)
        self.init_ms = float(reply.get("init_ms", 0.0))
        return self

    def _env(self) -> dict[str, str]:
        home = str(self.root / "home")
        env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update({k: home for k in CACHE_VARS})
        env.update(PYTHONDONTWRITEBYTECODE="1", CUDA_VISIBLE_DEVICES="")
        return env

    def _spawn(self) -> None:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        log = open(self.root / "worker.log", "ab")  # noqa: SIM115 - handed to the child
        guard = "guard" if self.policy.isolate else "noguard"
        kwargs: dict[str, Any] = {}
        if self.policy.isolate:
            kwargs["preexec_fn"] = _preexec(self.policy, self.ids, self.netns, _cores(self.policy.cores),
                                            os.getpid())
        try:
            self.proc = subprocess.Popen(
                [self.python, "-I", str(WORKER_SCRIPT), str(req_r), str(resp_w), guard],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(req_r, resp_w), env=self._env(),
                cwd=str(self.root / "home"), start_new_session=True, **kwargs)
        except OSError as e:
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            raise WorkerError(f"worker_spawn_failed:{type(e).__name__}:{e}") from e
        finally:
            log.close()
        os.close(req_r)
        os.close(resp_w)
        self._req, self._resp, self._buf = req_w, resp_r, b""

    def _kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            self.proc = None
        for fd in (self._req, self._resp):
            if fd is not None:
                os.close(fd)
        self._req = self._resp = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self._request({"op": "close"}, 2.0, "close")
            except WorkerError:
                pass
        self._kill()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if self.proc is not None:
            self._kill()

    # --- messages ---------------------------------------------------------------------------
    def log_tail(self, n: int = 1500) -> str:
        try:
            return (self.root / "worker.log").read_text(errors="replace")[-n:]
        except (OSError, TypeError):
            return ""

    def _request(self, msg: dict[str, Any], timeout: float, what: str) -> dict[str, Any]:
        data = (json.dumps(msg) + "\n").encode()
        try:
            while data:
                data = data[os.write(self._req, data):]
        except (BrokenPipeError, TypeError, OSError):
            raise WorkerError(f"worker_broken_pipe_on_send:exitcode={self._exitcode()}") from None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._resp], [], [], left)[0]:
                raise WorkerError(f"worker_{what}_timeout:exitcode={self._exitcode()}")
            chunk = os.read(self._resp, 1 << 20)
            if not chunk:
                raise WorkerError(f"worker_channel_eof:exitcode={self._exitcode()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            raise WorkerError("worker_bad_message") from None

    def _exitcode(self) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            return None

    def probe(self) -> dict[str, Any]:
        """What the worker process sees (uid, limits, CPUs, environment names, network, runtime)."""
        return self._request({"op": "probe"}, self.policy.call_timeout_s, "probe").get("probe", {})

    def predict(self, frames: list[tuple[int, str | os.PathLike]], offset: int = 0, reassign_ids: bool = True,
                n_keypoints: int = 32) -> Call:
        """One predict_batch call on image files; a dead or timed-out worker is restarted next time."""
        if self.proc is None:
            try:
                self.start()
            except WorkerError as e:
                return Call(False, error=f"runtime_failed:{e}")
        msg = {"op": "infer", "dump": self.loader, "offset": int(offset), "reassign_ids": reassign_ids,
               "n_keypoints": n_keypoints,
               "frames": [{"frame_id": int(fid), "path": str(p)} for fid, p in frames]}
        try:
            reply = self._request(msg, self.policy.call_timeout_s, "infer")
        except WorkerError as e:
            self._kill()
            return Call(False, error=str(e))
        if not reply.get("ok"):
            return Call(False, error=str(reply.get("error", "worker_infer_failed")))
        return Call(True, list(reply.get("rows") or []), float(reply.get("latency_ms", 0.0)),
                    result_kinds=list(reply.get("result_kinds") or []))
