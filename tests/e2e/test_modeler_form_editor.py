"""The modeler page's form editor through the Flask test client: the version's form files are on the page; the live
preview renders a typed JSON Schema with the inbox's form renderer or says why it cannot (invalid JSON with its line
and column, not an object schema, an unsupported construct, too large), only for process owners; edited and new form
files go with Check and Deploy (a broken one is refused naming the file, nothing stored; a good one makes a new version
whose task shows the changed form in the inbox)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

from app.store.models import DefinitionVersion
from tests.driver import Driver
from tests.e2e.conftest import count, records, snapshot
from tests.e2e.test_processes import findings_of, modeler_sources
from tests.web import WebUser

EDIT = "/processes/request_fulfillment/versions/1/edit"
PREVIEW = "/processes/request_fulfillment/versions/1/form-preview"
FORM = "assign_specialist.schema.json"


@pytest.fixture
def olive(services) -> WebUser:
    return WebUser(services, "olive")


def form_sources(page: str) -> dict[str, str]:
    found = re.findall(r'<textarea id="[^"]+" class="form-source" name="form:([^"]+)"[^>]*>\n(.*?)</textarea>', page,
                       re.S)
    return {html.unescape(name): html.unescape(text) for name, text in found}


def preview(user: WebUser, schema: str, ui: str = "", name: str = FORM, csrf: bool = True) -> Any:
    return user.post(PREVIEW, {"schema": schema, "ui": ui, "name": name}, csrf=csrf)


def edit(user: WebUser, bpmn: dict[str, str], forms: dict[str, str], action: str) -> Any:
    data: dict[str, Any] = {"csrf_token": user.token, "action": action}
    data.update({f"bpmn:{name}": text for name, text in bpmn.items()})
    data.update({f"form:{name}": text for name, text in forms.items()})
    return user.client.post(EDIT, data=data, content_type="multipart/form-data")


def relabelled(text: str, label: str) -> str:
    schema = json.loads(text)
    schema["properties"]["assignment_note"]["title"] = label
    return json.dumps(schema, indent=2)


def test_the_modeler_page_carries_every_form_file_of_the_version_for_editing(services, olive):
    page = olive.get(EDIT).get_data(as_text=True)
    forms = form_sources(page)
    [version] = records(services, DefinitionVersion, DefinitionVersion.process_id == "request_fulfillment")
    assert forms == {n: t for n, t in version.files.items() if n.endswith((".schema.json", ".uischema.json"))}
    assert FORM in forms and "assign_specialist.uischema.json" in forms
    assert f'data-preview-url="{PREVIEW}"' in page and "/static/modeler-forms.js" in page


def test_the_preview_renders_the_typed_schema_with_the_inbox_renderer(olive):
    text = form_sources(olive.get(EDIT).get_data(as_text=True))[FORM]
    answer = preview(olive, relabelled(text, "Handover <note>"), ui='{"ui:order": ["assignment_note", "specialist"]}')
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    body = answer.get_data(as_text=True)
    assert body.startswith('<p class="muted">Assign this Assistance Request')
    assert '<fieldset class="rf-preview-fields" disabled>' in body
    assert "Handover &lt;note&gt;" in body and "<note>" not in body  # the typed text is escaped, never markup
    assert body.index('name="assignment_note"') < body.index('name="specialist"')  # the typed UI schema's order


@pytest.mark.parametrize(("schema", "status", "says"), [
    ('{"type": "object",\n  "properties": {\n    "a": {"type": "string",}\n  }\n}', 422,
     "assign_specialist.schema.json is not valid JSON: Expecting property name enclosed in double quotes at line 3, "
     "column 28"),
    ("", 422, "is empty"),
    ("[1, 2]", 422, "is not a JSON object (it is list)"),
    ('{"type": "string"}', 422, "is not an object schema"),
    ('{"type": "object", "properties": {"a": {"type": "strng"}}}', 422, "is not a valid JSON Schema"),
    ('{"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}', 422,
     "uses a construct the inbox's forms do not support at /properties/a: references ($ref)"),
    ('{"type": "object", "properties": {"a": {"type": "number", "x-compare": {"op": "~", "field": "b"}}}}', 422,
     "has a broken rule"),
    ("[" * 60_000, 422, "is not valid JSON"),
    ('{"type": "object", "description": "' + "x" * 70_000 + '"}', 413,
     "a form file may have at most 65536 bytes (64 KiB)"),
])
def test_a_schema_the_inbox_could_not_show_is_a_4xx_with_the_reason(olive, schema, status, says):
    answer = preview(olive, schema)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "text/plain" and says in answer.get_data(as_text=True)


def test_a_broken_ui_schema_and_odd_names_are_said_plainly(olive):
    answer = preview(olive, '{"type": "object"}', ui="{oops")
    assert answer.status_code == 422
    assert "assign_specialist.uischema.json is not valid JSON: Expecting property name" in answer.get_data(as_text=True)
    answer = preview(olive, "nope", name="../../etc/passwd")
    assert answer.status_code == 422 and answer.get_data(as_text=True).startswith("the form is not valid JSON")


def test_only_process_owners_get_the_preview_with_a_csrf_token_and_of_a_version_that_exists(services, olive):
    schema = '{"type": "object", "properties": {"a": {"type": "string"}}}'
    for name in ("maria", "sam", "audrey"):
        assert preview(WebUser(services, name), schema).status_code == 403, name
    assert WebUser(services, None).post(PREVIEW, {"schema": schema}, csrf=False).status_code in (302, 400, 401)
    assert preview(olive, schema, csrf=False).status_code == 400
    assert olive.post("/processes/request_fulfillment/versions/9/form-preview", {"schema": schema}).status_code == 404
    assert olive.post("/processes/no_such/versions/1/form-preview", {"schema": schema}).status_code == 404
    assert preview(WebUser(services, "adam"), schema).status_code == 200


def test_a_check_refuses_a_broken_form_naming_the_file_and_keeps_the_edit(services, olive):
    page = olive.get(EDIT).get_data(as_text=True)
    broken = form_sources(page)[FORM].replace('"type": "object"', '"type": "object",,', 1)
    before = snapshot(services)
    for action in ("check", "deploy"):
        refused = edit(olive, modeler_sources(page), {FORM: broken}, action)
        assert refused.status_code == 422
        shown = refused.get_data(as_text=True)
        [finding] = findings_of(shown)
        assert finding["file"] == FORM and "is not valid JSON" in finding["message"]
        assert form_sources(shown)[FORM] == broken  # the owner's text stays on the page to fix
    assert snapshot(services) == before


@pytest.mark.parametrize(("name", "text", "says"), [
    ("notes.txt", "hello", "is not a form file"),
    ("assistance_request.bpmn", "<x/>", "is not a form file"),
    ("Bad-Name.schema.json", '{"type": "object"}', "a new form's file name is lower-case letters"),
    ("fresh.schema.json", '{"type": "array"}', "is not an object schema"),
])
def test_form_fields_that_are_not_good_form_files_are_refused(services, olive, name, text, says):
    before = snapshot(services)
    refused = edit(olive, {}, {name: text}, "deploy")
    assert refused.status_code == 422
    assert any(f["file"] == name and says in html.unescape(f["message"])
               for f in findings_of(refused.get_data(as_text=True)))
    assert snapshot(services) == before


def test_deploying_an_edited_form_makes_a_new_version_whose_task_shows_the_new_label(services, clock, olive):
    page = olive.get(EDIT).get_data(as_text=True)
    forms = form_sources(page)
    unchanged = edit(olive, modeler_sources(page), forms, "deploy")  # every form posted back as it was
    assert unchanged.status_code == 303 and count(services, DefinitionVersion) == 1

    edited = relabelled(forms[FORM], "Handover note")
    checked = edit(olive, modeler_sources(page), {FORM: edited}, "check")
    assert checked.status_code == 200 and "Check passed" in checked.get_data(as_text=True)
    deployed = edit(olive, modeler_sources(page), {FORM: edited}, "deploy")
    assert deployed.status_code == 303
    v1, v2 = sorted(records(services, DefinitionVersion, DefinitionVersion.process_id == "request_fulfillment"),
                    key=lambda v: v.version)
    assert v2.files[FORM] == edited != v1.files[FORM] and set(v2.files) == set(v1.files)

    driver = Driver(services, clock)
    number = driver.new("assistance")
    driver.work()  # the CRM case is taken first
    task = driver.open_task(number, "assign_specialist")
    shown = WebUser(services, "maria").get(f"/tasks/{task.task_uuid}").get_data(as_text=True)
    assert "Handover note" in shown and "Note for the specialist" not in shown


def test_a_new_form_chosen_by_a_task_is_deployed_with_the_version(services, olive):
    page = olive.get(EDIT).get_data(as_text=True)
    bpmn = modeler_sources(page)
    name = "assistance_request.bpmn"
    assert '"formJsonSchemaFilename" value="assign_specialist.schema.json"' in bpmn[name]
    bpmn[name] = bpmn[name].replace('"formJsonSchemaFilename" value="assign_specialist.schema.json"',
                                    '"formJsonSchemaFilename" value="triage.schema.json"', 1)
    new_form = json.dumps({"title": "Triage", "type": "object", "required": ["specialist"],
                           "properties": {"specialist": {"type": "string", "title": "Who takes it"}}})
    deployed = edit(olive, bpmn, {"triage.schema.json": new_form}, "deploy")
    assert deployed.status_code == 303, findings_of(deployed.get_data(as_text=True))
    [v2] = records(services, DefinitionVersion, DefinitionVersion.version == 2)
    assert v2.files["triage.schema.json"] == new_form
    assert "triage.schema.json" in form_sources(olive.get(
        "/processes/request_fulfillment/versions/2/edit").get_data(as_text=True))


def test_a_new_form_no_task_uses_is_checked_but_said_not_to_be_kept(services, olive):
    page = olive.get(EDIT).get_data(as_text=True)
    unused = {"spare.schema.json": '{"type": "object", "properties": {"x": {"type": "string"}}}'}
    checked = edit(olive, modeler_sources(page), unused, "check")
    assert checked.status_code == 200
    [warning] = findings_of(checked.get_data(as_text=True))
    assert (warning["severity"], warning["file"]) == ("warning", "spare.schema.json")
    assert "no user task uses this form, so it is not stored with the version" in html.unescape(warning["message"])
    deployed = edit(olive, modeler_sources(page), unused, "deploy")
    assert deployed.status_code == 303  # identical to version 1 once the unused form is left out
    assert "no user task uses this form" in html.unescape(olive.get("/processes/request_fulfillment").get_data(
        as_text=True))
    assert count(services, DefinitionVersion) == 1
