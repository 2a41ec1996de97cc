"""Built-in billing: billing cases handed to the Customer Account Representative."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import BillingCase


class DbBilling:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now  # the service task's time on the application's clock

    def create_case(self, case: dict[str, Any], key: str) -> dict[str, Any]:
        row = self.session.scalars(select(BillingCase).where(BillingCase.idempotency_key == key)).one_or_none()
        if row is None:
            row = BillingCase(
                request_number=case["request_number"], agency=case["agency"],
                billable_hours=Decimal(str(case["billable_hours"])), hourly_rate=Decimal(str(case["hourly_rate"])),
                amount=Decimal(case["amount"]), billing_code=case["billing_code"], idempotency_key=key,
                created_at=self.now)
            self.session.add(row)
            self.session.flush()
            row.case_number = f"BC-{row.id:06d}"
            self.session.flush()
        return {"billing_case": row.case_number, "amount": str(row.amount), "billing_code": row.billing_code}
