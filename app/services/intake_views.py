"""Intake as staff see it: the CRM Pending Queue, pulling a case into a request, and the 60 day schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from app.bootstrap import Services
from app.errors import Forbidden, NotFound
from app.models import CrmCase, ServiceRequest, TaskRow, WorkListEntry
from app.services import intake
from app.services.auth import Identity


def may_log(identity: Identity, group: str) -> bool:
    return identity.has_role("manager", group) or identity.has_role("car", group)


def new_request_as(services: Services, identity: Identity, request_type: str, data: dict[str, Any]) -> ServiceRequest:
    group = str(data.get("provider_group", ""))
    if group and not may_log(identity, group):
        raise Forbidden(f"only a manager or CAR of {group} can log requests for it")
    return intake.new_request(services, request_type, data, identity.username)


def pending_cases(services: Services, identity: Identity) -> list[dict[str, Any]]:
    groups = identity.groups_with("manager")
    with services.uow() as uow:
        cases = uow.session.scalars(select(CrmCase).where(
            CrmCase.status == "pending", CrmCase.request_number.is_(None), CrmCase.provider_group.in_(groups))
            .order_by(CrmCase.opened_at))
        return [{"case": c.case_number, "subject": c.subject, "agency": c.agency, "requester": c.requester_name,
                 "email": c.requester_email, "group": c.provider_group, "opened_at": c.opened_at,
                 "description": c.description} for c in cases]


def pull_case(services: Services, identity: Identity, case_number: str, priority: str) -> ServiceRequest:
    with services.uow() as uow:
        case = uow.session.scalars(select(CrmCase).where(CrmCase.case_number == case_number)).one_or_none()
        if case is None:
            raise NotFound(f"no CRM case {case_number}")
        if not identity.has_role("manager", case.provider_group):
            raise Forbidden(f"only a manager of {case.provider_group} can pull this case")
        data = {"title": case.subject, "description": case.description, "agency": case.agency,
                "requester_name": case.requester_name, "requester_email": case.requester_email,
                "provider_group": case.provider_group, "priority": priority, "crm_case_id": case.case_number}
    return intake.new_request(services, "assistance", data, identity.username)


@dataclass
class ScheduleRow:
    number: str
    title: str
    agency: str
    group: str
    status: str
    stage: str
    planned_start: date | None
    planned_finish: date | None
    offset_days: int
    span_days: int
    late: bool


def schedule(services: Services, identity: Identity, start: date, days: int = 60) -> list[ScheduleRow]:
    """Enhancement requests of the user's groups (all groups for auditors/owners) on the next `days` days."""
    end = start + timedelta(days=days)
    everything = identity.has_role("auditor") or identity.has_role("process_owner") or identity.has_role("admin")
    groups = sorted({g for _, g in identity.grants if g})
    with services.uow() as uow:
        s = uow.session
        query = select(ServiceRequest).where(ServiceRequest.request_type == "enhancement")
        requests = [r for r in s.scalars(query) if everything or r.provider_group.code in groups]
        entries = {e.request_number: e for e in s.scalars(select(WorkListEntry))}
        stages = {t.request_id: t.name for t in s.scalars(select(TaskRow).where(TaskRow.status == "open"))}
        rows = []
        for r in requests:
            entry = entries.get(r.number or "")
            ps, pf = (entry.planned_start, entry.planned_finish) if entry else (None, None)
            if pf and (pf < start or (ps and ps > end)) and r.status == "closed":
                continue
            offset = max(0, (ps - start).days) if ps else 0
            span = max(1, (min(pf, end) - max(ps, start)).days + 1) if ps and pf else 0
            late = bool(pf and r.status != "closed" and pf < start)
            stage = "closed" if r.status == "closed" else stages.get(r.id, "in the worker")
            rows.append(ScheduleRow(r.number or "", r.title, r.agency, r.provider_group.code, r.status, stage, ps, pf,
                                    offset, span, late))
        rows.sort(key=lambda row: (row.planned_start or end, row.number))
        return rows
