"""A request's audit events in plain words: what each event means, a short summary of its payload, and the element
it concerns; the request page's timeline and the CSV export's summary column both come from here."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.local_time import DEFAULT_ZONE, moment, zone
from app.store.models import AuditEvent

EVENT_WORDS = {
    "instance_started": "Request started",
    "task_ready": "Task ready",
    "task_claimed": "Task claimed",
    "task_unclaimed": "Task released",
    "task_assigned": "Task assigned",
    "task_completed": "Task completed",
    "service_called": "Service task ran",
    "service_failed": "Service task failed",
    "incident_raised": "Incident raised",
    "incident_resolved": "Incident retried",
    "timer_fired": "Timer fired",
    "request_closed": "Request closed",
    "sla_paused": "SLA clock paused",
    "sla_resumed": "SLA clock resumed",
    "sla_warning": "SLA at risk",
    "sla_breached": "SLA target passed",
    "instance_migrated": "Moved to a new process version",
    "incident_data_edited": "Data corrected",
    "request_cancelled": "Request cancelled",
    "request_scheduled": "On the 60 day schedule",
    "request_replanned": "Re-planned",
    "request_pulled": "Pulled from the 60 day schedule",
    "definition_made_current": "Process version made current",
    "crm_case_received": "CRM case feed",
    "crm_case_updated": "CRM case changed in the CRM",
    "crm_case_cancelled": "CRM case cancelled in the CRM",
    "note_added": "Internal note",
    "attachment_added": "File attached",
    "attachment_downloaded": "File downloaded",
    "customer_reply_received": "Customer replied by email",
}
_TONE = {"request_closed": "ok", "task_completed": "ok", "service_called": "ok", "service_failed": "warn",
         "timer_fired": "warn", "sla_warning": "warn", "sla_breached": "error", "sla_paused": "warn",
         "incident_raised": "error", "instance_started": "start", "request_cancelled": "error",
         "incident_data_edited": "warn", "crm_case_updated": "warn", "crm_case_cancelled": "error"}


# An instant as a service or a form stores it (a date alone stays a date: it has no zone).
_INSTANT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")


def _short(value: Any, limit: int = 60, where: ZoneInfo | None = None) -> str:
    """A payload value in a few words; an instant in people's words in `where`, never as a UTC ISO string."""
    if isinstance(value, str) and _INSTANT.fullmatch(value.strip()):
        return when(value.strip(), where)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summarize(data: Any, limit: int = 220, where: ZoneInfo | None = None) -> str:
    if not isinstance(data, dict) or not data:
        return ""
    text = "; ".join(f"{key}: {_short(value, where=where)}" for key, value in data.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(event: AuditEvent, names: dict[str, str], task_names: dict[str, str],
              job_elements: dict[str, str], where: ZoneInfo | None = None) -> tuple[str, str]:
    """The event's plain-words summary and the BPMN element it concerns ('' when none); times in the summary are
    in `where` (the installation's zone; default America/Chicago)."""
    p: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
    task = str(p.get("task") or "")
    bpmn_id = str(p.get("bpmn_id") or job_elements.get(task) or "")
    name = p.get("name") or task_names.get(task) or names.get(bpmn_id) or bpmn_id or "a task"
    kind = event.event_type
    if kind == "instance_started":
        text = f"{str(p.get('request_type', '')).capitalize()} request {p.get('request_number', '')} started on " \
               f"{p.get('definition', 'the process')}"
    elif kind == "task_ready":
        text = f"“{name}” is waiting for the {p.get('lane') or 'staff'}"
        if p.get("assignee"):
            text += f", assigned to {p['assignee']}"
    elif kind == "task_claimed":
        text = f"{event.actor} took “{name}”"
    elif kind == "task_unclaimed":
        text = f"“{name}” went back to the group queue"
        if p.get("previous_assignee"):
            text += f" (was {p['previous_assignee']})"
    elif kind == "task_assigned":
        text = f"“{name}” assigned to {p.get('assignee')}"
        if p.get("previous_assignee"):
            text += f" (was {p['previous_assignee']})"
    elif kind == "task_completed":
        text = f"“{name}” completed"
        if summary := _summarize(p.get("data"), where=where):
            text += f": {summary}"
    elif kind == "service_called":
        attempt = p.get("attempt") or 1
        text = f"“{name}” ran ({p.get('operator')}{', attempt ' + str(attempt) if attempt != 1 else ''})"
        if summary := _summarize(p.get("result"), where=where):
            text += f": {summary}"
    elif kind == "service_failed":
        text = f"“{name}” failed on attempt {p.get('attempt')}: {_short(p.get('error', ''), 200)}"
        if p.get("next_attempt_at"):
            text += f"; next try {when(p['next_attempt_at'], where)}"
    elif kind == "incident_raised":
        text = f"“{name}” stopped after {p.get('attempts')} attempt(s): {_short(p.get('error', ''), 200)}"
    elif kind == "incident_resolved":
        text = f"{event.actor} retried “{name}”"
    elif kind == "timer_fired":
        text = f"“{name}” fired"
    elif kind == "request_closed":
        text = "The process reached its end; the request is closed"
    elif kind in ("sla_warning", "sla_breached"):
        text = f"{p.get('what', 'SLA escalation')}; " + (
            f"emailed {', '.join(p['recipients'])}" if p.get("recipients") else "reached with the breach, not emailed")
    elif kind == "sla_paused":
        text = f"The SLA clock stopped: {p.get('reason', 'paused')}"
    elif kind == "sla_resumed":
        hours = float(p.get("paused_business_seconds") or 0) / 3600
        text = (f"The SLA clock runs again after {hours:.1f} paused business hours; "
                f"due {when(p.get('sla_due_at'), where)}")
    elif kind == "incident_data_edited":
        after_value, before_value = p.get("after"), p.get("before")
        after: dict[str, Any] = after_value if isinstance(after_value, dict) else {}
        before: dict[str, Any] = before_value if isinstance(before_value, dict) else {}
        text = f"{event.actor} corrected what “{name}” reads: " + "; ".join(
            f"{key}: {_short(before.get(key))} → {_short(value)}" for key, value in after.items())
    elif kind == "definition_made_current":
        text = (f"New requests of {p.get('process_id')} now start on v{p.get('version')} "
                f"(was v{p.get('previous_version')})")
    elif kind == "request_cancelled":
        text = f"{event.actor} cancelled the request: {_short(p.get('reason', ''), 200)}"
    elif kind == "crm_case_updated":
        changes_value = p.get("changes")
        changes: dict[str, Any] = changes_value if isinstance(changes_value, dict) else {}
        text = f"The CRM changed case {p.get('case')} (the request keeps what it started with): " + "; ".join(
            f"{key}: {_short(c.get('before') if isinstance(c, dict) else c)} → "
            f"{_short(c.get('after') if isinstance(c, dict) else c)}" for key, c in changes.items())
        if p.get("reopened_in_crm"):
            text += " (reopened in the CRM)"
    elif kind == "crm_case_cancelled":
        text = f"The CRM cancelled case {p.get('case')}; the request goes on until its people decide" + (
            f": {_short(p['reason'], 200)}" if p.get("reason") else "")
    elif kind == "note_added":
        text = _short(p.get("text", ""), 500)
    elif kind in ("attachment_added", "attachment_downloaded"):
        text = f"{p.get('filename')}" + (f" ({p.get('size')} bytes, sha256 {str(p.get('sha256'))[:12]}…)"
                                         if kind == "attachment_added" else "")
    elif kind == "customer_reply_received":
        text = f"{p.get('from')} answered “{name}”: {_short(p.get('reply', ''), 300)}"
    elif kind == "request_scheduled":
        text = (f"Waits on the 60 day schedule{' after Discovery' if p.get('waiting_at') else ''}, planned for the "
                f"week of {p.get('planned_week')}")
    elif kind == "request_replanned":
        text = f"{event.actor} moved it from the week of {p.get('from_week')} to the week of {p.get('planned_week')}"
    elif kind == "request_pulled":
        text = f"{event.actor} pulled it from the 60 day schedule (planned for the week of {p.get('planned_week')})"
    elif kind == "instance_migrated":
        text = f"Moved from {p.get('process_id')} v{p.get('from_version')} to v{p.get('to_version')}"
    else:
        text = _summarize(p, where=where)
    return text, bpmn_id



def when(value: Any, where: ZoneInfo | None = None) -> str:
    """A recorded time in people's words, in `where` (default America/Chicago): 'Tue 1 Dec 2026, 09:00 CST'."""
    if not value:
        return ""
    try:
        return moment(str(value), where or zone(DEFAULT_ZONE))
    except ValueError:
        return str(value)


def of_events(events: list[AuditEvent], names: dict[str, str], job_elements: dict[str, str],
              path: list[str], where: ZoneInfo | None = None) -> list[dict[str, Any]]:
    """The request's audit events, oldest first: time, actor, what happened in plain words, and a summary.
    `names` are the BPMN elements' names, `job_elements` the element of each service job's task, `path` the completed
    element ids (a logged timer that never completed was withdrawn, not fired)."""
    fired_so_far: Counter[str] = Counter()
    timer_completions = Counter(path)
    task_names: dict[str, str] = {}
    for event in events:
        p = event.payload if isinstance(event.payload, dict) else {}
        if p.get("task") and p.get("name"):
            task_names[str(p["task"])] = str(p["name"])
    timeline = []
    for event in events:
        summary, bpmn_id = describe(event, names, task_names, job_elements, where)
        what = EVENT_WORDS.get(event.event_type, event.event_type.replace("_", " ").capitalize())
        tone = _TONE.get(event.event_type, "")
        if event.event_type == "timer_fired" and bpmn_id:
            fired_so_far[bpmn_id] += 1
            if fired_so_far[bpmn_id] > timer_completions[bpmn_id]:  # never completed: withdrawn, not fired
                what, tone = "Timer withdrawn", "plain"
                summary = f"“{names.get(bpmn_id, bpmn_id)}” no longer applies: the activity it watched finished first"
        timeline.append({
            "seq": event.seq, "at": event.at, "actor": event.actor, "event_type": event.event_type,
            "what": what, "summary": summary, "bpmn_id": bpmn_id, "tone": tone,
        })
    return timeline
