"""Process definitions (immutable versions), instances, the inbox task projection and service jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.db import Base, UTCDateTime, stamped_on_insert, stamped_on_write


class DefinitionVersion(Base):
    """One deployed bundle of BPMN/DMN/form files; never changed after insert."""

    __tablename__ = "definition_version"
    __table_args__ = (UniqueConstraint("process_id", "version"), UniqueConstraint("process_id", "sha256"))

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    spec_json: Mapped[str] = mapped_column(Text)
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = stamped_on_insert()


class CurrentVersion(Base):
    """The version of a process that new requests start on: the latest deploy, or an older version a process owner
    made current again. One row per process; changed only by a deploy of new content or `make_current`."""

    __tablename__ = "process_current_version"

    process_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    definition_version_id: Mapped[int] = mapped_column(ForeignKey("definition_version.id"))
    made_current_by: Mapped[str] = mapped_column(String(64))
    made_current_at: Mapped[datetime] = stamped_on_write()


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    # A version's instances started in a period, with their status and request (the insights of a version): the
    # index covers the query, so the wide rows (their state) are not read.
    __table_args__ = (Index("ix_process_instance_version_created", "definition_version_id", "created_at", "status",
                            "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"), unique=True)
    definition_version_id: Mapped[int] = mapped_column(ForeignKey("definition_version.id"))
    state_json: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | completed
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic lock
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = stamped_on_insert()
    updated_at: Mapped[datetime] = stamped_on_write()


class InstancePath(Base):
    """A finished instance's recorded steps, derived from its audit events in the transaction that finished it (and
    for earlier instances by migration 0020): what the insights of a version read instead of the events, one row per
    instance. Never the source of truth: `app.store.instance_paths.rebuild` derives every row again from the log.

    The columns of `app.domain.process_insights.Run`, one entry per step in the log's order: `path` the BPMN ids (a
    JSON list: identical paths are identical text), `kinds` one letter per step (u user task, s service task,
    t timer), `steps` three integers per step separated by spaces (the seq of its audit event, when it became ready
    and when it was done, in microseconds since the epoch), `open` the user tasks that became ready and were never
    completed (a JSON list of [BPMN id, ready]; NULL when none)."""

    __tablename__ = "instance_path"

    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"), primary_key=True, autoincrement=False)
    through_seq: Mapped[int] = mapped_column(Integer)  # the request's newest audit event when it was derived
    path: Mapped[str] = mapped_column(Text)
    kinds: Mapped[str] = mapped_column(Text)
    steps: Mapped[str] = mapped_column(Text)
    open: Mapped[str | None] = mapped_column(Text)


class TaskRow(Base):
    """Inbox projection of the open human tasks of every instance; the inbox never loads a workflow."""

    __tablename__ = "task"
    __table_args__ = (
        # covers the inbox's visibility filter, queues and sorts, so paging reads only the index
        Index("ix_task_inbox", "status", "provider_group", "role_code", "assignee", "due_at", "priority", "request_id"),
        Index("ix_task_assignee", "status", "assignee"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    process_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    role_code: Mapped[str | None] = mapped_column(String(64))
    provider_group: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | completed | cancelled
    completed_by: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    form_schema: Mapped[str | None] = mapped_column(String(300))
    ui_schema: Mapped[str | None] = mapped_column(String(300))
    instructions: Mapped[str | None] = mapped_column(Text)
    request_number: Mapped[str] = mapped_column(String(32))
    request_title: Mapped[str] = mapped_column(String(300))
    agency: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = stamped_on_insert()


class ServiceJob(Base):
    """A ready service task waiting for the worker, with its retry bookkeeping."""

    __tablename__ = "service_job"
    __table_args__ = (Index("ix_service_job_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"))
    task_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done | incident
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = stamped_on_insert()
    last_error: Mapped[str | None] = mapped_column(Text)
    # The X-Request-Id of the web request (or the job) that made the task ready; the worker logs it with the job.
    origin_request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = stamped_on_insert()
    updated_at: Mapped[datetime] = stamped_on_write()
