"""Composing an email from its template: the administrator's version when there is one, else the default.

Composing never fails the step that sends the email: a stored template that fails to render is logged and the default
is used; if even the default cannot render (data it does not expect), the message goes out as the plain text the
caller gave.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.local_time import DEFAULT_ZONE, moment, zone
from app.mail.defaults import Template
from app.mail.templates import Rendered, TemplateProblem, default, render
from app.store import reference_cache
from app.store.models import EmailTemplate, ServiceRequest

log = logging.getLogger(__name__)

# The outbox kind of a message -> the template it is composed from (kinds without one go out as given).
TEMPLATE_OF_KIND = {
    "customer": "customer_fulfilled",  # queued by an older process version, which named no template
    "customer_question": "customer_question", "customer_fulfilled": "customer_fulfilled",
    "rfc_fulfilled": "rfc_fulfilled", "cancelled": "customer_cancelled",
    "sla_warning": "sla_escalation", "sla_breach": "sla_escalation", "escalation": "sla_escalation",
    "task_assigned": "task_assigned", "billing_forwarded": "billing_forwarded",
    "customer_replied": "customer_replied",
}


@dataclass(frozen=True)
class MailStyle:
    """What every email shares: the signature's contact line (RF_MAIL_CONTACT, else the sender address) and the
    zone its times are written in (the installation's)."""

    contact: str = "request-fulfillment@omes.example"
    where: tzinfo | None = None

    @property
    def zone(self) -> tzinfo:
        return self.where or zone(DEFAULT_ZONE)


_installed = MailStyle()


def configure(style: MailStyle) -> None:
    """The installation's style (the composition root sets it at start-up), for outboxes built without one."""
    global _installed
    _installed = style


def installed() -> MailStyle:
    return _installed


def stored(session: Session, key: str) -> Template | None:
    """The administrator's template for `key` (None when the default is in use): reference data, read once per
    process and reference generation."""
    def load() -> Template | None:
        row = session.execute(select(EmailTemplate.subject, EmailTemplate.text_body, EmailTemplate.html_body)
                              .where(EmailTemplate.key == key)).one_or_none()
        return None if row is None else Template(row.subject, row.text_body, row.html_body)

    return reference_cache.cached(session, "email_template", key, load)


def request_values(session: Session, request_number: str | None, style: MailStyle, now: datetime,
                   known: ServiceRequest | None = None) -> dict[str, Any]:
    """The values every template may use, from the request (`known` when the caller holds it; empty ones when there
    is no such request)."""
    request = known if known is not None and known.number == request_number else None
    if request is None and request_number:
        request = session.scalars(select(ServiceRequest).where(ServiceRequest.number == request_number)).one_or_none()
    group = request.provider_group if request is not None else None
    crm = (request.crm_case_id or "") if request is not None else ""
    return {
        "request_number": request_number or "", "title": request.title if request else "",
        "agency": request.agency if request else "",
        "customer_name": request.requester_name if request else "",
        "crm_case_number": crm, "case_number": crm or request_number or "",
        "provider_group": {"code": group.code if group else "", "name": group.name if group else "Request Fulfillment",
                           "contact": style.contact},
        "sent_at": moment(now, style.zone),
    }


def compose(session: Session, key: str, values: dict[str, Any]) -> Rendered | None:
    """The email rendered from the administrator's template, or from the default when that one fails (logged);
    None when even the default cannot render."""
    custom = stored(session, key)
    if custom is not None:
        try:
            return render(custom, values)
        except TemplateProblem as err:
            log.warning("email template %s failed, the default is used instead: %s", key, err)
    try:
        return render(default(key), values)
    except TemplateProblem as err:
        log.error("the default email template %s failed, the message goes out as plain text: %s", key, err)
        return None
