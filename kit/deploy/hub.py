"""The Hugging Face side of a push, through `huggingface_hub.HfApi` (base URL: HF_ENDPOINT).

Usage: `Hub(endpoint, token).publish("alice/ScoreVision", "bundle/", "msg")` -> the 40-hex revision.

`Hub.publish(repo, bundle)` creates the repo if needed, makes it private (also one that was
public: upstream huggingface_helpers.py:99-101 and :146-150 keep it private while Chutes
builds) and uploads the bundle in ONE commit, deleting files the bundle no longer has, and
returns the commit's 40-hex revision (upstream uploads file by file, :62-94, and reads the
head afterwards; one commit makes the revision exactly the uploaded bundle).
`Hub.set_visibility(repo, private)` is the Hub's settings call (PUT
/api/models/{repo}/settings), used to make the repo public only after the on-chain commit
(upstream huggingface_helpers.py:155 `set_huggingface_repo_visibility`).
`Hub.resolve(repo, revision)` checks a revision exists and returns its commit.
`token_access(endpoint, token)` asks the Hub (whoami) what a token may do, so the kit can
refuse to hand Chutes a token that can write.
The token (HF_TOKEN, a write token) is revealed only to the client, which sends it as a
header. The errors miners hit get a message that says what to do: a read-only or wrong
token, a repo or revision that does not exist, the Hub's upload rate limit with how long
to wait. 429 and 5xx answers are retried with backoff (Retry-After honoured).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import KitError
from ..settings import Secret
from .retry import RETRY_STATUSES, Backoff, RateLimited, human_wait, retry_after_seconds, with_retries

log = logging.getLogger(__name__)
TOKEN_HELP = "make a write token at https://huggingface.co/settings/tokens and put it in .env as HF_TOKEN"
#: Files the Hub keeps that a push never deletes.
KEEP_REMOTE = (".gitattributes", "README.md")
SKIP_LOCAL = ("__pycache__", ".ipynb_checkpoints", ".git")


class HubError(KitError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def bundle_files(bundle: str | os.PathLike) -> list[Path]:
    """The files of a bundle folder that get uploaded (no caches, no hidden files)."""
    root = Path(bundle)
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part in SKIP_LOCAL or part.startswith(".") for part in rel.parts) \
                and p.suffix != ".pyc":
            out.append(p)
    return out


class Hub:
    def __init__(self, endpoint: str, token: Secret | None, backoff: Backoff | None = None,
                 token_name: str = "HF_TOKEN"):
        from huggingface_hub import HfApi, constants

        self.token_name = token_name
        if not token:
            raise HubError(f"no {token_name}: {TOKEN_HELP}")
        if constants.HF_HUB_OFFLINE:
            raise HubError("HF_HUB_OFFLINE is set: huggingface_hub refuses every request. Unset it (or set "
                           "HF_HUB_OFFLINE=0) to push to Hugging Face")
        self.endpoint = endpoint.rstrip("/")
        self.backoff = backoff or Backoff()
        self._api = HfApi(endpoint=self.endpoint, token=token.reveal(), library_name="tvkit")

    # --- errors -------------------------------------------------------------------------------

    def _classify(self, outcome) -> tuple[bool, float | None]:
        response = getattr(outcome, "response", None)
        status = getattr(response, "status_code", None)
        if status in RETRY_STATUSES:
            return True, retry_after_seconds(response.headers.get("Retry-After"))
        name = type(outcome).__name__
        return (name in ("ConnectError", "ReadTimeout", "ConnectTimeout", "RemoteProtocolError")), None

    def _call(self, what: str, fn: Callable[[], Any], repo: str, revision: str | None = None) -> Any:
        from huggingface_hub.errors import (
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        try:
            return with_retries(fn, self._classify, self.backoff, what, on_retry=log.warning)
        except RateLimited as e:
            raise HubError(f"{what}: the Hugging Face Hub's rate limit (uploads and commits are limited per "
                           f"hour); wait {human_wait(e.seconds)} and run the same command again. Nothing was "
                           "committed.", 429) from e
        except RevisionNotFoundError as e:
            raise HubError(f"{what}: {repo} has no revision {revision!r}; pass a commit hash, branch or tag "
                           f"that exists (see {self.endpoint}/{repo}/commits/main)", 404) from e
        except RepositoryNotFoundError as e:
            raise HubError(f"{what}: repo {repo} not found, or {self.token_name} cannot see it (it is private). Check "
                           f"HF_USER and that the token belongs to its owner; {TOKEN_HELP}", 404) from e
        except OfflineModeIsEnabled as e:
            raise HubError(f"{what}: HF_HUB_OFFLINE is set; unset it to reach {self.endpoint}") from e
        except HfHubHTTPError as e:
            status = e.response.status_code if e.response is not None else None
            server = (getattr(e, "server_message", None) or str(e)).strip().splitlines()[0][:300]
            if status == 401:
                raise HubError(f"{what}: the Hub refused {self.token_name} (HTTP 401: {server}); {TOKEN_HELP}",
                               401) from e
            if status == 403:
                raise HubError(f"{what}: {self.token_name} may not write to {repo} (HTTP 403: {server}); "
                               f"is it a read-only token, or is the repo someone else's? {TOKEN_HELP}", 403) from e
            if status == 429:
                after = retry_after_seconds(e.response.headers.get("Retry-After"))
                raise HubError(f"{what}: the Hugging Face Hub's rate limit (HTTP 429: {server}); wait "
                               f"{human_wait(after)} and run the same command again. Nothing was committed.",
                               429) from e
            raise HubError(f"{what}: HTTP {status}: {server}", status) from e
        except OSError as e:  # connection errors from the HTTP client
            raise HubError(f"{what}: cannot reach {self.endpoint} ({type(e).__name__}: {e}); check your "
                           "connection or HF_ENDPOINT") from e

    # --- operations ----------------------------------------------------------------------------

    def ensure_repo(self, repo: str, private: bool = True) -> str:
        """Create the model repo unless it exists, then set its visibility (an existing public repo is
        made private again, as upstream does before every upload); its URL."""
        url = self._call(f"creating {repo}", lambda: self._api.create_repo(repo, private=private, exist_ok=True),
                         repo)
        self.set_visibility(repo, private=private)
        return str(url)

    def set_visibility(self, repo: str, private: bool) -> None:
        """Make the repo private or public (the Hub's settings endpoint)."""
        visibility = "private" if private else "public"
        self._call(f"making {repo} {visibility}",
                   lambda: self._api.update_repo_settings(repo, visibility=visibility), repo)

    def is_private(self, repo: str) -> bool:
        info = self._call(f"reading {repo}", lambda: self._api.model_info(repo, timeout=30), repo)
        return bool(info.private)

    def remote_files(self, repo: str, revision: str = "main") -> list[str]:
        return self._call(f"listing {repo}", lambda: list(self._api.list_repo_files(repo, revision=revision)),
                          repo, revision)

    def publish(self, repo: str, bundle: str | os.PathLike, message: str, private: bool = True) -> str:
        """Upload the bundle as one commit on main; the new commit's 40-hex revision."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        bundle = Path(bundle)
        files = bundle_files(bundle)
        if not files:
            raise HubError(f"{bundle}: no files to upload")
        self.ensure_repo(repo, private=private)
        local = {p.relative_to(bundle).as_posix() for p in files}
        stale = [f for f in self.remote_files(repo) if f not in local and f not in KEEP_REMOTE]

        def commit():
            ops: list[Any] = [CommitOperationAdd(path_in_repo=p.relative_to(bundle).as_posix(), path_or_fileobj=str(p))
                              for p in files]
            ops += [CommitOperationDelete(path_in_repo=f) for f in stale]
            return self._api.create_commit(repo, ops, commit_message=message, revision="main")

        info = self._call(f"uploading {bundle} to {repo}", commit, repo, "main")
        return info.oid


    def resolve(self, repo: str, revision: str) -> str:
        """The commit hash a revision (hash, branch or tag) points to; HubError if it does not exist."""
        info = self._call(f"checking {repo}@{revision}",
                          lambda: self._api.model_info(repo, revision=revision, timeout=30), repo, revision)
        if not info.sha:
            raise HubError(f"checking {repo}@{revision}: the Hub gave no commit hash")
        return info.sha


def token_access(endpoint: str, token: Secret) -> dict[str, Any]:
    """What a token may do, from the Hub's whoami: {"name", "role", "can_write", "scopes"}.

    `role` is "read", "write" or "fineGrained"; a fine-grained token can write when any of its
    permissions is a write permission (`repo.write`, `repo.content.write`, ...).

    Raises:
        HubError: the Hub refused the token or could not be reached.
    """
    hub = Hub(endpoint, token, token_name="CHUTES_HF_TOKEN")
    info = hub._call("asking the Hub what CHUTES_HF_TOKEN may do", lambda: hub._api.whoami(cache=False), "whoami")
    auth = (info.get("auth") or {}).get("accessToken") or {}
    role = str(auth.get("role") or "unknown")
    fine = auth.get("fineGrained") or {}
    scopes = [{"entity": (sc.get("entity") or {}).get("name"), "permissions": list(sc.get("permissions") or [])}
              for sc in fine.get("scoped") or [] if isinstance(sc, dict)]
    perms = [p for sc in scopes for p in sc["permissions"]] + list(fine.get("global") or [])
    can_write = role == "write" or any("write" in str(p) for p in perms)
    return {"name": info.get("name"), "role": role, "can_write": can_write, "scopes": scopes}
