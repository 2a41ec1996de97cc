"""Built-in Agency Services Database."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import AsdService


class DbAsd:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now  # the service task's time on the application's clock

    def record_service(self, entry: dict[str, Any], key: str) -> dict[str, Any]:
        row = self.session.scalars(select(AsdService).where(AsdService.idempotency_key == key)).one_or_none()
        if row is None:
            live = date.fromisoformat(entry["live_date"]) if entry.get("live_date") else None
            row = AsdService(agency=entry["agency"], service_name=entry["service_name"],
                             request_number=entry["request_number"], billing_code=entry.get("billing_code"),
                             status=entry["status"], live_date=live, idempotency_key=key,
                             updated_at=self.now)
            self.session.add(row)
            self.session.flush()
        return {"asd_entry": row.id, "status": row.status,
                "live_date": row.live_date.isoformat() if row.live_date else None}
