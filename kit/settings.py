"""Settings and secrets, from the environment or a `.env` file, and redaction of what is printed.

Secrets (`CHUTES_API_KEY`, `HF_TOKEN`, ...) are held as `Secret`, whose str/repr never show
the value. Anything the kit prints goes through `redact`, which replaces every secret value
it knows (from the settings, from secret-looking environment variables, and token-shaped
strings) with `***`. `install_redaction()` wraps stdout, stderr and logging so that even a
third-party library's output is redacted in a `tvkit` process.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import dotenv_values

MASK = "***"

#: Settings the kit reads: (env var, what it is for, where to get it). Secrets are marked. The names
#: are today's subnet names (upstream scorevision/utils/settings.py at ea7412f: HF_USER and HF_TOKEN
#: :280-281, CHUTES_HF_TOKEN :253, SCOREVISION_NETUID :315, SCOREVISION_FAILING_TUPLES_URL :376).
SETTINGS_HELP: dict[str, tuple[bool, str]] = {
    "CHUTES_API_KEY": (True, "Chutes API key: after `chutes register`, `chutes keys create --name tvkit --admin`"),
    "CHUTES_USERNAME": (False, "your Chutes username (the one given to `chutes register --username`)"),
    "HF_USER": (False, "your Hugging Face user or organisation name (the repo is HF_USER/ScoreVision)"),
    "HF_TOKEN": (True, "a Hugging Face write token, used here only to create, upload and publish the repo: "
                       "https://huggingface.co/settings/tokens"),
    "CHUTES_HF_TOKEN": (True, "a second Hugging Face token, fine-grained, with READ access to HF_USER/ScoreVision "
                              "only (never the write token): https://huggingface.co/settings/tokens; it is stored "
                              "on your chute as its HF_TOKEN secret so Chutes can load the private repo"),
    "BITTENSOR_WALLET_COLD": (False, "the coldkey (wallet) name: `btcli wallet new_coldkey --wallet.name NAME`"),
    "BITTENSOR_WALLET_HOT": (False, "the hotkey name: "
                                    "`btcli wallet new_hotkey --wallet.name COLD --wallet.hotkey NAME`"),
    "BITTENSOR_WALLET_PATH": (False, "where btcli keeps wallets (default ~/.bittensor/wallets)"),
    "SCOREVISION_NETUID": (False, "the subnet the commitment goes to (default 44; 423 is the testnet's)"),
    "BITTENSOR_SUBTENSOR_ENDPOINT": (False, "the chain endpoint bittensor talks to (default finney)"),
    "CHUTES_API_URL": (False, "Chutes API base URL (default https://api.chutes.ai)"),
    "HF_ENDPOINT": (False, "Hugging Face Hub base URL (default https://huggingface.co)"),
    "CHUTES_CHUTE_URL": (False, "a deployed chute's base URL, {slug} filled in (default https://{slug}.chutes.ai)"),
    "SCOREVISION_FAILING_TUPLES_URL": (False, "the compliance checker's failing list (default "
                                              "https://conformity.scoredata.me/compliance/failing_tuples.json)"),
    "TVKIT_INACTIVE_MINERS_URL": (False, "the validators' inactive-miner list (default "
                                         "https://turbo.scoredata.me/manako/inactive_miners.json)"),
    "TVKIT_BLACKLIST_URL": (False, "the published blacklist (default: the `blacklist` file of "
                                   "score-technologies/turbovision on GitHub, main branch)"),
}

#: Where the public lists live (upstream compliance_failures.py:14, inactive_miners.py:12, and the
#: repository's `blacklist` file, which validators also carry as HARDCODED_BLACKLIST_HOTKEYS in
#: scorevision/utils/blacklist.py:10).
DEFAULT_FAILING_TUPLES_URL = "https://conformity.scoredata.me/compliance/failing_tuples.json"
DEFAULT_INACTIVE_MINERS_URL = "https://turbo.scoredata.me/manako/inactive_miners.json"
DEFAULT_BLACKLIST_URL = "https://raw.githubusercontent.com/score-technologies/turbovision/main/blacklist"
DEFAULT_NETUID = 44

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.I)
# Token shapes worth masking even when we were not told about them.
_TOKEN_PATTERNS = [
    re.compile(r"\bcpk_[A-Za-z0-9._-]{16,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),
]
_MIN_SECRET_LEN = 6  # shorter values would mask ordinary words


class Secret:
    """A string that does not show itself: str() and repr() print `***`; `.reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    __str__ = __repr__

    def __reduce__(self):  # never pickle the value into a file
        raise TypeError("a Secret cannot be pickled")


#: The credentials a push needs, by environment name -> Settings attribute.
CREDENTIAL_ATTRS = {"CHUTES_API_KEY": "chutes_api_key", "CHUTES_USERNAME": "chutes_username", "HF_USER": "hf_user",
                    "HF_TOKEN": "hf_token", "CHUTES_HF_TOKEN": "chutes_hf_token",
                    "BITTENSOR_WALLET_COLD": "wallet_cold", "BITTENSOR_WALLET_HOT": "wallet_hot"}


@dataclass(frozen=True)
class Settings:
    chutes_api_key: Secret | None = None
    chutes_username: str | None = None
    hf_user: str | None = None
    hf_token: Secret | None = None
    wallet_cold: str | None = None
    wallet_hot: str | None = None
    wallet_path: Path = field(default_factory=lambda: Path("~/.bittensor/wallets").expanduser())
    chutes_api_url: str = "https://api.chutes.ai"
    hf_endpoint: str = "https://huggingface.co"
    env_file: Path | None = None
    chutes_chute_url: str = "https://{slug}.chutes.ai"
    chutes_hf_token: Secret | None = None
    netuid: int = DEFAULT_NETUID
    subtensor_endpoint: str = "finney"
    failing_tuples_url: str = DEFAULT_FAILING_TUPLES_URL
    inactive_miners_url: str = DEFAULT_INACTIVE_MINERS_URL
    blacklist_url: str = DEFAULT_BLACKLIST_URL

    def secrets(self) -> list[str]:
        return [v.reveal() for f in fields(self) if isinstance(v := getattr(self, f.name), Secret) and v]

    def missing(self, *names: str) -> list[str]:
        """Which of these environment variable names are unset."""
        return [n for n in names if not getattr(self, CREDENTIAL_ATTRS[n])]

    @property
    def hotkey_file(self) -> Path | None:
        if not (self.wallet_cold and self.wallet_hot):
            return None
        return self.wallet_path / self.wallet_cold / "hotkeys" / self.wallet_hot

    @property
    def coldkeypub_file(self) -> Path | None:
        return None if not self.wallet_cold else self.wallet_path / self.wallet_cold / "coldkeypub.txt"


def find_env_file(start: Path | None = None) -> Path | None:
    """The nearest `.env` in the working directory or a parent (stops at a git root)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / ".env").is_file():
            return d / ".env"
        if (d / ".git").exists():
            break
    return None


def load_settings(env_file: str | os.PathLike | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Settings from `.env` (found upwards from the cwd unless given) overridden by the environment.

    The `.env` file is read, never written, and its values do not leak into os.environ.
    """
    environ = dict(os.environ if environ is None else environ)
    path = Path(env_file) if env_file else find_env_file()
    values: dict[str, str] = {}
    if path is not None and path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update({k: v for k, v in environ.items() if k in SETTINGS_HELP and v != ""})

    def get(name: str) -> str | None:
        v = values.get(name, "").strip()
        return v or None

    def secret(name: str) -> Secret | None:
        v = get(name)
        return Secret(v) if v else None

    settings = Settings(
        chutes_api_key=secret("CHUTES_API_KEY"),
        chutes_username=get("CHUTES_USERNAME"),
        hf_user=get("HF_USER"),
        hf_token=secret("HF_TOKEN"),
        wallet_cold=get("BITTENSOR_WALLET_COLD"),
        wallet_hot=get("BITTENSOR_WALLET_HOT"),
        wallet_path=Path(get("BITTENSOR_WALLET_PATH") or "~/.bittensor/wallets").expanduser(),
        chutes_api_url=(get("CHUTES_API_URL") or "https://api.chutes.ai").rstrip("/"),
        hf_endpoint=(get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/"),
        env_file=path if path is not None and path.is_file() else None,
        chutes_chute_url=(get("CHUTES_CHUTE_URL") or "https://{slug}.chutes.ai").rstrip("/"),
        chutes_hf_token=secret("CHUTES_HF_TOKEN"),
        netuid=_netuid(get("SCOREVISION_NETUID"), path),
        subtensor_endpoint=get("BITTENSOR_SUBTENSOR_ENDPOINT") or "finney",
        failing_tuples_url=get("SCOREVISION_FAILING_TUPLES_URL") or DEFAULT_FAILING_TUPLES_URL,
        inactive_miners_url=get("TVKIT_INACTIVE_MINERS_URL") or DEFAULT_INACTIVE_MINERS_URL,
        blacklist_url=get("TVKIT_BLACKLIST_URL") or DEFAULT_BLACKLIST_URL,
    )
    register_secrets(*settings.secrets())
    return settings


def _netuid(value: str | None, env_file: Path | None) -> int:
    if value is None:
        return DEFAULT_NETUID
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        from . import KitError

        where = f" (environment or {env_file})" if env_file else " (environment)"
        raise KitError(f"SCOREVISION_NETUID={value!r}{where} is not a subnet number; use 44 (mainnet) or 423 (testnet)")
    return n


# --- redaction -------------------------------------------------------------------------------

_known: set[str] = set()


def register_secrets(*values: str) -> None:
    """Add values that `redact` must always mask."""
    _known.update(v for v in values if v and len(v) >= _MIN_SECRET_LEN)


def _environment_secrets() -> set[str]:
    out = set()
    for k, v in os.environ.items():
        if v and len(v) >= _MIN_SECRET_LEN and (_SECRET_NAME.search(k) or (k in SETTINGS_HELP and SETTINGS_HELP[k][0])):
            out.add(v)
    return out


def redact(text: str) -> str:
    """`text` with every known secret value and token-shaped string replaced by `***`."""
    if not text:
        return text
    for value in sorted(_known | _environment_secrets(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    for pat in _TOKEN_PATTERNS:
        text = pat.sub(MASK, text)
    return text


class RedactingStream(io.TextIOBase):
    """A text stream that redacts whole lines before passing them on.

    Text is held until a newline (or flush) so a secret split across two writes is still
    caught.
    """

    def __init__(self, inner):
        self._inner = inner
        self._buf = ""

    def write(self, s: str) -> int:
        self._buf += s
        if "\n" in self._buf:
            head, self._buf = self._buf.rsplit("\n", 1)
            self._inner.write(redact(head + "\n"))
        return len(s)

    def flush(self) -> None:
        if self._buf:
            self._inner.write(redact(self._buf))
            self._buf = ""
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def install_redaction() -> None:
    """Redact stdout, stderr and every log record of this process (idempotent)."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(RedactingFilter())
    for h in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
