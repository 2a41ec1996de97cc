"""Audit: the events of the hash-chained audit log with the *Audit* page's filters and paging, the chain's
verification, and the event log as CSV or XES (each export is itself logged, `auditor_viewed`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.services.audit import events as audit_views
from app.services.audit import export
from app.web.api.common import ERRORS, SECURITY, Responses, caller, respond, tag
from app.web.context import services
from app.web.downloads import attachment

bp = APIBlueprint("api_audit", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Audit", "The append-only, hash-chained audit log: for auditors, administrators and process owners (anyone else "
             "is refused, 403). Events of requests the caller may not read are left out. Every export is itself "
             "logged.")], abp_security=SECURITY)


class Selection(BaseModel):
    """What both the event list and the exports select (as the *Audit* page and `rf export`)."""

    request: str | None = Field(None, max_length=40, description="A request number (RF-000123) or id: its events")
    since: date | None = Field(None, description="Events recorded on or after this UTC day")
    until: date | None = Field(None, description="Events recorded on or before this UTC day")
    version: str | None = Field(None, max_length=120, pattern=r"^[^:]+:\d{1,10}$",
                                description="PROCESS:V, the events of the requests on that deployed version")

    def query(self) -> export.ExportQuery:
        return export.parse_query(request=self.request, since=self.since.isoformat() if self.since else None,
                                  until=self.until.isoformat() if self.until else None, version=self.version)


class EventQuery(Selection):
    type: str | None = Field(None, max_length=64, description="An event type, e.g. task_completed")
    actor: str | None = Field(None, max_length=64, description="Who acted (a username, `system`, …)")
    page: int = Field(1, ge=1, le=1_000_000, description=f"{audit_views.PAGE_SIZE} events a page")


class AuditEventRow(BaseModel):
    seq: int = Field(description="The event's place in the chain")
    at: datetime
    actor: str
    event_type: str
    what: str = Field(description="The event type in words")
    request_number: str = Field(description="Empty for an event of no request (sign-ins, deployments, admin)")
    bpmn_id: str
    summary: str
    payload: dict[str, Any]


class EventPage(BaseModel):
    items: list[AuditEventRow] = Field(description="Newest first")
    total: int
    page: int
    pages: int
    event_types: list[str] = Field(description="Every event type in the log (for the `type` filter)")


class ChainCheck(BaseModel):
    intact: bool
    count: int = Field(description="How many events were checked (all of them when intact)")
    head: str = Field(description="When intact, the sha256 of every chain's head (it changes with every event); "
                                  "when broken, the last intact hash of the broken chain. Keep the hash that "
                                  "`rf audit checkpoint` prints elsewhere to catch a rewrite")
    broken_at: int | None = Field(description="The sequence number of the first broken event (null when the break is "
                                              "events missing from a chain's end or a missing checkpoint)")
    reason: str
    chain: str | None = Field(default=None, description="The chain of the first break: `request:<id>`, "
                                                        "`system:<kind>` or `checkpoints`")
    position: int | None = Field(default=None, description="The position of the first break in that chain (1, 2…)")


def _download(media_type: str, what: str) -> Responses:
    return {200: {"description": what, "content": {media_type: {"schema": {"type": "string"}}}}, **ERRORS}


@bp.get("/audit/events", summary="List audit events", responses={200: EventPage, **ERRORS})
def list_events(query: EventQuery) -> tuple[dict[str, Any], int]:
    """Newest first, 50 a page, filtered as on the *Audit* page: request, event type, actor, UTC days (both ends
    inclusive) and process version. An unknown request or version is a 404."""
    page = audit_views.events_page(services(), audit_views.EventFilters(
        query=query.query(), event_type=query.type, actor=query.actor, page=query.page), reader=caller())
    return respond(EventPage(items=[AuditEventRow(at=row["time"], **{k: v for k, v in row.items() if k != "time"})
                                    for row in page["rows"]],
                             total=page["total"], page=page["page"], pages=page["pages"],
                             event_types=page["event_types"]))


@bp.get("/audit/chain", summary="Verify the hash chain", responses={200: ChainCheck, **ERRORS})
def verify_chain() -> tuple[dict[str, Any], int]:
    """Walks every chain (each request's, the system ones) and the checkpoints, and reports the first broken link
    (a missing row, a broken link to the previous row, a row whose content does not match its hash, events cut from a
    chain's end that a checkpoint recorded) with its chain and position, as `rf audit verify` does."""
    report = audit_views.verify_chain_as(services(), caller())
    return respond(ChainCheck(intact=report.intact, count=report.count, head=report.head_hash,
                              broken_at=report.broken_at, reason=report.reason, chain=report.chain,
                              position=report.position))


@bp.get("/audit/export.csv", summary="Export the event log as CSV",
        responses=_download("text/csv", "One row per audit event: seq, time, actor, event_type, request_number, "
                                        "bpmn_id, summary, payload (JSON)"))
def export_csv(query: Selection) -> Response:
    """The selected events as CSV, a download (`text/csv`), the same as the *Audit* page's. A cell a spreadsheet
    would run as a formula gets a leading `'`. The export is logged (`auditor_viewed`)."""
    done = export.export(services(), "csv", query.query(), caller().username, reader=caller())
    return attachment(done.content, done.filename, done.mimetype)


@bp.get("/audit/export.xes", summary="Export the event log as XES (process mining)",
        responses=_download("application/xml", "IEEE 1849-2016 (XES 2.0): one trace per request, one event per "
                                               "request start, task completion, service call, fired timer and "
                                               "request close"))
def export_xes(query: Selection) -> Response:
    """The selected requests' events as an XES event log (`application/xml`), the same as the *Audit* page's, for
    process-mining tools. The export is logged (`auditor_viewed`)."""
    done = export.export(services(), "xes", query.query(), caller().username, reader=caller())
    return attachment(done.content, done.filename, done.mimetype)
