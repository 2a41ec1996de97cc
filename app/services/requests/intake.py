"""Request intake: validate, record the request (and its CRM case), start its process instance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jsonschema.exceptions import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from app import engine
from app.adapters.crm import case_number
from app.domain.form_rules import form_validator
from app.domain.input_limits import MAX_JSON_DEPTH, json_depth
from app.domain.vocabulary import REQUEST_SCHEMA, REQUEST_TYPES
from app.errors import FieldError, InvalidData
from app.services.context import Context
from app.services.definitions import version_cache
from app.services.requests import projection, schedule_wait, sla_clock
from app.services.requests import sla_targets as sla
from app.store import audit, reference_cache, search_index
from app.store.db import table_of
from app.store.models import CrmCase, ProviderGroup, ServiceRequest

MAIN_PROCESS = "request_fulfillment"

def _control_characters(data: Any, path: str = "") -> list[FieldError]:
    """NUL and other C0 controls (except tab and newlines) are refused: no database stores NUL in text."""
    found: list[FieldError] = []
    if isinstance(data, str):
        if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in data):
            found.append(FieldError(path or "(data)", "contains a control character (such as NUL)"))
    elif isinstance(data, dict):
        for key, value in data.items():
            found += _control_characters(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _control_characters(value, f"{path}.{index}")
    return found


def validate(schema: dict[str, Any], data: Any, what: str, today: date | None = None, *,
             schema_checked: bool = False) -> None:
    """Validate like every form: JSON Schema 2020-12 with formats, plus the rules of app.domain.form_rules
    (cross-field comparisons, single-line fields, exact multipleOf); `today` decides "today" comparisons.
    `schema_checked`: that validator already ran on `data` (the web form's reader); only depth and control
    characters are checked here."""
    if json_depth(data) > MAX_JSON_DEPTH:  # before anything walks it recursively
        raise InvalidData(f"{what} is not valid", [FieldError("(data)", f"nested more than {MAX_JSON_DEPTH} levels")])
    control = _control_characters(data)
    if control:
        raise InvalidData(f"{what} is not valid", control)
    if schema_checked:
        return
    errors = sorted(form_validator(schema, today).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise InvalidData(f"{what} is not valid", [
            FieldError(".".join(str(p) for p in e.absolute_path) or (e.validator == "required" and
                       str(e.message).split("'")[1]) or "(data)", _message(e)) for e in errors])


def _message(error: ValidationError) -> str:
    """The validator's message, or the schema's own "x-message" for a pattern (such as "Must not be blank.")."""
    hint = error.schema.get("x-message") if error.validator == "pattern" and isinstance(error.schema, dict) else None
    return str(hint) if isinstance(hint, str) else error.message


def _due(session: Session, request_type: str, priority: str, data: dict[str, Any], now: datetime) -> datetime:
    """The explicit `sla_due_at`, else the request type's and priority's target on the business calendar."""
    if "sla_due_at" in data:
        try:
            due = datetime.fromisoformat(data["sla_due_at"])
        except ValueError:
            problem = FieldError("sla_due_at", f"{data['sla_due_at']!r} is not an ISO 8601 date-time")
            raise InvalidData("sla_due_at is not a date-time", [problem]) from None
        if due.tzinfo is None:
            raise InvalidData("sla_due_at needs a time zone offset", [FieldError("sla_due_at", "no offset")])
        return due
    return sla.due_at(session, request_type, priority, now)


def _crm_case(session: Session, request_type: str, data: dict[str, Any], group: ProviderGroup,
              now: datetime) -> CrmCase:
    if "crm_case_id" in data:
        case = session.scalars(select(CrmCase).where(CrmCase.case_number == data["crm_case_id"])
                               .with_for_update()).one_or_none()  # not while the CRM's feed changes it
        if case is None:
            raise InvalidData("unknown CRM case", [FieldError("crm_case_id", f"{data['crm_case_id']} does not exist")])
        if case.status != "pending" or case.request_number:
            raise InvalidData("CRM case is not in the Pending Queue",
                              [FieldError("crm_case_id", f"{case.case_number} is {case.status}")])
        return case
    case = CrmCase(agency=data["agency"], requester_name=data["requester_name"],
                   requester_email=data["requester_email"], subject=data["title"],
                   description=data.get("description", ""), provider_group=group.code, opened_at=now)
    session.add(case)  # its number comes from its id, given when it is inserted with the request
    return case


_GROUPS = table_of(ProviderGroup)
_GROUP_BY_CODE = select(_GROUPS.c.id, _GROUPS.c.code, _GROUPS.c.name).where(_GROUPS.c.code == bindparam("code"))


def _provider_group(session: Session, code: str) -> ProviderGroup | None:
    """The group `code` (reference data: its row read once per process and reference generation), as an object of
    this session without a query when it is not loaded yet."""
    row = reference_cache.cached(session, "provider_group", code, lambda: session.execute(
        _GROUP_BY_CODE, {"code": code}).one_or_none())
    if row is None:
        return None
    loaded = session.identity_map.get(identity_key(ProviderGroup, row.id))
    if isinstance(loaded, ProviderGroup):
        return loaded
    group = ProviderGroup(id=row.id, code=row.code, name=row.name)
    make_transient_to_detached(group)
    session.add(group)
    return group


def new_request(services: Context, request_type: str, data: dict[str, Any], actor: str, *,
                schedule: bool = False) -> ServiceRequest:
    """Record a request and start its process. With `schedule`, a routine enhancement request is not started: it
    waits on its group's 60 day schedule (status `scheduled`, planned for this week) until a service provider or
    manager pulls it (app/services/requests/schedule_queue.py). Non-routine requests go to Discovery at once."""
    if request_type not in REQUEST_TYPES:
        raise InvalidData("unknown request type",
                          [FieldError("type", f"{request_type!r}: use assistance or enhancement")])
    now = services.clock.now()
    validate(REQUEST_SCHEMA, data, "request", now.date())
    with services.uow() as uow:
        session = uow.session
        group = _provider_group(session, data["provider_group"])
        if group is None:
            raise InvalidData("unknown provider group", [FieldError("provider_group", data["provider_group"])])
        priority = data.get("priority", "medium")
        routine = bool(data.get("routine", True))
        if request_type == "assistance" and not routine:
            raise InvalidData("assistance requests are routine by definition",
                              [FieldError("routine", "a non-routine request is an enhancement through Discovery")])
        case = _crm_case(session, request_type, data, group, now)
        request = ServiceRequest(
            request_type=request_type, title=data["title"], description=data.get("description", ""),
            agency=data["agency"], requester_name=data["requester_name"], requester_email=data["requester_email"],
            provider_group=group, priority=priority, routine=routine, crm_case_id=case.case_number,
            sla_due_at=_due(session, request_type, priority, data, now), created_by=actor, created_at=now)
        sla_clock.start(session, request)
        session.add(request)
        session.flush()  # the case (when new) and the request inserted: the ids their numbers are made of
        if case.case_number is None:
            case.case_number = request.crm_case_id = case_number(case.id)
        request.number = f"RF-{request.id:06d}"
        case.request_number = request.number  # leaves the Pending Queue now; a second pull is refused
        if request_type == "enhancement":
            case.status = "in_progress"  # worked on the work list; assistance cases are taken by crm.take_case
        search_index.refresh(session, request, new=True)  # searchable in the same transaction
        if schedule and request_type == "enhancement" and routine:
            request.status = "scheduled"
            request.planned_week = schedule_wait.this_week(session, now)
            audit.append(session, actor=actor, event_type="request_scheduled", request_id=request.id, now=now,
                         payload={"request_number": request.number, "planned_week": request.planned_week.isoformat()})
            # as after Discovery: nobody is late while the request waits for its week; the pull starts its process,
            # whose projection resumes the clock
            sla_clock.sync_pause(session, request, True, now, actor, reason=schedule_wait.SCHEDULE_PAUSE_REASON)
        else:
            start_process(session, request, actor, now)
        uow.commit()
        return request


def start_process(session: Session, request: ServiceRequest, actor: str, now: datetime) -> None:
    """Start the request's instance of the main process on its current version (not simply the latest: see
    definitions.current), audited and projected."""
    definition = version_cache.data_of(session, version_cache.current_key(session, MAIN_PROCESS))
    variables = {
        "request_id": request.id, "request_number": request.number, "request_type": request.request_type,
        "routine": request.routine, "title": request.title, "description": request.description,
        "agency": request.agency, "requester_name": request.requester_name,
        "requester_email": request.requester_email, "provider_group": request.provider_group.code,
        "priority": request.priority, "crm_case_id": request.crm_case_id,
        "sla_due_at": request.sla_due_at.isoformat() if request.sla_due_at else None,
    }
    state = engine.start(definition.spec_json, variables, now)
    audit.append(session, actor=actor, event_type="instance_started", request_id=request.id, now=now,
                 payload={"request_number": request.number, "request_type": request.request_type,
                          "definition": f"{definition.key.process_id} v{definition.key.version}",
                          "data": variables})
    projection.new_instance(session, request, definition.key.id, state, now, actor)
