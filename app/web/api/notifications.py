"""The caller's in-app notifications (the header's bell and the *Notifications* page): newest first, a page at a
time, marked read one by one or all at once. A caller only ever sees and marks their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_openapi3.blueprint import APIBlueprint
from pydantic import BaseModel, Field

from app.services.notices import inbox as notices
from app.web.api.common import ERRORS, SECURITY, WRITE_ERRORS, caller, respond, tag
from app.web.context import services

bp = APIBlueprint("api_notifications", __name__, url_prefix="/api/v1", abp_tags=[tag(
    "Notifications", "What happened to the caller's work: a task assigned to them, a billing case forwarded to "
                     "the CAR, an SLA escalation. Written in the same transaction as the event; "
                     "each user reads only their own.")], abp_security=SECURITY)


class PageQuery(BaseModel):
    page: int = Field(1, ge=1, le=100_000, description=f"The page, {notices.PAGE_SIZE} notifications each")


class NoticeRef(BaseModel):
    notice_id: int = Field(ge=1, le=2**31 - 1, description="The notification's id")


class NoticeOut(BaseModel):
    id: int
    kind: str = Field(description="task_assigned, billing_forwarded, sla_warning or sla_breach")
    text: str
    request_number: str | None
    task_id: str | None = Field(description="The task it is about, when there is one")
    created_at: datetime
    read: bool


class NoticePage(BaseModel):
    notifications: list[NoticeOut] = Field(description="Newest first")
    page: int
    pages: int
    total: int
    unread: int = Field(description="Unread notifications in all pages (the bell's count)")


class MarkedRead(BaseModel):
    marked: int = Field(description="How many notifications this call marked read")
    unread: int


@bp.get("/notifications", summary="List my notifications", responses={200: NoticePage, **ERRORS})
def list_notifications(query: PageQuery) -> tuple[dict[str, Any], int]:
    """The caller's notifications, newest first; a page past the last gives the last."""
    found = notices.page_of(services(), caller(), query.page)
    return respond(NoticePage(
        notifications=[NoticeOut(id=n.id, kind=n.kind, text=n.text, request_number=n.request_number,
                                 task_id=n.task_uuid, created_at=n.created_at, read=n.read) for n in found.notices],
        page=found.page, pages=found.pages, total=found.total, unread=found.unread))


@bp.post("/notifications/<int:notice_id>/read", summary="Mark a notification read",
         responses={200: MarkedRead, **WRITE_ERRORS})
def mark_read(path: NoticeRef) -> tuple[dict[str, Any], int]:
    """Marks one of the caller's notifications read (again is harmless); another user's is 404, as one that never
    was."""
    notices.mark_read(services(), caller(), path.notice_id)
    return respond(MarkedRead(marked=1, unread=notices.unread_count(services(), caller())))


@bp.post("/notifications/read", summary="Mark all my notifications read", responses={200: MarkedRead, **WRITE_ERRORS})
def mark_all_read() -> tuple[dict[str, Any], int]:
    """Marks every unread notification of the caller read."""
    marked = notices.mark_all_read(services(), caller())
    return respond(MarkedRead(marked=marked, unread=0))
