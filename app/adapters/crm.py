"""Built-in CRM: cases live in the project's database (crm_case, crm_note)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import CrmCase, CrmNote
from handlers.base import HandlerError, InvalidParams


def case_number(case_id: int) -> str:
    return f"CRM-{case_id:06d}"


class DbCrm:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now  # the service task's time on the application's clock

    def _case(self, number: str) -> CrmCase:
        case = self.session.scalars(select(CrmCase).where(CrmCase.case_number == number)).one_or_none()
        if case is None:
            raise InvalidParams(f"CRM case {number} does not exist")
        return case

    def take_case(self, case_id: str, request_number: str, provider_group: str, key: str) -> dict[str, Any]:
        case = self._case(case_id)
        if case.status == "closed":
            raise HandlerError(f"CRM case {case_id} is already closed")
        if case.request_number not in (None, request_number):
            raise HandlerError(f"CRM case {case_id} is already taken by request {case.request_number}")
        case.status, case.request_number, case.provider_group = "in_progress", request_number, provider_group
        return {"case_id": case_id, "status": case.status}

    def add_note(self, case_id: str, note: str, key: str) -> dict[str, Any]:
        case = self._case(case_id)
        existing = self.session.scalars(select(CrmNote).where(CrmNote.idempotency_key == key)).one_or_none()
        if existing is None:
            existing = CrmNote(case_id=case.id, note=note, idempotency_key=key, created_at=self.now)
            self.session.add(existing)
            self.session.flush()
        return {"case_id": case_id, "note_id": existing.id}

    def close_case(self, case_id: str, resolution: str, resolution_code: str, now: datetime,
                   key: str) -> dict[str, Any]:
        case = self._case(case_id)
        if case.status != "closed":
            case.status, case.resolution, case.resolution_code, case.closed_at = (
                "closed", resolution, resolution_code, now)
        return {"case_id": case_id, "status": case.status, "closed_at": case.closed_at.isoformat()
                if case.closed_at else None}
