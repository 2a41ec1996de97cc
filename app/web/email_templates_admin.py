"""Administration: the email templates (subject, text, HTML), with a preview from sample data and reset to default."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.domain.permissions import ADMIN
from app.errors import InvalidData
from app.mail.defaults import Template
from app.services.admin import email_templates as templates
from app.web.auth import require_role
from app.web.context import identity, services

bp = Blueprint("email_templates_admin", __name__, url_prefix="/admin/email-templates")


@bp.get("")
@require_role(ADMIN)
def template_list() -> str:
    return render_template("admin_email_templates.html", templates=templates.list_templates(services(), identity()))


def _edit_page(key: str, asked: Template | None = None, status: int = 200,
               errors: dict[str, str] | None = None) -> tuple[str, int]:
    shown = templates.get_template(services(), identity(), key)
    template = asked or shown.template
    preview = None
    if not errors:
        try:
            preview = templates.preview(services(), identity(), key, template)
        except InvalidData as err:
            errors = {e.field: e.message for e in err.errors}
    return render_template("admin_email_template.html", shown=shown, template=template, preview=preview,
                           errors=errors or {}), status


def _asked() -> Template:
    def part(name: str) -> str:
        return request.form.get(name, "").replace("\r\n", "\n")

    return Template(part("subject"), part("text"), part("html"))


@bp.get("/<key>")
@require_role(ADMIN)
def edit(key: str) -> tuple[str, int]:
    return _edit_page(key)


@bp.post("/<key>")
@require_role(ADMIN)
def save(key: str) -> Response | tuple[str, int]:
    asked = _asked()
    action = request.form.get("action", "save")
    if action == "preview":
        return _edit_page(key, asked)
    try:
        templates.save(services(), identity(), key, asked)
    except InvalidData as err:
        return _edit_page(key, asked, err.status, {e.field: e.message for e in err.errors})
    flash("Template saved. Emails composed from now on use it.", "ok")
    return redirect(url_for("email_templates_admin.edit", key=key))


@bp.post("/<key>/reset")
@require_role(ADMIN)
def reset(key: str) -> Response:
    templates.reset(services(), identity(), key)
    flash("Template reset to the default that ships with the product.", "ok")
    return redirect(url_for("email_templates_admin.edit", key=key))
