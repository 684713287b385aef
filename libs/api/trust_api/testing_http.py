"""A real local HTTP server for testing API clients: scripted replies, optional proxying, request log.

Plugins that talk to remote APIs test against it instead of mocking their client library: the real client
(``openai``, ``google-genai``, ``urllib``) sends real requests to ``127.0.0.1``. Replies pushed with
:meth:`ScriptedServer.push` are served in order (a 429 with ``Retry-After``, a 500, a slow reply, malformed
JSON); when none is queued, the server forwards the request to ``upstream`` (e.g. a llama.cpp server) or
answers with ``default``. Every request is recorded, and the largest number in flight at once is tracked.

    with ScriptedServer(upstream="http://127.0.0.1:8080") as server:
        server.push(Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}))
        ... point the client at server.url + "/v1" ...
        assert len(server.requests) == 2
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host", "accept-encoding"})


@dataclass(frozen=True)
class Reply:
    """One scripted reply: status, body (bytes, str, or JSON-serialisable), headers, and a delay before it."""

    status: int = 200
    body: Any = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> bytes:
        """The body as bytes (JSON-encoded unless already bytes or str)."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


@dataclass(frozen=True)
class Recorded:
    """A request the server received (header names in lower case)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


Responder = Callable[[Recorded], Reply]


class ScriptedServer:
    """A threaded HTTP server on ``127.0.0.1`` (a free port) serving scripted replies; a context manager."""

    def __init__(self, upstream: str | None = None, default: Reply | Responder | None = None) -> None:
        self.upstream = upstream.rstrip("/") if upstream else None
        self.default = default
        self.requests: list[Recorded] = []
        self.max_in_flight = 0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def push(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self._queue.extend(replies)

    def clear(self) -> None:
        """Forget queued replies and recorded requests."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.max_in_flight = 0

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ serving

    def _reply_for(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            scripted = self._queue.popleft() if self._queue else None
        if scripted is not None:
            return scripted
        if self.upstream:
            return self._forward(request)
        if callable(self.default):
            return self.default(request)
        return self.default or Reply(404, {"error": {"message": "nothing scripted"}})

    def _forward(self, request: Recorded) -> Reply:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        forwarded = urllib.request.Request(
            f"{self.upstream}{request.path}", data=request.body or None, headers=headers, method=request.method
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=600) as response:
                return Reply(response.status, response.read(), _kept(response.headers))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(), _kept(error.headers))

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = Recorded(self.command, self.path, headers, body)
                server._enter()
                try:
                    reply = server._reply_for(request)
                    if reply.delay:
                        time.sleep(reply.delay)
                    payload = reply.payload()
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **dict(reply.headers)}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    pass
                finally:
                    server._leave()

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _kept(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
