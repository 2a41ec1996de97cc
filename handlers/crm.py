"""CRM (the OMES Service Desk case system): take a case from the Pending Queue, note on it, update and close it."""

from __future__ import annotations

from typing import Any

from handlers.base import HandlerContext, require_text

RESOLUTION_CODES = ("resolved", "workaround", "information_provided", "no_fault_found")


def take_case(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Move the case out of the Pending Queue into work for this request (repeating it changes nothing)."""
    return ctx.clients.crm.take_case(require_text(params, "case_id"), require_text(params, "request_number"),
                                     require_text(params, "provider_group"), ctx.idempotency_key)


def add_note(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    return ctx.clients.crm.add_note(require_text(params, "case_id"), require_text(params, "note"),
                                    ctx.idempotency_key)


def close_case(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    """Record the resolution and close the case; closing is what tells the customer in CRM."""
    code = params.get("resolution_code") or "resolved"
    if code not in RESOLUTION_CODES:
        code = "resolved"
    return ctx.clients.crm.close_case(require_text(params, "case_id"), require_text(params, "resolution"), code,
                                      ctx.stable_now, ctx.idempotency_key)
