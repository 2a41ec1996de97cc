"""Each finished instance's recorded steps, for the insights of a version

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03

`instance_path` holds one row per finished instance: its recorded steps derived from its audit events (user tasks
completed, service tasks run, timers fired, with when each became ready and was done, and the user tasks it reached
and never completed), so that the insights of a version read one row per instance instead of its events. The upgrade
derives the rows of the instances finished before it from the audit log, which it only reads (the hash chains are
untouched); later rows are written when an instance finishes (app.store.instance_paths), and `through_seq` (the
request's newest event when the row was derived) lets every read check a row against the log.
`ix_process_instance_version_created` finds a version's instances started in a period, with their status and
request, without reading the instances' rows (their state). `ix_audit_event_request_seq` (request, seq) replaces the
index on the request alone: a request's events come in the log's order, and "any step after this one" is a single
lookup.

The derivation is copied here as it was at this revision (app.domain.process_insights.runs_from_events and
app.store.instance_paths.encode), so later changes to the application cannot change what this migration does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_BATCH = 500
_STEP_KINDS = {"task_completed": "u", "service_called": "s", "timer_fired": "t"}
_SOURCES = ("instance_started", "task_ready", *_STEP_KINDS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NOTHING: dict[str, str | None] = {"path": "[]", "kinds": "", "steps": "", "open": None}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _rows(events: Sequence[Any]) -> dict[int, dict[str, str | None]]:
    """Each request's row from its events in the log's order."""
    steps: dict[int, list[tuple[str, str, int, int, int]]] = defaultdict(list)
    last_end: dict[int, int] = {}
    ready: dict[tuple[int, str], list[int]] = {}
    for request_id, kind, seq, at, bpmn_id in events:
        us = (at - _EPOCH) // _MICROSECOND
        if kind == "task_ready":
            ready.setdefault((request_id, bpmn_id or ""), []).append(us)
            continue
        if bpmn_id and kind != "instance_started":
            waiting = ready.get((request_id, bpmn_id)) if kind == "task_completed" else None
            since = waiting.pop() if waiting else last_end.get(request_id, us)
            steps[request_id].append((bpmn_id, _STEP_KINDS[kind], seq, since, us))
        last_end[request_id] = us
    left: dict[int, list[list[Any]]] = defaultdict(list)
    for (request_id, bpmn_id), times in sorted(ready.items(), key=lambda item: item[1][0] if item[1] else -1):
        if bpmn_id and times:
            left[request_id] += [[bpmn_id, us] for us in times]
    rows = {}
    for request_id in steps.keys() | left.keys():
        taken = steps.get(request_id, [])
        rows[request_id] = {"path": _json([s[0] for s in taken]), "kinds": "".join(s[1] for s in taken),
                            "steps": " ".join(f"{s[2]} {s[3]} {s[4]}" for s in taken),
                            "open": _json(left[request_id]) if left.get(request_id) else None}
    return rows


def upgrade() -> None:
    op.create_table(
        "instance_path",
        sa.Column("request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("through_seq", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kinds", sa.Text(), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("open", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["service_request.id"]),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_process_instance_version_created", "process_instance",
                    ["definition_version_id", "created_at", "status", "request_id"])
    # the index (not the rows) of the append-only audit table: a request's events in the log's order
    op.drop_index("ix_audit_event_request_id", table_name="audit_event")
    op.create_index("ix_audit_event_request_seq", "audit_event", ["request_id", "seq"])
    instances = sa.table("process_instance", sa.column("request_id", sa.Integer()), sa.column("status", sa.String()))
    events = sa.table("audit_event", sa.column("seq", sa.Integer()), sa.column("at", app.store.db.UTCDateTime()),
                      sa.column("event_type", sa.String()), sa.column("request_id", sa.Integer()),
                      sa.column("payload", sa.JSON()))
    paths = sa.table("instance_path", *(sa.column(name, sa.Text()) for name in ("path", "kinds", "steps", "open")),
                     sa.column("request_id", sa.Integer()), sa.column("through_seq", sa.Integer()))
    bind = op.get_bind()
    finished = bind.execute(sa.select(instances.c.request_id).where(instances.c.status == "completed")
                            .order_by(instances.c.request_id)).scalars().all()
    for first in range(0, len(finished), _BATCH):
        chosen = finished[first:first + _BATCH]
        read = bind.execute(sa.select(events.c.request_id, events.c.event_type, events.c.seq, events.c.at,
                                      events.c.payload["bpmn_id"].as_string())
                            .where(events.c.request_id.in_(chosen), events.c.event_type.in_(_SOURCES))
                            .order_by(events.c.seq)).all()
        derived = _rows(read)
        newest = dict(bind.execute(sa.select(events.c.request_id, sa.func.max(events.c.seq))
                                   .where(events.c.request_id.in_(chosen)).group_by(events.c.request_id)).all())
        bind.execute(sa.insert(paths), [{"request_id": r, "through_seq": newest.get(r, 0),
                                         **derived.get(r, _NOTHING)} for r in chosen])


def downgrade() -> None:
    op.drop_index("ix_audit_event_request_seq", table_name="audit_event")
    op.create_index("ix_audit_event_request_id", "audit_event", ["request_id"])
    op.drop_index("ix_process_instance_version_created", table_name="process_instance")
    op.drop_table("instance_path")
