"""Report pages and their CSV downloads (read-only: GET only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from app.domain.local_time import calendar_date
from app.domain.vocabulary import REQUEST_TYPES
from app.services.reports import catalogue as reports
from app.services.reports.tables import NUMERIC
from app.web import local_time
from app.web.context import identity, services
from app.web.downloads import attachment

bp = Blueprint("reports", __name__, url_prefix="/reports")
FILTERS = ("since", "until", "group", "type")


def display(value: Any, kind: str) -> str:
    """A report cell as a page shows it (the CSV writes plain values: services/reports/tables.csv_value)."""
    if value is None or value == "":
        return "—" if kind in NUMERIC else ""
    if kind == "days":
        return f"{value:.1f}"
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "hours":
        return f"{Decimal(value):,.2f}"
    if kind == "money":
        return f"${Decimal(value):,.2f}"
    if kind == "date":
        return calendar_date(value)  # a date is a date: no zone
    if kind == "datetime":
        return local_time.moment(value)
    return str(value)


def _given() -> dict[str, str]:
    return {key: (request.args.get(key) or "").strip() for key in FILTERS}


@bp.get("")
def index() -> str:
    return render_template("reports.html", kinds=reports.report_index(identity()))


@bp.get("/<name>")
def report(name: str) -> Response | tuple[str, int]:
    fmt = request.args.get("format", "html")
    if fmt == "csv":
        return download(name)
    if fmt != "html":
        abort(400, description=f"unknown format {fmt!r}: use html or csv")
    page = reports.report_page(services(), identity(), name, _given())
    return render_template("reports_page.html", page=page, kinds=reports.REPORTS.values(), types=REQUEST_TYPES,
                           cell=display), 400 if page.errors else 200


@bp.get("/<name>.csv")
def download(name: str) -> Response:
    done = reports.export_csv(services(), identity(), name, _given())
    return attachment(done.content, done.filename, "text/csv; charset=utf-8")
