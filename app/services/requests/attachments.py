"""Files attached to a request: checked by their content (app/domain/attachment_rules.py), named safely, kept by the
configured storage (app/store/attachment_storage.py) with their sha256, audited on upload and on download, and
listed by reference (name, size, sha256, uploader, time) in the audit export."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from werkzeug.utils import secure_filename

from app.domain.attachment_rules import AttachmentRefused, check
from app.domain.permissions import Identity, Reader, may_add_to_request
from app.errors import AppError, Forbidden, InvalidData, NotFound
from app.services.context import Context
from app.services.requests.queries import find_readable
from app.store import audit
from app.store.attachment_storage import reader_of, storage_for
from app.store.models import RequestAttachment

NAME_MAX = 200


class TooLarge(AppError):
    status = 413


@dataclass(frozen=True)
class Attachment:
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    content: bytes


def _shown(row: RequestAttachment) -> Attachment:
    return Attachment(row.id, row.filename, row.content_type, row.size, row.sha256, row.uploaded_by, row.uploaded_at)


def safe_name(filename: str, extension: str) -> str:
    """`filename` as stored and offered for download: werkzeug's secure_filename (ASCII letters, digits, - _ .),
    keeping the extension the content was checked for, at most NAME_MAX characters."""
    name = secure_filename(filename)[-NAME_MAX:].lstrip(".")
    if not name.lower().endswith(f".{extension}"):  # e.g. a name of no ASCII letters ("отчёт.pdf" -> "pdf")
        stem = name.rsplit(".", 1)[0] if "." in name else name
        name = f"{stem if stem and stem.lower() != extension else 'attachment'}.{extension}"
    return name


def attach(services: Context, ref: str, filename: str, content: bytes, who: Identity) -> Attachment:
    """Attach `content` (uploaded as `filename`) to request `ref`. NotFound when `who` may not read it, Forbidden
    when they may only read it, TooLarge over the size limit, InvalidData for a refused file; nothing is kept then."""
    limit = services.settings.attachment_max_bytes
    if len(content) > limit:
        raise TooLarge(f"the file is {len(content) / 1048576:.1f} MB; at most {limit / 1048576:g} MB may be attached")
    if not filename.strip():
        raise InvalidData("choose a file to attach")
    try:
        accepted = check(filename, content)
    except AttachmentRefused as err:
        raise InvalidData(f"{filename[:NAME_MAX]!r} was not attached: {err}") from None
    now = services.clock.now()
    storage = storage_for(services.settings.attachment_storage, _folder(services))
    row = RequestAttachment(filename=safe_name(filename, accepted.extension), content_type=accepted.content_type,
                            size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                            uploaded_by=who.username, uploaded_at=now)
    with services.uow() as uow:
        request = find_readable(uow.session, ref, who)
        if not may_add_to_request(who, request.provider_group.code):
            raise Forbidden(f"{who.username} may read request {request.number} but not attach files to it")
        row.request_id = request.id
        storage.put(uow.session, row, content)
        try:
            uow.session.add(row)
            uow.session.flush()
            audit.append(uow.session, actor=who.username, event_type="attachment_added", request_id=request.id,
                         now=now, payload={"attachment": row.id, "request_number": request.number,
                                           "filename": row.filename, "size": row.size, "sha256": row.sha256,
                                           "content_type": row.content_type})
            shown = _shown(row)
            uow.commit()
        except BaseException:
            storage.forget(row)
            raise
        return shown


def attachments_of(services: Context, ref: str, reader: Reader) -> list[Attachment]:
    with services.uow() as uow:
        request = find_readable(uow.session, ref, reader)
        return [_shown(r) for r in uow.session.scalars(select(RequestAttachment).where(
            RequestAttachment.request_id == request.id).order_by(RequestAttachment.id))]


def download(services: Context, ref: str, attachment_id: int, reader: Reader, actor: str) -> Download:
    """The file, for a reader of its request (NotFound otherwise); the download is audited."""
    with services.uow() as uow:
        request = find_readable(uow.session, ref, reader)
        row = uow.session.get(RequestAttachment, attachment_id)
        if row is None or row.request_id != request.id:
            raise NotFound(f"request {request.number} has no attachment {attachment_id}")
        try:
            content = reader_of(row, _folder(services)).get(uow.session, row)
        except OSError:
            raise NotFound(f"the file of attachment {attachment_id} is missing from the attachment storage") from None
        audit.append(uow.session, actor=actor, event_type="attachment_downloaded", request_id=request.id,
                     now=services.clock.now(), payload={"attachment": row.id, "filename": row.filename,
                                                        "sha256": row.sha256})
        uow.commit()
        return Download(row.filename, row.content_type, content)


def _folder(services: Context) -> Path:
    return services.settings.attachment_dir or services.settings.instance_dir / "attachments"
