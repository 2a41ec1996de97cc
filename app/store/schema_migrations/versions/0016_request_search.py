"""The request search index and saved request-list filters

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

The search index holds the words of every request (head: number and title; body: description, agency, requester
name and email, CRM case; notes: the staff notes of its completed tasks). On SQLite it is an FTS5 table
`request_search` whose rowid is the request's id, with prefix indexes for 2-4 letter prefixes; on PostgreSQL the
weighted `tsvector` column `service_request.search_document` (A, B, C) under a GIN index. The upgrade fills it for
the existing requests (their notes from the `task_completed` audit events). `ix_service_request_listing` puts the list's filter columns in one narrow index.
`saved_filter` holds each user's named request-list queries.

The normalisation and the note fields are copied here as they were at this revision (see
app/domain/search_terms.py), so later changes to the application cannot change what this migration does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_WORD = re.compile(r"[^\W_]+")
_NOTE_FIELDS = ("assignment_note", "fulfilment_notes", "resolution_notes", "test_notes", "billing_notes",
                "customer_reply", "need_summary", "proposal_summary")
_BATCH = 1000
_LISTING_COLUMNS = ("provider_group_id", "status", "request_type", "priority", "created_at", "closed_at", "sla_due_at",
                    "sla_breached_at", "sla_paused_since", "id")


def _normalised(*parts: Any) -> str:
    return " ".join(w.lower() for part in parts if isinstance(part, str) and part
                    for w in _WORD.findall(part.replace("\x00", " ")))


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _notes() -> dict[int, str]:
    events = sa.table("audit_event", sa.column("seq", sa.Integer()), sa.column("event_type", sa.String()),
                      sa.column("request_id", sa.Integer()), sa.column("payload", sa.JSON()))
    notes: dict[int, list[str]] = {}
    for row in op.get_bind().execute(sa.select(events.c.request_id, events.c.payload).where(
            events.c.event_type == "task_completed", events.c.request_id.is_not(None)).order_by(events.c.seq)):
        data = (row.payload or {}).get("data") if isinstance(row.payload, dict) else None
        if isinstance(data, dict):
            found = _normalised(*(data.get(f) for f in _NOTE_FIELDS))
            if found:
                notes.setdefault(row.request_id, []).append(found)
    return {request_id: " ".join(parts) for request_id, parts in notes.items()}


def _entries() -> Iterator[list[dict[str, Any]]]:
    requests = sa.table("service_request", sa.column("id", sa.Integer()), sa.column("number", sa.String()),
                        sa.column("title", sa.String()), sa.column("description", sa.Text()),
                        sa.column("agency", sa.String()), sa.column("requester_name", sa.String()),
                        sa.column("requester_email", sa.String()), sa.column("crm_case_id", sa.String()))
    notes = _notes()
    batch: list[dict[str, Any]] = []
    for r in op.get_bind().execute(sa.select(requests).order_by(requests.c.id)):
        batch.append({"id": r.id, "head": _normalised(r.number, r.title),
                      "body": _normalised(r.description, r.agency, r.requester_name, r.requester_email, r.crm_case_id),
                      "notes": notes.get(r.id, "")})
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def upgrade() -> None:
    if _postgresql():
        op.execute("ALTER TABLE service_request ADD COLUMN search_document TSVECTOR")
        op.execute("CREATE TEMPORARY TABLE request_search_stage (id INTEGER PRIMARY KEY, head TEXT NOT NULL, "
                   "body TEXT NOT NULL, notes TEXT NOT NULL) ON COMMIT DROP")
        insert = "INSERT INTO request_search_stage (id, head, body, notes) VALUES (:id, :head, :body, :notes)"
    else:
        op.execute("CREATE VIRTUAL TABLE request_search USING fts5(head, body, notes, "
                   "tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3 4')")
        insert = "INSERT INTO request_search (rowid, head, body, notes) VALUES (:id, :head, :body, :notes)"
    for batch in _entries():
        op.get_bind().execute(sa.text(insert), batch)
    if _postgresql():  # one UPDATE from the staged words; the GIN index built once over the filled column
        op.execute("""
            UPDATE service_request SET search_document =
                setweight(to_tsvector('simple', s.head), 'A') || setweight(to_tsvector('simple', s.body), 'B')
                || setweight(to_tsvector('simple', s.notes), 'C')
            FROM request_search_stage AS s WHERE s.id = service_request.id
        """)
        op.execute("DROP TABLE request_search_stage")
        op.execute("CREATE INDEX ix_service_request_search ON service_request USING gin (search_document)")
    op.create_index("ix_service_request_listing", "service_request", list(_LISTING_COLUMNS))

    op.create_table(
        "saved_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        sa.Column("created_at", app.store.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "name"),
    )
    with op.batch_alter_table("saved_filter") as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_filter_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("saved_filter") as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_filter_user_id"))
    op.drop_table("saved_filter")
    op.drop_index("ix_service_request_listing", table_name="service_request")
    if _postgresql():
        op.execute("DROP INDEX ix_service_request_search")
        op.execute("ALTER TABLE service_request DROP COLUMN search_document")
    else:
        op.execute("DROP TABLE request_search")
