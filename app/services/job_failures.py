"""What the worker records when a job fails: a retry with backoff, then an incident; a failed timer pass becomes the
instance's timer job; an administrator's retry of an incident. Each in its own transaction, after the job's own
transaction was rolled back."""

from __future__ import annotations

import threading
import traceback
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.errors import NotFound
from app.services.context import Context
from app.store import audit
from app.store.models import ProcessInstance, ServiceJob

WORKER = "worker"
TIMER_OPERATOR = "engine.timer"  # a service_job row that stands for an instance's failed timer pass


def operator_interrupt(err: BaseException) -> bool:
    """Ctrl-C of `rf worker` (a KeyboardInterrupt in the main thread): stop the worker; the job is rolled back and
    stays pending. Any other exception, BaseException included, is the job's failure, never the worker's end."""
    return isinstance(err, KeyboardInterrupt) and threading.current_thread() is threading.main_thread()


def describe_error(err: BaseException) -> tuple[str, str]:
    error = f"{type(err).__name__}: {err}"
    return error, "".join(traceback.format_exception_only(type(err), err)).strip()


def record_failure(services: Context, job_id: int, now: datetime, error: str, detail: str,
                    params: dict[str, Any], permanent: bool) -> str:
    with services.uow() as uow:
        job = uow.session.get(ServiceJob, job_id)
        assert job is not None
        job.attempts += 1
        job.last_error, job.updated_at = detail, now
        outcome = "retry"
        if permanent or job.attempts >= services.settings.service_max_attempts:
            job.status, outcome = "incident", "incident"
            audit.append(uow.session, actor=WORKER, event_type="incident_raised", request_id=job.request_id, now=now,
                         payload={"task": job.task_uuid, "bpmn_id": job.bpmn_id, "operator": job.operator,
                                  "params": params, "error": error, "attempts": job.attempts})
        else:
            job.next_attempt_at = now + timedelta(seconds=services.settings.service_backoff_seconds
                                                  * 2 ** (job.attempts - 1))
            audit.append(uow.session, actor=WORKER, event_type="service_failed", request_id=job.request_id, now=now,
                         payload={"task": job.task_uuid, "operator": job.operator, "params": params, "error": error,
                                  "attempt": job.attempts, "next_attempt_at": job.next_attempt_at.isoformat()})
        uow.commit()
        return outcome


def retry_incident(services: Context, job_id: int, actor: str) -> None:
    now = services.clock.now()
    with services.uow() as uow:
        job = uow.session.get(ServiceJob, job_id)
        if job is None or job.status != "incident":
            raise NotFound(f"no open incident {job_id}")
        job.status, job.attempts, job.next_attempt_at, job.updated_at = "pending", 0, now, now
        audit.append(uow.session, actor=actor, event_type="incident_resolved", request_id=job.request_id, now=now,
                     payload={"task": job.task_uuid, "operator": job.operator, "action": "retry"})
        uow.commit()


def timer_failed(services: Context, instance_id: int, now: datetime, err: BaseException) -> None:
    """Record a failed timer pass as the instance's timer job (one per instance, reused), counting an attempt."""
    error, detail = describe_error(err)
    with services.uow() as uow:
        instance = uow.session.get(ProcessInstance, instance_id)
        if instance is None:
            return
        key = f"timer:{instance_id}"
        job = uow.session.scalars(select(ServiceJob).where(ServiceJob.task_uuid == key)).one_or_none()
        if job is None:
            job = ServiceJob(instance_id=instance_id, request_id=instance.request_id, task_uuid=key, bpmn_id="timer",
                             operator=TIMER_OPERATOR, attempts=0, next_attempt_at=now, created_at=now)
            uow.session.add(job)
        elif job.status != "pending":
            job.attempts = 0
        job.status, job.updated_at = "pending", now
        uow.commit()
        job_id = job.id
    record_failure(services, job_id, now, error, detail, {}, permanent=False)
