"""When the worker should look again: the earliest moment a service job, a timer, a mail or a webhook delivery becomes
due. The worker loop sleeps until then at most (a commit that makes work due wakes it earlier)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from app.services.context import Context
from app.services.job_failures import TIMER_OPERATOR
from app.store.models import Notification, ProcessInstance, ServiceJob, WebhookDelivery


def next_due(services: Context, after: datetime) -> datetime | None:
    """The earliest time after `after` at which a service job, a timer, a mail or a webhook delivery becomes due (None
    when nothing is waiting): the worker sleeps until then at most. Work already due by `after` is left out: the pass
    that started then has just tried it, and whatever it could not do waits for the poll interval, never in a busy
    loop."""
    failing = select(ServiceJob.instance_id).where(ServiceJob.operator == TIMER_OPERATOR,
                                                   ServiceJob.status.in_(("pending", "incident")))
    queries = [
        select(func.min(ServiceJob.next_attempt_at)).where(ServiceJob.status == "pending",
                                                           ServiceJob.next_attempt_at > after),
        select(func.min(ProcessInstance.next_timer_at)).where(ProcessInstance.status == "running",
                                                              ProcessInstance.next_timer_at > after,
                                                              ProcessInstance.id.not_in(failing)),
        select(func.min(Notification.next_attempt_at)).where(Notification.status == "queued",
                                                             Notification.next_attempt_at > after),
        select(func.min(WebhookDelivery.next_attempt_at)).where(WebhookDelivery.status == "queued",
                                                                WebhookDelivery.next_attempt_at > after),
        select(func.min(WebhookDelivery.claimed_until)).where(WebhookDelivery.status == "queued",
                                                              WebhookDelivery.claimed_until > after),
    ]
    with services.uow() as uow:
        found = [uow.session.scalar(query) for query in queries]
    return min((when for when in found if when is not None), default=None)
