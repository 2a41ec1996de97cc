"""Intake as staff see it: the CRM Pending Queue, pulling a case into a request, and the 60 day schedule
(built in app/services/reports/schedule.py, re-exported here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.bootstrap import Services
from app.errors import Forbidden, NotFound
from app.services.admin.auth import Identity
from app.services.reports.schedule import Schedule, ScheduleRow, schedule
from app.services.requests import intake
from app.store.models import CrmCase, ServiceRequest

__all__ = ["Schedule", "ScheduleRow", "may_log", "new_request_as", "pending_cases", "pull_case", "schedule"]


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
