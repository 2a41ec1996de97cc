"""Reports as JSON: the reports the caller may read, and each report's tables, cards, chart and notes with the same
filters and the same numbers as its page and CSV download."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.services.reports import catalogue as reports
from app.services.reports.tables import Table, json_value
from app.web.api.common import ERRORS, SECURITY, caller, respond, tag
from app.web.context import services
from app.web.downloads import attachment

bp = APIBlueprint("api_reports", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Reports", "Fulfilment, aging, outstanding enhancements, SLA breaches and billing. Managers and customer account "
               "representatives read them for their own provider groups; auditors, administrators and process "
               "owners for all; anyone else is refused (403). An auditor's download is logged.")],
    abp_security=SECURITY)

Cell = int | float | str | None


class ReportEntry(BaseModel):
    name: str
    title: str
    description: str
    url: str = Field(description="The report as JSON")
    csv_url: str = Field(description="The same report as a CSV download")


class ReportIndex(BaseModel):
    items: list[ReportEntry]


class ReportName(BaseModel):
    name: str = Field(max_length=40, description=f"One of {', '.join(reports.REPORTS)}")


class ReportQuery(BaseModel):
    since: date | None = Field(None, description="First day of the period (Oklahoma date); default 90 days back")
    until: date | None = Field(None, description="Last day of the period (Oklahoma date); default today")
    group: str | None = Field(None, max_length=64, description="One provider group (default: every one you read)")
    type: Literal["assistance", "enhancement"] | None = None


class Column(BaseModel):
    key: str
    label: str
    kind: Literal["text", "request", "int", "days", "percent", "hours", "money", "date", "datetime"] = Field(
        description="How to read a cell: int an integer; days and percent numbers with one decimal; hours and money "
                    "decimal text with two; date and datetime ISO 8601 (UTC); text and request (a request number) "
                    "text. Cells are rounded as in the CSV download")


class ReportTable(BaseModel):
    key: str
    caption: str
    columns: list[Column]
    rows: list[dict[str, Cell]] = Field(description="One object per row, keyed by the columns' keys")
    total: dict[str, Cell] | None
    empty: str = Field(description="What the page says when there are no rows")


class Card(BaseModel):
    label: str
    value: str
    alert: bool


class Series(BaseModel):
    name: str
    values: list[float]


class Chart(BaseModel):
    title: str
    description: str
    categories: list[str]
    series: list[Series]
    unit: str


class AppliedFilters(BaseModel):
    since: date
    until: date
    group: str | None
    type: str | None


class ReportData(BaseModel):
    name: str
    title: str
    filters: AppliedFilters
    groups: dict[str, str] = Field(description="Code and name of the provider groups the caller may choose")
    snapshot: bool = Field(description="Measured now: the period does not apply")
    tables: list[ReportTable]
    cards: list[Card]
    chart: Chart | None
    notes: list[str] = Field(description="How this is measured")


def _given(query: ReportQuery) -> dict[str, str]:
    """The filters as the report pages' form sends them (blank: the default)."""
    return {"since": query.since.isoformat() if query.since else "",
            "until": query.until.isoformat() if query.until else "", "group": query.group or "",
            "type": query.type or ""}


def _table(table: Table) -> ReportTable:
    def cells(row: dict[str, Any]) -> dict[str, Cell]:
        return {c.key: json_value(row.get(c.key), c.kind) for c in table.columns}

    return ReportTable(key=table.key, caption=table.caption,
                       columns=[Column.model_validate(c.__dict__) for c in table.columns],
                       rows=[cells(row) for row in table.rows], total=cells(table.total) if table.total else None,
                       empty=table.empty)


@bp.get("/reports", summary="List the reports you may read", responses={200: ReportIndex, **ERRORS})
def list_reports() -> tuple[dict[str, Any], int]:
    """Every report with its JSON and CSV addresses; refused (403) to those who read no report (specialists and
    service providers)."""
    return respond(ReportIndex(items=[
        ReportEntry(name=kind.name, title=kind.title, description=kind.description,
                    url=f"/api/v1/reports/{kind.name}", csv_url=f"/api/v1/reports/{kind.name}.csv")
        for kind in reports.report_index(caller())]))


@bp.get("/reports/<name>", summary="Read a report", responses={200: ReportData, **ERRORS})
def read_report(path: ReportName, query: ReportQuery) -> tuple[dict[str, Any], int]:
    """The report's tables (the numbers of its CSV download, with the same rounding), cards, chart and notes, for
    the period (Oklahoma dates, at most five years) and optionally one provider group and request type. A filter
    that cannot be understood is a 400 naming the field; a group you do not read is a 403; an unknown report a 404.
    An auditor's read is logged (`auditor_viewed`), as the CSV download is."""
    page = reports.report_data(services(), caller(), path.name, _given(query))
    assert page.report is not None and page.filters is not None
    report, applied = page.report, page.filters
    return respond(ReportData(
        name=report.name, title=report.title, groups=page.groups, snapshot=report.snapshot,
        filters=AppliedFilters(since=applied.since, until=applied.until, group=applied.group,
                               type=applied.request_type),
        tables=[_table(t) for t in report.tables],
        cards=[Card(label=c.label, value=c.value, alert=c.alert) for c in report.cards],
        chart=Chart(title=report.chart.title, description=report.chart.description,
                    categories=report.chart.categories, unit=report.chart.unit,
                    series=[Series(name=n, values=v) for n, v in report.chart.series]) if report.chart else None,
        notes=report.notes))


@bp.get("/reports/<name>.csv", summary="Download a report as CSV", responses={
    200: {"description": "The rows (and totals) of the report's first table, and of any later table with the same "
                         "columns (then a first column `table` names the table)",
          "content": {"text/csv": {"schema": {"type": "string"}}}}, **ERRORS})
def download_report(path: ReportName, query: ReportQuery) -> Response:
    """The report's CSV download (`text/csv`) with the same filters, the same as the report page's; an auditor's
    download is logged (`auditor_viewed`)."""
    done = reports.export_csv(services(), caller(), path.name, _given(query))
    return attachment(done.content, done.filename, "text/csv; charset=utf-8")
