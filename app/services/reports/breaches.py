"""SLA breaches: requests whose target passed while they were open, with the escalations raised for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from app.domain import measures as m
from app.services.reports.fulfilment import requests
from app.services.reports.tables import Card, Column, Report, ReportContext, Table
from app.store.models import ServiceRequest, SlaEscalation

BREACH_COLUMNS = [
    Column("request", "Request", "request"), Column("title", "Title"), Column("type", "Type"),
    Column("priority", "Priority"), Column("group", "Provider group"), Column("agency", "Agency"),
    Column("target", "Target", "datetime"), Column("breached_at", "Breached", "datetime"),
    Column("late_days", "Late by (business days)", "days"), Column("warning_at", "Warning raised", "datetime"),
    Column("escalated_at", "Breach escalated", "datetime"), Column("status", "Status"),
]
GROUP_COLUMNS = [Column("group", "Provider group"), Column("breaches", "Breaches", "int"),
                 Column("open", "Still open", "int"), Column("closed", "Closed late", "int")]


def breached_at(r: ServiceRequest, now: datetime) -> datetime | None:
    """When the request breached: the recorded moment, else the target when it closed late or is open past it."""
    if r.sla_breached_at is not None:
        return r.sla_breached_at
    if r.sla_due_at is None:
        return None
    if r.status == "closed":
        return r.sla_due_at if r.closed_at and r.closed_at > r.sla_due_at else None
    return r.sla_due_at if r.sla_paused_since is None and now > r.sla_due_at else None


def breaches(ctx: ReportContext) -> Report:
    candidates = requests(ctx, or_(
        ServiceRequest.sla_breached_at.is_not(None),
        and_(ServiceRequest.status == "closed", ServiceRequest.closed_at > ServiceRequest.sla_due_at),
        and_(ServiceRequest.status == "open", ServiceRequest.sla_due_at < ctx.now)))
    found = [(r, when) for r in candidates if (when := breached_at(r, ctx.now)) and ctx.filters.contains(when)]
    raised: dict[tuple[int, str], datetime] = {(e.request_id, e.level): e.raised_at for e in ctx.session.scalars(
        select(SlaEscalation).where(SlaEscalation.request_id.in_([r.id for r, _ in found])))}
    rows: list[dict[str, Any]] = []
    per_group: dict[str, dict[str, Any]] = {code: {"group": code, "breaches": 0, "open": 0, "closed": 0}
                                            for code in ctx.groups}
    for r, when in sorted(found, key=lambda pair: pair[1]):
        end = r.closed_at if r.status == "closed" and r.closed_at else (r.sla_paused_since or ctx.now)
        rows.append({"request": r.number, "title": r.title, "type": r.request_type, "priority": r.priority,
                     "group": r.provider_group.code, "agency": r.agency, "target": r.sla_due_at, "breached_at": when,
                     "late_days": max(0.0, m.business_days(ctx.calendar, r.sla_due_at or when, end)),
                     "warning_at": raised.get((r.id, "warning")), "escalated_at": raised.get((r.id, "breach")),
                     "status": r.status})
        counts = per_group[r.provider_group.code]
        counts["breaches"] += 1
        counts["open" if r.status == "open" else "closed"] += 1
    total = {"group": "All", **{k: sum(c[k] for c in per_group.values()) for k in ("breaches", "open", "closed")}}
    cards = [Card("breaches in the period", str(len(rows)), alert=bool(rows)),
             Card("still open", str(total["open"]), alert=total["open"] > 0)]
    return Report("breaches", "SLA breaches", [
        Table("breaches", "Breached requests", BREACH_COLUMNS, rows, None, "No breaches in this period."),
        Table("by_group", "Per provider group", GROUP_COLUMNS, list(per_group.values()), total),
    ], cards, notes=[
        "Requests whose SLA target passed while they were open, by the moment of the breach (Oklahoma date).",
        "Breached: the moment the SLA clock recorded; for a request without one, its target, when it closed after "
        "it or is open past it and not paused.",
        "Late by: business days from the target to closing (or to now, or to the start of a pause, while open).",
        "Warning raised and breach escalated: when the escalations (at 75% of the target and at the target) went "
        "out.",
    ])
