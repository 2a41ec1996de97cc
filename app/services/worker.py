"""The worker's use cases: run due service tasks (retries, backoff, incidents), fire due timers, send queued mail,
post queued webhook events (`webhook_delivery`).

Each service task runs in one transaction together with the records its handler writes, so a crash at any point
rolls everything back and the task simply runs again; nothing is lost and no record is written twice. Email goes
through the outbox and is delivered afterwards, one message per transaction, with a stable Message-ID.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import engine
from app.adapters.outbox import ReplyAddressing, deliver
from app.config import reply_token_secret
from app.domain.local_time import zone
from app.errors import Conflict
from app.observability import request_id as request_ids
from app.services import webhook_delivery
from app.services.audit import events as audit_events
from app.services.context import Context
from app.services.definitions import version_cache
from app.services.job_failures import (
    TIMER_OPERATOR,
    WORKER,
    describe_error,
    operator_interrupt,
    record_failure,
    timer_failed,
)
from app.services.requests import projection, sla_clock
from app.store import audit
from app.store.models import (
    Notification,
    ProcessInstance,
    ServiceJob,
    ServiceRequest,
)
from handlers import HandlerContext, InvalidParams, Refused


@dataclass
class WorkerPass:
    services_run: int = 0
    services_failed: int = 0
    incidents: int = 0
    timers_fired: int = 0
    escalations: int = 0
    mails_sent: int = 0
    webhooks_delivered: int = 0
    webhook_attempts_failed: int = 0

    def did_something(self) -> bool:
        return any(self.__dict__.values())


def _locked(session: Session, query: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


@dataclass(frozen=True)
class DueJob:
    id: int
    operator: str
    request_number: str | None  # the RF number of the request the job belongs to
    origin_request_id: str | None  # the X-Request-Id of the web request that made it ready


@dataclass(frozen=True)
class JobRun:
    """One job the worker ran (for the entry point's log line and metrics): 'done', 'retry', 'incident', 'skipped'
    or 'error' (the attempt itself raised)."""

    job: DueJob
    outcome: str
    seconds: float


def _due_jobs(services: Context, now: datetime, limit: int) -> list[DueJob]:
    with services.uow() as uow:
        rows = uow.session.execute(
            select(ServiceJob.id, ServiceJob.operator, ServiceRequest.number, ServiceJob.origin_request_id)
            .join(ServiceRequest, ServiceRequest.id == ServiceJob.request_id)
            .where(ServiceJob.status == "pending", ServiceJob.next_attempt_at <= now)
            .order_by(ServiceJob.next_attempt_at, ServiceJob.id).limit(limit))
        return [DueJob(*row) for row in rows]


def _loaded(session: Session, instance_id: int) -> tuple[ProcessInstance, version_cache.VersionData] | None:
    """The instance, locked (None when another transaction holds it: try again next pass), and its version's spec
    (from memory after its first use)."""
    instance = projection.lock_instance(session, instance_id, skip_locked=True)
    if instance is None:
        return None
    return instance, version_cache.version_data(session, instance.definition_version_id)


def run_job(services: Context, job_id: int, now: datetime) -> str:
    """Run one service job (or a failed timer pass); returns 'done', 'retry', 'incident' or 'skipped'."""
    params: dict[str, Any] = {}
    with services.uow() as uow:
        session = uow.session
        instance_id = session.scalar(select(ServiceJob.instance_id).where(ServiceJob.id == job_id))
        loaded = _loaded(session, instance_id) if instance_id is not None else None
        if loaded is None:
            return "skipped"
        instance, definition = loaded
        job = session.scalars(_locked(session, select(ServiceJob).where(ServiceJob.id == job_id))).one_or_none()
        if job is None or job.status != "pending":
            return "skipped"
        seen = instance.version
        try:
            if job.operator == TIMER_OPERATOR:
                state = engine.fire_due_timers(definition.spec_json, instance.state_json, now)
                job.status, job.attempts, job.updated_at = "done", job.attempts + 1, now
            else:
                state = _call_service(services, session, job, definition.spec_json, instance.state_json, params, now)
            projection.apply(session, instance, seen, state, now, WORKER)
            uow.commit()
            return "done"
        except Conflict:
            return "skipped"  # someone else moved the instance; the job is re-read next pass
        except BaseException as err:  # noqa: BLE001 - any failure of a job is retried or an incident
            session.rollback()
            if operator_interrupt(err):
                raise
            error, detail = describe_error(err)
            permanent = isinstance(err, InvalidParams | Refused)  # retrying as it is cannot help
    return record_failure(services, job_id, now, error, detail, params, permanent)


def _call_service(services: Context, session: Session, job: ServiceJob, spec_json: str, state_json: str,
                  params: dict[str, Any], now: datetime) -> engine.InstanceState:
    handler = services.handlers.get(job.operator)
    clients = services.clients(session, now)
    if handler is None:
        raise InvalidParams(f"no handler for operator {job.operator}")

    def call(operator: str, call_params: dict[str, Any], key: str) -> dict[str, Any]:
        params.update(call_params)
        return handler(call_params, HandlerContext(idempotency_key=key, now=now, clients=clients,
                                                   ready_at=job.created_at))

    state = engine.run_service_task(spec_json, state_json, job.task_uuid, call, now)
    job.status, job.attempts, job.updated_at = "done", job.attempts + 1, now
    audit.append(session, actor=WORKER, event_type="service_called", request_id=job.request_id, now=now,
                 payload={"task": job.task_uuid, "bpmn_id": job.bpmn_id, "operator": job.operator,
                          "params": params, "result": state.service_result, "attempt": job.attempts})
    return state


def fire_timers(services: Context, now: datetime, limit: int = 100) -> int:
    """Fire due timers, one instance per transaction. An instance whose timer pass fails (a timer expression or a
    script after the timer raised or hit its limit) gets a timer job: retried with backoff, then an incident, and
    skipped here until that job is done, so it never holds up the others."""
    failing = select(ServiceJob.instance_id).where(ServiceJob.operator == TIMER_OPERATOR,
                                                   ServiceJob.status.in_(("pending", "incident")))
    with services.uow() as uow:
        due = list(uow.session.scalars(
            select(ProcessInstance.id).where(ProcessInstance.status == "running", ProcessInstance.next_timer_at <= now,
                                             ProcessInstance.id.not_in(failing)).limit(limit)))
    fired = 0
    for instance_id in due:
        try:
            fired += _fire_instance_timers(services, instance_id, now)
        except BaseException as err:  # noqa: BLE001 - one instance's failure is its own, never the pass's
            if operator_interrupt(err):
                raise
            timer_failed(services, instance_id, now, err)
    return fired


def _fire_instance_timers(services: Context, instance_id: int, now: datetime) -> int:
    with services.uow() as uow:
        loaded = _loaded(uow.session, instance_id)
        if loaded is None:
            return 0
        instance, definition = loaded
        if instance.next_timer_at is None or instance.next_timer_at > now:
            return 0
        seen = instance.version
        state = engine.fire_due_timers(definition.spec_json, instance.state_json, now)
        try:
            projection.apply(uow.session, instance, seen, state, now, WORKER)
        except Conflict:
            return 0
        uow.commit()
        return len(state.fired_timers)


def escalate_slas(services: Context, now: datetime, limit: int = 100) -> int:
    """Raise the SLA escalations that are due (75% used, target passed); each at most once per request."""
    with services.uow() as uow:
        due = list(uow.session.execute(
            select(ServiceRequest.id, ProcessInstance.id).join(ProcessInstance, ProcessInstance.request_id ==
                                                                ServiceRequest.id)
            .where(ServiceRequest.status == "open", ServiceRequest.sla_next_check_at <= now)
            .order_by(ServiceRequest.sla_next_check_at).limit(limit)))
    raised = 0
    for request_id, instance_id in due:
        with services.uow() as uow:  # instance first, as every writer of a request does, then the request
            if projection.lock_instance(uow.session, instance_id, skip_locked=True) is None:
                continue
            request = uow.session.scalars(select(ServiceRequest).where(ServiceRequest.id == request_id)
                                          .execution_options(populate_existing=True)).one_or_none()
            if request is None or request.sla_next_check_at is None or request.sla_next_check_at > now:
                continue
            raised += len(sla_clock.escalate(uow.session, request, now, services.clients(uow.session, now),
                                             zone(services.settings.time_zone)))
            uow.commit()
    return raised


def send_mail(services: Context, now: datetime, limit: int = 50) -> int:
    settings = services.settings
    reply: ReplyAddressing | None = None  # the reply tokens' key is read when a question to a customer is sent
    with services.uow() as uow:
        ids = list(uow.session.scalars(select(Notification.id).where(
            Notification.status == "queued", Notification.next_attempt_at <= now)
            .order_by(Notification.id).limit(limit)))
    sent = 0
    for notification_id in ids:
        with services.uow() as uow:
            row = uow.session.scalars(_locked(uow.session, select(Notification).where(
                Notification.id == notification_id))).one_or_none()
            if row is None or row.status != "queued":
                continue
            if row.kind == "customer_question" and reply is None:
                reply = ReplyAddressing(reply_token_secret(settings), settings.inbound_mail_domain)
            ok = deliver(row, host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from, now=now,
                         max_attempts=settings.service_max_attempts, backoff_seconds=settings.service_backoff_seconds,
                         reply=reply)
            audit.append(uow.session, actor=WORKER, event_type="mail_sent" if ok else "mail_failed", now=now,
                         payload={"notification": row.id, "to": row.to_addrs, "subject": row.subject,
                                  "error": row.last_error if not ok else None})
            uow.commit()
            sent += ok
    return sent


DONE, RETRY, INCIDENT = 1, 2, 3
_OUTCOMES = {"done": DONE, "retry": RETRY, "incident": INCIDENT}


def _run_due(services: Context, job: DueJob, now: datetime, report: Callable[[str], None],
             observe: Callable[[JobRun], None] | None) -> int:
    """Run one due job with its originating request id as the current one (log lines, the jobs it makes ready)."""
    with request_ids.bound(job.origin_request_id):
        began = time.monotonic()
        outcome = "error"
        try:
            outcome = run_job(services, job.id, now)
        except BaseException as err:  # noqa: BLE001 - nothing one job meets stops the others
            if operator_interrupt(err):
                raise
            report(f"worker: job {job.id} failed: {type(err).__name__}: {err}")
        if observe is not None:
            observe(JobRun(job, outcome, time.monotonic() - began))
    return _OUTCOMES.get(outcome, 0)


def _guarded(report: Callable[[str], None], what: str, work: Callable[[], int]) -> int:
    """Run one part of a pass; its failure is reported and the rest of the pass goes on."""
    try:
        return work()
    except BaseException as err:  # noqa: BLE001 - nothing one part meets stops the others
        if operator_interrupt(err):
            raise
        report(f"worker: {what} failed: {type(err).__name__}: {err}")
        return 0


def _webhook_pass(services: Context, now: datetime, report: Callable[[str], None]) -> webhook_delivery.WebhookPass:
    try:
        return webhook_delivery.deliver_due(services, now, report=report)
    except BaseException as err:  # noqa: BLE001 - nothing one part meets stops the others
        if operator_interrupt(err):
            raise
        report(f"worker: webhooks failed: {type(err).__name__}: {err}")
        return webhook_delivery.WebhookPass()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def run_once(services: Context, now: datetime | None = None, max_rounds: int = 50,
             report: Callable[[str], None] = _stderr, stop: threading.Event | None = None,
             observe: Callable[[JobRun], None] | None = None) -> WorkerPass:
    """Do everything that is due, following chains (a service task that readies the next one) to the end.

    Each job, each instance's timers, the escalations and the mail are isolated from one another: whatever one of
    them raises (BaseException included) fails that one (a job: retried, then an incident) and the pass goes on.
    Once `stop` is set the pass ends after the job (or part) it is doing: a graceful shutdown loses nothing, the rest
    is still due for the next worker. `observe` is told about every job run (the entry point logs and counts it)."""
    summary = WorkerPass()

    def stopping() -> bool:
        return stop is not None and stop.is_set()

    for _ in range(max_rounds):
        now_ = now or services.clock.now()
        round_ = WorkerPass()
        for job in _due_jobs(services, now_, 100):
            if stopping():
                break
            outcome = _run_due(services, job, now_, report, observe)
            round_.services_run += outcome == DONE
            round_.services_failed += outcome == RETRY
            round_.incidents += outcome == INCIDENT
        parts: list[tuple[str, Callable[[], int]]] = [
            ("timers_fired", partial(_guarded, report, "timers", partial(fire_timers, services, now_))),
            ("escalations", partial(_guarded, report, "escalations", partial(escalate_slas, services, now_))),
            ("mails_sent", partial(_guarded, report, "mail", partial(send_mail, services, now_)))]
        for name, part in parts:
            if not stopping():
                setattr(round_, name, part())
        if not stopping():  # every CHECKPOINT_EVERY: the heads of the audit chains (not counted in the pass)
            _guarded(report, "audit checkpoint", partial(audit_events.checkpoint_if_due, services, now_))
        if not stopping():
            hooks = _webhook_pass(services, now_, report)
            round_.webhooks_delivered, round_.webhook_attempts_failed = hooks.delivered, hooks.failed_attempts
        for name, value in round_.__dict__.items():
            setattr(summary, name, getattr(summary, name) + value)
        if stopping() or not (round_.services_run or round_.timers_fired or round_.escalations):
            break
    return summary
