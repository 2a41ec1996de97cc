"""A request's internal work notes and attachments: the same services as the request page's *Notes* and
*Attachments* sections, with the same rules (staff who may act on the request write, whoever may read it reads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.models.file import FileStorage
from pydantic import BaseModel, ConfigDict, Field

from app.errors import InvalidData
from app.services.requests import attachments, notes
from app.web.api.common import ERRORS, SECURITY, WRITE_ERRORS, caller, idempotent, respond, tag
from app.web.context import services
from app.web.downloads import attachment

bp = APIBlueprint("api_conversation", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Notes and attachments", "Internal work notes and files on a request, never sent to the customer. The staff "
                             "who may act on a request (members of its provider group, administrators) write; "
                             "whoever may read it reads. Every note, upload and download is audited.")],
                   abp_security=SECURITY)


class RequestRef(BaseModel):
    ref: str = Field(max_length=40, description="The request number (RF-000123) or its id")


class AttachmentRef(RequestRef):
    attachment_id: int = Field(ge=1, le=2**31 - 1, description="The attachment's id (from the list)")


class NoteText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=notes.NOTE_MAX,
                      description=f"The note, plain text, at most {notes.NOTE_MAX:,} characters",
                      json_schema_extra={"example": "Called the agency: the new printer arrives on Monday."})


class NoteOut(BaseModel):
    id: int
    author: str = Field(description="The author's user name")
    author_name: str
    body: str
    at: datetime = Field(description="When it was written (UTC)")


class Notes(BaseModel):
    notes: list[NoteOut] = Field(description="Oldest first")


class FileUpload(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    file: FileStorage = Field(description="The file. Documents, images, archives and text up to the installation's "
                                          "size limit (`RF_ATTACHMENT_MAX_MB`, default 10); programs, scripts, HTML, "
                                          "SVG and macro documents are refused (422) whatever their name says.")


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str = Field(description="The type found in the content (not the one the uploader claimed)")
    size: int = Field(description="Bytes")
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    url: str = Field(description="Where to download it")


class Attachments(BaseModel):
    attachments: list[AttachmentOut] = Field(description="Oldest first")


def _note(found: notes.Note) -> NoteOut:
    return NoteOut(id=found.id, author=found.author, author_name=found.author_name, body=found.body, at=found.at)


def _attachment(ref: str, found: attachments.Attachment) -> AttachmentOut:
    return AttachmentOut(id=found.id, filename=found.filename, content_type=found.content_type, size=found.size,
                         sha256=found.sha256, uploaded_by=found.uploaded_by, uploaded_at=found.uploaded_at,
                         url=f"/api/v1/requests/{ref}/attachments/{found.id}")


@bp.get("/requests/<ref>/notes", summary="List a request's work notes", responses={200: Notes, **ERRORS})
def list_notes(path: RequestRef) -> tuple[dict[str, Any], int]:
    """The request's internal notes, oldest first (404 for a caller who may not read the request)."""
    return respond(Notes(notes=[_note(n) for n in notes.notes_of(services(), path.ref, caller())]))


@bp.post("/requests/<ref>/notes", summary="Add a work note", responses={201: NoteOut, **WRITE_ERRORS})
@idempotent
def add_note(path: RequestRef, body: NoteText) -> tuple[dict[str, Any], int]:
    """Adds an internal note (audited as `note_added`, found by the request search). Members of the request's group
    and administrators; readers who may not write get 403. A note of only blanks is 422. Honours
    `Idempotency-Key`."""
    return respond(_note(notes.add_note(services(), path.ref, body.body, caller())), 201)


@bp.get("/requests/<ref>/attachments", summary="List a request's attachments",
        responses={200: Attachments, **ERRORS})
def list_attachments(path: RequestRef) -> tuple[dict[str, Any], int]:
    """The request's files, oldest first, with their size, type and sha256 (404 for a caller who may not read the
    request)."""
    found = attachments.attachments_of(services(), path.ref, caller())
    return respond(Attachments(attachments=[_attachment(path.ref, a) for a in found]))


@bp.post("/requests/<ref>/attachments", summary="Attach a file", responses={201: AttachmentOut, **WRITE_ERRORS})
@idempotent
def attach(path: RequestRef, form: FileUpload) -> tuple[dict[str, Any], int]:
    """A `multipart/form-data` upload (field `file`), audited as `attachment_added`. Too large is 413, a refused
    type 422; nothing is kept then. Members of the request's group and administrators. Honours
    `Idempotency-Key`."""
    if not form.file.filename:
        raise InvalidData("the upload has no file name: send the file as a named part")
    limit = services().settings.attachment_max_bytes
    content = form.file.stream.read(limit + 1)  # never more than the limit and a byte into memory
    if len(content) > limit:
        raise attachments.TooLarge(f"the file is larger than {limit / 1048576:g} MB, the most that may be attached")
    return respond(_attachment(path.ref, attachments.attach(services(), path.ref, form.file.filename, content,
                                                            caller())), 201)


@bp.get("/requests/<ref>/attachments/<int:attachment_id>", summary="Download an attachment", responses={
    200: {"description": "The file, as an attachment (`Content-Disposition`), with the type found in it",
          "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}, **ERRORS})
def download(path: AttachmentRef) -> Response:
    """The file's bytes for a reader of the request (the download is audited as `attachment_downloaded`)."""
    found = attachments.download(services(), path.ref, path.attachment_id, caller(), caller().username)
    return attachment(found.content, found.filename, found.content_type)
