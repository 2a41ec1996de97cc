"""The Agency Services Database: which services each agency receives."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.base import HandlerContext, InvalidParams, require_text


def start_service(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Discovery found a new service: open its ASD entry as proposed."""
    entry = {
        "agency": require_text(params, "agency"),
        "request_number": require_text(params, "request_number"),
        "service_name": require_text(params, "service_name"),
        "billing_code": None,
        "status": "proposed",
        "live_date": None,
    }
    return ctx.clients.asd.record_service(entry, ctx.idempotency_key)


def update_service(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """The service is live: record it (with its billing code) against the agency."""
    raw = require_text(params, "service_live_date", 10)
    try:
        live = date.fromisoformat(raw)
    except ValueError:
        raise InvalidParams(f"service_live_date must be a date, got {raw!r}") from None
    if live > ctx.now.date():
        raise InvalidParams(f"the service goes live on {live}; the ASD is updated only once it is live")
    entry = {
        "agency": require_text(params, "agency"),
        "request_number": require_text(params, "request_number"),
        "service_name": require_text(params, "service_name"),
        "billing_code": require_text(params, "billing_code", 20),
        "status": "live",
        "live_date": live.isoformat(),
    }
    return ctx.clients.asd.record_service(entry, ctx.idempotency_key)
