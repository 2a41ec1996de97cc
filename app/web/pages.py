"""Read-only overview pages: the dashboard and a request's status. (The staff inbox builds on these.)"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template

from app.bootstrap import Services
from app.domain.attachment_rules import ALLOWED_EXTENSIONS
from app.domain.permissions import may_add_to_request, may_cancel_scheduled
from app.services.audit import events as audit_views
from app.services.requests import attachments, diagram, notes, queries, story
from app.services.requests import dashboard as overview
from app.web.local_time import viewer_zone

pages = Blueprint("pages", __name__)
ACCEPT = ",".join(f".{e}" for e in ALLOWED_EXTENSIONS)  # the file chooser's hint; the server decides


def services() -> Services:
    found: Services = current_app.extensions["rf_services"]
    return found


@pages.get("/")
def dashboard() -> str:
    return render_template("dashboard.html", board=overview.dashboard(services(), g.identity))


@pages.get("/requests/<ref>")
def request_page(ref: str) -> str:
    shown = queries.show_request(services(), ref, reader=g.identity)  # need-to-know: 404 for anyone else
    audit_views.record_request_view(services(), g.identity, ref)  # an auditor's look is itself audited
    return render_request(shown)


def render_request(shown: dict[str, Any], **more: Any) -> str:
    """request.html for `shown` (queries.show_request for the signed-in user), plus `more` (a replay's report)."""
    data = story.request_data(services(), shown, g.identity, viewer_zone())
    conversation = {"notes": notes.notes_of(services(), shown["number"], g.identity),
                    "attachments": attachments.attachments_of(services(), shown["number"], g.identity),
                    "may_add": may_add_to_request(g.identity, shown["provider_group"]),
                    "max_mb": services().settings.attachment_max_bytes / 1048576, "accept": ACCEPT}
    may_cancel = shown["status"] == "scheduled" and may_cancel_scheduled(g.identity, shown["provider_group"])
    return render_template("request.html", r=shown, data=data, conversation=conversation, may_cancel=may_cancel,
                           extras=diagram.request_page_extras(services(), shown, reader=g.identity), **more)


@pages.get("/api/requests/<ref>")
def request_json(ref: str) -> dict[str, Any]:
    shown = queries.show_request(services(), ref, reader=g.identity)
    audit_views.record_request_view(services(), g.identity, ref, view="request_json")
    return shown


@pages.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers. It asks nothing of the database (that is /ready)."""
    return {"status": "ok"}
