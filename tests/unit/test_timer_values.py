"""Timer values as modelling tools write them: bare ISO 8601 literals deploy and fire as Camunda fires them, Python
expressions keep working, and what cannot run is refused with the element, its line and what to write instead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app import engine
from app.domain.local_time import business_start
from app.engine.spiff_patches import timer_zone
from app.engine.timer_values import iso_kind, problem_with
from app.errors import DefinitionRejected

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TAGS = {"duration": "timeDuration", "cycle": "timeCycle", "date": "timeDate"}


def bundle(kind: str, value: str) -> dict[str, bytes]:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org">
  <bpmn:process id="waiting" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait" name="Cooling off">
      <bpmn:timerEventDefinition id="wait_timer">
        <bpmn:{TAGS[kind]}>{value}</bpmn:{TAGS[kind]}>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="done" />
    <bpmn:endEvent id="done" />
  </bpmn:process>
</bpmn:definitions>
"""
    return {"waiting.bpmn": xml.encode()}


def compiled(kind: str, value: str) -> str:
    return engine.compile_bundle(bundle(kind, value), operators=set(), lanes=None, forms={}).spec_json


def refusal(kind: str, value: str) -> tuple[str, str, int | None, str]:
    with pytest.raises(DefinitionRejected) as refused:
        compiled(kind, value)
    [problem] = refused.value.problems
    return problem.element_id, problem.name, problem.line, problem.message


@pytest.mark.parametrize(("kind", "value", "due"), [
    ("duration", "PT1H", NOW + timedelta(hours=1)),
    ("duration", "P3D", NOW + timedelta(days=3)),
    ("duration", " PT90M ", NOW + timedelta(minutes=90)),
    ("date", "2026-12-24T08:00:00Z", datetime(2026, 12, 24, 8, 0, tzinfo=UTC)),
    ("date", "2026-12-24T09:00:00+01:00", datetime(2026, 12, 24, 8, 0, tzinfo=UTC)),
])
def test_a_bare_iso_timer_deploys_and_waits_until_its_due_time(kind, value, due):
    spec = compiled(kind, value)
    waiting = engine.start(spec, {}, NOW)
    assert (waiting.completed, waiting.next_timer_at) == (False, due)
    assert engine.fire_due_timers(spec, waiting.state_json, due - timedelta(seconds=1)).completed is False
    assert engine.fire_due_timers(spec, waiting.state_json, due + timedelta(seconds=1)).completed is True


def test_a_bare_date_fires_at_the_start_of_that_business_day_in_the_installations_zone():
    waiting = engine.start(compiled("date", "2026-12-24"), {}, NOW)
    assert waiting.next_timer_at == business_start(date(2026, 12, 24), timer_zone())


@pytest.mark.parametrize("value", ["R3/PT10M", "R/PT1H", "R3/2026-12-01T08:00:00Z/PT1H",
                                   "R2/PT1H/2027-01-01T00:00:00Z"])
def test_bare_iso_repeating_intervals_deploy_as_cycle_timers(value):
    assert '\\"' + value + '\\"' in compiled("cycle", value)


@pytest.mark.parametrize(("value", "due"), [
    ("R2/PT1H", NOW + timedelta(hours=1)),
    ("R2/2026-12-01T17:00:00Z/PT1H", datetime(2026, 12, 1, 17, 0, tzinfo=UTC)),  # from a start: its first firing
])
def test_a_bare_cycle_waits_for_its_first_firing(value, due):
    assert engine.start(compiled("cycle", value), {}, NOW).next_timer_at == due


@pytest.mark.parametrize(("value", "data", "due"), [
    ('"PT2H"', {}, NOW + timedelta(hours=2)),
    ('"PT%dH" % hours', {"hours": 5}, NOW + timedelta(hours=5)),
    ("cooling_off", {"cooling_off": "P1D"}, NOW + timedelta(days=1)),
])
def test_python_timer_expressions_keep_working(value, data, due):
    assert engine.start(compiled("duration", value), data, NOW).next_timer_at == due


@pytest.mark.parametrize(("kind", "value", "says"), [
    ("duration", "${coolingOff}", ["`${coolingOff}` is a Camunda (JUEL) expression", "PT1H", "Python expression"]),
    ("date", "#{dueDate}", ["Camunda (JUEL) expression", "2026-12-24T08:00:00Z"]),
    ("cycle", "0 0 9 * * ?", ["looks like a cron expression", "R3/PT10M"]),
    ("duration", "R3/PT10M", ["is an ISO 8601 cycle, but this is a duration timer",
                              "change the timer's type to Cycle"]),
    ("date", "PT1H", ["is an ISO 8601 duration, but this is a date timer", "to Duration"]),
    ("duration", "2026-12-24", ["is an ISO 8601 date, but this is a duration timer"]),
    ("duration", "", ["timer has no duration", "PT1H"]),
    ("duration", "three days", ["`three days` is neither an ISO 8601 value nor a Python expression", "P3D"]),
    ("duration", "P3X", ["P3X is not a valid ISO 8601 value", "P3D (three days)"]),
    ("duration", '"P3X"', ['"P3X" is not a valid value', "PT1H"]),
    ("date", '"2026-13-45"', ['"2026-13-45" is not a valid value', "2026-12-24T08:00:00Z"]),
])
def test_a_timer_value_that_cannot_run_names_the_event_its_line_and_what_to_write(kind, value, says):
    element_id, name, line, message = refusal(kind, value)
    assert (element_id, name, line) == ("wait", "Cooling off", 6)
    for part in says:
        assert part in message


def test_iso_kinds_are_recognised_strictly():
    assert [iso_kind(v) for v in ("PT1H", "P1Y2M10DT2H30M", "P2W", "PT0.5H", "P", "PT", "P1H")] == \
        ["duration", "duration", "duration", "duration", None, None, None]
    assert [iso_kind(v) for v in ("R/P1D", "R5/PT1M", "R/PT1H/PT2H", "R3", "R3/2026-01-01")] == \
        ["cycle", "cycle", None, None, None]
    assert [iso_kind(v) for v in ("2026-12-24", "2026-12-24T08:00", "2026-02-30", "due_date")] == \
        ["date", "date", None, None]
    assert problem_with("cycle", "x if y else z") is None  # an expression, not a cron line
