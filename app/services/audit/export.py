"""Event-log exports for auditors and process-mining tools: CSV (every audit event) and XES (IEEE 1849-2016).

Selection (`ExportQuery`), the same for both formats:
- `request`: that request's events only;
- `version` (`PROCESS:V`): events of the requests running on that deployed definition version;
- `since`/`until`: events recorded in that time range (a bare date covers the whole UTC day; `until` is inclusive).
With no filter the whole audit log is exported. CSV has one row per audit event (logins, deployments and admin
actions too unless a request or version filter leaves only request events). XES has one trace per request with
one event per request start, human task completion, service call, fired timer and request close.

Every export is itself logged in the audit log (`auditor_viewed`, with its parameters), in the same transaction
that read it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.input_limits import MAX_RECORD_NUMBER, record_number
from app.domain.local_time import zone
from app.domain.permissions import Identity, Reader, may_read_audit
from app.engine.xml_safety import UnsafeXml, parse_xml
from app.errors import FieldError, Forbidden, InvalidData, NotFound
from app.services.audit import timeline
from app.services.context import Context
from app.services.requests import queries
from app.store import audit
from app.store.models import AuditEvent, DefinitionVersion, ProcessInstance, ServiceJob, ServiceRequest, TaskRow

FORMATS = ("csv", "xes")
CSV_COLUMNS = ("seq", "time", "actor", "event_type", "request_number", "bpmn_id", "summary", "payload")
# audit event types that become XES events, with the activity name of those that are not BPMN elements
XES_EVENT_TYPES = ("instance_started", "task_completed", "service_called", "timer_fired", "request_closed",
                   "sla_paused", "sla_resumed", "sla_warning", "sla_breached")
REQUEST_STARTED, REQUEST_CLOSED = "Request started", "Request closed"
SLA_ACTIVITIES = {"sla_paused": "SLA clock paused", "sla_resumed": "SLA clock resumed",
                  "sla_warning": "SLA at risk (75% used)", "sla_breached": "SLA target passed"}
BPMN_MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
XES_EXTENSIONS = (  # name, prefix, uri: the standard extensions of IEEE 1849-2016
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)
_CHUNK = 500
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- what to export ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportQuery:
    request: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive (a given date or instant is already moved past)
    process_id: str | None = None
    version: int | None = None
    raw: dict[str, str] = field(default_factory=dict, compare=False)  # as given, for the audit log and file names

    def describe(self) -> dict[str, str]:
        return {k: v for k, v in self.raw.items() if v}


def _parse_instant(value: str, name: str, *, end: bool) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidData(f"--{name} is not a date", [FieldError(name, f"expected YYYY-MM-DD or an ISO 8601 time, "
                                                                       f"got {value!r}")]) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment + timedelta(microseconds=1) if end else moment


def parse_query(request: str | None = None, since: str | None = None, until: str | None = None,
                version: str | None = None) -> ExportQuery:
    """Validate the filters as typed on the command line or in the auditor page's form."""
    raw = {"request": (request or "").strip(), "since": (since or "").strip(), "until": (until or "").strip(),
           "version": (version or "").strip()}
    start = _parse_instant(raw["since"], "since", end=False) if raw["since"] else None
    stop = _parse_instant(raw["until"], "until", end=True) if raw["until"] else None
    if start and stop and stop <= start:
        raise InvalidData("empty date range", [FieldError("until", "must not be before --since")])
    process_id, number = None, None
    if raw["version"]:
        process_id, _, digits = raw["version"].rpartition(":")
        number = record_number(digits)
        if not process_id or number is None:
            raise InvalidData("--version must be PROCESS:V",
                              [FieldError("version", f"expected e.g. request_fulfillment:1 (V from 1 to "
                                                     f"{MAX_RECORD_NUMBER}), got {raw['version'][:80]!r}")])
    return ExportQuery(request=raw["request"] or None, since=start, until=stop, process_id=process_id, version=number,
                       raw=raw)


