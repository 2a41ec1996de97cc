"""Internal work notes on a request: written by the staff who may act on it (`may_add_to_request`), read by whoever
may read the request, shown in its timeline with author and time, audited (`note_added`) and searchable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.domain.permissions import Identity, Reader, may_add_to_request
from app.domain.search_terms import normalised
from app.errors import Forbidden, InvalidData
from app.services.context import Context
from app.services.requests.queries import find_readable
from app.store import audit, search_index
from app.store.models import RequestNote

NOTE_MAX = 10_000  # characters


@dataclass(frozen=True)
class Note:
    id: int
    author: str
    author_name: str
    body: str
    at: datetime


def add_note(services: Context, ref: str, body: str, who: Identity) -> Note:
    """Add `body` as an internal note on request `ref` by `who` (NotFound when they may not read it, Forbidden when
    they may read but not add, InvalidData for an empty or too long note)."""
    text = body.replace("\x00", "").replace("\r\n", "\n").strip()
    if not text:
        raise InvalidData("the note is empty: write something before adding it")
    if len(text) > NOTE_MAX:
        raise InvalidData(f"the note is {len(text):,} characters long; at most {NOTE_MAX:,} are kept")
    now = services.clock.now()
    with services.uow() as uow:
        request = find_readable(uow.session, ref, who)
        if not may_add_to_request(who, request.provider_group.code):
            raise Forbidden(f"{who.username} may read request {request.number} but not add notes to it")
        note = RequestNote(request_id=request.id, author=who.username, author_name=who.full_name, body=text,
                           created_at=now)
        uow.session.add(note)
        uow.session.flush()
        audit.append(uow.session, actor=who.username, event_type="note_added", request_id=request.id, now=now,
                     payload={"note": note.id, "request_number": request.number, "text": text})
        search_index.add_words(uow.session, request.id, normalised(text))
        found = Note(note.id, note.author, note.author_name, note.body, note.created_at)
        uow.commit()
        return found


def notes_of(services: Context, ref: str, reader: Reader) -> list[Note]:
    """The request's notes, oldest first (NotFound for a reader who may not read the request)."""
    with services.uow() as uow:
        request = find_readable(uow.session, ref, reader)
        return [Note(n.id, n.author, n.author_name, n.body, n.created_at) for n in uow.session.scalars(
            select(RequestNote).where(RequestNote.request_id == request.id).order_by(RequestNote.id))]
