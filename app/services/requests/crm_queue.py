"""Intake as staff see it: logging a request for a group, the CRM Pending Queue and pulling a case into a request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.domain.permissions import CRM_PULLERS, Identity, may_log_requests, may_pull_crm
from app.domain.vocabulary import REQUEST_TYPES
from app.errors import FieldError, Forbidden, InvalidData, NotFound
from app.services.context import Context
from app.services.requests import intake
from app.store.models import CrmCase, ServiceRequest
from handlers.base import one_line


def new_request_as(services: Context, identity: Identity, request_type: str, data: dict[str, Any], *,
                   schedule: bool = False) -> ServiceRequest:
    """`schedule`: a routine enhancement request waits on the 60 day schedule (see intake.new_request)."""
    group = str(data.get("provider_group", ""))
    if group and not may_log_requests(identity, group):
        raise Forbidden(f"only a manager or CAR of {group} can log requests for it")
    return intake.new_request(services, request_type, data, identity.username, schedule=schedule)


def pending_cases(services: Context, identity: Identity) -> list[dict[str, Any]]:
    """The cases waiting in the CRM Pending Queue for the groups `identity` manages (oldest first); Forbidden for
    anyone who manages no group."""
    if not may_pull_crm(identity):
        raise Forbidden("the CRM Pending Queue is worked by provider group managers")
    groups = sorted({group for role in CRM_PULLERS for group in identity.groups_with(role)})
    with services.uow() as uow:
        cases = uow.session.scalars(select(CrmCase).where(
            CrmCase.status == "pending", CrmCase.request_number.is_(None), CrmCase.provider_group.in_(groups))
            .order_by(CrmCase.opened_at))
        return [{"case": c.case_number, "subject": c.subject, "agency": c.agency, "requester": c.requester_name,
                 "email": c.requester_email, "group": c.provider_group, "opened_at": c.opened_at,
                 "description": c.description} for c in cases]


def pull_case(services: Context, identity: Identity, case_number: str, priority: str,
              as_type: str = "assistance") -> ServiceRequest:
    """Log a request from a pending case. `as_type` "enhancement": the case is a Request for Change, which waits on
    the group's 60 day schedule until a service provider pulls it (see intake.new_request); else an assistance
    request, started at once."""
    if as_type not in REQUEST_TYPES:
        raise InvalidData("unknown request type", [FieldError("type", f"{as_type!r}: use assistance or enhancement")])
    with services.uow() as uow:
        case = uow.session.scalars(select(CrmCase).where(CrmCase.case_number == case_number)).one_or_none()
        if case is None:
            raise NotFound(f"no CRM case {case_number}")
        if not may_pull_crm(identity, case.provider_group):
            raise Forbidden(f"only a manager of {case.provider_group} can pull this case")
        # A case comes from the CRM as it is: its one-line fields are made one line (runs of white space and
        # control characters become a space) rather than refusing a case the manager cannot edit here.
        data = {"title": one_line(case.subject, 300), "description": case.description,
                "agency": one_line(case.agency, 200), "requester_name": one_line(case.requester_name, 200),
                "requester_email": case.requester_email.strip(),
                "provider_group": case.provider_group, "priority": priority, "crm_case_id": case.case_number}
    if as_type == "enhancement":
        return intake.new_request(services, "enhancement", {**data, "routine": True}, identity.username, schedule=True)
    return intake.new_request(services, "assistance", data, identity.username)
