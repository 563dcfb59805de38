"""Turbo Vision miner kit: the library behind the notebooks and the `tvkit` command."""

__version__ = "0.1.0"


class KitError(Exception):
    """An error a user can act on: the message says what was wrong, where, and what to do."""
