"""A local dry run of a bundle in the validator's own chute, under the real chutes runtime.

Usage:
    with DryRun("bundle/") as run:      # serving at run.base_url until the block ends
        httpx.post(run.base_url + "/predict", json=challenge)

`DryRun(bundle)` does what a deployment does, on this machine, with no network and no docker:
1. renders the validator's chute (`kit.chute.official`, hash-checked against the template) for
   the bundle's content hash as its revision, repo `local/ScoreVision`;
2. makes the bundle resolvable as the Hugging Face snapshot of that revision: a cache entry
   `$HF_HOME/hub/models--local--ScoreVision/snapshots/<revision>/` plus `refs/main`, with
   `HF_HUB_OFFLINE=1`, so the chute's own `snapshot_download(repo, revision=...)` returns it;
3. starts `CHUTES_EXECUTION_CONTEXT=REMOTE chutes run <file>:chute --dev` and waits for the
   chute's own `/health` to say "healthy" (or stops with the chute's own reason: an import
   outside the whitelist, a miner that fails to load, one over the memory cap);
4. stops it on `stop()` and removes what it made.

**The one shim.** The official chute fetches every video and frame url through
`https://proxy.chutes.ai/misc/proxy?url=<url>` (Chutes' egress proxy). Offline, that host is
out of reach, so the chute process gets a `sitecustomize.py` on its `PYTHONPATH` that sends
aiohttp requests for that exact prefix to the url it wraps, and changes nothing else. The
chute file itself is untouched (its integrity hash is checked before start), so what is
rehearsed is what validators accept; what the shim skips is only Chutes' proxy hop.

**Lifetime.** The chute process gets `PR_SET_PDEATHSIG(SIGKILL)` (Linux): it dies with the
process that started it, however that one ends (Ctrl-C, SIGTERM, SIGKILL, a dead kernel).
`stop()` sends SIGTERM to its process group, then SIGKILL after a short grace period.
Credentials are not passed to the chute process.

`ClipServer` serves a folder of clips over HTTP on 127.0.0.1, as a validator's storage would.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .. import KitError
from .official import RenderedChute, TemplateSource, obtain_template, render_official, verify_text

LOCAL_HF_USER = "local"
LOCAL_CHUTES_USER = "local"
SECRET_ENV = ("CHUTES_API_KEY", "CHUTES_HF_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
CHUTE_STEM = "tvkit_chute"
PROXY_PREFIX = "https://proxy.chutes.ai/misc/proxy?url="

_SHIM = f'''"""tvkit dry run: Chutes' egress proxy is out of reach here; go to the url it wraps."""
from urllib.parse import parse_qs, urlsplit

PREFIX = {PROXY_PREFIX!r}


def _unwrap(url):
    text = str(url)
    if not text.startswith(PREFIX):
        return url
    return parse_qs(urlsplit(text).query).get("url", [url])[0]


def _install():
    try:
        import aiohttp
    except ImportError:
        return
    request = aiohttp.ClientSession._request

    def direct(self, method, str_or_url, *args, **kwargs):
        return request(self, method, _unwrap(str_or_url), *args, **kwargs)

    aiohttp.ClientSession._request = direct


