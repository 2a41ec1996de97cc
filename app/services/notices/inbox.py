"""A user's in-app notifications: newest first, a page at a time; the unread count for the bell; marking read.

A user reads and marks only their own notifications: one that is not theirs is "not found", as one that never was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.domain.permissions import Identity
from app.errors import NotFound
from app.services.context import Context
from app.store.models import User, UserNotice

PAGE_SIZE = 25


@dataclass(frozen=True)
class Notice:
    id: int
    kind: str
    text: str
    request_number: str | None
    task_uuid: str | None
    created_at: datetime
    read: bool


@dataclass(frozen=True)
class NoticePage:
    notices: list[Notice]
    page: int
    pages: int
    total: int
    unread: int


def _user_id(session: Session, who: Identity) -> int:
    user_id = session.scalars(select(User.id).where(User.username == who.username)).first()
    if user_id is None:
        raise NotFound(f"no user {who.username!r}")
    return user_id


def _unread(session: Session, user_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(UserNotice)
                              .where(UserNotice.user_id == user_id, UserNotice.read_at.is_(None))) or 0)


def unread_count(services: Context, who: Identity) -> int:
    with services.uow() as uow:
        return _unread(uow.session, _user_id(uow.session, who))


def page_of(services: Context, who: Identity, page: int = 1) -> NoticePage:
    with services.uow() as uow:
        s = uow.session
        user_id = _user_id(s, who)
        total = int(s.scalar(select(func.count()).select_from(UserNotice).where(UserNotice.user_id == user_id)) or 0)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(1, page), pages)
        rows = s.scalars(select(UserNotice).where(UserNotice.user_id == user_id)
                         .order_by(UserNotice.created_at.desc(), UserNotice.id.desc())
                         .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
        notices = [Notice(r.id, r.kind, r.text, r.request_number, r.task_uuid, r.created_at, r.read_at is not None)
                   for r in rows]
        return NoticePage(notices, page, pages, total, _unread(s, user_id))


def mark_read(services: Context, who: Identity, notice_id: int) -> None:
    now = services.clock.now()
    with services.uow() as uow:
        row = uow.session.get(UserNotice, notice_id)
        if row is None or row.user_id != _user_id(uow.session, who):
            raise NotFound(f"no notification #{notice_id}")
        if row.read_at is None:
            row.read_at = now
        uow.commit()


def mark_all_read(services: Context, who: Identity) -> int:
    """Every unread notification of the user marked read; how many."""
    now = services.clock.now()
    with services.uow() as uow:
        result = uow.session.execute(update(UserNotice).where(
            UserNotice.user_id == _user_id(uow.session, who), UserNotice.read_at.is_(None)).values(read_at=now))
        uow.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]
