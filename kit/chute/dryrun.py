"""A local dry run of a bundle under the real chutes runtime, with no network and no docker.

`DryRun(bundle)` does what a deployment does, on this machine:
1. checks the bundle against the chute rules (`kit.chute_rules`): the rules the validator's
   chute template enforces stop the dry run by name; the newer compliance rules (30 MB of
   artifacts, no network modules in miner.py) are reported as warnings;
2. renders the chute file for the bundle (`kit.chute.render`, unchanged from what would ship)
   with the bundle's content hash as its revision;
3. makes the bundle resolvable as the Hugging Face snapshot of that revision: a cache entry
   `$HF_HOME/hub/models--<user>--<repo>/snapshots/<revision>/` plus `refs/main`, with
   `HF_HUB_OFFLINE=1`, so the chute's own `snapshot_download(repo, revision=...)` returns it;
4. starts `CHUTES_EXECUTION_CONTEXT=REMOTE chutes run <file>:chute --dev --port P`, waits for
   `/health` to report the model loaded (or for the chute to fail, with its log's reason);
5. stops it on `stop()` (SIGINT, then SIGTERM, then SIGKILL) and removes what it made.
Credentials are not passed to the chute process.

`ClipServer` serves a folder of clips over HTTP on 127.0.0.1, as a validator's storage would.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import re
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
from ..chute_rules import Violation, check_bundle
from .render import split_repo, write_chute_script

#: Rules that later subnet versions added: reported, not fatal, in a dry run.
NEWER_RULES = frozenset({"size", "network_import"})
LOCAL_HF_REPO = "local/turbovision-miner"
LOCAL_CHUTES_USER = "local"
SECRET_ENV = ("CHUTES_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
CHUTE_STEM = "tvkit_chute"
#: The rule names chute_template/load.py puts in its errors, `[rule] message`.
CHUTE_RULES = ("download", "miner_file", "local_import", "missing_module", "process_call", "miner_class",
               "predict_signature", "load", "memory", "self_test")


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
    user, name = split_repo(hf_repo)
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


def precheck(bundle: Path) -> tuple[list[Violation], list[Violation]]:
    """(errors, warnings) of the chute rules for `bundle`."""
    found = check_bundle(bundle, run_self_test=True)
    return [v for v in found if v.rule not in NEWER_RULES], [v for v in found if v.rule in NEWER_RULES]


class DryRun:
    """One bundle served by `chutes run --dev` on 127.0.0.1:port. Use as a context manager."""

    def __init__(self, bundle: str | os.PathLike, port: int | None = None, hf_repo: str | None = None,
                 chutes_user: str | None = None, workdir: str | os.PathLike | None = None,
                 startup_timeout: float = 180.0, check: bool = True):
        self.bundle = Path(bundle).resolve()
        if not (self.bundle / "miner.py").is_file():
            raise KitError(f"{self.bundle}: no miner.py there; pass the folder `tvkit package --out DIR` wrote")
        self.port = port or free_port()
        self.hf_repo = hf_repo or LOCAL_HF_REPO
        self.chutes_user = chutes_user or LOCAL_CHUTES_USER
        self.startup_timeout = startup_timeout
        self.check = check
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None  # made by start(), after the checks pass
        self.revision = bundle_revision(self.bundle)
        self.chute_file: Path | None = None
        self.warnings: list[Violation] = []
        self.proc: subprocess.Popen | None = None

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

    def start(self) -> "DryRun":
        if self.check:
            errors, self.warnings = precheck(self.bundle)
            if errors:
                from ..chute_rules import BundleError

                raise BundleError(self.bundle, errors)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="tvkit-dryrun-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.chute_file = write_chute_script(self.workdir / f"{CHUTE_STEM}.py", self.hf_repo, self.revision,
                                             self.chutes_user, bundle=self.bundle)
        hf_home = self.workdir / "hf"
        stage_hf_cache(self.bundle, self.hf_repo, self.revision, hf_home)
        env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
        self.tmp_dir.mkdir(exist_ok=True)
        env.update(CHUTES_EXECUTION_CONTEXT="REMOTE", HF_HOME=str(hf_home), HF_HUB_OFFLINE="1",
                   HF_HUB_DISABLE_TELEMETRY="1", PYTHONUNBUFFERED="1", TMPDIR=str(self.tmp_dir))
        chutes = Path(sys.executable).with_name("chutes")
        cmd = [str(chutes) if chutes.exists() else "chutes", "run", f"{CHUTE_STEM}:chute", "--dev",
               "--host", "127.0.0.1", "--port", str(self.port), "--logging-port", str(free_port())]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.cleanup()  # nothing left behind; the error carries the log's reason
            raise
        return self

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise KitError(f"the chute exited with code {self.proc.returncode} before serving: "
                               f"{self.failure_reason()}")
            reason = self.failure_reason(only_known=True)
            if reason:
                raise KitError(f"the chute failed at start-up: {reason}")
            try:
                r = httpx.post(f"{self.base_url}/health", json={}, timeout=2.0)
                if r.status_code == 200 and r.json().get("model_loaded"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.3)
        raise KitError(f"the chute did not answer /health within {self.startup_timeout:.0f} s; its log: "
                       f"{self.log_path}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def failure_reason(self, only_known: bool = False) -> str:
        """The chute's own error: a `[rule] ...` line from load.py, else the log's last error."""
        text = self.log_text()
        # the error's own lines: "SandboxError: [rule] ..." and, for several, "[rule] ..." lines after it
        # (not the traceback's source lines, which quote the f-strings)
        rules = re.findall(r"(?:^|SandboxError: )(\[(?:%s)\] [^\n]+)" % "|".join(CHUTE_RULES), text, re.M)
        if rules:
            return "; ".join(dict.fromkeys(r.strip() for r in rules))
        if only_known:
            return ""
        lines = text.strip().splitlines() or ["(empty log)"]
        errors = [line for line in lines if "Error" in line or "error" in line]
        return (errors[-1].strip() if errors else lines[-1].strip()) + "\nthe chute's log ends:\n  " + \
            "\n  ".join(lines[-12:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGINT, then SIGTERM, then SIGKILL to the chute's process group; idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=timeout if sig != signal.SIGKILL else None)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        """Remove the work folder (chute file, cache entry, log) if this object made it."""
        self.stop()
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "DryRun":
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

    def start(self) -> "ClipServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ClipServer":
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