def require_audit_reader(reader: Reader) -> None:
    """The audit log is for auditors, administrators and process owners (and the operator at the command line)."""
    if isinstance(reader, Identity) and not may_read_audit(reader):
        raise Forbidden("the audit log is for auditors, administrators and process owners")


def conditions(session: Session, query: ExportQuery, reader: Reader) -> list[Any]:
    """The WHERE clauses on AuditEvent for `query`, kept to the requests `reader` may read; NotFound for an unknown
    (or unreadable) request or an unknown process version."""
    where: list[Any] = queries.readable_by(AuditEvent.request_id, reader)
    if query.request:
        where.append(AuditEvent.request_id == queries.find_readable(session, query.request, reader).id)
    if query.process_id is not None:
        definition = session.scalars(select(DefinitionVersion).where(
            DefinitionVersion.process_id == query.process_id, DefinitionVersion.version == query.version)).first()
        if definition is None:
            raise NotFound(f"no deployed process version {query.process_id}:{query.version}")
        where.append(AuditEvent.request_id.in_(select(ProcessInstance.request_id).where(
            ProcessInstance.definition_version_id == definition.id)))
    if query.since is not None:
        where.append(AuditEvent.at >= query.since)
    if query.until is not None:
        where.append(AuditEvent.at < query.until)
    return where


def _events(session: Session, query: ExportQuery, reader: Reader,
            types: Iterable[str] | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(*conditions(session, query, reader)).order_by(AuditEvent.seq)
    if types is not None:
        stmt = stmt.where(AuditEvent.event_type.in_(list(types)), AuditEvent.request_id.is_not(None))
    return list(session.scalars(stmt))


# --- what the events refer to: requests, element names and lanes -----------------------------------------------

@dataclass
class _Model:
    names: dict[str, str] = field(default_factory=dict)  # element id -> name
    lanes: dict[str, str] = field(default_factory=dict)  # flow node id -> lane name (the role acting there)


def _model(files: dict[str, str]) -> _Model:
    model = _Model()
    for name, text in sorted(files.items()):
        if not name.lower().endswith(".bpmn"):
            continue
        try:
            root = parse_xml(text.encode())
        except UnsafeXml:
            continue
        for element in root.iter(f"{{{BPMN_MODEL}}}*"):
            element_id, element_name = element.get("id"), element.get("name")
            if element_id and element_name:
                model.names[element_id] = " ".join(element_name.split())
        for lane in root.iter(f"{{{BPMN_MODEL}}}lane"):
            lane_name = lane.get("name")
            for ref in lane.iter(f"{{{BPMN_MODEL}}}flowNodeRef"):
                if ref.text and lane_name:
                    model.lanes[ref.text.strip()] = lane_name.strip()
    return model


@dataclass
class EventContext:
    """Everything needed to describe a batch of audit events without loading any workflow."""

    requests: dict[int, ServiceRequest] = field(default_factory=dict)
    models: dict[int, _Model] = field(default_factory=dict)  # request id -> its definition version's model
    versions: dict[int, str] = field(default_factory=dict)  # request id -> "process_id vN"
    tasks: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # task uuid -> (name, lane)
    jobs: dict[str, str] = field(default_factory=dict)  # service task uuid -> bpmn id

    def model(self, request_id: int | None) -> _Model:
        return self.models.get(request_id or 0) or _Model()


def event_context(session: Session, events: list[AuditEvent]) -> EventContext:
    ctx = EventContext()
    ids = sorted({e.request_id for e in events if e.request_id is not None})
    definitions: dict[int, tuple[str, _Model]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        ctx.requests.update({r.id: r for r in session.scalars(select(ServiceRequest).where(ServiceRequest.id.in_(
            chunk)))})
        for request_id, definition_id in session.execute(select(
                ProcessInstance.request_id, ProcessInstance.definition_version_id).where(
                ProcessInstance.request_id.in_(chunk))):
            if definition_id not in definitions:
                definition = session.get(DefinitionVersion, definition_id)
                assert definition is not None
                definitions[definition_id] = (f"{definition.process_id} v{definition.version}",
                                              _model(dict(definition.files or {})))
            ctx.versions[request_id], ctx.models[request_id] = definitions[definition_id]
        ctx.tasks.update({uuid: (name, lane) for uuid, name, lane in session.execute(
            select(TaskRow.task_uuid, TaskRow.name, TaskRow.lane).where(TaskRow.request_id.in_(chunk)))})
        ctx.jobs.update({uuid: bpmn_id for uuid, bpmn_id in session.execute(
            select(ServiceJob.task_uuid, ServiceJob.bpmn_id).where(ServiceJob.request_id.in_(chunk)))})
    return ctx


def describe(events: list[AuditEvent], ctx: EventContext, where: ZoneInfo | None = None) -> list[dict[str, Any]]:
    """One plain row per event (what the CSV and the auditor page show); times inside a summary are in `where`
    (the installation's zone), the time column stays an instant (ISO 8601 UTC in the CSV)."""
    task_names = {uuid: name for uuid, (name, _) in ctx.tasks.items()}
    rows = []
    for event in events:
        request = ctx.requests.get(event.request_id or 0)
        summary, bpmn_id = timeline.describe(event, ctx.model(event.request_id).names, task_names, ctx.jobs,
                                              where)
        rows.append({
            "seq": event.seq, "time": event.at, "actor": event.actor, "event_type": event.event_type,
            "what": timeline.EVENT_WORDS.get(event.event_type, event.event_type.replace("_", " ").capitalize()),
            "request_number": request.number if request is not None else "", "bpmn_id": bpmn_id,
            "summary": summary, "payload": event.payload,
        })
    return rows


# --- CSV --------------------------------------------------------------------------------------------------------

def _cell(value: str) -> str:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row["seq"], row["time"].isoformat(), _cell(row["actor"]), _cell(row["event_type"]),
                         _cell(row["request_number"]), _cell(row["bpmn_id"]), _cell(row["summary"]),
                         json.dumps(row["payload"], sort_keys=True, ensure_ascii=False, default=str)])
    return out.getvalue()


