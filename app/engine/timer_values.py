"""Timer values as modelling tools write them: bare ISO 8601 literals, as Camunda and most BPMN engines accept them.

Our engine evaluates a timer's text as a Python expression, so a value read from instance data still works
(`due_date`, `"P%dD" % days`). Before the engine's parse, `normalise_timers` turns a bare ISO 8601 literal of the
timer's kind into the Python string literal the engine evaluates:

* duration (`timeDuration`): `PT1H`, `P3D`, `P1Y2M10DT2H30M`, `P2W`
* cycle (`timeCycle`): `R3/PT10M`, `R/PT1H` (for ever), `R3/2026-12-01T08:00:00Z/PT1H` (from a start),
  `R3/PT1H/2026-12-01T08:00:00Z` (up to an end)
* date (`timeDate`): `2026-12-24T08:00:00Z`, `2026-12-24T08:00` (local time of the installation), `2026-12-24`
  (the start of that business day)

A text that is one of these literals is always the literal, never a variable of that name. What cannot run is reported
with what to write instead: an expression in `${...}` or `#{...}` (Camunda/JUEL), a cron expression, and an ISO value of
another kind than the timer (a duration in a date timer, a cycle in a duration timer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(rf"P(?=[\dT])(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
                       rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_CRON_FIELD = r"[\d*?/,#LW-]+|[A-Z]{3}(?:[-,][A-Z]{3})*"
_CRON = re.compile(rf"(?:{_CRON_FIELD})(?:\s+(?:{_CRON_FIELD})){{4,6}}")
KINDS = {"timeDuration": "duration", "timeCycle": "cycle", "timeDate": "date"}
EXAMPLES = {
    "duration": "an ISO 8601 duration such as PT1H (one hour) or P3D (three days)",
    "cycle": "an ISO 8601 repeating interval such as R3/PT10M (three times, every ten minutes) or R/P1D (every day)",
    "date": "an ISO 8601 date and time such as 2026-12-24T08:00:00Z, or a date such as 2026-12-24 (the start of "
            "that business day)",
}


@dataclass(frozen=True)
class TimerFinding:
    element: etree._Element  # the event the timer belongs to
    message: str


def _is_date(text: str) -> bool:
    try:
        if _DATE_ONLY.fullmatch(text):
            date.fromisoformat(text)
            return True
        if _DATE_TIME.fullmatch(text):
            datetime.fromisoformat(text.replace("Z", "+00:00"))
            return True
    except ValueError:
        return False
    return False


def _is_cycle(text: str) -> bool:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not re.fullmatch(r"R\d*", parts[0]):
        return False
    rest = parts[1:]
    durations = [p for p in rest if _DURATION.fullmatch(p)]
    return len(durations) == 1 and all(_DURATION.fullmatch(p) or _is_date(p) for p in rest)


def iso_kind(text: str) -> str | None:
    """`duration`, `cycle` or `date` when the text is a bare ISO 8601 literal of that kind, else None."""
    value = text.strip()
    if _DURATION.fullmatch(value):
        return "duration"
    if _is_cycle(value):
        return "cycle"
    if _is_date(value):
        return "date"
    return None


def problem_with(kind: str, text: str) -> str | None:
    """What to change when a timer's text cannot run (None when it is a literal of its kind or an expression)."""
    value = text.strip()
    label = f"timer {kind} `{value}`"
    if not value:
        return f"timer has no {kind}: write {EXAMPLES[kind]}"
    if value.startswith(("${", "#{")):
        return (f"{label} is a Camunda (JUEL) expression, which this engine does not run: write {EXAMPLES[kind]}, or "
                "a Python expression that reads the request's data (for example due_date)")
    found = iso_kind(value)
    if found is not None and found != kind:
        return (f"{label} is an ISO 8601 {found}, but this is a {kind} timer: write {EXAMPLES[kind]}, or change the "
                f"timer's type to {found.capitalize()} in the modeler")
    if found is None and kind == "cycle" and _CRON.fullmatch(value):
        return f"{label} looks like a cron expression, which this engine does not run: write {EXAMPLES[kind]}"
    return None


def normalise_timers(root: etree._Element) -> list[TimerFinding]:
    """Quote bare ISO 8601 literals in place (so the engine evaluates them as strings) and report timer texts that
    cannot run. Line numbers are kept: only text changes."""
    findings: list[TimerFinding] = []
    for tag, kind in KINDS.items():
        for node in root.iter(f"{{{BPMN}}}{tag}"):
            text = node.text or ""
            problem = problem_with(kind, text)
            if problem is not None:
                definition = node.getparent()
                event = definition.getparent() if definition is not None else None
                findings.append(TimerFinding(event if event is not None else node, problem))
            elif iso_kind(text) == kind:
                node.text = f'"{text.strip()}"'
    return findings
