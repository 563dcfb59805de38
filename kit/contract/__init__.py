"""The wire contract between validator and chute, and the kit's ground-truth files.

Three JSON shapes cross the wire (DESIGN.md):

- the challenge, `POST /predict` with `{"url", "frames", "meta"}` (a video url, or frames as
  base64 PNGs and/or urls);
- the answer, `{"success", "predictions": {"frames": [...]}, "error"}`; a box's `cls_id`
  indexes the element's `objects`, a player's team is `team_id`/`cluster_id`;
- the health report of `POST /health`, as the validator's chute template writes it.

`validate_answer` reads an answer the way a careful validator would and returns *every*
problem it finds, each naming the frame and the field, so a miner can fix them all in one go.
The evaluator is more forgiving than this (SCORING.md reads what it can); the validation is
stricter on purpose: anything it flags either costs points or is one validator change away
from doing so.

The package is cut on the wire's own seams: `core` (what every part shares: class ids, `Problem`,
`ContractError`, the wire's integers), `challenge`, `answer` (with the health report) and `truth`
(ground-truth files, with the kit's JSON file helpers). Every name is importable from here.

Usage: from kit.contract import answer_ok, empty_frame, validate_answer
       validate_answer(answer_ok([empty_frame(0)]), n_frames=1, width=960, height=540)  # -> []
"""

from __future__ import annotations

from .answer import (
    HEALTH_FIELDS,
    TEAM_VALUES,
    answer_error,
    answer_ok,
    empty_frame,
    frame_dict,
    frame_dicts,
    healthy,
    validate_answer,
    validate_health,
)
from .challenge import (
    FOOTBALL_CHALLENGE_TYPE_ID,
    FRAMES_SOURCES,
    Challenge,
    ChallengeFrame,
    ChallengeMeta,
    FramesSource,
    build_challenge,
    build_frames_challenge,
    encode_png_b64,
    parse_challenge,
)
from .core import (
    BALL,
    BATCH_SIZE,
    CHALLENGE_TYPE,
    CLASS_NAMES,
    CONTRACT_VERSION,
    GOALKEEPER,
    N_KEYPOINTS,
    OBJECT_TYPES,
    PLAYER,
    PLAYER_TEAM1,
    PLAYER_TEAM2,
    REFEREE,
    ContractError,
    Problem,
    is_int,
    object_type,
    wire_class,
)
from .truth import (
    GroundTruth,
    GTBox,
    GTFrame,
    GTPolygon,
    ground_truth_from_dict,
    load_ground_truth,
    read_json,
    save_ground_truth,
    write_json_atomic,
)

__all__ = [
    "HEALTH_FIELDS", "TEAM_VALUES", "answer_error", "answer_ok", "empty_frame", "frame_dict", "frame_dicts", "healthy",
    "validate_answer", "validate_health",
    "FOOTBALL_CHALLENGE_TYPE_ID", "FRAMES_SOURCES", "Challenge", "ChallengeFrame", "ChallengeMeta", "FramesSource",
    "build_challenge", "build_frames_challenge", "encode_png_b64", "parse_challenge",
    "BALL", "BATCH_SIZE", "CHALLENGE_TYPE", "CLASS_NAMES", "CONTRACT_VERSION", "GOALKEEPER", "N_KEYPOINTS",
    "OBJECT_TYPES", "PLAYER", "PLAYER_TEAM1", "PLAYER_TEAM2", "REFEREE", "ContractError", "Problem", "is_int",
    "object_type", "wire_class",
    "GroundTruth", "GTBox", "GTFrame", "GTPolygon", "ground_truth_from_dict", "load_ground_truth", "read_json",
    "save_ground_truth", "write_json_atomic",
]
