"""The CRM over HTTP, with the local mirror (`crm_case`, `crm_note`) kept in step.

The Pending Queue stays a local table fed by the CRM's case feed (app/services/requests/crm_feed.py), so the queue
pages work without calling the CRM; what a request does to its case is told to the CRM here and mirrored locally in
the same transaction as the service task (a rolled-back task is retried with the same Idempotency-Key, and the CRM
answers the repeat with its first answer). A case logged in Request Fulfillment (not fed by the CRM) is first made
known to the CRM with `PUT /cases/{case_id}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.adapters.http.transport import HttpTransport, expect_text, segment
from app.store.models import CrmCase, CrmNote
from handlers.base import HandlerError, InvalidParams


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class HttpCrm:
    def __init__(self, transport: HttpTransport, session: Session, now: datetime) -> None:
        self.transport, self.session, self.now = transport, session, now

    def _case(self, case_id: str) -> CrmCase:
        case = self.session.scalars(select(CrmCase).where(CrmCase.case_number == case_id)).one_or_none()
        if case is None:
            raise InvalidParams(f"CRM case {case_id} is not known to Request Fulfillment")
        return case

    def _path(self, case_id: str, action: str = "") -> str:
        return f"/cases/{segment(case_id)}" + (f"/{action}" if action else "")

    def _register(self, case: CrmCase) -> None:
        """Tell the CRM about a case logged here, once (PUT is create-or-same on the CRM's side)."""
        if case.origin == "crm" or case.registered_at is not None:
            return
        number = case.case_number or ""
        self.transport.put(self._path(number), {
            "case_id": number, "subject": case.subject, "description": case.description, "agency": case.agency,
            "requester_name": case.requester_name, "requester_email": case.requester_email,
            "provider_group": case.provider_group, "opened_at": _iso(case.opened_at),
            "origin": "request_fulfillment"}, f"register-{number}")
        case.registered_at = self.now

    def take_case(self, case_id: str, request_number: str, provider_group: str, key: str) -> dict[str, Any]:
        case = self._case(case_id)
        if case.status == "closed":
            raise HandlerError(f"CRM case {case_id} is already closed")
        if case.request_number not in (None, request_number):
            raise HandlerError(f"CRM case {case_id} is already taken by request {case.request_number}")
        self._register(case)
        self.transport.post(self._path(case_id, "take"),
                            {"request_number": request_number, "provider_group": provider_group}, key)
        case.status, case.request_number, case.provider_group = "in_progress", request_number, provider_group
        return {"case_id": case_id, "status": case.status}

    def add_note(self, case_id: str, note: str, key: str) -> dict[str, Any]:
        case = self._case(case_id)
        self._register(case)
        answer = self.transport.post(self._path(case_id, "notes"), {"note": note}, key)
        note_id = expect_text(answer, "note_id", self.transport.endpoint, f"POST {self._path(case_id, 'notes')}")
        if self.session.scalars(select(CrmNote).where(CrmNote.idempotency_key == key)).one_or_none() is None:
            self.session.add(CrmNote(case_id=case.id, note=note, idempotency_key=key, created_at=self.now))
            self.session.flush()
        return {"case_id": case_id, "note_id": note_id}

    def close_case(self, case_id: str, resolution: str, resolution_code: str, now: datetime,
                   key: str) -> dict[str, Any]:
        case = self._case(case_id)
        if case.status != "closed":
            if case.cancelled_in_crm_at is None:  # a case the CRM cancelled is not closed there again
                self._register(case)
                self.transport.post(self._path(case_id, "close"), {
                    "resolution": resolution, "resolution_code": resolution_code, "closed_at": now.isoformat()}, key)
            case.status, case.resolution, case.resolution_code, case.closed_at = (
                "closed", resolution, resolution_code, now)
        return {"case_id": case_id, "status": case.status, "closed_at": _iso(case.closed_at)}
