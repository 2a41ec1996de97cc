"""Counts and lists for the dashboard: only the requests the reader may read (need-to-know), and their tasks and
incidents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from app.domain.permissions import Reader
from app.services.admin.setup import DEMO_PASSWORD, DEMO_USERS
from app.services.context import Context
from app.services.requests.queries import readable, readable_by
from app.store.models import DefinitionVersion, ServiceJob, ServiceRequest, TaskRow


def dashboard(services: Context, reader: Reader, limit: int = 50) -> dict[str, Any]:
    """The latest `limit` requests `reader` may read, and the counts of those requests, their tasks, incidents."""
    with services.uow() as uow:
        s = uow.session

        def count(query: Select[Any]) -> int | None:
            return s.scalar(select(func.count()).select_from(query.subquery()))

        mine = readable(reader)
        tasks_of_mine = readable_by(TaskRow.request_id, reader)
        jobs_of_mine = readable_by(ServiceJob.request_id, reader)
        requests = list(s.scalars(select(ServiceRequest).where(*mine).order_by(ServiceRequest.id.desc()).limit(limit)))
        open_tasks = dict(s.execute(select(TaskRow.request_id, func.count()).where(
            TaskRow.status == "open", TaskRow.request_id.in_([r.id for r in requests]))
            .group_by(TaskRow.request_id)).all())
        latest = s.scalars(select(DefinitionVersion).order_by(DefinitionVersion.id.desc()).limit(1)).one_or_none()
        return {
            "open_requests": count(select(ServiceRequest.id).where(ServiceRequest.status == "open", *mine)),
            "closed_requests": count(select(ServiceRequest.id).where(ServiceRequest.status == "closed", *mine)),
            "open_tasks": count(select(TaskRow.id).where(TaskRow.status == "open", *tasks_of_mine)),
            "incidents": count(select(ServiceJob.id).where(ServiceJob.status == "incident", *jobs_of_mine)),
            "definition": f"{latest.process_id} v{latest.version}" if latest else None,
            "requests": [{"number": r.number, "title": r.title, "type": r.request_type, "agency": r.agency,
                          "group": r.provider_group.name, "priority": r.priority, "status": r.status,
                          "due": r.sla_due_at, "open_tasks": open_tasks.get(r.id, 0),
                          "sla": "paused" if r.sla_paused_since and r.status == "open"
                          else "breached" if r.sla_breached_at else ""} for r in requests],
            "demo_users": [(u, name, DEMO_PASSWORD) for u, name, _ in DEMO_USERS],
        }
