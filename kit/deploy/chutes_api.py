"""The Chutes management API over httpx: chutes, images, secrets, warmup, health, instance logs.

Usage: `with ChutesAPI(url, key) as api: api.get_chute("turbovision-alice-otter")["slug"]`

Authentication is `Authorization: Bearer <CHUTES_API_KEY>` (the key from `chutes keys create
--admin`); the key is revealed only to build that header. Base URL: CHUTES_API_URL (default
https://api.chutes.ai). Every call has a timeout; 429 and 5xx are retried with backoff,
honouring Retry-After; the errors miners hit are turned into messages that say what to do.

Endpoints used (the ones the `chutes` CLI itself calls):
  GET /chutes/?limit=&page=&include_public=[&name=]   list (items, total)
  GET /chutes/{name or id}                              one chute: chute_id, slug, image, instances
  DELETE /chutes/{id}, GET|DELETE /images/{id}          retire a chute and its image
  GET /chutes/code/{id}                                 a deployed chute's source (what validators hash)
  GET /chutes/warmup/{name or id}                       server-sent events {status, log}
  POST /secrets/ {purpose: chute id, key, value}        a secret the chute gets as an environment variable
                                                        (upstream chutes_helpers.py:255 create_huggingface_secret)
  GET /instances/{id}/logs?backfill=N                   server-sent events {log}
  POST {chute URL}/health {}                            the chute's own /health cord: {"status": "healthy"}
                                                        once the miner loaded (upstream chutes_helpers.py:294)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from .. import KitError
from ..settings import Secret
from .retry import RETRY_STATUSES, Backoff, RateLimited, retry_after_seconds, with_retries

log = logging.getLogger(__name__)
KEY_HELP = "create one with `chutes keys create --name tvkit --admin` and put it in .env as CHUTES_API_KEY"


class ChutesAPIError(KitError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class ChuteNotFound(ChutesAPIError):
    pass


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:300].strip()
    if isinstance(body, dict) and "detail" in body:
        d = body["detail"]
        return d if isinstance(d, str) else json.dumps(d)[:300]
    return json.dumps(body)[:300]


class ChutesAPI:
    """A client of the Chutes API for one key. Use as a context manager or call close()."""

    def __init__(self, base_url: str, api_key: Secret | None, timeout: float = 30.0,
                 backoff: Backoff | None = None, transport: httpx.BaseTransport | None = None):
        if not api_key:
            raise ChutesAPIError(f"no CHUTES_API_KEY: {KEY_HELP}")
        self.base_url = base_url.rstrip("/")
        self.backoff = backoff or Backoff()
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key.reveal()}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)), transport=transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ChutesAPI:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------------

    def _classify(self, outcome) -> tuple[bool, float | None]:
        if isinstance(outcome, httpx.Response):
            if outcome.status_code in RETRY_STATUSES:
                return True, retry_after_seconds(outcome.headers.get("Retry-After"))
            return False, None
        return isinstance(outcome, (httpx.TransportError,)), None

    def request(self, method: str, path: str, what: str, **kw) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            r = with_retries(lambda: self._client.request(method, path, **kw), self._classify, self.backoff,
                             f"{method} {url}", on_retry=log.warning)
        except RateLimited:
            raise
        except httpx.TimeoutException as e:
            raise ChutesAPIError(f"{what}: {url} did not answer in time ({type(e).__name__}); "
                                 "the Chutes API may be busy, try again") from e
        except httpx.TransportError as e:
            raise ChutesAPIError(f"{what}: cannot reach {url} ({type(e).__name__}: {e}); check your connection "
                                 "or CHUTES_API_URL") from e
        self._raise_for(r, what)
        return r

    def _raise_for(self, r: httpx.Response, what: str) -> None:
        if r.status_code < 400:
            return
        detail = _detail(r)
        if r.status_code == 401:
            raise ChutesAPIError(f"{what}: the Chutes API refused CHUTES_API_KEY (HTTP 401: {detail}). "
                                 f"Is it a current key of your account? {KEY_HELP}", 401)
        if r.status_code == 403:
            raise ChutesAPIError(f"{what}: not allowed (HTTP 403: {detail}). Turbo Vision needs a developer-enabled "
                                 "Chutes account and an admin key: ask Chutes to enable developer deployments for "
                                 f"your user, then {KEY_HELP}", 403)
        if r.status_code == 404:
            raise ChuteNotFound(f"{what}: not found (HTTP 404: {detail})", 404)
        if r.status_code == 409:
            raise ChutesAPIError(f"{what}: conflict (HTTP 409: {detail})", 409)
        if r.status_code == 429:
            after = retry_after_seconds(r.headers.get("Retry-After"))
            raise RateLimited(f"{what}: rate limited by the Chutes API (HTTP 429); wait "
                              f"{'a minute' if after is None else f'{after:.0f} s'} and try again", after)
        raise ChutesAPIError(f"{what}: HTTP {r.status_code}: {detail}", r.status_code)

    # --- chutes and images -----------------------------------------------------------------------

    def list_chutes(self, name: str | None = None, limit: int = 100, page: int = 0) -> list[dict[str, Any]]:
        params = {"limit": str(limit), "page": str(page), "include_public": "false"}
        if name:
            params["name"] = name
        data = self.request("GET", "/chutes/", "listing your chutes", params=params).json()
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ChutesAPIError(f"listing your chutes: unexpected answer {str(data)[:200]}")
        return items

    def get_chute(self, name_or_id: str) -> dict[str, Any]:
        return self.request("GET", f"/chutes/{name_or_id}", f"chute {name_or_id}").json()

    def find_chute(self, name: str) -> dict[str, Any] | None:
        try:
            return self.get_chute(name)
        except ChuteNotFound:
            return None

    def delete_chute(self, chute_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/chutes/{chute_id}", f"deleting chute {chute_id}").json()

    def get_image(self, name_or_id: str) -> dict[str, Any]:
        return self.request("GET", f"/images/{name_or_id}", f"image {name_or_id}").json()

    def delete_image(self, image_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/images/{image_id}", f"deleting image {image_id}").json()

    def chute_code(self, chute_id: str) -> str:
        """A deployed chute's source, as validators read it before hashing it."""
        return self.request("GET", f"/chutes/code/{chute_id}", f"reading the code of chute {chute_id}").text

    # --- secrets and health ------------------------------------------------------------------

    def create_secret(self, purpose: str, key: str, value: Secret) -> str:
        """Attach a secret to a chute (purpose = its id); "created", or "exists" when it already was.

        Upstream chutes_helpers.py:255-291: 200 is success, 409 "already exists" is fine, any
        other answer fails. The value never appears in an error (it is masked out of them).
        """
        body = {"purpose": purpose, "key": key, "value": value.reveal()}
        try:
            self.request("POST", "/secrets/", f"setting the {key} secret of chute {purpose}", json=body)
        except ChutesAPIError as e:
            message = str(e).replace(value.reveal(), "***")
            if e.status == 409 and "already exists" in message.lower():
                return "exists"
            raise ChutesAPIError(message, e.status) from None
        return "created"

    def health(self, base_url: str, attempts: int = 30, delay: float = 10.0,
               sleep=time.sleep) -> dict[str, Any]:
        """POST {base_url}/health until it answers {"status": "healthy"}: the chute loaded the miner.

        Upstream chutes_helpers.py:294-334 (30 attempts, 10 s apart, JSON body {}, Bearer key).
        Raises ChutesAPIError with the last answer when it never does.
        """
        url = base_url.rstrip("/") + "/health"
        last = "no answer"
        for attempt in range(1, attempts + 1):
            try:
                r = self._client.post(url, json={}, timeout=30.0)
                if r.status_code == 200:
                    data = r.json()
                    if isinstance(data, dict) and data.get("status") == "healthy":
                        return data
                    last = str(data.get("status") if isinstance(data, dict) else data)[:300]
                else:
                    last = f"HTTP {r.status_code}: {_detail(r)}"
            except (httpx.HTTPError, ValueError) as e:
                last = f"{type(e).__name__}: {e}"
            log.info("waiting for %s (%d/%d): %s", url, attempt, attempts, last)
            if attempt < attempts:
                sleep(delay)
        raise ChutesAPIError(f"{url} never answered healthy in {attempts} tries: {last}")

    # --- streams -----------------------------------------------------------------------------

    def _events(self, path: str, what: str, params: dict[str, str] | None, seconds: float) -> Iterator[dict]:
        """Server-sent events (`data: {json}` lines) for at most `seconds`, or until the stream ends."""
        deadline = time.monotonic() + seconds
        url = f"{self.base_url}{path}"
        try:
            with self._client.stream("GET", path, params=params,
                                     timeout=httpx.Timeout(max(1.0, seconds), connect=10.0)) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise_for(r, what)
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        payload = line[5:].strip()
                        if payload:
                            try:
                                yield json.loads(payload)
                            except ValueError:
                                yield {"log": payload}
                    if time.monotonic() > deadline:
                        return
        except httpx.ReadTimeout:
            return  # quiet stream: the time we were given is up
        except httpx.TransportError as e:
            raise ChutesAPIError(f"{what}: cannot reach {url} ({type(e).__name__}: {e})") from e

    def warmup(self, name_or_id: str, seconds: float = 300.0) -> Iterator[dict]:
        """The warmup stream: events {status: cold|warming|hot, log}."""
        return self._events(f"/chutes/warmup/{name_or_id}", f"warming up {name_or_id}", None, seconds)

    def warm_until_hot(self, name_or_id: str, seconds: float = 900.0, echo=None) -> str:
        """Follow the warmup stream until the chute is hot; its last status ("hot" when it got there).

        The stream is asked again when it ends early (the API closes it after a while), until
        `seconds` have passed.
        """
        deadline = time.monotonic() + seconds
        status = "unknown"
        while time.monotonic() < deadline:
            seen = False
            for event in self.warmup(name_or_id, seconds=max(1.0, deadline - time.monotonic())):
                seen = True
                status = str(event.get("status", status))
                if echo:
                    echo(f"[{status}] {event.get('log', '')}".rstrip())
                if status == "hot":
                    return status
            if not seen:
                break
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))  # the stream ended early: ask again
        return status

    def instance_logs(self, instance_id: str, backfill: int = 100, seconds: float = 10.0) -> Iterator[str]:
        """An instance's log lines: the last `backfill`, then whatever comes within `seconds`."""
        for event in self._events(f"/instances/{instance_id}/logs", f"logs of instance {instance_id}",
                                  {"backfill": str(backfill)}, seconds):
            text = event.get("log")
            if isinstance(text, str) and text.strip():
                yield text.rstrip("\n")
