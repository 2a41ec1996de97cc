"""Billing over HTTP: `POST {billing}/cases` opens the billing case; a local copy (`billing_case`) keeps the
request page and the billing report working."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.adapters.http.transport import HttpTransport, expect_text
from app.store.models import BillingCase
from handlers.base import HandlerError, Refused


class HttpBilling:
    def __init__(self, transport: HttpTransport, session: Session, now: datetime) -> None:
        self.transport, self.session, self.now = transport, session, now

    def create_case(self, case: dict[str, Any], key: str) -> dict[str, Any]:
        row = self.session.scalars(select(BillingCase).where(BillingCase.idempotency_key == key)).one_or_none()
        if row is None:
            answer = self.transport.post("/cases", case, key)
            number = expect_text(answer, "case_number", self.transport.endpoint, "POST /cases")
            sent = Decimal(case["amount"])
            try:
                billed = Decimal(str(answer.get("amount", case["amount"])))
            except InvalidOperation:
                raise HandlerError(f"billing answered POST /cases with amount {answer.get('amount')!r}, "
                                   "not a number") from None
            if billed != sent:
                raise Refused(f"billing case {number} was opened for {billed}, not the {sent} sent: "
                              "check it in the billing system")
            row = BillingCase(
                case_number=number, request_number=case["request_number"], agency=case["agency"],
                billable_hours=Decimal(str(case["billable_hours"])), hourly_rate=Decimal(str(case["hourly_rate"])),
                amount=sent, billing_code=case["billing_code"], idempotency_key=key, created_at=self.now)
            self.session.add(row)
            self.session.flush()
        return {"billing_case": row.case_number, "amount": str(row.amount), "billing_code": row.billing_code}