if __name__ == "sitecustomize":
    _install()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bundle_revision(bundle: str | os.PathLike) -> str:
    """A 40-hex content hash of the bundle's files: the revision a dry run serves it as."""
    bundle = Path(bundle)
    h = hashlib.sha1()
    for f in sorted(p for p in bundle.rglob("*") if p.is_file()):
        h.update(f.relative_to(bundle).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def stage_hf_cache(bundle: Path, hf_repo: str, revision: str, hf_home: Path) -> Path:
    """Put the bundle where `snapshot_download(hf_repo, revision=revision)` finds it offline."""
    user, name = hf_repo.split("/", 1)
    entry = hf_home / "hub" / f"models--{user}--{name}"
    snap = entry / "snapshots" / revision
    if snap.exists():
        shutil.rmtree(snap)
    shutil.copytree(bundle, snap, copy_function=_link_or_copy)
    (entry / "refs").mkdir(parents=True, exist_ok=True)
    (entry / "refs" / "main").write_text(revision)
    return snap


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when its parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    os.setsid()   # its own group, so stop() reaches anything it starts, and a terminal's Ctrl-C is ours


class DryRun:
    """One bundle served in the official chute by `chutes run --dev` on 127.0.0.1:port (a context manager)."""

    def __init__(self, bundle: str | os.PathLike, port: int | None = None, workdir: str | os.PathLike | None = None,
                 template: str | os.PathLike | None = None, source: TemplateSource | None = None,
                 startup_timeout: float = 180.0):
        self.bundle = Path(bundle).resolve()
        if not (self.bundle / "miner.py").is_file():
            raise KitError(f"{self.bundle}: no miner.py there; pass the folder `tvkit package --out DIR` wrote")
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.source = source or obtain_template(template)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None  # made by start()
        self.revision = bundle_revision(self.bundle)
        self.chute: RenderedChute = render_official(self.revision, LOCAL_HF_USER, LOCAL_CHUTES_USER,
                                                    source=self.source)
        self.chute_file: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.health: dict[str, Any] = {}

    @property
    def hf_repo(self) -> str:
        return self.chute.hf_repo

    @property
    def log_path(self) -> Path:
        return self.workdir / "chute.log"

    @property
    def tmp_dir(self) -> Path:
        """The chute's TMPDIR: challenge downloads land (and must not stay) here."""
        return self.workdir / "tmp"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DryRun:
        check = verify_text(self.chute.text, source=self.source)
        if not check.match:  # cannot happen unless the renderer is broken; never serve what validators refuse
            raise KitError("the rendered chute does not match the validator's template:\n" + check.format())
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="tvkit-dryrun-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.chute_file = self.chute.write(self.workdir / f"{CHUTE_STEM}.py")
        hf_home = self.workdir / "hf"
        stage_hf_cache(self.bundle, self.hf_repo, self.revision, hf_home)
        shim = self.workdir / "shim"
        shim.mkdir(exist_ok=True)
        (shim / "sitecustomize.py").write_text(_SHIM)
        self.tmp_dir.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
        env.update(CHUTES_EXECUTION_CONTEXT="REMOTE", HF_HOME=str(hf_home), HF_HUB_OFFLINE="1",
                   HF_HUB_DISABLE_TELEMETRY="1", PYTHONUNBUFFERED="1", TMPDIR=str(self.tmp_dir),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")])))
        chutes = Path(sys.executable).with_name("chutes")
        cmd = [str(chutes) if chutes.exists() else "chutes", "run", f"{CHUTE_STEM}:chute", "--dev",
               "--host", "127.0.0.1", "--port", str(self.port), "--logging-port", str(free_port())]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        try:
            self._wait_ready()
        except BaseException:
            self.cleanup()  # nothing left behind; the error carries the chute's reason
            raise
        return self

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise KitError(f"the chute exited with code {self.proc.returncode} before serving: "
                               f"{self.failure_reason()}")
            try:
                r = httpx.post(f"{self.base_url}/health", json={}, timeout=2.0)
                health = r.json() if r.status_code == 200 else {}
            except (httpx.HTTPError, ValueError):
                health = {}
            status = str(health.get("status", ""))
            if status == "healthy":
                self.health = health
                return
            if status:  # the template reports a failed load in /health and keeps serving
                raise KitError(f"the chute started but its miner did not load: {status}")
            time.sleep(0.3)
        raise KitError(f"the chute did not answer /health within {self.startup_timeout:.0f} s; its log: "
                       f"{self.log_path}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def failure_reason(self) -> str:
        """The last error line of the chute's log, with the log's tail."""
        lines = self.log_text().strip().splitlines() or ["(empty log)"]
        errors = [line for line in lines if "Error" in line or "error" in line]
        return (errors[-1].strip() if errors else lines[-1].strip()) + "\nthe chute's log ends:\n  " + \
            "\n  ".join(lines[-12:])

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the chute's process group, SIGKILL after `grace` seconds; idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        """Stop, then remove the work folder (chute file, cache entry, log) if this object made it."""
        self.stop()
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> DryRun:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class ClipServer:
    """Serves `folder` at http://127.0.0.1:port/ from a background thread (a context manager)."""

    def __init__(self, folder: str | os.PathLike, port: int = 0, handler: type | None = None):
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise KitError(f"{self.folder}: not a folder of clips")
        handler = functools.partial(handler or _QuietHandler, directory=str(self.folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str | os.PathLike) -> str:
        """The URL of a file in the folder (or of a path relative to it)."""
        rel = Path(path).resolve().relative_to(self.folder) if Path(path).is_absolute() else Path(path)
        return f"http://127.0.0.1:{self.port}/{rel.as_posix()}"

    def start(self) -> ClipServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ClipServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def build_local(chute_file: Path, timeout: float = 3600.0) -> subprocess.CompletedProcess:
    """The seed guide's `chutes build <file>:chute --local` (builds the image with docker).

    KitError, saying so, where docker is not installed: the dry run itself needs no docker.
    """
    if shutil.which("docker") is None:
        raise KitError("docker is not installed here, so `chutes build --local` (it builds the chute's image "
                       "with docker) is skipped; the dry run under `chutes run --dev` needs no docker")
    chutes = Path(sys.executable).with_name("chutes")
    cmd = [str(chutes) if chutes.exists() else "chutes", "build", f"{chute_file.stem}:chute", "--local"]
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    return subprocess.run(cmd, cwd=chute_file.parent, env=env, input="y\n", text=True, timeout=timeout)
