"""Email notifications: to the customer when a request is fulfilled, to managers when an SLA target passes.

The process gives the staff's text and a subject; the outbox composes the email from the template the process names
(greeting, the customer's CRM case number, the provider group's signature; text and HTML).

Mail is queued in the outbox within the service task's transaction and delivered over SMTP by the worker,
so a retried task never queues a second message (the outbox is keyed on the task's uuid).
"""

from __future__ import annotations

import re
from typing import Any

from handlers.base import HandlerContext, InvalidParams, one_line, require_text

SUBJECT_MAX = 300  # the outbox's subject column

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# The customer email templates a process may name (parameter `template`); without one, the fulfilment notice.
CUSTOMER_TEMPLATES = frozenset({"customer_question", "customer_fulfilled", "rfc_fulfilled"})


def customer(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    to = require_text(params, "to", 320)
    if not EMAIL.match(to):
        raise InvalidParams(f"{to!r} is not an email address")
    subject = one_line(require_text(params, "subject"), SUBJECT_MAX)  # built from the title: bounded, never refused
    # a question (expects_reply: its email carries a reply token) is the customer_question template unless named
    template = params.get("template") or ("customer_question" if params.get("expects_reply") else "customer_fulfilled")
    if not isinstance(template, str) or template not in CUSTOMER_TEMPLATES:
        raise InvalidParams(f"template {template!r} is not one of {', '.join(sorted(CUSTOMER_TEMPLATES))}")
    return ctx.clients.outbox.queue(kind=template, to=[to], subject=subject, body=require_text(params, "message"),
                                    request_number=require_text(params, "request_number"), key=ctx.idempotency_key)


def escalation(params: dict[str, Any], ctx: HandlerContext) -> dict[str, Any]:
    number = require_text(params, "request_number")
    group = require_text(params, "provider_group")
    recipients = ctx.clients.directory.escalation_recipients(group, number)
    if not recipients:
        raise InvalidParams(f"provider group {group} has no manager to escalate to")
    body = (f"The agreed time schedule for request {number} ({require_text(params, 'title')}) "
            f"ended at {require_text(params, 'sla_due_at')} and the request is still open.\n"
            "Please review it in the Request Fulfillment inbox.")
    return ctx.clients.outbox.queue(kind="escalation", to=recipients, subject=f"SLA target passed: {number}",
                                    body=body, request_number=number, key=ctx.idempotency_key)