# --- XES --------------------------------------------------------------------------------------------------------

def _xes_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _attr(parent: etree._Element, kind: str, key: str, value: str) -> None:
    etree.SubElement(parent, kind, key=key, value=value)


def _activity(event: AuditEvent, ctx: EventContext) -> tuple[str, str, str | None] | None:
    """(activity name, bpmn id, lane) of an audit event that is an XES event, else None."""
    p: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
    model = ctx.model(event.request_id)
    if event.event_type == "instance_started":
        return REQUEST_STARTED, "", None
    if event.event_type == "request_closed":
        return REQUEST_CLOSED, "", None
    if event.event_type in SLA_ACTIVITIES:
        return SLA_ACTIVITIES[event.event_type], "", None
    task = str(p.get("task") or "")
    bpmn_id = str(p.get("bpmn_id") or ctx.jobs.get(task) or "")
    if not bpmn_id:
        return None
    task_name, task_lane = ctx.tasks.get(task, (None, None))
    name = str(p.get("name") or task_name or model.names.get(bpmn_id) or bpmn_id)
    return name, bpmn_id, task_lane or model.lanes.get(bpmn_id)


def to_xes(events: list[AuditEvent], ctx: EventContext, description: str = "") -> bytes:
    log = etree.Element("log", {"xes.version": "2.0"})
    log.append(etree.Comment(" IEEE 1849-2016 (XES 2.0) event log written by Request Fulfillment "))
    for name, prefix, uri in XES_EXTENSIONS:
        etree.SubElement(log, "extension", name=name, prefix=prefix, uri=uri)
    trace_globals = etree.SubElement(log, "global", scope="trace")
    _attr(trace_globals, "string", "concept:name", "__INVALID__")
    event_globals = etree.SubElement(log, "global", scope="event")
    _attr(event_globals, "string", "concept:name", "__INVALID__")
    _attr(event_globals, "date", "time:timestamp", "1970-01-01T00:00:00.000+00:00")
    _attr(event_globals, "string", "lifecycle:transition", "complete")
    _attr(event_globals, "string", "org:resource", "__INVALID__")
    etree.SubElement(log, "classifier", name="Activity", keys="concept:name")
    etree.SubElement(log, "classifier", name="Activity_and_transition", keys="concept:name lifecycle:transition")
    _attr(log, "string", "concept:name", "Request Fulfillment" + (f" ({description})" if description else ""))
    _attr(log, "string", "lifecycle:model", "standard")

    by_request: dict[int, list[AuditEvent]] = {}
    for event in events:
        if event.request_id is not None and event.request_id in ctx.requests:
            by_request.setdefault(event.request_id, []).append(event)
    for request_id, trace_events in by_request.items():
        request = ctx.requests[request_id]
        trace = etree.SubElement(log, "trace")
        _attr(trace, "string", "concept:name", request.number or str(request.id))
        _attr(trace, "string", "request_type", request.request_type)
        _attr(trace, "string", "provider_group", request.provider_group.code)
        _attr(trace, "string", "priority", request.priority)
        if request_id in ctx.versions:
            _attr(trace, "string", "process_version", ctx.versions[request_id])
        for event in trace_events:
            activity = _activity(event, ctx)
            if activity is None:
                continue
            name, bpmn_id, lane = activity
            node = etree.SubElement(trace, "event")
            _attr(node, "string", "concept:name", name)
            _attr(node, "date", "time:timestamp", _xes_time(event.at))
            _attr(node, "string", "lifecycle:transition", "complete")
            _attr(node, "string", "org:resource", event.actor)
            if lane:
                _attr(node, "string", "org:role", lane)
            if bpmn_id:
                _attr(node, "string", "bpmn_id", bpmn_id)
            _attr(node, "string", "audit_event_type", event.event_type)
            etree.SubElement(node, "int", key="audit_seq", value=str(event.seq))
    return etree.tostring(log, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- the use case -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Export:
    content: bytes
    filename: str
    mimetype: str
    events: int
    traces: int


def _filename(fmt: str, query: ExportQuery) -> str:
    parts = ["rf-audit"]
    for key in ("request", "version", "since", "until"):
        if query.raw.get(key):
            parts.append("".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "-"
                                 for c in query.raw[key][:80]))
    return "_".join(parts) + f".{fmt}"


