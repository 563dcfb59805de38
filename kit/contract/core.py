"""What every part of the contract shares: the wire's constants, class ids, `Problem`, `ContractError`.

Ground truth stores an object type (0-3) and a team beside it; the wire's `cls_id` indexes the
element's objects instead. `is_int` is the wire's notion of an integer, used by the challenge,
answer and ground-truth readers alike.

Usage: from kit.contract.core import PLAYER, wire_class; wire_class(PLAYER, 1)  # -> 6
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import KitError

N_KEYPOINTS = 32
BATCH_SIZE = 64
CHALLENGE_TYPE = "football"
CONTRACT_VERSION = 1   # meta.version as validators send it (challenges.py:404)

# --- class ids -----------------------------------------------------------------------------
# Ground truth stores an object type (0-3) and a team beside it. On the wire a box's cls_id
# indexes the element's `objects` instead (DESIGN.md), and the team travels as `team_id`.
# 6 and 7 are the kit's own dataset classes for players of a known team (a detector trained
# with team classes); they are never sent: today's validator drops cls_ids outside `objects`.
BALL, GOALKEEPER, PLAYER, REFEREE = 0, 1, 2, 3
PLAYER_TEAM1, PLAYER_TEAM2 = 6, 7

CLASS_NAMES: dict[int, str] = {
    BALL: "ball",
    GOALKEEPER: "goalkeeper",
    PLAYER: "player",
    REFEREE: "referee",
    PLAYER_TEAM1: "player (team 1)",
    PLAYER_TEAM2: "player (team 2)",
}
#: Object types as ground truth stores them (0-3); a team rides beside the type.
OBJECT_TYPES: dict[int, str] = {i: CLASS_NAMES[i] for i in (BALL, GOALKEEPER, PLAYER, REFEREE)}


def wire_class(cls_id: int, team: int | None) -> int:
    """The kit's dataset class of an object type and team: players with a team are 6 or 7."""
    if cls_id == PLAYER and team in (1, 2):
        return PLAYER_TEAM1 if team == 1 else PLAYER_TEAM2
    return cls_id


def object_type(wire_cls: int) -> tuple[int, int | None]:
    """(object type 0-3, team) of a kit dataset class; 6 and 7 are players of team 1 and 2."""
    if wire_cls == PLAYER_TEAM1:
        return PLAYER, 1
    if wire_cls == PLAYER_TEAM2:
        return PLAYER, 2
    return wire_cls, None


class ContractError(KitError, ValueError):
    """A payload or file that does not follow the contract; the message says where and what to do."""


# --- problems ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One contract violation: where (frame id or index, JSON path) and what."""

    path: str
    message: str
    frame: int | None = None

    def __str__(self) -> str:
        where = f"frame {self.frame}: " if self.frame is not None else ""
        return f"{where}{self.path}: {self.message}"



def is_int(v: Any) -> bool:
    """An integer on the wire: a JSON int, or a float with no fractional part (not a bool)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, float) and math.isfinite(v) and v.is_integer()

