"""The deployments ledger: `deployments/ledger.jsonl`, one JSON line per push, test and delete.

It is what was shipped and how it scored: HF repo and revision, chute name, id and slug,
whether it was deployed, the commitment payload, and for tests the score and latency. It
never holds a secret: every line goes through `redact` and a line that would change is
refused. The folder is git-ignored (TVKIT_DEPLOYMENTS_DIR moves it).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .. import KitError
from ..settings import redact
from .common import deployments_dir

LEDGER_NAME = "ledger.jsonl"


def ledger_path(folder: str | os.PathLike | None = None) -> Path:
    return Path(folder) if folder else deployments_dir() / LEDGER_NAME


def append(event: str, record: dict[str, Any], path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Add one line: {"time", "event", ...record}; returns what was written."""
    path = ledger_path(path)
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "event": event, **record}
    line = json.dumps(entry, sort_keys=False, default=str)
    if redact(line) != line:
        raise KitError("refusing to write a secret into the deployments ledger (a credential-shaped value was in "
                       "the record)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    return entry


def read(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every entry, oldest first; a broken line is skipped (the ledger is append-only text)."""
    path = ledger_path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def pushes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("event") == "push"]


def by_revision(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per revision (oldest first): the latest push and every test (score, seconds) and deletion."""
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        rev = e.get("revision")
        if not rev:
            continue
        row = out.setdefault(rev, {"revision": rev, "push": None, "tests": [], "deleted": False})
        if e.get("event") == "push":
            row["push"] = e
        elif e.get("event") == "test":
            row["tests"].append(e)
        elif e.get("event") == "delete":
            row["deleted"] = True
    return out


def stale_revisions(entries: list[dict[str, Any]], keep: int) -> list[str]:
    """Deployed, not yet deleted revisions beyond the `keep` newest pushes."""
    live = [rev for rev, row in by_revision(entries).items()
            if row["push"] and row["push"].get("deployed") and not row["deleted"]]
    order = {e.get("revision"): i for i, e in enumerate(pushes(entries))}
    live.sort(key=lambda r: order.get(r, -1))
    return live[:-keep] if keep > 0 else live
