"""What the modeler's properties panel asks the server, through the Flask test client: the page data (the version's
forms, the roles lanes map to, the operators with their parameters), a form's preview rendered by the inbox's form
renderer, and one condition or timer value checked by the deploy check's code; bad input is a clear 4xx, and only
process owners and administrators get any of it."""

from __future__ import annotations

import json
import re

import pytest

from tests.web import WebUser

PANEL_DATA = re.compile(r'<script type="application/json" id="rf-modeler-data">(.*?)</script>', re.S)
PREVIEW = "/processes/request_fulfillment/versions/1/form-preview"


@pytest.fixture
def olive(services) -> WebUser:
    return WebUser(services, "olive")


def test_the_modeler_page_carries_the_versions_forms_the_roles_and_the_operators_with_their_parameters(olive):
    page = olive.get("/processes/request_fulfillment/versions/1/edit").get_data(as_text=True)
    found = PANEL_DATA.search(page)
    assert found, "the page carries no panel data"
    data = json.loads(found.group(1))
    assert "assign_specialist.schema.json" in data["forms"] and "assign_specialist.uischema.json" in data["uiSchemas"]
    assert all(name.endswith(".schema.json") for name in data["forms"])
    assert {"code": "specialist", "name": "Specialist", "lane": "Specialist"} in data["roles"]
    assert all(role["lane"] for role in data["roles"])  # process owners, auditors and admins act in no lane
    assert {p["name"]: p["type"] for p in data["operators"]["billing.create_case"]} == {
        "request_number": "str", "agency": "str", "billable_hours": "float", "hourly_rate": "float",
        "billing_code": "str"}
    assert data["previewUrl"] == PREVIEW and data["checkUrl"] == "/processes/check-value"
    assert '/vendor/modeler/modeler.js' in page and '/vendor/modeler/modeler.css' in page


def test_a_forms_preview_is_rendered_by_the_inbox_form_renderer_and_never_submitted(olive):
    answer = olive.get(f"{PREVIEW}?schema=await_customer_reply.schema.json")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    assert html.startswith('<fieldset class="rf-preview-fields" disabled>')
    assert "Customer&#39;s reply" in html and 'name="customer_reply"' in html


@pytest.mark.parametrize(("query", "status", "says"), [
    ("", 400, "Give the form's schema file"),
    ("?schema=assign_specialist.uischema.json", 422, "is not a form schema"),
    ("?schema=../../etc/passwd", 422, "is not a form schema"),
    ("?schema=no_such_form.schema.json", 404, "has no form no_such_form.schema.json"),
])
def test_a_preview_of_no_form_of_the_version_is_a_clear_4xx(olive, query, status, says):
    answer = olive.get(PREVIEW + query)
    assert answer.status_code == status and says in answer.get_data(as_text=True)


def test_a_preview_of_an_unknown_version_is_not_found(olive):
    assert olive.get("/processes/request_fulfillment/versions/9/form-preview?schema=x.schema.json").status_code == 404


@pytest.mark.parametrize(("kind", "value", "ok", "says"), [
    ("condition", 'resolution_code == "resolved"', True, None),
    ("condition", "resolution_code ==", False, "refused by the restricted engine"),
    ("condition", "open('x').read()", False, "uses open"),
    ("timeDuration", "PT1H", True, None),
    ("timeCycle", "R3/PT10M", True, None),
    ("timeDate", "P3D", False, "is an ISO 8601 duration, but this is a date timer"),
    ("timeDuration", "${later}", False, "Camunda (JUEL) expression"),
])
def test_a_condition_or_timer_value_is_checked_by_the_deploy_checks_code(olive, kind, value, ok, says):
    answer = olive.client.get("/processes/check-value", query_string={"kind": kind, "value": value})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["ok"] is ok
    if says:
        assert any(says in finding for finding in body["findings"]), body
    else:
        assert body["findings"] == []


@pytest.mark.parametrize(("kind", "value", "says"), [
    ("script", "1", "kind must be one of condition, timeDuration, timeCycle, timeDate"),
    ("", "1", "kind must be one of"),
    ("condition", "   ", "the value is empty"),
    ("timeDuration", "P" + "1" * 3000 + "D", "longer than 2000 characters"),
    ("condition", "a\x01b", "contains a control character"),
])
def test_a_value_check_with_bad_input_is_a_422_with_the_reason(olive, kind, value, says):
    answer = olive.client.get("/processes/check-value", query_string={"kind": kind, "value": value})
    assert answer.status_code == 422
    assert says in answer.get_json()["message"]


def test_only_process_owners_and_administrators_get_the_panels_endpoints(services):
    paths = [f"{PREVIEW}?schema=assign_specialist.schema.json", "/processes/check-value?kind=condition&value=1"]
    for name in ("maria", "sam", "audrey"):
        user = WebUser(services, name)
        for path in paths:
            assert user.get(path).status_code == 403, (name, path)
    anonymous = WebUser(services, None)
    for path in paths:
        assert anonymous.get(path).status_code in (302, 401), path
    admin = WebUser(services, "adam")
    for path in paths:
        assert admin.get(path).status_code == 200, path


def test_the_modeler_bundle_is_served_and_nothing_beside_it(olive):
    script = olive.get("/vendor/modeler/modeler.js")
    assert script.status_code == 200 and "RfModeler" in script.get_data(as_text=True)
    assert olive.get("/vendor/modeler/modeler.css").status_code == 200
    assert olive.get("/vendor/modeler/../../package.json").status_code == 404
    assert olive.get("/vendor/modeler/index.js").status_code == 404
