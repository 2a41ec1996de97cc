"""Outbound webhooks: the event catalogue, which audit events become which webhook event, what each payload says,
which URLs a subscription may name and how long a failed delivery waits before the next attempt.

Pure rules, no I/O. A webhook event is derived from an audit event written in the same transaction as the change it
describes (see `app.store.webhook_outbox`), so a committed change always has its events queued and a rolled-back one
has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

PING = "ping"

# name -> when it is emitted (shown on the admin page, in the README and in `rf webhooks list`)
CATALOGUE: dict[str, str] = {
    "request.created": "a request is logged (or pulled from the CRM queue) and its process starts",
    "request.closed": "a request's process completes, or the request is cancelled from an incident",
    "task.ready": "a human task becomes ready (it appears in the inbox)",
    "task.completed": "someone completes a human task",
    "sla.warning": "75% of a request's SLA target is used",
    "sla.breached": "a request's SLA target passes",
    "incident.raised": "a service task failed its last attempt and the request stopped there",
    "incident.resolved": "an incident is retried (as it is, or after correcting its data)",
}
EVENTS: tuple[str, ...] = tuple(CATALOGUE)

# audit event type -> webhook event name
FROM_AUDIT: dict[str, str] = {
    "instance_started": "request.created",
    "request_closed": "request.closed",
    "request_cancelled": "request.closed",
    "task_ready": "task.ready",
    "task_completed": "task.completed",
    "sla_warning": "sla.warning",
    "sla_breached": "sla.breached",
    "incident_raised": "incident.raised",
    "incident_resolved": "incident.resolved",
}

# the keys of the audit payload each event repeats in its `resource` (never submitted form data or addresses)
_RESOURCE_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "instance_started": (("definition", "definition"),),
    "request_closed": (),
    "request_cancelled": (("reason", "reason"),),
    "task_ready": (("task", "id"), ("bpmn_id", "bpmn_id"), ("name", "name"), ("lane", "lane"),
                   ("assignee", "assignee")),
    "task_completed": (("task", "id"), ("bpmn_id", "bpmn_id"), ("process_id", "process_id"), ("name", "name")),
    "sla_warning": (("level", "level"), ("threshold_at", "threshold_at"), ("sla_due_at", "sla_due_at")),
    "sla_breached": (("level", "level"), ("threshold_at", "threshold_at"), ("sla_due_at", "sla_due_at")),
    "incident_raised": (("task", "task"), ("bpmn_id", "bpmn_id"), ("operator", "operator"), ("error", "error"),
                        ("attempts", "attempts")),
    "incident_resolved": (("task", "task"), ("operator", "operator"), ("action", "action")),
}
_KINDS = {"request": "request", "task": "task", "sla": "sla", "incident": "incident"}
_ERROR_MAX = 500
URL_MAX = 2000
DESCRIPTION_MAX = 200
_BACKOFF_CAP_SECONDS = 6 * 3600


def resource(audit_type: str, audit_payload: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """The small description of what the event is about, taken from the audit event's payload."""
    event = FROM_AUDIT[audit_type]
    described: dict[str, Any] = {"kind": _KINDS[event.split(".", 1)[0]]}
    for source, target in _RESOURCE_KEYS[audit_type]:
        if source in audit_payload:
            value = audit_payload[source]
            described[target] = value[:_ERROR_MAX] if isinstance(value, str) and source == "error" else value
    if audit_type == "request_closed":
        described["outcome"] = "completed"
    elif audit_type == "request_cancelled":
        described["outcome"] = "cancelled"
    elif audit_type == "task_completed":
        described["completed_by"] = actor
    return described


def payload(*, event_id: str, event_type: str, occurred_at: datetime, actor: str,
            request: Mapping[str, Any] | None, described: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of one event: the same bytes on every attempt and every redelivery."""
    return {"id": event_id, "type": event_type, "occurred_at": occurred_at.isoformat(), "actor": actor,
            "request": dict(request) if request is not None else None, "resource": dict(described)}


def check_url(url: str) -> str:
    """The URL a subscription posts to, stripped; `ValueError` saying what is wrong unless it is an absolute http or
    https URL with a host (no credentials in it, no spaces or control characters)."""
    url = url.strip()
    if not url:
        raise ValueError("give the URL to post events to")
    if len(url) > URL_MAX:
        raise ValueError(f"the URL is longer than {URL_MAX} characters")
    if not (url.isascii() and url.isprintable()) or " " in url:
        raise ValueError("the URL may not contain spaces, control or non-ASCII characters (percent-encode them)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ValueError(f"the URL cannot be read: {err}") from None
    if parts.scheme.lower() not in ("http", "https"):
        given = f"{parts.scheme}:" if parts.scheme else "a URL without a scheme"
        raise ValueError(f"only http and https URLs are allowed, not {given}")
    if not parts.hostname:
        raise ValueError("the URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise ValueError("put no user name or password in the URL; receivers check the signature instead")
    if port == 0:
        raise ValueError("the URL's port must be between 1 and 65535")
    return url


def check_events(chosen: list[str]) -> list[str]:
    """The chosen event names in catalogue order; `ValueError` for none or an unknown one."""
    unknown = sorted(set(chosen) - set(EVENTS))
    if unknown:
        raise ValueError(f"unknown event {', '.join(unknown)}; choose from {', '.join(EVENTS)}")
    if not chosen:
        raise ValueError("choose at least one event")
    return [name for name in EVENTS if name in chosen]


def backoff_seconds(attempts: int, base: float) -> float:
    """How long to wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base, … at most 6 hours."""
    return float(min(base * 2 ** max(attempts - 1, 0), _BACKOFF_CAP_SECONDS))
