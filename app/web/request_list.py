"""The Requests page: search, filters, sort and numbered pages over every request the user may read, and their saved
filters. A plain GET form, so every search is a bookmarkable URL and works without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.domain.vocabulary import PRIORITIES, REQUEST_TYPES
from app.errors import AppError, FieldError, InvalidData
from app.services.requests import listing, saved_filters
from app.web.context import identity, services

bp = Blueprint("request_list", __name__)

PER_PAGE = (25, 50, 100)
Q_MAX = 1000  # longer text is refused; shorter is cut into at most a dozen words by the search itself
SORT_LABELS = {"relevance": "Best match", "newest": "Newest first", "oldest": "Oldest first",
               "due": "Due soonest", "priority": "Priority"}
SLA_LABELS = {"on_time": "On time", "warning": "At risk (75% used)", "breached": "Breached",
              "paused": "Paused (waiting on the customer or the schedule)"}


@dataclass(frozen=True)
class Shown:
    """The form's values as typed (shown back even when one is wrong)."""

    values: dict[str, str]

    def __getattr__(self, name: str) -> str:
        return self.values.get(name, "")


def _date(args: dict[str, str], name: str, errors: list[FieldError]) -> date | None:
    value = args.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(name, f"{value[:40]!r} is not a date (YYYY-MM-DD)"))
        return None


def _choice(args: dict[str, str], name: str, allowed: Any, errors: list[FieldError]) -> str | None:
    value = args.get(name, "")
    if value and value not in allowed:
        errors.append(FieldError(name, f"{value[:40]!r}: use one of {', '.join(allowed)}"))
        return None
    return value or None


def _filters(args: dict[str, str], groups: list[str]) -> listing.RequestFilters:
    """The page's filters from its query string; InvalidData naming every bad one."""
    errors: list[FieldError] = []
    if any("\x00" in v for v in args.values()):
        raise InvalidData("bad filter", [FieldError("q", "must not contain a NUL character")])
    q = args.get("q", "").strip()
    if len(q) > Q_MAX:
        errors.append(FieldError("q", f"at most {Q_MAX} characters"))
    page, per_page = 1, PER_PAGE[1]
    for name in ("page", "per_page"):
        value = args.get(name, "")
        if value and (not value.isdigit() or len(value) > 6 or int(value) < 1):
            errors.append(FieldError(name, f"{value[:40]!r} is not a page number" if name == "page"
                                     else f"use one of {', '.join(map(str, PER_PAGE))}"))
        elif value and name == "per_page" and int(value) not in PER_PAGE:
            errors.append(FieldError(name, f"use one of {', '.join(map(str, PER_PAGE))}"))
        elif value:
            page, per_page = (int(value), per_page) if name == "page" else (page, int(value))
    filters = listing.RequestFilters(
        q=q or None, group=_choice(args, "group", groups, errors),
        request_type=_choice(args, "type", REQUEST_TYPES, errors),
        status=_choice(args, "status", listing.STATUSES, errors),
        priority=_choice(args, "priority", PRIORITIES, errors), sla=_choice(args, "sla", listing.SLA_STATES, errors),
        created_from=_date(args, "created_from", errors), created_to=_date(args, "created_to", errors),
        closed_from=_date(args, "closed_from", errors), closed_to=_date(args, "closed_to", errors),
        sort=_choice(args, "sort", listing.SORTS, errors) or ("relevance" if q else "newest"),
        page=page, limit=per_page)
    if errors:
        raise InvalidData("bad filter", errors)
    return filters


def _page(given: MultiDict[str, str], status: int = 200, save_error: str | None = None,
          name: str = "") -> tuple[str, int]:
    args = given.to_dict()
    groups = listing.groups_for(services(), identity())
    found, problems = None, []
    try:
        filters = _filters(args, [code for code, _ in groups])
        found = listing.list_requests(services(), identity(), filters)
    except InvalidData as err:
        problems, status = err.errors or [FieldError("", str(err))], 400
    query = saved_filters.query_string(list(given.items(multi=True)))
    return render_template(
        "requests.html", found=found, problems=problems, shown=Shown(args), groups=groups, types=REQUEST_TYPES,
        priorities=PRIORITIES, statuses=listing.STATUSES, sla_labels=SLA_LABELS, sort_labels=SORT_LABELS,
        per_pages=PER_PAGE, query=query, saved=saved_filters.list_saved(services(), identity()),
        save_error=save_error, save_name=name,
        filtered=any(args.get(k) for k in saved_filters.PARAMETERS if k not in ("sort", "per_page"))), status


@bp.get("/requests")
def requests_page() -> tuple[str, int]:
    return _page(request.args)


@bp.post("/requests/saved")
def save_filter() -> Response | tuple[str, int]:
    name, query = request.form.get("name", ""), request.form.get("query", "")
    try:
        saved = saved_filters.save(services(), identity(), name, query)
    except AppError as err:  # a bad name (422) or a duplicate (409): the page again, with the reason by the form
        message = "; ".join(e.message for e in err.errors) if isinstance(err, InvalidData) and err.errors else str(err)
        return _page(MultiDict(_pairs(query)), err.status, f"Not saved: {message}", name[:200])
    flash(f"Filter “{saved.name}” saved.", "ok")
    return redirect(url_for("request_list.requests_page") + (f"?{saved.query}" if saved.query else ""))


def _pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query.replace("\x00", ""), keep_blank_values=False)


@bp.post("/requests/saved/<int:filter_id>/delete")
def delete_filter(filter_id: int) -> Response:
    deleted = saved_filters.delete(services(), identity(), filter_id)
    flash(f"Saved filter “{deleted.name}” deleted.", "ok")
    back = request.form.get("query", "")
    return redirect(url_for("request_list.requests_page") + (f"?{urlencode(_pairs(back))}" if back else ""))
