"""The request page's internal notes and attachments: add a note, upload a file, download a file. A refused note or
file shows the request page again with what was wrong (and the HTTP status of the refusal); nothing is kept."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from app.errors import AppError, InvalidData
from app.services.requests import attachments, notes, queries
from app.web.context import identity, services
from app.web.downloads import attachment
from app.web.pages import render_request

bp = Blueprint("conversation", __name__)


def _again(ref: str, err: AppError, where: str, **more: Any) -> tuple[str, int]:
    """The request page again, with `err` shown in its section `where` (notes | attachments)."""
    shown = queries.show_request(services(), ref, reader=identity())
    return render_request(shown, conversation_error=str(err), conversation_error_in=where, **more), err.status


@bp.post("/requests/<ref>/notes")
def add_note(ref: str) -> Response | tuple[str, int]:
    text = request.form.get("note", "")
    try:
        notes.add_note(services(), ref, text, identity())
    except AppError as err:
        if err.status == 404:
            raise
        return _again(ref, err, "notes", note_text=text)
    return redirect(url_for("pages.request_page", ref=ref) + "#notes")


@bp.post("/requests/<ref>/attachments")
def upload(ref: str) -> Response | tuple[str, int]:
    chosen = request.files.get("file")
    try:
        if chosen is None or not chosen.filename:
            raise InvalidData("choose a file to attach")
        limit = services().settings.attachment_max_bytes
        content = chosen.stream.read(limit + 1)  # never more than the limit and a byte into memory
        if len(content) > limit:
            raise attachments.TooLarge(f"the file is larger than {limit / 1048576:g} MB, the most that may be "
                                       "attached")
        attachments.attach(services(), ref, chosen.filename, content, identity())
    except AppError as err:
        if err.status == 404:
            raise
        return _again(ref, err, "attachments")
    return redirect(url_for("pages.request_page", ref=ref) + "#attachments")


@bp.get("/requests/<ref>/attachments/<int:attachment_id>")
def download(ref: str, attachment_id: int) -> Response:
    found = attachments.download(services(), ref, attachment_id, identity(), identity().username)
    return attachment(found.content, found.filename, found.content_type)

