"""Billing cases for chargeable work: amount = billable hours x hourly rate, under a parts-list billing code."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from handlers.base import HandlerContext, InvalidParams, require_number, require_text

BILLING_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")


def billing_amount(hours: float, rate: float) -> Decimal:
    return (Decimal(str(hours)) * Decimal(str(rate))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def create_case(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    hours = require_number(params, "billable_hours")
    rate = require_number(params, "hourly_rate")
    code = require_text(params, "billing_code", 20)
    if not BILLING_CODE.match(code):
        raise InvalidParams(f"billing code {code!r} is not a parts-list code such as PS-628")
    case = {
        "request_number": require_text(params, "request_number"),
        "agency": require_text(params, "agency"),
        "billable_hours": hours,
        "hourly_rate": rate,
        "amount": str(billing_amount(hours, rate)),
        "billing_code": code,
    }
    return ctx.clients.billing.create_case(case, ctx.idempotency_key)
