"""Turbo Vision miner kit: the library behind the notebooks and the `tvkit` command."""

import os
from pathlib import Path

__version__ = "0.1.0"

#: Overrides where the kit keeps what it downloads or makes once (`cache_dir`).
CACHE_ENV = "TVKIT_CACHE_DIR"


class KitError(Exception):
    """An error a user can act on: the message says what was wrong, where, and what to do."""


def cache_dir() -> Path:
    """The kit's cache (manifests, the chute template, model starts, imported exports):
    $TVKIT_CACHE_DIR, else $XDG_CACHE_HOME/tvkit, else ~/.cache/tvkit."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tvkit"
