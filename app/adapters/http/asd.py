"""The Agency Services Database over HTTP: `POST {asd}/services` records an agency's service (proposed, or live with
its billing code); a local copy (`asd_service`) keeps the request page working."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.adapters.http.transport import HttpTransport, expect_text
from app.store.models import AsdService


class HttpAsd:
    def __init__(self, transport: HttpTransport, session: Session, now: datetime) -> None:
        self.transport, self.session, self.now = transport, session, now

    def record_service(self, entry: dict[str, Any], key: str) -> dict[str, Any]:
        answer = self.transport.post("/services", entry, key)  # a repeat is answered with the first answer
        entry_id = expect_text(answer, "entry_id", self.transport.endpoint, "POST /services")
        row = self.session.scalars(select(AsdService).where(AsdService.idempotency_key == key)).one_or_none()
        if row is None:
            live = date.fromisoformat(entry["live_date"]) if entry.get("live_date") else None
            row = AsdService(agency=entry["agency"], service_name=entry["service_name"],
                             request_number=entry["request_number"], billing_code=entry.get("billing_code"),
                             status=entry["status"], live_date=live, idempotency_key=key, updated_at=self.now)
            self.session.add(row)
            self.session.flush()
        return {"asd_entry": entry_id, "status": row.status,
                "live_date": row.live_date.isoformat() if row.live_date else None}
