"""The Unfiled mail page: customer replies the system could not match, filed against a request or discarded."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.errors import AppError
from app.services.requests import unfiled_mail
from app.web.context import identity, services

bp = Blueprint("inbound_mail", __name__)


@bp.get("/mail/unfiled")
def unfiled() -> str:
    return render_template("unfiled_mail.html", mails=unfiled_mail.unfiled(services(), identity()),
                           domain=services().settings.inbound_mail_domain)


@bp.post("/mail/unfiled/<int:mail_id>/file")
def file_mail(mail_id: int) -> Response | tuple[str, int]:
    ref = request.form.get("request", "")
    try:
        done = unfiled_mail.file(services(), mail_id, ref, identity())
    except AppError as err:
        return render_template("unfiled_mail.html", mails=unfiled_mail.unfiled(services(), identity()),
                               domain=services().settings.inbound_mail_domain, error=str(err),
                               failed=mail_id), err.status
    flash(f"Filed against {ref.strip().upper()}: " + ("the customer's reply completed the waiting task."
                                                       if done == "completed" else "kept as an internal note."))
    return redirect(url_for("inbound_mail.unfiled"))


@bp.post("/mail/unfiled/<int:mail_id>/discard")
def discard(mail_id: int) -> Response:
    unfiled_mail.discard(services(), mail_id, identity())
    flash("Discarded.")
    return redirect(url_for("inbound_mail.unfiled"))
