"""The engine wrapper on the bundled diagrams, in memory: save/load between steps, long loops, restricted scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app import engine
from app.config import PROJECT_ROOT
from app.engine.runtime import TaskState
from app.engine.scripts import RestrictedEnvironment, ScriptRejected
from app.errors import Conflict
from handlers import REGISTRY

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
LANES = {"Provider Group Manager", "Specialist", "Service Provider", "Customer Account Representative"}
START_DATA = {"request_id": 1, "request_number": "RF-000001", "request_type": "enhancement", "routine": True,
              "title": "Report", "description": "", "agency": "Tourism", "requester_name": "Ann",
              "requester_email": "ann@tourism.example", "provider_group": "apps", "priority": "medium",
              "crm_case_id": "CRM-000001", "sla_due_at": "2027-03-01T00:00:00+00:00"}


@pytest.fixture(scope="module")
def spec_json() -> str:
    files = {p.name: p.read_bytes() for p in (PROJECT_ROOT / "bpmn").glob("*.bpmn")}
    forms = {p.name: p.read_bytes() for p in (PROJECT_ROOT / "forms").glob("*.json")}
    return engine.compile_bundle(files, operators=set(REGISTRY), lanes=LANES, forms=forms).spec_json


def ok_service(operator: str, params: dict, key: str) -> dict:
    return {"ok": True, "operator": operator}


def step(spec_json: str, state: engine.InstanceState, bpmn_id: str, data: dict) -> engine.InstanceState:
    [task] = [t for t in state.human_tasks if t.bpmn_id == bpmn_id]
    return engine.complete_human_task(spec_json, state.state_json, task.task_id, data, NOW)


def run_services(spec_json: str, state: engine.InstanceState) -> engine.InstanceState:
    while state.service_calls:
        state = engine.run_service_task(spec_json, state.state_json, state.service_calls[0].task_id, ok_service, NOW)
    return state


def test_instance_state_holds_no_spec_and_round_trips_through_json(spec_json):
    state = engine.start(spec_json, START_DATA, NOW)
    stored = json.loads(state.state_json)
    assert "spec" not in stored and "subprocess_specs" not in stored
    assert state.serializer_version == "1.5"
    assert [t.bpmn_id for t in state.human_tasks] == ["draw_up_work_plan"]
    assert engine.inspect(spec_json, state.state_json).human_tasks[0].task_id == state.human_tasks[0].task_id


def test_saving_the_state_alone_gives_exactly_what_splitting_the_full_serialization_gave(spec_json):
    """state_json_of skips converting the spec only to drop it again: byte for byte the stored state of before."""
    from app.engine.scripts import AppScriptEngine
    from app.engine.serialization import SERIALIZER, load_workflow, split_state, state_json_of

    state = engine.start(spec_json, START_DATA, NOW)
    states = [state]
    state = step(spec_json, state, "draw_up_work_plan", {"work_plan": "x", "estimated_hours": 1.5,
                                                         "planned_start": "2026-12-02", "planned_finish": "2026-12-03"})
    states.append(state)
    states.append(run_services(spec_json, state))
    for saved in states:
        wf = load_workflow(spec_json, saved.state_json, AppScriptEngine())
        assert state_json_of(wf) == split_state(SERIALIZER.serialize_json(wf)) == saved.state_json


def test_rework_loop_survives_hundreds_of_failed_tests_without_stalling(spec_json):
    state = engine.start(spec_json, START_DATA, NOW)
    state = step(spec_json, state, "draw_up_work_plan", {"work_plan": "x", "estimated_hours": 1,
                                                         "planned_start": "2026-12-02", "planned_finish": "2026-12-03"})
    state = run_services(spec_json, state)
    rounds = 300  # about 4 tasks deep per round: well past SpiffWorkflow's default iteration depth of 1000
    # Most rounds run on one loaded workflow (saving and loading a state that grows every round made this test take
    # most of a minute); the last rounds go through save and load, as every real step does.
    from app.engine.runtime import advance, describe
    from app.engine.scripts import AppScriptEngine
    from app.engine.serialization import load_workflow, state_json_of

    wf = load_workflow(spec_json, state.state_json, AppScriptEngine())
    for _ in range(rounds - 3):
        for bpmn_id, data in (("fulfil_enhancement_request", {"fulfilment_notes": "n", "hours_spent": 1}),
                              ("test_solution", {"test_result": "fail", "test_notes": "again"})):
            [task] = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == bpmn_id]
            task.data.update(data)
            task.run()
            advance(wf)
    state = engine.inspect(spec_json, state_json_of(wf))
    assert describe(wf).human_tasks == state.human_tasks
    for _ in range(3):
        state = step(spec_json, state, "fulfil_enhancement_request", {"fulfilment_notes": "n", "hours_spent": 1})
        state = step(spec_json, state, "test_solution", {"test_result": "fail", "test_notes": "again"})
    assert [t.bpmn_id for t in state.human_tasks] == ["fulfil_enhancement_request"]
    state = step(spec_json, state, "fulfil_enhancement_request", {"fulfilment_notes": "n", "hours_spent": 1})
    state = step(spec_json, state, "test_solution", {"test_result": "pass", "test_notes": "finally"})
    assert [t.bpmn_id for t in state.human_tasks] == ["determine_chargeability"]
    assert state.path.count("test_solution") == rounds + 1


def finish_not_chargeable_enhancement(spec_json: str, start_data: dict) -> tuple[engine.InstanceState, list[str]]:
    """Drive an enhancement to its end without a charge; the service operators called, in order."""
    called: list[str] = []

    def service(operator: str, params: dict, key: str) -> dict:
        called.append(operator)
        return {"ok": True}

    state = engine.start(spec_json, start_data, NOW)
    for bpmn_id, data in (
            ("draw_up_work_plan", {"work_plan": "x", "estimated_hours": 1, "planned_start": "2026-12-02",
                                   "planned_finish": "2026-12-03"}),
            ("fulfil_enhancement_request", {"fulfilment_notes": "n", "hours_spent": 1}),
            ("test_solution", {"test_result": "pass", "test_notes": "ok"}),
            ("determine_chargeability", {"chargeable": False}),
            ("notify_customer_of_fulfilment", {"customer_message": "Done."})):
        state = step(spec_json, state, bpmn_id, data)
        while state.service_calls:
            state = engine.run_service_task(spec_json, state.state_json, state.service_calls[0].task_id, service, NOW)
    assert state.completed
    return state, called


def test_an_enhancement_closes_its_crm_case_after_the_customer_is_notified(spec_json):
    state, called = finish_not_chargeable_enhancement(spec_json, START_DATA)
    assert called == ["worklist.update_entry", "notify.customer", "crm.close_case"]
    assert "close_enhancement_crm_case" in state.path


def test_an_enhancement_without_a_crm_case_ends_without_calling_the_crm(spec_json):
    state, called = finish_not_chargeable_enhancement(spec_json, {**START_DATA, "crm_case_id": None})
    assert called == ["worklist.update_entry", "notify.customer"]
    assert "crm_case_gateway" in state.path and "close_enhancement_crm_case" not in state.path


def test_completing_a_task_that_is_not_ready_is_a_conflict(spec_json):
    state = engine.start(spec_json, START_DATA, NOW)
    task_id = state.human_tasks[0].task_id
    data = {"work_plan": "x", "estimated_hours": 1, "planned_start": "2026-12-02", "planned_finish": "2026-12-03"}
    later = engine.complete_human_task(spec_json, state.state_json, task_id, data, NOW)
    with pytest.raises(Conflict):
        engine.complete_human_task(spec_json, later.state_json, task_id, data, NOW)


def test_service_handler_errors_surface_unmasked(spec_json):
    state = engine.start(spec_json, START_DATA, NOW)
    state = step(spec_json, state, "draw_up_work_plan", {"work_plan": "x", "estimated_hours": 1,
                                                         "planned_start": "2026-12-02", "planned_finish": "2026-12-03"})

    def broken(operator: str, params: dict, key: str) -> dict:
        raise ConnectionError("work list system down")

    with pytest.raises(ConnectionError, match="work list system down"):
        engine.run_service_task(spec_json, state.state_json, state.service_calls[0].task_id, broken, NOW)


@pytest.mark.parametrize("source", [
    "().__class__.__base__.__subclasses__()",
    "__import__('os').system('id')",
    "[c for c in ().__class__.__mro__]",
])
def test_restricted_engine_refuses_dunder_and_import_escapes(source):
    with pytest.raises(ScriptRejected):
        RestrictedEnvironment().evaluate(source, {})


@pytest.mark.parametrize("source", ["open('/etc/passwd').read()", "getattr(1, 'real')", "vars()"])
def test_restricted_engine_has_no_file_or_reflection_builtins(source):
    with pytest.raises(NameError):
        RestrictedEnvironment().evaluate(source, {})


def test_restricted_engine_runs_ordinary_scripts():
    data = {"hours": [1.5, 2.5], "rate": 80}
    RestrictedEnvironment().execute("total = sum(hours) * rate\nlabel = 'PS-' + str(int(total))", data)
    assert (data["total"], data["label"]) == (320.0, "PS-320")
