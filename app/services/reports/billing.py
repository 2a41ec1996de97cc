"""Chargeable work billed per agency: the billing cases created for chargeable enhancement requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.services.reports.tables import Card, Chart, Column, Report, ReportContext, Table
from app.store.models import BillingCase, ProviderGroup, ServiceRequest

AGENCY_COLUMNS = [Column("agency", "Agency"), Column("cases", "Billing cases", "int"),
                  Column("hours", "Billable hours", "hours"), Column("amount", "Amount", "money")]
CASE_COLUMNS = [Column("case", "Billing case"), Column("request", "Request", "request"), Column("agency", "Agency"),
                Column("group", "Provider group"), Column("hours", "Billable hours", "hours"),
                Column("rate", "Hourly rate", "money"), Column("amount", "Amount", "money"),
                Column("billing_code", "Billing code"), Column("status", "Status"),
                Column("created_at", "Created", "datetime")]


def billing(ctx: ReportContext) -> Report:
    lo, hi = ctx.filters.window
    query = (select(BillingCase, ServiceRequest)
             .join(ServiceRequest, ServiceRequest.number == BillingCase.request_number)
             .join(ServiceRequest.provider_group)
             .where(ProviderGroup.code.in_(list(ctx.groups)), BillingCase.created_at >= lo, BillingCase.created_at < hi)
             .order_by(BillingCase.created_at, BillingCase.id))
    if ctx.filters.request_type:
        query = query.where(ServiceRequest.request_type == ctx.filters.request_type)
    cases = []
    per_agency: dict[str, dict[str, Any]] = {}
    for bill, request in ctx.session.execute(query):
        cases.append({"case": bill.case_number, "request": bill.request_number, "agency": bill.agency,
                      "group": request.provider_group.code, "hours": bill.billable_hours, "rate": bill.hourly_rate,
                      "amount": bill.amount, "billing_code": bill.billing_code, "status": bill.status,
                      "created_at": bill.created_at})
        row = per_agency.setdefault(bill.agency, {"agency": bill.agency, "cases": 0, "hours": Decimal(0),
                                                  "amount": Decimal(0)})
        row["cases"] += 1
        row["hours"] += bill.billable_hours
        row["amount"] += bill.amount
    rows = [per_agency[a] for a in sorted(per_agency)]
    total = {"agency": "All", "cases": len(cases), "hours": sum((r["hours"] for r in rows), Decimal(0)),
             "amount": sum((r["amount"] for r in rows), Decimal(0))}
    chart = Chart(
        "Amount billed per agency", "Total amount of the billing cases created in the period, per agency.",
        [a if len(a) <= 24 else a[:23] + "…" for a in sorted(per_agency)],
        [("amount", [float(r["amount"]) for r in rows])], "USD") if rows else None
    return Report("billing", "Chargeable work billed per agency", [
        Table("by_agency", "Per agency", AGENCY_COLUMNS, rows, total, "No chargeable work billed in this period."),
        Table("cases", "Billing cases", CASE_COLUMNS, cases, None, "No billing cases in this period."),
    ], [Card("billing cases", str(total["cases"])), Card("amount billed", f"${total['amount']:,.2f}")], chart,
        notes=["Billing cases created in the period (Oklahoma date) for chargeable enhancement requests, grouped by "
               "the agency billed: how many, the billable hours and the amount (hours × hourly rate)."])
