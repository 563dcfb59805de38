"""A threaded HTTP server on 127.0.0.1 that records every request and can be told to fail."""

from __future__ import annotations

import http.server
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: One sequence shared by every stand-in (and anything else in the test process that takes a number),
#: so the order of calls across servers can be asserted.
_SEQ = itertools.count(1)
_SEQ_LOCK = threading.Lock()


def next_seq() -> int:
    with _SEQ_LOCK:
        return next(_SEQ)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    seq: int = 0
    status: int = 0  # what the stand-in answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    method: str
    pattern: str
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class Reply(Exception):
    """Raised by a route to answer with a status (and JSON body, headers)."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


class StandIn:
    """Subclasses define `routes`: [(method, regex, handler(seen, match) -> (status, body, headers))]."""

    routes: list[tuple[str, str, str]] = []

    def __init__(self):
        self.requests: list[Seen] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _handle(self):
                owner._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> StandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, method: str, pattern: str, status: int, times: int = 1, headers: dict[str, str] | None = None,
             body: Any = None) -> None:
        """The next `times` requests matching METHOD and the path regex get `status`."""
        with self.lock:
            self.faults.append(Fault(method, pattern, status, times, headers or {}, body))

    def seen(self, method: str | None = None, pattern: str | None = None) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method)
                    and (pattern is None or re.search(pattern, r.path))]

    # --- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, h: http.server.BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(h.rfile)
        seen = Seen(h.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in h.headers.items()}, body,
                    next_seq())
        with self.lock:
            self.requests.append(seen)
            fault = next((f for f in self.faults if f.times > 0 and f.method == h.command
                          and re.search(f.pattern, parts.path)), None)
            if fault:
                fault.times -= 1
        if fault:
            seen.status = fault.status
            return self._send(h, fault.status, fault.body if fault.body is not None else {"error": "injected"},
                              fault.headers)
        for method, pattern, name in self.routes:
            m = re.fullmatch(pattern, parts.path)
            if m and (method == h.command or (method == "GET" and h.command == "HEAD")):
                try:
                    out = getattr(self, name)(seen, m)
                except Reply as r:
                    seen.status = r.status
                    return self._send(h, r.status, r.body, r.headers)
                if isinstance(out, Stream):
                    seen.status = 200
                    return self._stream(h, out)
                status, payload, headers = out
                seen.status = status
                return self._send(h, status, payload, headers)
        seen.status = 404
        self._send(h, 404, {"error": f"stand-in: no route for {h.command} {parts.path}"})

    def _send(self, h, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        if isinstance(payload, (bytes, str)):
            data = payload.encode() if isinstance(payload, str) else payload
            headers.setdefault("Content-Type", "text/plain")
        else:
            data = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if "Content-Length" not in headers:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _stream(self, h, stream: Stream) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        for line in stream.lines:
            h.wfile.write(line.encode() + b"\n")
            h.wfile.flush()


@dataclass
class Stream:
    lines: list[str]


def sse(events: list[dict]) -> Stream:
    return Stream([f"data: {json.dumps(e)}\n" for e in events])


def _read_chunked(rfile) -> bytes:
    out = b""
    while True:
        size = int(rfile.readline().strip() or b"0", 16)
        if size == 0:
            rfile.readline()
            return out
        out += rfile.read(size)
        rfile.readline()
