"""Outstanding enhancement requests: where each open one is, its plan, and whether it will miss the 60 day plan."""

from __future__ import annotations

from sqlalchemy import select

from app.domain import measures as m
from app.services.reports.fulfilment import requests
from app.services.reports.tables import Card, Column, Report, ReportContext, Table
from app.store.models import ServiceRequest, TaskRow, WorkListEntry

OUTSTANDING_COLUMNS = [
    Column("request", "Request", "request"), Column("title", "Title"), Column("agency", "Agency"),
    Column("group", "Provider group"), Column("priority", "Priority"), Column("stage", "Stage"),
    Column("age_days", "Age (business days)", "days"), Column("planned_start", "Planned start", "date"),
    Column("planned_finish", "Planned finish", "date"), Column("target", "Target", "date"),
    Column("plan", "Against the 60 day plan"), Column("will_miss", "Will miss the plan"),
]


def outstanding(ctx: ReportContext) -> Report:
    found = ([] if ctx.filters.request_type == "assistance"
             else requests(ctx, ServiceRequest.status == "open", ServiceRequest.request_type == "enhancement"))
    entries = {e.request_number: e for e in ctx.session.scalars(
        select(WorkListEntry).where(WorkListEntry.request_number.in_([r.number for r in found if r.number])))}
    stages: dict[int, list[str]] = {}
    for task in ctx.session.scalars(select(TaskRow).where(TaskRow.status == "open",
                                                          TaskRow.request_id.in_([r.id for r in found]))):
        stages.setdefault(task.request_id, []).append(task.name)
    today = m.local_date(ctx.now, ctx.calendar)
    rows = []
    for r in found:
        entry = entries.get(r.number or "")
        finish = entry.planned_finish if entry else None
        miss = m.miss_reason(r.created_at, finish, r.sla_due_at, ctx.now, ctx.calendar)
        rows.append({
            "request": r.number, "title": r.title, "agency": r.agency, "group": r.provider_group.code,
            "priority": r.priority, "stage": ", ".join(sorted(stages.get(r.id, []))) or "in the worker",
            "age_days": m.business_days(ctx.calendar, r.created_at, ctx.now),
            "planned_start": entry.planned_start if entry else None, "planned_finish": finish,
            "target": m.local_date(r.sla_due_at, ctx.calendar) if r.sla_due_at else None,
            "plan": m.plan_status(None, finish, today, ctx.calendar), "will_miss": f"yes: {miss}" if miss else "no",
        })
    rows.sort(key=lambda row: (row["will_miss"] == "no", row["planned_finish"] or today, row["request"] or ""))
    missing = sum(1 for row in rows if row["will_miss"] != "no")
    cards = [Card("outstanding enhancement requests", str(len(rows))),
             Card("will miss the plan", str(missing), alert=missing > 0),
             Card("awaiting a work plan", str(sum(1 for row in rows if row["plan"] == m.NO_PLAN)))]
    return Report("outstanding", "Outstanding enhancement requests", [
        Table("outstanding", "Open enhancement requests", OUTSTANDING_COLUMNS, rows, None,
              "No open enhancement requests."),
    ], cards, snapshot=True, notes=[
        "Open enhancement requests now; the period does not apply (nor does a request type other than "
        "enhancement).",
        "Stage: the open task(s) of the request. Planned start and finish: from its work plan on the work list.",
        "Against the 60 day plan: late once the planned finish has passed, no plan while there is no work plan, "
        "else on track.",
        f"Will miss the plan: late; or no work plan {m.NO_PLAN_LIMIT_DAYS} business days after logging; or planned "
        "to finish after its target.",
    ])
