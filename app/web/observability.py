"""Each request's id, access log line and latency; the readiness probe and the Prometheus metrics.

* `Server-Timing: app;dur=<ms>` on every response: the server's own time for the request (from the first hook to
  the response being handed back, without the network), which browsers' developer tools and `bench/` read.
* Request id: a sane `X-Request-Id` from the caller (1-64 letters, digits, `._:+=@/-`), else a new one; echoed in the
  response's `X-Request-Id`, on every log line of the request, and stored on the service jobs the request makes ready
  (the worker's log lines for those jobs carry it).
* One `rf.http` log line per request: method, path, status, duration_ms, user (DEBUG for the probes /health, /ready
  and /metrics, INFO otherwise), and `rf_http_request_duration_seconds{endpoint,method,status}`.
* `/health`: liveness, the process answers (no database). `/ready`: 200 when the database answers and its schema is
  at the migrations' head, else 503 with the reason (JSON).
* `/metrics`: Prometheus text. With RF_METRICS_TOKEN set, only `Authorization: Bearer <token>` may read it (401
  otherwise); without it, only a client on the loopback address (behind a reverse proxy, the proxy's client, once
  RF_TRUSTED_PROXIES says how many proxies to trust) (403 otherwise).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import time
from typing import Any

from flask import Blueprint, Flask, Response, abort, g, request

from app.bootstrap import Services
from app.observability import logs, metrics, request_id
from app.services import monitoring
from app.web.context import services

bp = Blueprint("ops", __name__)
log = logs.logger("http")
PROBES = {"pages.health", "ops.ready", "ops.metrics"}


def install(app: Flask, found: Services) -> None:
    """Before every other hook: the request id and the clock; after: the response header, the log line, the metric."""
    app.extensions["rf_metrics_collector"] = metrics.DatabaseCollector(lambda: monitoring.snapshot(found))
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)
    app.register_blueprint(bp)


def _begin() -> None:
    g.rf_started = time.monotonic()
    g.request_id = request_id.sane(request.headers.get(request_id.HEADER)) or request_id.new()
    g.rf_request_id_token = request_id.begin(g.request_id)


def _finish(response: Response) -> Response:
    rid = g.get("request_id") or request_id.new()
    response.headers[request_id.HEADER] = rid
    seconds = time.monotonic() - g.get("rf_started", time.monotonic())
    response.headers["Server-Timing"] = f"app;dur={seconds * 1000:.2f}"
    endpoint = request.endpoint or "unmatched"
    metrics.HTTP_REQUEST_DURATION.labels(endpoint, request.method, str(response.status_code)).observe(seconds)
    who = g.get("identity")
    log.log(logging.DEBUG if endpoint in PROBES else logging.INFO, "%s %s %s", request.method, request.path,
            response.status_code,
            extra={"request_id": rid, "method": request.method, "path": request.path, "status": response.status_code,
                   "duration_ms": round(seconds * 1000, 1), "user": who.username if who else None})
    return response


def _end(_error: BaseException | None = None) -> None:
    token = g.pop("rf_request_id_token", None)
    if token is not None:
        with contextlib.suppress(ValueError):  # set in another context (never in one WSGI call): nothing to undo
            request_id.end(token)


@bp.get("/ready")
def ready() -> tuple[dict[str, Any], int]:
    found = monitoring.readiness(services())
    body: dict[str, Any] = {"status": "ready" if found.ready else "not ready", "schema": found.schema,
                            "expected_schema": found.expected}
    if not found.ready:
        body["reason"] = found.reason
    return body, 200 if found.ready else 503


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@bp.get("/metrics", endpoint="metrics")
def metrics_page() -> Response:
    token = services().settings.metrics_token
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
            return Response("send Authorization: Bearer <RF_METRICS_TOKEN>\n", 401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    elif not _loopback(request.remote_addr):
        abort(403, description="/metrics answers the loopback address only; set RF_METRICS_TOKEN to scrape it "
                               "from elsewhere")
    from flask import current_app

    body = metrics.render(current_app.extensions["rf_metrics_collector"])
    return Response(body, 200, mimetype=None, content_type=metrics.CONTENT_TYPE,
                    headers={"Cache-Control": "no-store"})
