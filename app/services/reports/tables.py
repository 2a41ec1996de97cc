"""What a report is made of (tables of typed columns, cards, a chart, notes) and how its cells are written for a
page and for a CSV download."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.domain.business_calendar import BusinessCalendar
from app.services.reports.filters import ReportFilters

# text | request (a request number, linked on the page) | int | days | percent | hours | money | date | datetime
KINDS = ("text", "request", "int", "days", "percent", "hours", "money", "date", "datetime")
NUMERIC = ("int", "days", "percent", "hours", "money")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC


@dataclass
class Table:
    key: str
    caption: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: dict[str, Any] | None = None
    empty: str = "Nothing in this period."


@dataclass
class Card:
    label: str
    value: str
    alert: bool = False


@dataclass(frozen=True)
class Chart:
    """A grouped bar chart as data: one group of bars per category, one bar per series (the web draws it as SVG)."""

    title: str
    description: str
    categories: list[str]
    series: list[tuple[str, list[float]]]
    unit: str


@dataclass
class Report:
    name: str
    title: str
    tables: list[Table]
    cards: list[Card] = field(default_factory=list)
    chart: Chart | None = None
    snapshot: bool = False  # measured now: the period does not apply
    notes: list[str] = field(default_factory=list)


@dataclass
class ReportContext:
    session: Session
    calendar: BusinessCalendar
    filters: ReportFilters
    groups: dict[str, str]  # code → name of the groups the report covers
    now: datetime


Builder = Callable[[ReportContext], Report]


def csv_value(value: Any, kind: str) -> str:
    """A cell as the CSV download writes it: plain numbers, ISO dates, no formula-like text. A moment is ISO 8601 in
    UTC with its offset (`2026-12-01T15:00:00+00:00`), as in the audit CSV and XES: a download is read by programs and
    spreadsheets across zones, so it carries the exact instant; pages show the same moment in the reader's zone."""
    if value is None:
        return ""
    if kind in ("days", "percent"):
        return f"{value:.1f}"
    if kind in ("hours", "money"):
        return f"{Decimal(value):.2f}"
    if kind == "int":
        return str(int(value))
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text  # a spreadsheet would run it as a formula


def json_value(value: Any, kind: str) -> int | float | str | None:
    """A cell as the API gives it, with the CSV's rounding: a count as an integer, days and percentages as numbers
    with one decimal, hours and money as decimal text with two (exact), dates and times as ISO 8601 (UTC), text as
    it is."""
    if value is None:
        return None
    if kind in ("days", "percent"):
        return round(float(value), 1)
    if kind in ("hours", "money"):
        return f"{Decimal(value):.2f}"
    if kind == "int":
        return int(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(report: Report) -> str:
    """The rows (and totals) of the report's first table, and of any later table with the same columns; when there
    are several, a first column `table` names the table each row comes from."""
    keys = [c.key for c in report.tables[0].columns]
    tables = [t for t in report.tables if [c.key for c in t.columns] == keys]
    several = len(tables) > 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((["table"] if several else []) + keys)
    for table in tables:
        for row in table.rows + ([table.total] if table.total else []):
            cells = [csv_value(row.get(c.key), c.kind) for c in table.columns]
            writer.writerow(([table.key] if several else []) + cells)
    return out.getvalue()
