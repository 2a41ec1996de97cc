"""A fake CRM, billing system and Agency Services Database: one real local HTTP server (werkzeug, threaded) speaking
the JSON of docs/crm-integration.md, for tests that run the HTTP adapters over real transports.

It records every request it receives (method, path, headers, JSON), checks each system's bearer token, dedupes on
`Idempotency-Key` like a real system (a repeat gets the first answer and has no second effect; the same key with a
different request is a 422), and takes scripted faults: answer a status N times (500 then recover, or a 4xx refusal),
or answer too late (after the client's timeout) N times. A slow answer still has its effect first, as a real system
that finished its work after the caller gave up would, so a retry must be deduped to have exactly one effect.

Use the `external` fixture (one server per test session, reset before each test) and `http_settings(settings,
external)` to point the app at it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.config import Settings

TOKENS = {"crm": "crm-test-token", "billing": "billing-test-token", "asd": "asd-test-token"}
CLIENT_TIMEOUT = 0.5  # the app's RF_HTTP_TIMEOUT_SECONDS in these tests; a "slow" answer takes longer


@dataclass(frozen=True)
class Received:
    system: str
    method: str
    path: str  # below the system's base URL, e.g. /cases/C-1/take
    headers: dict[str, str]  # names lower-cased
    json: Any

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class Fault:
    system: str
    method: str
    path: re.Pattern[str]
    times: int | None  # None: every time
    status: int = 500
    body: Any = None
    delay: float = 0.0  # > 0: answer (normally) after this many seconds

    def matches(self, system: str, method: str, path: str) -> bool:
        return (self.system == system and self.method in (method, "*") and bool(self.path.fullmatch(path))
                and (self.times is None or self.times > 0))


@dataclass
class Effects:
    """What the systems did (one entry per effect, never per request)."""

    crm_cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    takes: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    closes: list[dict[str, Any]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    billing_cases: list[dict[str, Any]] = field(default_factory=list)
    asd_entries: list[dict[str, Any]] = field(default_factory=list)


class ExternalSystems:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.port = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.received: list[Received] = []
            self.effects = Effects()
            self.answers: dict[tuple[str, str], tuple[str, int, Any]] = {}  # (system, key) -> (request, status, body)
            self.faults: list[Fault] = []

    # -- scripting ---------------------------------------------------------------------------------------------------

    def url(self, system: str) -> str:
        return f"http://127.0.0.1:{self.port}/{system}"

    def fail(self, system: str, path: str = ".*", *, status: int = 500, times: int | None = 1, body: Any = None,
             method: str = "*") -> None:
        """Answer `status` (with `body`) `times` times (None: always) to matching calls, without any effect."""
        self.faults.append(Fault(system, method, re.compile(path), times, status,
                                 body if body is not None else {"error": f"scripted {status}"}))

    def slow(self, system: str, path: str = ".*", *, seconds: float = CLIENT_TIMEOUT * 3, times: int | None = 1,
             method: str = "*") -> None:
        """Do the work, then answer only after `seconds` (longer than the client waits) `times` times."""
        self.faults.append(Fault(system, method, re.compile(path), times, delay=seconds))

    def add_crm_case(self, case_id: str, **fields: Any) -> None:
        """A case the CRM has (as it would after sending it on its feed)."""
        with self.lock:
            self.effects.crm_cases[case_id] = {"case_id": case_id, "status": "open", "request_number": None, **fields}

    def calls(self, system: str, method: str | None = None, path: str = ".*") -> list[Received]:
        return [r for r in self.received if r.system == system and (method is None or r.method == method)
                and re.fullmatch(path, r.path)]

    # -- the server --------------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.wsgi(Request(environ))(environ, start_response)

    def wsgi(self, request: Request) -> Response:
        system, _, path = request.path.lstrip("/").partition("/")
        path = "/" + path
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in request.headers.items()}
        delay = 0.0
        with self.lock:
            self.received.append(Received(system, request.method, path, headers, body))
            if system not in TOKENS:
                return _json(404, {"error": f"no system {system}"})
            if headers.get("authorization") != f"Bearer {TOKENS[system]}":
                return _json(401, {"error": "missing or wrong bearer token"})
            for fault in self.faults:
                if fault.matches(system, request.method, path):
                    if fault.times is not None:
                        fault.times -= 1
                    if not fault.delay:
                        return _json(fault.status, fault.body)
                    delay = fault.delay
                    break
            key = headers.get("idempotency-key")
            if not key:
                return _json(400, {"error": "Idempotency-Key header is required"})
            fingerprint = json.dumps([request.method, path, body], sort_keys=True)
            if (system, key) in self.answers:
                seen, status, answer = self.answers[(system, key)]
                if seen != fingerprint:
                    return _json(422, {"error": f"Idempotency-Key {key} was used for a different request"})
            else:
                status, answer = self._handle(system, request.method, path, body)
                if status < 500:
                    self.answers[(system, key)] = (fingerprint, status, answer)
        if delay:
            time.sleep(delay)  # the work is done; the caller has given up by now
        return _json(status, answer)

    def _handle(self, system: str, method: str, path: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, {"error": "the body must be a JSON object"}
        fx = self.effects
        if system == "crm":
            match = re.fullmatch(r"/cases/([^/]+)(?:/(take|notes|close))?", path)
            if not match:
                return 404, {"error": f"no route {method} {path}"}
            case_id, action = match.groups()
            case = fx.crm_cases.get(case_id)
            if method == "PUT" and action is None:
                if case is None:
                    fx.crm_cases[case_id] = case = {**body, "status": "open", "request_number": None}
                    fx.registrations.append(body)
                return 200, {"case_id": case_id, "status": case["status"]}
            if method != "POST" or action is None:
                return 405, {"error": f"{method} not allowed on {path}"}
            if case is None:
                return 404, {"error": f"no case {case_id}"}
            if action == "take":
                if case["status"] == "closed":
                    return 409, {"error": f"case {case_id} is closed"}
                if case["request_number"] not in (None, body.get("request_number")):
                    return 409, {"error": f"case {case_id} is taken by {case['request_number']}"}
                case.update(status="in_progress", request_number=body.get("request_number"))
                fx.takes.append({"case_id": case_id, **body})
                return 200, {"case_id": case_id, "status": "in_progress"}
            if action == "notes":
                fx.notes.append({"case_id": case_id, **body})
                return 201, {"case_id": case_id, "note_id": f"N-{len(fx.notes)}"}
            case.update(status="closed", resolution=body.get("resolution"),
                        resolution_code=body.get("resolution_code"))
            fx.closes.append({"case_id": case_id, **body})
            return 200, {"case_id": case_id, "status": "closed", "closed_at": body.get("closed_at")}
        if system == "billing" and (method, path) == ("POST", "/cases"):
            fx.billing_cases.append(body)
            return 201, {"case_number": f"INV-{len(fx.billing_cases):05d}", "amount": body.get("amount"),
                         "status": "open"}
        if system == "asd" and (method, path) == ("POST", "/services"):
            fx.asd_entries.append(body)
            return 201, {"entry_id": f"ASD-{len(fx.asd_entries)}", "status": body.get("status"),
                         "live_date": body.get("live_date")}
        return 404, {"error": f"no route {method} {path}"}


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def http_settings(settings: Settings, external: ExternalSystems, **systems: bool) -> Settings:
    """`settings` pointing the CRM, billing and ASD (or those named True in `systems`) at the fake server."""
    chosen = [name for name in TOKENS if systems.get(name, not systems)]
    values: dict[str, Any] = {"http_timeout_seconds": CLIENT_TIMEOUT}
    for name in chosen:
        values[f"{name}_url"], values[f"{name}_token"] = external.url(name), TOKENS[name]
    return replace(settings, **values)


@pytest.fixture(scope="session")
def external_server() -> Iterator[ExternalSystems]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    systems = ExternalSystems()
    server = make_server("127.0.0.1", 0, systems, threaded=True)
    systems.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, name="external-systems", daemon=True)
    thread.start()
    yield systems
    server.shutdown()
    thread.join(5)


@pytest.fixture
def external(external_server: ExternalSystems) -> ExternalSystems:
    external_server.reset()
    return external_server
