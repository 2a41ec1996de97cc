"""After the load: what must hold whatever happened during the run. Each check is a row: what was checked, what was
found, and whether that passes.

What "doubled" means here (the app's delivery guarantees, see the README's *Integrations*):

* billing cases, CRM takes/closes, ASD entries: an **effect** at the external system, which dedupes on the
  Idempotency-Key the app sends (the service task's id). More than one effect for one request (per ASD status) is
  doubled.
* emails: the outbox gives each notification one stable Message-ID. A message is doubled when the SMTP server
  received one Message-ID more than once, or when one request got two different messages of one kind (two
  notification rows for one purpose).
* webhooks: delivery is at least once by design: a retry carries the same `X-RF-Event-Id`, and a worker killed
  between the receiver's answer and its own commit posts that event again. Receipts of an event id already received
  are counted ("redelivered", what receivers drop by the id) but are not doubled. Doubled is two **different** event
  ids for one change (one type, request and task), which a receiver deduping on the id could not catch.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app import engine
from app.bootstrap import Services
from app.domain.permissions import OPERATOR
from app.services.audit import events as audit_events
from app.services.audit import replay
from app.store.models import (
    DefinitionVersion,
    Notification,
    ProcessInstance,
    ServiceJob,
    ServiceRequest,
    TaskRow,
    WebhookDelivery,
)
from bench.scale.processes import RF
from bench.scale.sinks import Sinks
from bench.scale.users import Stats


@dataclass(frozen=True)
class Check:
    name: str
    found: str
    ok: bool


def requests_known(services: Services, stats: Stats) -> list[Check]:
    with services.uow() as uow:
        stored = {n for n in uow.session.scalars(select(ServiceRequest.number)) if n}
    known = set(stats.known)
    lost = sorted(known - stored)
    unknown = sorted(stored - known)
    return [
        Check("requests: created vs known to users", f"{len(stored)} in the database, {len(known)} answered to "
              f"users, {len(lost)} lost, {len(unknown)} never answered"
              + (f" ({', '.join(unknown[:5])})" if unknown else "")
              + (f"; {len(stats.unanswered)} creations unanswered" if stats.unanswered else ""),
              not lost and not unknown and not stats.unanswered),
    ]


def states(services: Services) -> tuple[list[Check], Counter[str]]:
    """Every request closed, or waiting where its process instance says it waits: each ready user task has its open
    task row (and no other row is open), each ready service task a pending job, or a timer is waiting."""
    where: Counter[str] = Counter()
    bad: list[str] = []
    incidents = 0
    with services.uow() as uow:
        s = uow.session
        specs = {d.id: d.spec_json for d in s.scalars(select(DefinitionVersion))}
        tasks: dict[int, list[str]] = {}
        for request_id, bpmn_id in s.execute(select(TaskRow.request_id, TaskRow.bpmn_id)
                                             .where(TaskRow.status == "open")):
            tasks.setdefault(request_id, []).append(bpmn_id)
        jobs: dict[int, list[tuple[str, str]]] = {}
        incident_errors = []
        for request_id, bpmn_id, status, error in s.execute(
                select(ServiceJob.request_id, ServiceJob.bpmn_id, ServiceJob.status, ServiceJob.last_error)
                .where(ServiceJob.status.in_(["pending", "incident"]))):
            jobs.setdefault(request_id, []).append((bpmn_id, status))
            if status == "incident":
                incident_errors.append(f"{bpmn_id}: {(error or '')[:300]}")
        rows = s.execute(select(ServiceRequest.id, ServiceRequest.number, ServiceRequest.status,
                                ProcessInstance.definition_version_id, ProcessInstance.state_json)
                         .join(ProcessInstance, ProcessInstance.request_id == ServiceRequest.id)).all()
    for request_id, number, status, definition, state_json in rows:
        snap = engine.snapshot(specs[definition], state_json)
        open_rows = sorted(tasks.get(request_id, []))
        pending = sorted(b for b, st in jobs.get(request_id, []) if st == "pending")
        incidents += sum(1 for _, st in jobs.get(request_id, []) if st == "incident")
        if snap.completed:
            if status != "closed" or open_rows or pending:
                bad.append(f"{number}: process completed but request {status}, open {open_rows}, jobs {pending}")
            else:
                where["closed"] += 1
            continue
        if status == "closed":
            bad.append(f"{number}: closed but its process still runs")
            continue
        if open_rows != snap.human_tasks:
            bad.append(f"{number}: open task rows {open_rows} but the process waits at {snap.human_tasks}")
        elif sorted(snap.service_tasks) != pending:
            bad.append(f"{number}: ready service tasks {snap.service_tasks} but pending jobs {pending}")
        elif not (snap.human_tasks or snap.service_tasks or snap.timers):
            bad.append(f"{number}: running but waits at nothing")
        else:
            for bpmn_id in snap.human_tasks:
                where[f"user task {bpmn_id}"] += 1
            for bpmn_id in snap.service_tasks:
                where[f"service task {bpmn_id} (pending)"] += 1
            for timer in snap.timers:
                where[f"timer {timer.bpmn_id}"] += 1
    return [
        Check("every request closed or waiting at a valid step", f"{len(rows)} requests: {where['closed']} closed, "
              f"{len(rows) - where['closed'] - len(bad)} waiting where their process waits, {len(bad)} not"
              + (f": {'; '.join(bad[:3])}" if bad else ""), not bad),
        Check("incidents (service tasks that failed every retry)",
              str(incidents) + (f": {'; '.join(incident_errors[:3])}" if incident_errors else ""), incidents == 0),
    ], where


def external_effects(sinks: Sinks) -> list[Check]:
    fx = sinks.external.effects
    billing = Counter(b.get("request_number") for b in fx.billing_cases)
    takes = Counter(t["case_id"] for t in fx.takes)
    closes = Counter(c["case_id"] for c in fx.closes)
    asd = Counter((a.get("request_number"), a.get("status")) for a in fx.asd_entries)

    def doubled(counts: Counter[Any]) -> int:
        return sum(1 for n in counts.values() if n > 1)

    return [
        Check("billing cases per request (fake billing server)",
              f"{sum(billing.values())} cases for {len(billing)} requests, {doubled(billing)} doubled",
              doubled(billing) == 0),
        Check("CRM takes / closes per case, ASD entries per request and status",
              f"{len(takes)} takes, {len(closes)} closes, {len(asd)} ASD entries; doubled: {doubled(takes)} takes, "
              f"{doubled(closes)} closes, {doubled(asd)} ASD", not (doubled(takes) or doubled(closes) or doubled(asd))),
    ]


def emails(services: Services, sinks: Sinks) -> list[Check]:
    with services.uow() as uow:
        rows = uow.session.execute(select(Notification.id, Notification.idempotency_key, Notification.status,
                                          Notification.kind, Notification.request_number)).all()
    received = sinks.smtp.sink.by_message_id()
    ids = {f"<rf-{i}-{key}@rf.local>": (status, kind, number) for i, key, status, kind, number in rows}
    statuses = Counter(status for status, _, _ in ids.values())
    sent_missing = [m for m, (status, _, _) in ids.items() if status == "sent" and m not in received]
    repeated = {m: n for m, n in received.items() if n > 1}
    strangers = [m for m in received if m not in ids]
    per_purpose = Counter((number, kind) for _, kind, number in ids.values())
    two_messages = [k for k, n in per_purpose.items() if n > 1]
    return [
        Check("emails: queued vs received at the SMTP server",
              f"{len(ids)} notifications ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}); "
              f"{len(received)} Message-IDs received, {len(sent_missing)} sent but not received, "
              f"{len(strangers)} unknown", not sent_missing and not strangers and statuses.get("failed", 0) == 0),
        Check("emails doubled (a Message-ID received twice, or two messages for one request and kind)",
              f"{len(repeated)} Message-IDs received more than once, {len(two_messages)} requests with two messages "
              "of one kind", not repeated and not two_messages),
    ]


def webhooks(services: Services, sinks: Sinks) -> list[Check]:
    with services.uow() as uow:
        rows = uow.session.execute(select(WebhookDelivery.event_id, WebhookDelivery.status)).all()
    statuses = Counter(status for _, status in rows)
    receipts = sinks.webhook_receipts()
    delivered_missing = [e for e, status in rows if status == "delivered" and e not in receipts]
    redelivered = sum(n - 1 for n in receipts.values() if n > 1)
    with sinks.webhooks.lock:
        bodies = {r.event_id: r.body for r in sinks.webhooks.received}
        bad_signatures = len(sinks.webhooks.bad_signatures)
    changes = Counter((b["type"], (b.get("request") or {}).get("number"), b.get("resource", {}).get("id"))
                      for b in bodies.values())
    doubled = {k: n for k, n in changes.items() if n > 1}
    return [
        Check("webhook events: queued vs received",
              f"{len(rows)} deliveries ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}); "
              f"{len(receipts)} event ids received, {len(delivered_missing)} delivered but not received, "
              f"{bad_signatures} bad signatures",
              not delivered_missing and not bad_signatures and statuses.get("failed", 0) == 0),
        Check("webhook events doubled (two event ids for one change)",
              f"{len(doubled)} doubled; {redelivered} repeated receipts of an id already received "
              "(at least once: the receiver drops them by X-RF-Event-Id)", not doubled),
    ]


def _rf_json(env: dict[str, str], *args: str) -> tuple[int, Any]:
    done = subprocess.run([str(RF), *args], env=env, capture_output=True, text=True, check=False,  # noqa: S603
                          timeout=1800)
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        return done.returncode, {"output": (done.stdout + done.stderr)[-500:]}


def audit_and_replay(env: dict[str, str]) -> list[Check]:
    code, verified = _rf_json(env, "audit", "verify", "--json")
    replay_code, replayed = _rf_json(env, "replay", "--all", "--json")
    different = [r.get("request") for r in replayed.get("different", [])] if isinstance(replayed, dict) else []
    return [
        Check("rf audit verify", f"exit {code}: " + (f"intact, {verified.get('events')} events"
                                                    if verified.get("intact") else json.dumps(verified)[:300]),
              code == 0 and bool(verified.get("intact"))),
        Check("rf replay --all: every replay identical",
              f"exit {replay_code}: {replayed.get('identical')} of {replayed.get('requests')} identical"
              + (f"; different: {', '.join(map(str, different[:5]))}" if different else ""),
              replay_code == 0 and replayed.get("requests") == replayed.get("identical")),
    ]


def audit_and_replay_here(services: Services) -> list[Check]:
    """The same services `rf audit verify` and `rf replay --all` call, in this process (no start-up per run)."""
    verified = audit_events.verify_chain(services)
    reports = [replay.replay_request(services, n, reader=OPERATOR)
               for n in replay.request_numbers(services, reader=OPERATOR)]
    different = [r.number for r in reports if not r.identical]
    return [
        Check("audit verify (as rf audit verify)", f"{'intact' if verified.intact else 'BROKEN'}, {verified.count} "
              "events", verified.intact),
        Check("replay of every request (as rf replay --all)", f"{len(reports) - len(different)} of {len(reports)} "
              "identical" + (f"; different: {', '.join(map(str, different[:5]))}" if different else ""),
              not different),
    ]


def backlog(services: Services) -> dict[str, int]:
    """Work still to do: due or waiting service jobs, queued mail and webhook events."""
    with services.uow() as uow:
        s = uow.session
        return {
            "service jobs pending": s.scalar(select(func.count()).select_from(ServiceJob)
                                             .where(ServiceJob.status == "pending")) or 0,
            "mail queued": s.scalar(select(func.count()).select_from(Notification)
                                    .where(Notification.status == "queued")) or 0,
            "webhooks queued": s.scalar(select(func.count()).select_from(WebhookDelivery)
                                        .where(WebhookDelivery.status == "queued")) or 0,
        }
