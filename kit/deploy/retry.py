"""Retries with backoff for HTTP calls: 429 and 5xx are retried, honouring Retry-After.

A wait the server asks for that is longer than `max_wait` is not slept through: the caller
gets `RateLimited` with the number of seconds, so the user can be told how long to wait.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .. import KitError

T = TypeVar("T")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RateLimited(KitError):
    """The server asked us to wait `seconds` (Retry-After) before trying again."""

    def __init__(self, message: str, seconds: float | None):
        super().__init__(message)
        self.seconds = seconds


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def human_wait(seconds: float | None) -> str:
    if seconds is None:
        return "a while"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class Backoff:
    """How to retry: `attempts` tries in all, waits of base * 2^i (capped), or Retry-After."""

    attempts: int = 4
    base: float = 1.0
    cap: float = 30.0
    max_wait: float = 120.0  # a longer Retry-After is reported, not slept through
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.cap, self.base * (2 ** attempt))


def with_retries(call: Callable[[], T], classify: Callable[[BaseException | T], tuple[bool, float | None]],
                 policy: Backoff, what: str, on_retry: Callable[[str], None] | None = None) -> T:
    """Run `call` until it succeeds or `policy.attempts` are spent.

    `classify(result_or_exception)` says (retry?, retry-after seconds). A result that should be
    retried but is the last attempt is returned as is (the caller turns it into an error).
    """
    for attempt in range(policy.attempts):
        last = attempt == policy.attempts - 1
        try:
            result = call()
        except KitError:
            raise
        except Exception as e:  # noqa: BLE001 - transport errors are classified, the rest re-raised
            retry, after = classify(e)
            if not retry or last:
                raise
            outcome: object = e
        else:
            retry, after = classify(result)
            if not retry or last:
                return result
            outcome = result
        wait = policy.delay(attempt, after)
        if after is not None and after > policy.max_wait:
            raise RateLimited(f"{what}: rate limited; the server asks to wait {human_wait(after)} "
                              "(Retry-After); try again then", after)
        if on_retry:
            on_retry(f"{what}: {_describe(outcome)}; retrying in {wait:.1f} s "
                     f"(attempt {attempt + 2}/{policy.attempts})")
        policy.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _describe(outcome: object) -> str:
    status = getattr(outcome, "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    return f"{type(outcome).__name__}: {outcome}"
