"""The email templates as administrators edit them: list, read, preview with sample data, save, reset to default.

A save is checked first (syntax, unknown variables, rendering the sample data): a template with a problem is refused
with each part's problem named, and nothing is written. Every save and reset is audited (`email_template_saved`,
`email_template_reset`) with the template before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.permissions import ADMINISTRATORS, Identity
from app.errors import FieldError, Forbidden, InvalidData, NotFound
from app.mail.defaults import Template
from app.mail.templates import NAMES, VARIABLES, Rendered, TemplateProblem, Variable, check, default, render, samples
from app.services.context import Context
from app.store import audit
from app.store.models import EmailTemplate


@dataclass(frozen=True)
class TemplateView:
    key: str
    name: str
    template: Template
    customised: bool
    variables: tuple[Variable, ...]
    updated_by: str | None = None


def _require_admin(identity: Identity) -> None:
    if not identity.holds_any(ADMINISTRATORS):
        raise Forbidden("email templates are for administrators only")


def _known(key: str) -> None:
    if key not in NAMES:
        raise NotFound(f"no email template {key!r}")


def _row(session: Session, key: str) -> EmailTemplate | None:
    return session.scalars(select(EmailTemplate).where(EmailTemplate.key == key)).one_or_none()


def _view(key: str, row: EmailTemplate | None) -> TemplateView:
    template = Template(row.subject, row.text_body, row.html_body) if row else default(key)
    return TemplateView(key, NAMES[key], template, row is not None, VARIABLES[key], row.updated_by if row else None)


def list_templates(services: Context, identity: Identity) -> list[TemplateView]:
    _require_admin(identity)
    with services.uow() as uow:
        rows = {r.key: r for r in uow.session.scalars(select(EmailTemplate))}
        return [_view(key, rows.get(key)) for key in NAMES]


def get_template(services: Context, identity: Identity, key: str) -> TemplateView:
    _require_admin(identity)
    _known(key)
    with services.uow() as uow:
        return _view(key, _row(uow.session, key))


def _checked(key: str, template: Template) -> None:
    try:
        check(key, template)
    except TemplateProblem as err:
        raise InvalidData("the template was not saved: " + str(err),
                          [FieldError(part, why) for part, why in err.problems.items()]) from None


def preview(services: Context, identity: Identity, key: str, template: Template) -> Rendered:
    """`template` rendered with the sample data; InvalidData naming each part's problem."""
    _require_admin(identity)
    _known(key)
    _checked(key, template)
    return render(template, samples(key))


def _snapshot(template: Template) -> dict[str, str]:
    return {"subject": template.subject, "text": template.text, "html": template.html}


def save(services: Context, identity: Identity, key: str, template: Template) -> TemplateView:
    _require_admin(identity)
    _known(key)
    _checked(key, template)
    now = services.clock.now()
    with services.uow() as uow:
        row = _row(uow.session, key)
        before = _view(key, row).template
        if before == template:
            return _view(key, row)
        if row is None:
            row = EmailTemplate(key=key, subject=template.subject, text_body=template.text, html_body=template.html,
                                updated_by=identity.username, updated_at=now)
            uow.session.add(row)
        else:
            row.subject, row.text_body, row.html_body = template.subject, template.text, template.html
            row.updated_by, row.updated_at = identity.username, now
        audit.append(uow.session, actor=identity.username, event_type="email_template_saved", now=now,
                     payload={"template": key, "before": _snapshot(before), "after": _snapshot(template)})
        uow.session.flush()
        uow.commit()
        return _view(key, row)


def reset(services: Context, identity: Identity, key: str) -> TemplateView:
    """Back to the default that ships (the administrator's version is deleted; audited with what it was)."""
    _require_admin(identity)
    _known(key)
    now = services.clock.now()
    with services.uow() as uow:
        row = _row(uow.session, key)
        if row is not None:
            before = _view(key, row).template
            uow.session.delete(row)
            audit.append(uow.session, actor=identity.username, event_type="email_template_reset", now=now,
                         payload={"template": key, "before": _snapshot(before), "after": _snapshot(default(key))})
            uow.commit()
        return _view(key, None)
