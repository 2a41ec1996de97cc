"""Access to the application's services and the signed-in identity from views."""

from __future__ import annotations

from flask import current_app, g, url_for

from app.bootstrap import Services
from app.domain.permissions import Identity, abilities


def services() -> Services:
    found: Services = current_app.extensions["rf_services"]
    return found


def identity() -> Identity:
    found: Identity = g.identity
    return found


def home_url(who: Identity) -> str:
    """Where a role's day starts: staff at their inbox, an administrator at the users, a process owner at the
    processes, an auditor at the audit log; anyone else at the requests overview."""
    can = abilities(who)
    if who.staff:
        return url_for("inbox.inbox")
    if can.administer:
        return url_for("admin.users")
    if can.own_processes:
        return url_for("processes.process_list")
    if can.read_audit:
        return url_for("audit.audit_page")
    return url_for("pages.dashboard")
