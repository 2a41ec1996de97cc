"""The modeler's form editor in Chromium against the real `rf serve`: a process owner opens a task's form, changes a
field's label in the JSON, watches the live preview (rendered by the server's form renderer) follow it and say where
the JSON breaks, adds a new form (offered at once as a task's form in the properties panel, whose preview shows the
form as edited), deploys, and the task of a new request shows the new label in the inbox."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_modeler_properties import _select
from tests.browser.test_staff_journeys import open_task
from tests.driver import Driver

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FORM = "assign_specialist.schema.json"


def test_an_owner_edits_a_forms_label_sees_the_preview_follow_and_new_requests_show_it(services, clock, staff):
    olive = staff("olive")
    olive.goto("/processes/request_fulfillment/versions/1/edit")
    expect(olive.locator(".modeler-canvas[data-ready=true]").first).to_be_visible()
    editor = olive.get_by_role("region", name="Forms", exact=True)
    preview = editor.get_by_role("region", name=re.compile(r"^Preview of "))

    editor.get_by_role("button", name=FORM, exact=True).click()
    expect(editor.get_by_role("button", name=FORM, exact=True)).to_have_attribute("aria-pressed", "true")
    expect(preview).to_contain_text("Note for the specialist")
    source = editor.get_by_label(FORM, exact=True)
    schema = json.loads(source.input_value())

    label = '"title": "Note for the specialist"'
    source.fill(source.input_value().replace(label + ",", label))  # a comma missing
    expect(editor.get_by_role("status").filter(has_text="is not valid JSON")).to_contain_text(re.compile(
        r"assign_specialist\.schema\.json is not valid JSON: Expecting ',' delimiter at line \d+, column \d+"))

    schema["properties"]["assignment_note"]["title"] = "Handover note"
    source.fill(json.dumps(schema, indent=2))
    expect(preview).to_contain_text("Handover note")
    expect(preview).not_to_contain_text("Note for the specialist")
    expect(editor.get_by_role("status").filter(has_text="Rendered")).to_have_text("Rendered as the inbox shows it.")
    editor.scroll_into_view_if_needed()
    screenshot(olive, "modeler_form_editor.png")

    # A new form: its name is checked, it opens from a small template with its preview, and the properties panel
    # offers it as a user task's form at once.
    name = editor.get_by_label("New form file")
    name.fill("Triage Form")
    editor.get_by_role("button", name="New form", exact=True).click()
    expect(editor).to_contain_text("A form's file name is lower-case letters, digits and _ followed by .schema.json.")
    name.fill(FORM)
    editor.get_by_role("button", name="New form", exact=True).click()
    expect(editor).to_contain_text(f"{FORM} already exists.")
    name.fill("triage")
    editor.get_by_role("button", name="New form", exact=True).click()
    expect(editor.get_by_role("button", name="triage.schema.json", exact=True)).to_have_attribute("aria-pressed",
                                                                                                  "true")
    expect(editor.get_by_label("triage.schema.json", exact=True)).to_be_focused()
    expect(preview).to_contain_text("Note")
    olive.get_by_role("tab", name="assistance_request.bpmn").click()
    panel = _select(olive.locator('.modeler-file[data-file="assistance_request.bpmn"]'), "assign_specialist")
    expect(panel.get_by_label("Form", exact=True).locator("option", has_text="triage.schema.json")).to_have_count(1)
    expect(panel.locator(".rf-form-preview")).to_contain_text("Handover note")  # the form as edited, not yet saved

    olive.get_by_role("button", name="Deploy").click()
    expect(olive).to_have_url(re.compile(r"/processes/request_fulfillment$"))
    expect(olive.get_by_role("status").first).to_contain_text("Deployed request_fulfillment version 2")

    number = Driver(services, clock).new("assistance")
    maria = staff("maria")
    open_task(maria, number, "Assign to a specialist")
    expect(maria.get_by_label("Handover note")).to_be_visible()
    expect(maria.get_by_label("Note for the specialist")).to_have_count(0)
