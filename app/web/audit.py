"""The auditor page: the hash chain's verification, the audit events with filters and paging, and the CSV/XES
event-log downloads (each download is itself logged as `auditor_viewed`). Read-only: no POST here."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from app.domain.input_limits import record_number
from app.domain.permissions import AUDIT_READERS
from app.errors import InvalidData, NotFound
from app.services.audit import events as audit_views
from app.services.audit import export
from app.web.auth import require_role
from app.web.context import identity, services
from app.web.downloads import attachment

bp = Blueprint("audit", __name__, url_prefix="/audit")


def _page_number(value: str | None) -> int:
    return record_number(value) or 1


@bp.get("")
@require_role(*AUDIT_READERS)
def audit_page() -> tuple[str, int]:
    args = request.args
    given = {key: (args.get(key) or "").strip() for key in ("type", "actor", "request", "since", "until", "version")}
    errors: dict[str, str] = {}
    try:
        query = export.parse_query(request=given["request"], since=given["since"], until=given["until"],
                                   version=given["version"])
    except InvalidData as err:
        errors = {e.field: e.message for e in err.errors} or {"": str(err)}
        query = export.ExportQuery()
    filters = audit_views.EventFilters(query=query, event_type=given["type"] or None, actor=given["actor"] or None,
                                       page=_page_number(args.get("page")))
    try:
        page = audit_views.events_page(services(), filters, reader=identity())
    except NotFound as err:
        errors["request" if given["request"] and "request" in str(err) else "version"] = str(err)
        page = {"rows": [], "total": 0, "page": 1, "pages": 1, "event_types": audit_views.event_types(services())}
    export_args = {k: given[k] for k in ("request", "since", "until", "version") if given[k]}
    return render_template("audit.html", chain=audit_views.verify_chain(services()), page=page, given=given,
                           errors=errors, export_args={} if errors else export_args), 422 if errors else 200


@bp.get("/export/<fmt>")
@require_role(*AUDIT_READERS)
def download(fmt: str) -> Any:
    args = request.args
    query = export.parse_query(request=args.get("request"), since=args.get("since"), until=args.get("until"),
                               version=args.get("version"))
    done = export.export(services(), fmt, query, identity().username, reader=identity())
    return attachment(done.content, done.filename, done.mimetype)
