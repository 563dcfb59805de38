"""`tvkit doctor`: is this machine ready to mine, and if not, the exact next step.

Each check says what it found (never a credential's value) and, when it fails, what to run.
Essential checks gate the exit code: without them nothing in the kit runs. The others are
needed only to ship (credentials, wallet) or are nice to have (docker, a GPU); `--deploy`
makes the shipping ones essential too.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from . import KitError
from .settings import SETTINGS_HELP, Settings, load_settings

NETUID = 44
MIN_FREE_GB = 10.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    essential: bool = True
    group: str = "runtime"

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        return "FAIL" if self.essential else "todo"


def _version(module: str) -> tuple[object | None, str]:
    try:
        # some libraries greet on first import (ultralytics writes its settings file and says
        # so on stdout): keep stdout for the report, e.g. clean JSON
        with contextlib.redirect_stdout(sys.stderr):
            mod = importlib.import_module(module)
    except Exception as e:  # a broken install raises more than ImportError
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    version = getattr(mod, "__version__", None)
    if version is None:
        try:
            version = importlib.metadata.version(module)
        except importlib.metadata.PackageNotFoundError:
            version = "installed"
    return mod, str(version)


def check_python() -> Check:
    v = sys.version_info
    ok = (3, 10) <= (v.major, v.minor) < (3, 13)
    return Check("Python", ok, f"{v.major}.{v.minor}.{v.micro} at {sys.executable}",
                 "" if ok else "use Python 3.10-3.12 (the chutes runtime and torch wheels support those)")


def check_torch() -> Check:
    torch, detail = _version("torch")
    fix = "run `make setup` (installs torch==2.14.* and torchvision==0.29.* into .venv)"
    if torch is None:
        return Check("torch", False, detail, fix)
    try:
        if torch.cuda.is_available():
            device = f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} GPU)"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = f"cpu ({torch.get_num_threads()} threads)"
        import torchvision  # noqa: F401  (its C++ ops must load for ultralytics' NMS)
        from torchvision.ops import nms

        nms(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([1.0]), 0.5)
    except Exception as e:
        return Check("torch", False, f"{detail}: torchvision operators do not load ({e})",
                     "install matching wheels: torch==2.14.* with torchvision==0.29.* (`make setup`)")
    return Check("torch", True, f"{detail}, device {device}")


def check_module(name: str, module: str, fix: str, essential: bool = True) -> Check:
    mod, detail = _version(module)
    return Check(name, mod is not None, detail, "" if mod is not None else fix, essential)


def check_disk(path: Path) -> Check:
    free = shutil.disk_usage(path).free / 1e9
    ok = free >= MIN_FREE_GB
    return Check("disk space", ok, f"{free:.1f} GB free at {path}",
                 "" if ok else f"free at least {MIN_FREE_GB:.0f} GB (datasets, runs and the venv need room)")


def check_credentials(s: Settings, essential: bool) -> list[Check]:
    """One check per credential a push needs (today's names; values never shown for secrets)."""
    from .settings import CREDENTIAL_ATTRS

    found_in = f" (from environment or {s.env_file})" if s.env_file else " (from environment)"
    out = []
    for name, attr in CREDENTIAL_ATTRS.items():
        if name.startswith("BITTENSOR_"):
            continue  # the wallet check below names them
        value = getattr(s, attr)
        is_secret, how = SETTINGS_HELP[name]
        if value:
            detail = ("set" if is_secret else f"set to {value}") + found_in
            out.append(Check(name, True, detail, essential=essential, group="credentials"))
        else:
            out.append(Check(name, False, "not set", f"put {name}=... in .env: {how}",
                             essential=essential, group="credentials"))
    out.append(check_token_separation(s, essential))
    out.append(Check("SCOREVISION_NETUID", True, f"{s.netuid}" + ("" if s.netuid == NETUID else
                     f" (not {NETUID}, the mainnet subnet: commitments go to subnet {s.netuid})"),
                     essential=False, group="credentials"))
    return out


def check_token_separation(s: Settings, essential: bool) -> Check:
    """CHUTES_HF_TOKEN must not be the write token: Chutes keeps it, so it should only read the repo.

    Upstream MINER.md section 5 asks for two tokens: HF_TOKEN (create/update the repo) and
    CHUTES_HF_TOKEN (fine-grained, read-only, scoped to the miner repo). Here only what can be
    known offline is checked (the two differ); `tvkit push` also asks the Hub what the token may do.
    """
    name = "HF tokens separate"
    if not (s.chutes_hf_token and s.hf_token):
        return Check(name, False, "needs both HF_TOKEN and CHUTES_HF_TOKEN set",
                     "make a fine-grained token with read access to HF_USER/ScoreVision only and set "
                     "CHUTES_HF_TOKEN to it", essential=essential, group="credentials")
    if s.chutes_hf_token == s.hf_token:
        return Check(name, False, "CHUTES_HF_TOKEN is the same token as HF_TOKEN (your write token)",
                     "Chutes stores CHUTES_HF_TOKEN on the chute: give it a separate fine-grained token with read "
                     "access to HF_USER/ScoreVision only (https://huggingface.co/settings/tokens)",
                     essential=essential, group="credentials")
    return Check(name, True, "a separate token from HF_TOKEN (`tvkit push` checks with the Hub that it cannot write)",
                 essential=essential, group="credentials")


def check_wallet(s: Settings, essential: bool) -> Check:
    if not (s.wallet_cold and s.wallet_hot):
        return Check("wallet files", False, "wallet names not set",
                     "set BITTENSOR_WALLET_COLD and BITTENSOR_WALLET_HOT, then register: "
                     f"`btcli subnet register --netuid {s.netuid} --wallet.name COLD --wallet.hotkey HOT`",
                     essential=essential, group="credentials")
    missing = [p for p in (s.coldkeypub_file, s.hotkey_file) if p is not None and not p.is_file()]
    if missing:
        return Check("wallet files", False, "missing " + ", ".join(str(p) for p in missing),
                     f"create the keys (`btcli wallet new_coldkey --wallet.name {s.wallet_cold}` and "
                     f"`btcli wallet new_hotkey --wallet.name {s.wallet_cold} --wallet.hotkey {s.wallet_hot}`), "
                     f"then `btcli subnet register --netuid {s.netuid} --wallet.name {s.wallet_cold} "
                     f"--wallet.hotkey {s.wallet_hot}`; or point BITTENSOR_WALLET_PATH at your wallets",
                     essential=essential, group="credentials")
    return Check("wallet files", True, f"hotkey {s.wallet_cold}/{s.wallet_hot} under {s.wallet_path}",
                 essential=essential, group="credentials")


def check_chutes_config(s: Settings, essential: bool) -> Check:
    cfg = Path("~/.chutes/config.ini").expanduser()
    if cfg.is_file():
        return Check("chutes config", True, str(cfg), essential=essential, group="credentials")
    wallet = f"--wallet {s.wallet_cold or 'COLD'} --hotkey {s.wallet_hot or 'HOT'}"
    return Check("chutes config", False, f"{cfg} not found",
                 f"`chutes register --username {s.chutes_username or 'NAME'} {wallet}` (the chutes CLI needs it "
                 "for build and deploy; developer deployments also need a developer deposit)",
                 essential=essential, group="credentials")


def check_chute_template() -> Check:
    """Where the validator's chute template comes from (never downloaded here: the doctor only looks).

    The chute is not the miner's to write: every miner deploys the validator's own template with
    four values filled in, and validators refuse any other file by its integrity hash.
    """
    from .chute.official import DEFAULT_COMMIT, ENV_TEMPLATE, integrity_hash, obtain_template

    try:
        src = obtain_template(download=False)
    except KitError:
        return Check("chute template", True, f"fetched from upstream turbovision@{DEFAULT_COMMIT[:7]} on first use "
                     "(the validator's own file; nothing to edit)",
                     f"offline: set {ENV_TEMPLATE} to a turbovision checkout or its turbovision_chute.py.j2",
                     essential=False, group="runtime")
    return Check("chute template", True, f"the validator's, from {src.describe()} (integrity hash "
                 f"{integrity_hash(src.text)[:12]}...; every miner deploys it unchanged)", group="runtime")


def check_docker() -> Check:
    exe = shutil.which("docker")
    if exe is None:
        return Check("docker", False, "not installed",
                     "optional: install Docker for `chutes build --local`; the kit's dry run needs no docker",
                     essential=False, group="optional")
    sock = Path("/var/run/docker.sock")
    detail = f"{exe}, engine {'reachable' if sock.exists() else 'not running (client only)'}"
    return Check("docker", sock.exists(), detail,
                 "" if sock.exists() else "optional: start the Docker engine for `chutes build --local`",
                 essential=False, group="optional")


def check_bittensor() -> Check:
    """The bittensor SDK commits a push's commitment on chain (upstream bittensor_helpers.py:178)."""
    mod, detail = _version("bittensor")
    return Check("bittensor", mod is not None, detail if mod is not None else "not installed",
                 "" if mod is not None else "`pip install bittensor` to let `tvkit push` commit on chain (without it: "
                 "`tvkit push --no-commit` prints the commitment and keeps the repo private)",
                 essential=False, group="optional")


def check_btcli() -> Check:
    exe = shutil.which("btcli")
    return Check("btcli", exe is not None, exe or "not installed",
                 "" if exe else ("`pip install bittensor-cli` in its own environment, "
                                 f"for `btcli subnet register --netuid {NETUID}`"),
                 essential=False, group="optional")


def run_checks(deploy: bool = False, root: Path | None = None, settings: Settings | None = None) -> list[Check]:
    s = settings or load_settings()
    root = root or Path.cwd()
    setup = "run `make setup` (installs the pinned stack into .venv)"
    checks = [
        check_python(),
        check_torch(),
        check_module("ultralytics", "ultralytics", setup),
        check_module("supervision", "supervision", setup),
        check_module("opencv", "cv2", setup),
        check_module("onnxruntime", "onnxruntime", setup),
        check_module("chutes", "chutes", "`pip install chutes==0.6.11rc2` (needs gcc for netifaces) or `make setup`"),
        check_module("huggingface_hub", "huggingface_hub", setup),
        check_chute_template(),
        check_disk(root),
        *check_credentials(s, essential=deploy),
        check_wallet(s, essential=deploy),
        check_chutes_config(s, essential=deploy),
        check_bittensor(),
        check_docker(),
        check_btcli(),
    ]
    return checks


def essentials_ok(checks: list[Check]) -> bool:
    return all(c.ok for c in checks if c.essential)


def format_checks(checks: list[Check]) -> str:
    lines = []
    group = None
    width = max(len(c.name) for c in checks)
    for c in checks:
        if c.group != group:
            group = c.group
            lines.append(f"\n[{group}]")
        mark = {"ok": "[ok]  ", "FAIL": "[FAIL]", "todo": "[todo]"}[c.status]
        lines.append(f"{mark} {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"       {'':<{width}}  -> {c.fix}")
    verdict = "essentials OK" if essentials_ok(checks) else "essentials MISSING: fix the [FAIL] lines above"
    todo = sum(1 for c in checks if c.status == "todo")
    lines.append(f"\n{verdict}; {todo} item(s) to do before shipping" if todo else f"\n{verdict}")
    return "\n".join(lines).lstrip("\n")


def checks_as_dicts(checks: list[Check]) -> list[dict]:
    return [dict(asdict(c), status=c.status) for c in checks]
