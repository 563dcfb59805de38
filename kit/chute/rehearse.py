"""The validator's side of a challenge, against any running chute: ping, post, check, score.

`rehearse(base_url, video, truth)` does what a validator does with one clip: builds the
challenge body (meta as DESIGN.md: version, width, height, fps, task_id, challenge_type,
n_frames_total, batch_size 64, n_keypoints 32, seed), makes the clip reachable by URL (a
local HTTP server on 127.0.0.1 when the chute runs here), POSTs it to `/predict` with
`Authorization: Bearer <key>`, times the whole call, checks the answer against the wire
contract, and scores it with the kit's evaluator (SCORING.md) against the ground truth.
The latency score (1 / 2^seconds) is reported beside the score, as the validator does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .. import KitError
from ..settings import Secret

PREDICT_TIMEOUT_S = 600.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def _headers(api_key: Secret | str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        value = api_key.reveal() if isinstance(api_key, Secret) else str(api_key)
        headers["Authorization"] = f"Bearer {value}"
    return headers


def _check_url(base_url: str) -> str:
    parsed = urlparse(base_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise KitError(f"chute URL {base_url!r} is not http(s)://host[:port]; a dry run prints it "
                       "(e.g. http://127.0.0.1:8000)")
    return base_url.rstrip("/")


def ping(base_url: str, api_key: Secret | str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """POST /health; the chute's health object (status, model_loaded, memory_gb, cuda)."""
    import httpx

    from ..contract import validate_health

    url = f"{_check_url(base_url)}/health"
    try:
        r = httpx.post(url, json={}, headers=_headers(api_key), timeout=timeout)
    except httpx.HTTPError as e:
        raise KitError(f"{url}: no answer ({type(e).__name__}: {e}); is the chute running?") from e
    if r.status_code != 200:
        raise KitError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")
    try:
        health = r.json()
    except ValueError as e:
        raise KitError(f"{url}: the answer is not JSON: {r.text[:300]!r}") from e
    problems = validate_health(health)
    if problems:
        raise KitError(f"{url}: the health answer breaks the contract: " + "; ".join(map(str, problems)))
    return health


def challenge_for(video: str | os.PathLike, url: str, task_id: str = "rehearsal", seed: int | None = None,
                  batch_size: int = 64) -> dict[str, Any]:
    """The validator's body for a local clip served at `url` (frame count as OpenCV reads it)."""
    from ..contract import build_challenge
    from ..datasets import VideoReader

    with VideoReader(video) as reader:
        info = reader.info()
    return build_challenge(url, width=info.width, height=info.height, fps=info.fps, n_frames=info.n_frames,
                           task_id=task_id, seed=seed, batch_size=batch_size)


def post_challenge(base_url: str, body: Any, api_key: Secret | str | None = None,
                   timeout: float = PREDICT_TIMEOUT_S) -> tuple[int, Any, float]:
    """POST /predict; (HTTP status, parsed JSON or raw text, seconds the whole call took)."""
    import httpx

    url = f"{_check_url(base_url)}/predict"
    t0 = time.perf_counter()
    try:
        if isinstance(body, (bytes, str)):
            r = httpx.post(url, content=body, headers=_headers(api_key), timeout=timeout)
        else:
            r = httpx.post(url, json=body, headers=_headers(api_key), timeout=timeout)
    except httpx.HTTPError as e:
        raise KitError(f"{url}: no answer ({type(e).__name__}: {e})") from e
    seconds = time.perf_counter() - t0
    try:
        return r.status_code, r.json(), seconds
    except ValueError:
        return r.status_code, r.text, seconds


@dataclass
class Rehearsal:
    """One validator-style call: the answer, its timing, contract problems and the score."""

    status: int
    answer: Any
    seconds: float
    body: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)
    latency_score: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.answer, dict) and self.answer.get("success") is True \
            and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "ok": self.ok, "seconds": round(self.seconds, 3),
                "latency_score": self.latency_score, "problems": self.problems[:20], "breakdown": self.breakdown,
                "error": self.answer.get("error") if isinstance(self.answer, dict) else str(self.answer)[:300]}


def rehearse(base_url: str, video: str | os.PathLike, truth: str | os.PathLike | None = None,
             api_key: Secret | str | None = None, clip_url: str | None = None, seed: int | None = None,
             mode: str = "full") -> Rehearsal:
    """Send `video` to the chute like a validator, check and (with `truth`) score the answer."""
    from ..contract import validate_answer
    from ..evaluate import evaluate, latency_score
    from .dryrun import ClipServer

    video = Path(video)
    if not video.is_file():
        raise KitError(f"{video}: no such clip; make one with `tvkit synth --out DIR`")
    base_url = _check_url(base_url)
    server = None
    if clip_url is None:
        if urlparse(base_url).hostname not in LOCAL_HOSTS:
            raise KitError(f"{base_url} is not on this machine, so it cannot fetch {video} from a local server; "
                           "put the clip where the chute can reach it and pass --clip-url URL")
        server = ClipServer(video.parent).start()
        clip_url = server.url(video.resolve())
    try:
        body = challenge_for(video, clip_url, seed=seed)
        status, answer, seconds = post_challenge(base_url, body, api_key)
    finally:
        if server is not None:
            server.stop()
    meta = body["meta"]
    result = Rehearsal(status, answer, seconds, body, latency_score=latency_score(seconds))
    if status != 200 or not isinstance(answer, dict):
        result.problems.append(f"HTTP {status}: {str(answer)[:300]}")
        return result
    result.problems = [str(p) for p in validate_answer(answer, meta["n_frames_total"], meta["width"],
                                                       meta["height"])]
    if truth is not None:
        ev = evaluate(answer, truth, video, mode=mode, seed=seed or 0, latency_ms=seconds * 1000.0)
        result.breakdown = dict(ev.breakdown)
    return result


def format_rehearsal(r: Rehearsal) -> str:
    lines = [f"HTTP {r.status} in {r.seconds:.2f} s (latency score {r.latency_score:.4f})"]
    if isinstance(r.answer, dict) and r.answer.get("success") is False:
        lines.append(f"success: false, error: {r.answer.get('error')}")
    if r.problems:
        lines.append(f"{len(r.problems)} contract problem(s):")
        lines += [f"  {p}" for p in r.problems[:10]]
    elif r.status == 200:
        lines.append("the answer follows the contract")
    for k, v in r.breakdown.items():
        lines.append(f"  {k:<26} {v:.4f}")
    return "\n".join(lines)
