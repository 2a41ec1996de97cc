"""What the operator's probes and metrics ask of the database: is it ready (it answers and its schema is at the
migrations' head), and how much work is waiting (cheap COUNT queries, for the scrape-time gauges of /metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from app.services.admin.setup import MIGRATIONS
from app.services.context import Context
from app.store.models import Notification, ServiceJob, ServiceRequest, SlaEscalation, WebhookDelivery


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str  # why not (empty when ready)
    schema: list[str]  # the database's schema revision(s)
    expected: list[str]  # the migrations' head(s)


@cache
def migration_heads() -> tuple[str, ...]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return tuple(sorted(ScriptDirectory.from_config(cfg).get_heads()))


def readiness(services: Context) -> Readiness:
    """Ready when the database answers and its schema is at the migrations' head (`rf migrate` has run)."""
    expected = list(migration_heads())
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = sorted(MigrationContext.configure(conn).get_current_heads())
    except Exception as err:  # noqa: BLE001 - any failure to reach the database is "not ready", with its reason
        return Readiness(False, f"the database does not answer: {type(err).__name__}", [], expected)
    if not current:
        return Readiness(False, "the database has no schema: run `rf migrate`", [], expected)
    if current != expected:
        return Readiness(False, f"the database's schema is at {', '.join(current)}, the migrations' head is "
                                f"{', '.join(expected)}: run `rf migrate`", current, expected)
    return Readiness(True, "", current, expected)


@dataclass(frozen=True)
class Snapshot:
    jobs_pending: int
    jobs_due: int
    oldest_due_job_age_seconds: float
    incidents_open: int
    sla_warnings_open: int
    sla_breaches_open: int
    emails_queued: int
    emails_failed: int
    webhooks_queued: int
    webhooks_failed: int


def snapshot(services: Context) -> Snapshot:
    """The backlog right now (the injected clock's now), in one short read-only transaction."""
    now = services.clock.now()
    with services.uow() as uow:
        s = uow.session

        def count(model: type, *where: object) -> int:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]

        pending = ServiceJob.status == "pending"
        due = (pending, ServiceJob.next_attempt_at <= now)
        oldest = s.scalar(select(func.min(ServiceJob.next_attempt_at)).where(*due))
        escalations = dict(s.execute(
            select(SlaEscalation.level, func.count())
            .join(ServiceRequest, ServiceRequest.id == SlaEscalation.request_id)
            .where(ServiceRequest.status == "open").group_by(SlaEscalation.level)).all())
        return Snapshot(
            jobs_pending=count(ServiceJob, pending), jobs_due=count(ServiceJob, *due),
            oldest_due_job_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            incidents_open=count(ServiceJob, ServiceJob.status == "incident"),
            sla_warnings_open=int(escalations.get("warning", 0)), sla_breaches_open=int(escalations.get("breach", 0)),
            emails_queued=count(Notification, Notification.status == "queued"),
            emails_failed=count(Notification, Notification.status == "failed"),
            webhooks_queued=count(WebhookDelivery, WebhookDelivery.status == "queued"),
            webhooks_failed=count(WebhookDelivery, WebhookDelivery.status == "failed"))
