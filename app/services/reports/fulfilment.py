"""The fulfilment report (per provider group and per agency) and the aging of open requests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from app.domain import measures as m
from app.services.reports.tables import Card, Chart, Column, Report, ReportContext, Table
from app.store.models import ProviderGroup, ServiceRequest, WorkListEntry


def requests(ctx: ReportContext, *where: Any) -> list[ServiceRequest]:
    """The requests of the covered groups (and the chosen type) matching `where`, oldest first."""
    query = (select(ServiceRequest).join(ServiceRequest.provider_group)
             .where(ProviderGroup.code.in_(list(ctx.groups)), *where).order_by(ServiceRequest.id))
    if ctx.filters.request_type:
        query = query.where(ServiceRequest.request_type == ctx.filters.request_type)
    return list(ctx.session.scalars(query))


def planned_finishes(ctx: ReportContext, numbers: Iterable[str | None]) -> dict[str, Any]:
    wanted = [n for n in numbers if n]
    return {e.request_number: e.planned_finish for e in ctx.session.scalars(
        select(WorkListEntry).where(WorkListEntry.request_number.in_(wanted)))} if wanted else {}


def fulfilment_columns(first: str) -> list[Column]:
    return [Column("name", first), *FULFILMENT_COLUMNS]


FULFILMENT_COLUMNS = [
    Column("closed", "Closed", "int"), Column("mean_days", "Mean (business days)", "days"),
    Column("p90_days", "p90 (business days)", "days"), Column("within_target", "Within target", "int"),
    Column("within_target_pct", "% within target", "percent"),
    Column("enhancements", "Enhancements closed", "int"),
    Column("on_plan_pct", "% on time against the 60 day plan", "percent"),
]


def _measure(name: str, items: list[tuple[float, bool, str | None]]) -> dict[str, Any]:
    """One row: items are (business days to fulfil, within target, plan status for an enhancement or None)."""
    days = [d for d, _, _ in items]
    within = sum(1 for _, ok, _ in items if ok)
    plans = [p for _, _, p in items if p is not None]
    return {"name": name, "closed": len(items), "mean_days": m.mean(days), "p90_days": m.nearest_rank(days, 90),
            "within_target": within, "within_target_pct": m.percent(within, len(items)),
            "enhancements": len(plans), "on_plan_pct": m.percent(sum(1 for p in plans if p == m.ON_TIME), len(plans))}


def fulfilment(ctx: ReportContext) -> Report:
    lo, hi = ctx.filters.window
    closed = requests(ctx, ServiceRequest.status == "closed", ServiceRequest.closed_at >= lo,
                      ServiceRequest.closed_at < hi)
    finishes = planned_finishes(ctx, (r.number for r in closed if r.request_type == "enhancement"))
    by_group: dict[str, list[tuple[float, bool, str | None]]] = {code: [] for code in ctx.groups}
    by_agency: dict[str, list[tuple[float, bool, str | None]]] = {}
    for r in closed:
        assert r.closed_at is not None
        plan = (m.plan_status(r.closed_at, finishes.get(r.number or ""), ctx.filters.until, ctx.calendar)
                if r.request_type == "enhancement" else None)
        paused_days = (r.sla_paused_seconds or 0) / ctx.calendar.day_length.total_seconds()
        item = (m.business_days(ctx.calendar, r.created_at, r.closed_at) - paused_days,
                r.sla_due_at is not None and r.closed_at <= r.sla_due_at, plan)
        by_group[r.provider_group.code].append(item)
        by_agency.setdefault(r.agency, []).append(item)
    everything = [i for items in by_group.values() for i in items]
    group_rows = [_measure(code, items) for code, items in by_group.items()]
    total = _measure("All", everything)
    tables = [
        Table("by_group", "Per provider group", fulfilment_columns("Provider group"), group_rows, total),
        Table("by_agency", "Per agency", fulfilment_columns("Agency"),
              [_measure(agency, by_agency[agency]) for agency in sorted(by_agency)], total),
    ]
    chart = Chart(
        "Time to fulfil per provider group",
        "Mean and nearest-rank 90th percentile of the business days from logging to closing, for the requests "
        "closed in the period, per provider group.",
        list(ctx.groups), [("mean", [row["mean_days"] or 0 for row in group_rows]),
                           ("p90", [row["p90_days"] or 0 for row in group_rows])], "business days")
    cards = [Card("requests closed", str(total["closed"])),
             Card("mean business days to fulfil", m.fmt_days(total["mean_days"]) or "—"),
             Card("p90 business days to fulfil", m.fmt_days(total["p90_days"]) or "—"),
             Card("within target", f"{total['within_target_pct']:.1f}%" if total["closed"] else "—",
                  alert=bool(total["closed"]) and total["within_target"] < total["closed"])]
    return Report("fulfilment", "Fulfilment", tables, cards, chart, notes=[
        "Requests closed in the period (by their closing date, Oklahoma time).",
        "Time to fulfil: business time from logging to closing, in business days of 9 working hours (08:00–17:00 "
        "Oklahoma time, Monday to Friday, less state holidays), less the business time the SLA clock was paused "
        "(waiting on the customer, or on the 60 day schedule after Discovery).",
        "p90: nearest-rank 90th percentile, the value at rank ⌈0.9 × n⌉ of the sorted times (always a real "
        "request's time). Mean with one decimal.",
        "Within target: closed no later than the SLA target (which moves later by the time the request was "
        "paused waiting on the customer or on the 60 day schedule).",
        "On time against the 60 day plan (enhancements): closed on or before the planned finish of the work plan; "
        "an enhancement closed without a plan counts as not on time.",
    ])


def bucket_key(label: str) -> str:
    """A CSV-friendly key of an age bucket: "0–1" → days_0_1, ">20" → days_over_20."""
    return "days_" + label.replace("–", "_").replace(">", "over_")


AGING_COLUMNS = ([Column("group", "Provider group")] + [Column(bucket_key(label), f"{label} days", "int")
                 for label, _, _ in m.AGING_BUCKETS]
                 + [Column("open", "Open", "int"), Column("oldest_days", "Oldest (business days)", "days")])
OPEN_COLUMNS = [Column("request", "Request", "request"), Column("title", "Title"), Column("type", "Type"),
                Column("priority", "Priority"), Column("group", "Provider group"), Column("agency", "Agency"),
                Column("created_at", "Logged", "datetime"), Column("age_days", "Age (business days)", "days"),
                Column("bucket", "Bucket")]


def _aging_row(name: str, ages: list[float]) -> dict[str, Any]:
    row: dict[str, Any] = {"group": name, "open": len(ages), "oldest_days": max(ages) if ages else None}
    for label, _, _ in m.AGING_BUCKETS:
        row[bucket_key(label)] = sum(1 for a in ages if m.aging_bucket(a) == label)
    return row


def aging(ctx: ReportContext) -> Report:
    ages: dict[str, list[float]] = {code: [] for code in ctx.groups}
    detail: list[dict[str, Any]] = []
    for r in requests(ctx, ServiceRequest.status == "open"):
        age = m.business_days(ctx.calendar, r.created_at, ctx.now)
        ages[r.provider_group.code].append(age)
        detail.append({"request": r.number, "title": r.title, "type": r.request_type, "priority": r.priority,
                       "group": r.provider_group.code, "agency": r.agency, "created_at": r.created_at,
                       "age_days": age, "bucket": m.aging_bucket(age)})
    detail.sort(key=lambda row: -row["age_days"])
    rows = [_aging_row(code, values) for code, values in ages.items()]
    total = _aging_row("All", [a for values in ages.values() for a in values])
    chart = Chart(
        "Open requests by age", "Open requests per age bucket (completed business days since logging), per "
        "provider group.", [f"{label} days" for label, _, _ in m.AGING_BUCKETS],
        [(row["group"], [row[bucket_key(label)] for label, _, _ in m.AGING_BUCKETS]) for row in rows], "requests")
    over_10 = total[bucket_key("11–20")] + total[bucket_key(">20")]
    cards = [Card("open requests", str(total["open"])), Card("older than 10 business days", str(over_10),
                                                               alert=over_10 > 0)]
    return Report("aging", "Aging of open requests", [
        Table("by_group", "Open requests per age bucket", AGING_COLUMNS, rows, total, "No open requests."),
        Table("open", "Open requests, oldest first", OPEN_COLUMNS, detail, None, "No open requests."),
    ], cards, chart, snapshot=True, notes=[
        "Open requests now; the period does not apply.",
        "Age: business time since logging, in completed business days (rounded down) of 9 working hours, "
        "bucketed 0–1, 2–5, 6–10, 11–20 and more than 20.",
    ])
