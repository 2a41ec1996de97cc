"""A real local webhook receiver: a threaded HTTP server that checks every signature with
`app.domain.signatures.verify`, counts deliveries per event id, and can be told to answer with an error, to be slow,
or to hold a request until the test lets it go."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from app.domain.signatures import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadSignature,
    verify,
)


@dataclass
class Received:
    event_id: str
    event_type: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str


@dataclass
class Receiver:
    """What the server received, and how it answers. `secrets` (the subscriptions' secrets; a message signed with any
    of them passes) must be set before the first delivery; `now` is the clock the signature's timestamp is checked
    against (the test's clock)."""

    port: int = 0
    secrets: list[str] = field(default_factory=list)
    now: Callable[[], datetime] | None = None
    statuses: list[int] = field(default_factory=list)  # the next answers, in order; 200 once they run out
    delay: float = 0.0  # seconds to wait before answering
    hold_at: int | None = None  # hold the n-th request (1-based) until `release` is set
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    bad_signatures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held_event_id: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(r.event_id for r in self.received)

    def of_type(self, event_type: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.event_type == event_type]

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"only {len(self.received)} of {count} deliveries arrived"
            time.sleep(0.01)

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        length = int(handler.headers.get("Content-Length", "0"))
        raw = handler.rfile.read(length)
        headers = {k: v for k, v in handler.headers.items()}
        problems = []
        assert self.now is not None
        for secret in self.secrets:
            try:
                verify(secret, handler.headers.get(TIMESTAMP_HEADER), handler.headers.get(SIGNATURE_HEADER), raw,
                       self.now())
                break
            except BadSignature as err:
                problems.append(str(err))
        else:
            with self.lock:
                self.bad_signatures.append("; ".join(problems) or "no secret to check with")
            return 401, b"bad signature"
        body = json.loads(raw)
        assert headers.get(EVENT_ID_HEADER) == body["id"] and headers.get(EVENT_TYPE_HEADER) == body["type"]
        with self.lock:
            self.received.append(Received(body["id"], body["type"], body, headers, handler.path))
            number = len(self.received)
            status = self.statuses.pop(0) if self.statuses else 200
        if self.hold_at is not None and number == self.hold_at:
            self.held_event_id = body["id"]
            self.held.set()
            self.release.wait(60)
        if self.delay:
            time.sleep(self.delay)
        return status, json.dumps({"received": body["id"], "status": status}).encode()


@contextmanager
def serving() -> Iterator[Receiver]:
    """A receiver listening on a free local port until the block ends (the `receiver` fixture in conftest)."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            status, reply = state.handle(self)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:
                pass  # the worker went away (timed out, or was killed) while we held its request

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
