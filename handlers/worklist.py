"""The provider group's work list (the 60 day schedule of enhancement requests)."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.base import HandlerContext, InvalidParams, require_number, require_text


def _date(params: dict[str, Any], name: str) -> str:
    raw = require_text(params, name, 10)
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise InvalidParams(f"parameter {name} must be a date (YYYY-MM-DD), got {raw!r}") from None


def update_entry(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Put the request's work plan and estimates on the work list (one entry per request, revised on change)."""
    start, finish = _date(params, "planned_start"), _date(params, "planned_finish")
    if finish < start:
        raise InvalidParams(f"planned_finish {finish} is before planned_start {start}")
    entry = {
        "request_number": require_text(params, "request_number"),
        "title": require_text(params, "title"),
        "agency": require_text(params, "agency"),
        "provider_group": require_text(params, "provider_group"),
        "work_plan": require_text(params, "work_plan"),
        "estimated_hours": require_number(params, "estimated_hours"),
        "planned_start": start,
        "planned_finish": finish,
    }
    return ctx.clients.worklist.upsert_entry(entry, ctx.idempotency_key)
