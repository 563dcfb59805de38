"""What every ship/operate command shares: credentials checks, where the kit keeps its records, the Chutes client.

Usage: `require(settings(), "HF_USER", what="tvkit publish"); hf_repo_of(settings())` -> "alice/ScoreVision";
`with chutes_client(settings()) as api: api.list_chutes()`
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import KitError
from ..settings import SETTINGS_HELP, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


class MissingCredentials(KitError):
    """One or more settings are unset; the message names each and how to get it."""

    def __init__(self, names: list[str], what: str):
        self.names = names
        lines = "\n".join(f"  {n}: {SETTINGS_HELP[n][1]}" for n in names)
        super().__init__(f"{what} needs {', '.join(names)} (not set). Put them in the environment or in .env "
                         f"at the repo root:\n{lines}\n`tvkit doctor --deploy` checks them all.")


def require(settings: Settings, *names: str, what: str = "this command") -> None:
    missing = settings.missing(*names)
    if missing:
        raise MissingCredentials(missing, what)


def settings() -> Settings:
    return load_settings()


def hf_repo_of(s: Settings, hf_repo: str | None = None) -> str:
    """--hf-repo, else HF_USER/ScoreVision (the repo `sv deploy-os-miner` and `tvkit push` use,
    upstream huggingface_helpers.py:13-16)."""
    from ..chute.official import hf_repo_name

    if hf_repo:
        return hf_repo
    if not s.hf_user:
        raise MissingCredentials(["HF_USER"], "naming the Hugging Face repo")
    return hf_repo_name(s.hf_user)


def deployments_dir() -> Path:
    """Where the ledger and rendered chute files live (TVKIT_DEPLOYMENTS_DIR, else deployments/)."""
    return Path(os.environ.get("TVKIT_DEPLOYMENTS_DIR") or REPO_ROOT / "deployments")


def chute_base_url(s: Settings, slug: str) -> str:
    """A deployed chute's base URL: CHUTES_CHUTE_URL with {slug} filled in."""
    template = s.chutes_chute_url
    if "{slug}" not in template:
        raise KitError(f"CHUTES_CHUTE_URL={template!r} has no {{slug}} placeholder "
                       "(the default is https://{slug}.chutes.ai)")
    return template.replace("{slug}", slug).rstrip("/")


def chutes_client(s: Settings):
    """The Chutes API client for these settings (CHUTES_API_URL, CHUTES_API_KEY); use it as a context manager."""
    from .chutes_api import ChutesAPI

    return ChutesAPI(s.chutes_api_url, s.chutes_api_key)