def export(services: Context, fmt: str, query: ExportQuery, actor: str, *, reader: Reader) -> Export:
    """Build the export of what `reader` may read and log that `actor` took it (auditor_viewed), in one
    transaction. A signed-in `reader` must be an audit reader (Forbidden)."""
    require_audit_reader(reader)
    if fmt not in FORMATS:
        raise InvalidData(f"unknown export format {fmt!r}", [FieldError("format", "expected csv or xes")])
    with services.uow() as uow:
        s = uow.session
        events = _events(s, query, reader, XES_EVENT_TYPES if fmt == "xes" else None)
        ctx = event_context(s, events)
        if fmt == "csv":
            content = to_csv(describe(events, ctx, zone(services.settings.time_zone))).encode()
            traces = len(ctx.requests)
            mimetype = "text/csv; charset=utf-8"
        else:
            content = to_xes(events, ctx, ", ".join(f"{k} {v}" for k, v in query.describe().items()))
            traces, mimetype = len(ctx.requests), "application/xml"
        request_id = queries.find_readable(s, query.request, reader).id if query.request else None
        audit.append(s, actor=actor, event_type="auditor_viewed", request_id=request_id, now=services.clock.now(),
                     payload={"view": "export", "format": fmt, **query.describe(), "events": len(events),
                              "traces": traces})
        uow.commit()
    return Export(content=content, filename=_filename(fmt, query), mimetype=mimetype, events=len(events),
                  traces=traces)
