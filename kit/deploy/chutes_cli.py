"""The real `chutes` CLI as a subprocess: `chutes build F:chute --public --wait`, `chutes deploy F:chute --accept-fee`.

Usage: `build(Path("deployments/chutes/turbovision_alice_otter.py"), api_url, env={...})`

The arguments are upstream's (scorevision/utils/chutes_helpers.py:176-216 and :337-375; its
`--debug` is left out). The CLI imports the chute file, and the validator's template
downloads the miner's Hugging Face repo at import (turbovision_chute.py.j2 `load_chute`):
the repo is private at that point, so the caller passes a read token as HF_TOKEN in `env`
(the kit gives it CHUTES_HF_TOKEN, never the write token).

The CLI signs its requests with the hotkey in its config (`~/.chutes/config.ini`, or
CHUTES_CONFIG_PATH; written by `chutes register`) and talks to the config's `[api] base_url`,
else CHUTES_API_URL. It asks for confirmation on stdin (build: "Confirm submitting build
context?", and "see the rest?" for more than 10 files; deploy: "confirm?"), so we answer `y`
without a terminal. It logs errors but often exits 0 anyway, so its ERROR lines are read too.
Our credentials are removed from the environment it gets; only what the caller passes in `env` is added.
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import KitError
from ..settings import SETTINGS_HELP, redact

REGISTER_HELP = ("run `chutes register --username U --wallet COLD --hotkey HOT` once (it writes "
                 "~/.chutes/config.ini), or point CHUTES_CONFIG_PATH at your config")
_ERROR_LINE = re.compile(r"\|\s*ERROR\s*\|.*? - (.*)$")
_ENV_DROP = {k for k, (secret, _) in SETTINGS_HELP.items() if secret} | {"HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN"}


def config_path() -> Path:
    return Path(os.environ.get("CHUTES_CONFIG_PATH") or Path.home() / ".chutes" / "config.ini")


def check_config(api_url: str) -> tuple[Path, list[str]]:
    """The CLI's config (must exist, with an [auth] hotkey); warnings about it (API URL it uses)."""
    path = config_path()
    if not path.is_file():
        raise KitError(f"{path}: no chutes config, so `chutes build`/`deploy` cannot sign requests; {REGISTER_HELP}")
    cp = configparser.ConfigParser()
    try:
        cp.read(path)
    except configparser.Error as e:
        raise KitError(f"{path}: not a valid chutes config ({e}); {REGISTER_HELP}") from e
    missing = [k for k in ("user_id", "username", "hotkey_seed", "hotkey_ss58address")
               if not cp.has_option("auth", k)]
    if missing:
        raise KitError(f"{path}: the [auth] section lacks {', '.join(missing)}; {REGISTER_HELP}")
    warnings = []
    if cp.has_option("api", "base_url") and cp.get("api", "base_url").rstrip("/") != api_url.rstrip("/"):
        warnings.append(f"{path} sets [api] base_url = {cp.get('api', 'base_url')}: the chutes CLI will use it, "
                        f"not CHUTES_API_URL={api_url}")
    return path, warnings


def chutes_executable() -> str:
    here = Path(sys.executable).with_name("chutes")
    if here.is_file():
        return str(here)
    import shutil

    found = shutil.which("chutes")
    if not found:
        raise KitError("the `chutes` command is not installed in this environment (pip install chutes==0.6.11rc2)")
    return found


@dataclass
class CLIResult:
    args: list[str]
    returncode: int
    output: str
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.errors

    def tail(self, n: int = 15) -> str:
        return "\n".join(self.output.strip().splitlines()[-n:])


def run_chutes(args: list[str], cwd: Path, api_url: str, answers: str = "y\ny\n", timeout: float = 7200.0,
               echo: Callable[[str], None] | None = None, env: dict[str, str] | None = None) -> CLIResult:
    """Run `chutes ARGS` in `cwd`, answering its prompts; output redacted, echoed line by line.

    The CLI gets this process's environment without our credentials, plus `env`.
    """
    base = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
    base.update({"CHUTES_API_URL": api_url, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "TERM": "dumb",
                 "COLUMNS": "120"})
    base.update(env or {})
    env = base
    cmd = [chutes_executable(), *args]
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
    except OSError as e:
        raise KitError(f"cannot start {' '.join(cmd)}: {e}") from e
    lines: list[str] = []

    def pump():
        assert proc.stdout is not None
        for line in proc.stdout:
            line = redact(line.rstrip("\n"))
            lines.append(line)
            if echo:
                echo(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert proc.stdin is not None
        proc.stdin.write(answers)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(5)
        raise KitError(f"`chutes {' '.join(args)}` did not finish in {timeout:.0f} s; stopped it. Last lines:\n"
                       + "\n".join(lines[-10:]))
    reader.join(10)
    output = "\n".join(lines)
    errors = [m.group(1).strip() for ln in lines if (m := _ERROR_LINE.search(ln))]
    if proc.returncode != 0 and not errors:
        # an uncaught exception (rich traceback) ends with "ExcType: message"
        last = [ln.strip() for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception):", ln.strip())]
        errors = last[-1:] or [f"exit status {proc.returncode}"]
    return CLIResult(cmd[1:], proc.returncode, output, errors)


def build(chute_file: Path, api_url: str, timeout: float = 7200.0,
          echo: Callable[[str], None] | None = None, env: dict[str, str] | None = None) -> CLIResult:
    """`chutes build <stem>:chute --public --wait`; an image that already exists counts as built."""
    r = run_chutes(build_args(chute_file), chute_file.parent, api_url, timeout=timeout, echo=echo, env=env)
    if r.errors and all("already exists" in e for e in r.errors):
        r.errors = []
        r.returncode = 0
    return r


def deploy(chute_file: Path, api_url: str, timeout: float = 1800.0,
           echo: Callable[[str], None] | None = None, env: dict[str, str] | None = None) -> CLIResult:
    """`chutes deploy <stem>:chute --accept-fee`."""
    return run_chutes(deploy_args(chute_file), chute_file.parent, api_url, timeout=timeout, echo=echo, env=env)


def build_args(chute_file: Path) -> list[str]:
    return ["build", f"{chute_file.stem}:chute", "--public", "--wait"]


def deploy_args(chute_file: Path) -> list[str]:
    return ["deploy", f"{chute_file.stem}:chute", "--accept-fee"]
