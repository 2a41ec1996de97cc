"""The conversation around a request: staff's internal notes, attached files, and the customer's emailed replies
(with the ones that could not be matched to a waiting request: the unfiled mail)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.store.db import Base, UTCDateTime


class RequestNote(Base):
    """An internal work note on a request: read by staff who may read the request, never sent to the customer."""

    __tablename__ = "request_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"), index=True)
    author: Mapped[str] = mapped_column(String(320))  # username
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RequestAttachment(Base):
    """A file attached to a request. Its bytes live where `storage` says: in `content` ("database") or in a file
    named by `storage_key` under the configured folder ("disk")."""

    __tablename__ = "request_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(320))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    storage: Mapped[str] = mapped_column(String(20))  # database | disk
    storage_key: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))


class InboundMail(Base):
    """A message received by the inbound mail endpoint: filed (it completed a waiting task or a person filed it
    against a request), unfiled (waiting for a person), or discarded."""

    __tablename__ = "inbound_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    reply_text: Mapped[str] = mapped_column(Text)  # the reply without its quoted history
    size: Mapped[int] = mapped_column(Integer)
    request_number: Mapped[str | None] = mapped_column(String(32), index=True)  # what the token named, if valid
    status: Mapped[str] = mapped_column(String(20), index=True)  # filed | unfiled | discarded
    reason: Mapped[str | None] = mapped_column(Text)  # why it is unfiled
    handled_by: Mapped[str | None] = mapped_column(String(320))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
