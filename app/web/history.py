"""Replay and "view at step N" for a request: the Replay button's result on the request page, and the request as it
was after each of its audit events (what was done, what it waited at, its data, its diagrams), with times in the
auditor's time zone (`tz`, remembered for the session; default the reader's zone: their Preferences, else the
installation's RF_TIME_ZONE)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, g, render_template, request, session, url_for

from app.domain import local_time
from app.domain.input_limits import record_number
from app.errors import FieldError, InvalidData
from app.services.audit import events as audit_views
from app.services.audit import replay
from app.services.requests import diagram, queries
from app.web.context import services
from app.web.local_time import viewer_zone
from app.web.pages import render_request

bp = Blueprint("history", __name__)
COMMON_ZONES = ["America/Chicago", "America/New_York", "America/Denver", "America/Phoenix", "America/Los_Angeles",
                "UTC"]


def time_zone() -> tuple[str, ZoneInfo]:
    """The auditor's zone: ?tz= (remembered in the session), else the session's, else the reader's own."""
    asked = request.args.get("tz", "").strip()
    name = asked or session.get("tz") or viewer_zone().key
    try:
        zone = local_time.zone(name)
    except local_time.UnknownTimeZone as err:
        raise InvalidData("unknown time zone", [FieldError("tz", str(err))]) from None
    if asked and session.get("tz") != name:
        session["tz"] = name
    return name, zone


def _step(raw: str, steps: int | None = None) -> int:
    """?step= as a step number (1 to `steps` when known; the replay checks the range against the request)."""
    number = record_number(raw)
    if number is None:
        hint = f"use 1 to {steps}" if steps else "use a step number from 1"
        raise InvalidData("step must be a number", [FieldError("step", f"{raw[:40]!r} is not a step: {hint}")])
    return number


@bp.post("/requests/<ref>/replay")
def replay_request(ref: str) -> str:
    """Replay the request and show the result on its page (nothing about the request changes; an auditor's replay
    is logged like any look an auditor takes at a request)."""
    shown = queries.show_request(services(), ref, reader=g.identity)  # need-to-know: 404 for anyone else
    audit_views.record_request_view(services(), g.identity, ref, view="replay")
    report = replay.replay_request(services(), ref, reader=g.identity).as_dict()
    return render_request(shown, replay=report)


@bp.get("/requests/<ref>/history")
def history(ref: str) -> str:
    zone_name, zone = time_zone()
    shown = queries.show_request(services(), ref, reader=g.identity)  # need-to-know: 404 for anyone else
    audit_views.record_request_view(services(), g.identity, ref, view="history")  # an auditor's look is audited
    timeline = diagram.request_timeline(services(), ref, path=shown["path"], reader=g.identity)
    raw_step = request.args.get("step", "").strip()
    step = _step(raw_step, len(timeline)) if raw_step else len(timeline)
    state = replay.state_at(services(), ref, step, reader=g.identity)
    names = state.names
    waiting = state.waiting(zone)
    done = [{"id": element, "name": names.get(element, element), "times": times}
            for element, times in state.done.items()]
    steps = [{**event, "step": i, "local": replay.local_time(event["at"], zone)}
             for i, event in enumerate(timeline, start=1)]
    return render_template(
        "history.html", r=shown, state=state, steps=steps, current=steps[step - 1], done=done,
        waiting=[{"id": element, "name": names.get(element, element), **info} for element, info in waiting.items()],
        timers={t.bpmn_id: replay.local_time(t.due, zone) for t in state.snapshot.timers},
        zone=zone_name, zones=sorted(set(COMMON_ZONES) | {zone_name}),
        diagrams_url=url_for("diagram.diagrams", ref=shown["number"], step=step, tz=zone_name))


def step_diagrams(ref: str, raw_step: str) -> list[dict[str, Any]]:
    """The diagrams' JSON (as /api/requests/<ref>/diagrams) coloured for the request as it was after step N."""
    step = _step(raw_step.strip())
    _, zone = time_zone()
    state = replay.state_at(services(), ref, step, reader=g.identity)
    return diagram.step_diagrams(services(), ref, state.snapshot.path, state.waiting(zone), reader=g.identity)
