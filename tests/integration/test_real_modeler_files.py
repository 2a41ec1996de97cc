"""Diagrams drawn by other tools, checked in byte for byte under tests/data/ (their sources are named in the READMEs
beside them): one saved by Camunda Modeler with Camunda extensions, and SpiffArena modeler files with spiffworkflow
extensions. Each is accepted and deployed, or refused with precise findings (file, element, name, line, message);
never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import DefinitionRejected
from app.services.definitions import deploy as definitions
from app.store.models import DefinitionVersion
from tests.e2e.conftest import count, snapshot

DATA = Path(__file__).resolve().parent.parent / "data"
CAMUNDA = DATA / "camunda_modeler"
SPIFFARENA = DATA / "spiffarena"


def line_of(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if marker in line)


def refusal(services, path: Path) -> list[tuple[str, str, str, str, int | None, str]]:
    with pytest.raises(DefinitionRejected) as refused:
        definitions.check(services, definitions.read_paths([path]))
    return sorted((p.severity, p.file, p.element_id, p.name, p.line, p.message) for p in refused.value.problems)


def test_the_camunda_modeler_file_really_carries_camunda_extensions():
    text = (CAMUNDA / "loanApproval.bpmn").read_text()
    assert 'exporter="Camunda Modeler"' in text and 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"' in text
    assert 'camunda:formKey="embedded:app:task-form.html"' in text and 'camunda:assignee="demo"' in text


def test_the_spiffarena_files_really_carry_spiffworkflow_extensions():
    user_task = (SPIFFARENA / "basic-user-task.bpmn").read_text()
    service_task = (SPIFFARENA / "service_task.bpmn").read_text()
    assert '<spiffworkflow:property name="formJsonSchemaFilename" value="user-form-schema.json" />' in user_task
    assert '<spiffworkflow:serviceTaskOperator id="http/GetRequest"' in service_task


def test_camunda_modelers_embedded_form_user_task_is_refused_precisely(services):
    path = CAMUNDA / "loanApproval.bpmn"
    line = line_of(path, 'id="UserTask_1"')
    assert refusal(services, path) == [
        ("error", "loanApproval.bpmn", "UserTask_1", "Approve Request", line,
         "user task is in no lane, so nobody could act on it"),
        ("error", "loanApproval.bpmn", "UserTask_1", "Approve Request", line,
         "user task names no form (spiffworkflow property formJsonSchemaFilename)"),
    ]


def test_spiffarenas_user_task_is_refused_for_its_missing_forms_and_lane(services):
    path = SPIFFARENA / "basic-user-task.bpmn"
    line = line_of(path, 'id="user_task_one"')
    assert refusal(services, path) == [
        ("error", "basic-user-task.bpmn", "user_task_one", "User Task 1", line,
         "UI schema file user-form-uischema.json is not in the bundle or forms/"),
        ("error", "basic-user-task.bpmn", "user_task_one", "User Task 1", line,
         "form file user-form-schema.json is not in the bundle or forms/"),
        ("error", "basic-user-task.bpmn", "user_task_one", "User Task 1", line,
         "user task is in no lane, so nobody could act on it"),
    ]


def test_spiffarenas_service_task_is_refused_because_its_connector_has_no_handler(services):
    path = SPIFFARENA / "service_task.bpmn"
    [(severity, file, element_id, name, line, message)] = refusal(services, path)
    assert (severity, file, element_id, name, line) == \
        ("error", "service_task.bpmn", "service_task_one", "Task 2", line_of(path, 'id="service_task_one"'))
    assert message.startswith("service operator 'http/GetRequest' has no handler (known: ")


def test_spiffarenas_script_task_model_is_accepted_and_deployed_once(services):
    path = SPIFFARENA / "basic_script_task.bpmn"
    bundle = definitions.check(services, definitions.read_paths([path]))
    assert (bundle.process_id, bundle.warnings) == ("Process_Script_Task", [])
    deployed = definitions.deploy(services, definitions.read_paths([path]), "olive")
    assert (deployed.process_id, deployed.version, deployed.created) == ("Process_Script_Task", 1, True)
    again = definitions.deploy(services, definitions.read_paths([path]), "olive")
    assert (again.version, again.created) == (1, False)
    assert count(services, DefinitionVersion, DefinitionVersion.process_id == "Process_Script_Task") == 1


def test_deploying_a_refused_real_file_stores_nothing(services):
    before = snapshot(services)
    for path in (CAMUNDA / "loanApproval.bpmn", SPIFFARENA / "basic-user-task.bpmn", SPIFFARENA / "service_task.bpmn",
                 SPIFFARENA / "read_etc_passwd.bpmn"):
        with pytest.raises(DefinitionRejected):
            definitions.deploy(services, definitions.read_paths([path]), "olive")
    assert snapshot(services) == before
