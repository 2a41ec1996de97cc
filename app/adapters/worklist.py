"""Built-in work list: one entry per enhancement request, revised when its plan changes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import WorkListEntry


class DbWorkList:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now  # the service task's time on the application's clock

    def upsert_entry(self, entry: dict[str, Any], key: str) -> dict[str, Any]:
        row = self.session.scalars(
            select(WorkListEntry).where(WorkListEntry.request_number == entry["request_number"])).one_or_none()
        values = dict(entry, estimated_hours=Decimal(str(entry["estimated_hours"])),
                      planned_start=date.fromisoformat(entry["planned_start"]),
                      planned_finish=date.fromisoformat(entry["planned_finish"]))
        if row is None:
            row = WorkListEntry(**values, last_update_key=key, revision=1, updated_at=self.now)
            self.session.add(row)
        elif row.last_update_key != key:
            for name, value in values.items():
                setattr(row, name, value)
            row.revision += 1
            row.last_update_key, row.updated_at = key, self.now
        self.session.flush()
        return {"entry_id": row.id, "revision": row.revision, "stage": row.stage}
