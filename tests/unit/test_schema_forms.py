"""Schema-driven task forms: rendering (parsed as HTML, not compared as strings), parsing posted strings, validation
messages, and the round trip render -> browser submission -> parse, over every form file in forms/."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from werkzeug.datastructures import MultiDict

from app.web.forms import (
    NUMBER_MESSAGE,
    REQUIRED_MESSAGE,
    html_pattern,
    number_attrs,
    parse_submission,
    read_submission,
    render_form,
    required_now,
    validation_errors,
)

FORMS_DIR = Path(__file__).resolve().parents[2] / "forms"
FORM_NAMES = sorted(path.name.removesuffix(".schema.json") for path in FORMS_DIR.glob("*.schema.json"))
MEMBERS = ["alice", "bob"]
CONTROLS = ".//input | .//select | .//textarea"


def fill_choices(node: Any, members: list[str]) -> None:
    """What app.services.tasks.forms does before a schema reaches the renderer: x-choices -> enum."""
    if isinstance(node, dict):
        if isinstance(node.get("x-choices"), str):
            node["enum"] = list(members) or [""]
        for value in node.values():
            fill_choices(value, members)
    elif isinstance(node, list):
        for value in node:
            fill_choices(value, members)


def load(name: str, members: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = json.loads((FORMS_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    fill_choices(schema, MEMBERS if members is None else members)
    ui_path = FORMS_DIR / f"{name}.uischema.json"
    ui = json.loads(ui_path.read_text(encoding="utf-8")) if ui_path.exists() else {}
    return schema, ui


def parse(markup: Any) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(str(markup), create_parent="div")


def fields(root: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    return root.xpath('./div[contains(concat(" ", normalize-space(@class), " "), " field ")]')


def field_name(field: lxml.html.HtmlElement) -> str:
    names = {control.get("name") for control in field.xpath(CONTROLS)}
    assert len(names) == 1, names
    return names.pop()


def field_for(root: lxml.html.HtmlElement, name: str) -> lxml.html.HtmlElement:
    found = [field for field in fields(root) if field_name(field) == name]
    assert len(found) == 1
    return found[0]


def described_text(root: lxml.html.HtmlElement, element: lxml.html.HtmlElement) -> str:
    ids = (element.get("aria-describedby") or "").split()
    texts = []
    for ref in ids:
        (target,) = root.xpath(f'.//*[@id="{ref}"]')
        texts.append(target.text_content())
    return " ".join(texts)


def is_checkbox(prop: dict[str, Any], ui: dict[str, Any]) -> bool:
    return prop.get("type") == "boolean" and ui.get("ui:widget") not in ("radio", "select")


def browser_submission(markup: Any) -> MultiDict:
    """The name/value pairs a browser would post for these fields (lxml applies the HTML successful-control rules)."""
    form = lxml.html.fromstring(f"<form>{markup}</form>")
    return MultiDict([("csrf_token", "token"), *form.form_values()])


# --- posted strings that are valid for each bundled form, and the data they must become --------------------------

VALID = {
    "assign_specialist": (
        {"specialist": "bob", "assignment_note": "Printer on floor 3\r\nalready restarted twice"},
        {"specialist": "bob", "assignment_note": "Printer on floor 3\nalready restarted twice"},
    ),
    "wait_on_schedule": (
        {"pulled_by": "pete", "planned_week": "2026-12-07"},
        {"pulled_by": "pete", "planned_week": "2026-12-07"},
    ),
    "await_customer_reply": (
        {"customer_reply": "  The Tulsa office, please.\r\nThanks  "},
        {"customer_reply": "The Tulsa office, please.\nThanks"},
    ),
    "determine_chargeability": (
        {"chargeable": "true", "billable_hours": "12.5", "hourly_rate": "95", "billing_code": "PS-628"},
        {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 95, "billing_code": "PS-628"},
    ),
    "document_customer_need": (
        {"need_summary": "  A reporting dashboard for the licence office.  ", "customer_is_current": "on"},
        {"need_summary": "A reporting dashboard for the licence office.", "customer_is_current": True,
         "new_service": False},
    ),
    "draw_up_work_plan": (
        {"work_plan": "1. Analyse\n2. Build\n3. Test", "estimated_hours": "16", "planned_start": "2027-01-04",
         "planned_finish": "2027-01-29"},
        {"work_plan": "1. Analyse\n2. Build\n3. Test", "estimated_hours": 16, "planned_start": "2027-01-04",
         "planned_finish": "2027-01-29"},
    ),
    "fulfil_assistance_request": (
        {"resolution_notes": "Reset the password & unlocked the account.", "resolution_code": "workaround",
         "time_spent_hours": "1.75"},
        {"resolution_notes": "Reset the password & unlocked the account.", "resolution_code": "workaround",
         "time_spent_hours": 1.75},
    ),
    "fulfil_enhancement_request": (
        {"fulfilment_notes": "Added the export button.", "hours_spent": "0"},
        {"fulfilment_notes": "Added the export button.", "hours_spent": 0},
    ),
    "initiate_billing": (
        {"service_live_date": "2027-02-01", "billing_notes": ""},
        {"service_live_date": "2027-02-01"},
    ),
    "notify_customer_of_fulfilment": (
        {"customer_message": "Your change is live."},
        {"customer_message": "Your change is live."},
    ),
    "prepare_proposal": (
        {"proposal_summary": "Build a dashboard in 6 weeks.", "estimated_cost": "25000.50",
         "po_number": "PO-2024-0001"},
        {"proposal_summary": "Build a dashboard in 6 weeks.", "estimated_cost": 25000.5, "po_number": "PO-2024-0001"},
    ),
    "test_solution": (
        {"test_result": "fail", "test_notes": "Step 3 fails with a timeout."},
        {"test_result": "fail", "test_notes": "Step 3 fails with a timeout."},
    ),
}


def test_every_form_file_is_covered():
    assert FORM_NAMES, "no form files found"
    assert sorted(VALID) == FORM_NAMES
    for name in FORM_NAMES:
        assert (FORMS_DIR / f"{name}.uischema.json").exists()


# --- rendering: structure and accessibility ----------------------------------------------------------------------


@pytest.mark.parametrize("name", FORM_NAMES)
def test_every_property_has_one_field_in_ui_order_with_a_bound_label(name):
    schema, ui = load(name)
    root = parse(render_form(schema, ui, {}, {}))
    properties = schema["properties"]
    order = [p for p in ui.get("ui:order", []) if p in properties] + [
        p for p in properties if p not in ui.get("ui:order", [])]
    assert [field_name(field) for field in fields(root)] == order

    ids = [element.get("id") for element in root.xpath(".//*[@id]")]
    assert len(ids) == len(set(ids)), "ids must be unique"
    for field in fields(root):
        prop_name = field_name(field)
        title = properties[prop_name].get("title")
        for control in field.xpath(CONTROLS):
            labels = root.xpath(f'.//label[@for="{control.get("id")}"]')
            assert len(labels) == 1, f"{prop_name}: control without exactly one label"
            assert labels[0].text_content().strip()
        radios = field.xpath(".//input[@type='radio']")
        if radios:
            (fieldset,) = field.xpath("./fieldset")
            assert fieldset.get("id") == f"field-{prop_name}"
            assert fieldset.xpath("./legend")[0].text_content().startswith(title)
        else:
            (control,) = field.xpath(CONTROLS)
            assert control.get("id") == f"field-{prop_name}"
            assert root.xpath(f'.//label[@for="field-{prop_name}"]')[0].text_content().startswith(title)
    assert not root.xpath('.//*[@class="form-errors"]')
    assert not root.xpath(".//form | .//button | .//*[@type='submit']"), "the caller adds the form and its button"


@pytest.mark.parametrize("name", FORM_NAMES)
def test_required_markers_match_the_schema(name):
    schema, ui = load(name)
    root = parse(render_form(schema, ui, {}, {}))
    properties = schema["properties"]
    marked = {field_name(field) for field in fields(root) if field.xpath(".//abbr[@class='req']")}
    # A required boolean checkbox is always answered (unticked means False), so it gets no "must tick" marker.
    expected = {p for p in schema.get("required", []) if not is_checkbox(properties[p], ui.get(p, {}))}
    assert marked == expected
    for field in fields(root):
        prop_name = field_name(field)
        marker = field.xpath(".//abbr[@class='req']")
        if marker:
            assert marker[0].get("title") == "required" and marker[0].text == "*"
            assert marker[0].xpath("ancestor::label | ancestor::legend")
            assert field.xpath(".//*[@aria-required='true']")
        else:
            assert not field.xpath(".//*[@aria-required='true']"), prop_name


@pytest.mark.parametrize("name", FORM_NAMES)
def test_descriptions_and_help_are_announced_with_their_field(name):
    schema, ui = load(name)
    root = parse(render_form(schema, ui, {}, {}))
    for prop_name, prop in schema["properties"].items():
        field = field_for(root, prop_name)
        described = field.xpath("./fieldset") or field.xpath(CONTROLS)
        text = described_text(root, described[0])
        assert prop["description"] in text
        if "ui:help" in ui.get(prop_name, {}):
            assert ui[prop_name]["ui:help"] in text
        if "ui:placeholder" in ui.get(prop_name, {}) and field.xpath(".//input[@type!='checkbox'] | .//textarea"):
            assert field.xpath(CONTROLS)[0].get("placeholder") == ui[prop_name]["ui:placeholder"]


@pytest.mark.parametrize("name", FORM_NAMES)
def test_controls_follow_the_property_types(name):
    schema, ui = load(name)
    root = parse(render_form(schema, ui, {}, {}))
    for prop_name, prop in schema["properties"].items():
        field, prop_ui = field_for(root, prop_name), ui.get(prop_name, {})
        controls = field.xpath(CONTROLS)
        if "enum" in prop:
            labels = prop_ui.get("ui:enumNames", prop["enum"])
            if prop_ui.get("ui:widget") == "radio":
                radios = field.xpath(".//input[@type='radio']")
                assert [r.get("value") for r in radios] == prop["enum"]
                assert [root.xpath(f'.//label[@for="{r.get("id")}"]')[0].text_content() for r in radios] == labels
            else:
                (select,) = controls
                assert select.tag == "select"
                options = select.xpath("./option")
                assert options[0].get("value") == "" and options[0].text_content().strip()
                assert [o.get("value") for o in options[1:]] == prop["enum"]
                assert [o.text_content() for o in options[1:]] == labels
                assert not select.xpath("./option[@selected]")
        elif prop["type"] == "boolean":
            (box,) = controls
            assert box.get("type") == "checkbox" and box.get("value") == "true" and box.get("checked") is None
            label = box.getnext()
            assert label.tag == "label" and label.get("for") == box.get("id"), "checkbox label comes after it"
        elif prop["type"] in ("number", "integer"):
            (box,) = controls
            assert box.get("type") == "number"
            assert box.get("step") == ("any" if "multipleOf" not in prop else str(prop["multipleOf"]))
            assert float(box.get("max")) == prop["maximum"]
            low = prop.get("minimum", prop.get("exclusiveMinimum"))
            if "exclusiveMinimum" in prop and "multipleOf" in prop:  # the first allowed step above the bound
                low = prop["exclusiveMinimum"] + prop["multipleOf"]
            assert float(box.get("min")) == pytest.approx(low)
        elif prop.get("format") == "date":
            (box,) = controls
            assert box.tag == "input" and box.get("type") == "date"
        elif prop_ui.get("ui:widget") == "textarea":
            (area,) = controls
            assert area.tag == "textarea"
            assert area.get("rows") == str(prop_ui.get("ui:options", {}).get("rows", 5))
            assert area.get("maxlength") == str(prop["maxLength"])
        else:
            (box,) = controls
            assert box.tag == "input" and box.get("type") == "text"
            if "maxLength" in prop:
                assert box.get("maxlength") == str(prop["maxLength"])
            if "minLength" in prop:
                assert box.get("minlength") == str(prop["minLength"])
            if "pattern" in prop:
                assert box.get("pattern")


def test_specialists_filled_from_x_choices_become_the_select_options():
    schema, ui = load("assign_specialist")
    (select,) = parse(render_form(schema, ui, {}, {})).xpath(".//select[@name='specialist']")
    options = select.xpath("./option")
    assert [(o.get("value"), o.text) for o in options] == [("", "Select a specialist"), ("alice", "alice"),
                                                           ("bob", "bob")]


def test_a_group_without_specialists_gets_a_single_empty_option_and_a_required_error():
    schema, ui = load("assign_specialist", members=[])
    (select,) = parse(render_form(schema, ui, {}, {})).xpath(".//select")
    assert [o.get("value") for o in select.xpath("./option")] == [""]
    data, errors = read_submission(schema, {"specialist": ""})
    assert data == {} and errors == {"specialist": REQUIRED_MESSAGE}


def test_a_select_without_placeholder_offers_choose_first_and_drops_it_once_a_required_value_is_chosen():
    schema = {"type": "object", "properties": {"size": {"enum": ["s", "m"]}, "colour": {"enum": ["red"]}},
              "required": ["size"]}
    root = parse(render_form(schema, None, {"size": "m", "colour": "red"}, {}))
    (size,) = root.xpath(".//select[@name='size']")
    assert [o.get("value") for o in size.xpath("./option")] == ["s", "m"]
    assert size.xpath("./option[@selected]")[0].get("value") == "m"
    (colour,) = root.xpath(".//select[@name='colour']")
    assert [o.get("value") for o in colour.xpath("./option")] == ["", "red"], "an optional select can be cleared"
    fresh = parse(render_form(schema, None, {}, {}))
    assert fresh.xpath(".//select[@name='size']/option")[0].text == "Choose…"


# --- the if/then of determine_chargeability ---------------------------------------------------------------------

CONDITIONAL = {"billable_hours", "hourly_rate", "billing_code"}


@pytest.mark.parametrize(("values", "required"), [
    ({}, set()),
    ({"chargeable": False}, set()),
    ({"chargeable": True}, CONDITIONAL),
    ({"chargeable": True, "billable_hours": "lots"}, CONDITIONAL),
])
def test_billable_fields_are_marked_required_once_chargeable_is_ticked(values, required):
    schema, ui = load("determine_chargeability")
    root = parse(render_form(schema, ui, values, {}))
    marked = {field_name(field) for field in fields(root) if field.xpath(".//abbr[@class='req']")}
    assert marked == required
    assert required_now(schema, values) == {"chargeable"} | required
    assert (root.xpath(".//input[@name='chargeable']")[0].get("checked") is not None) == bool(values.get("chargeable"))


def test_chargeable_without_billing_details_names_each_missing_field():
    schema, ui = load("determine_chargeability")
    data, errors = read_submission(schema, {"chargeable": "on", "csrf_token": "t"}, ui)
    assert data == {"chargeable": True}
    assert errors == dict.fromkeys(CONDITIONAL, REQUIRED_MESSAGE)
    assert read_submission(schema, {"csrf_token": "t"}, ui) == ({"chargeable": False}, {})


# --- parsing and validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORM_NAMES)
def test_valid_posts_parse_to_typed_data_that_validates_and_survive_a_re_render(name):
    schema, ui = load(name)
    posted, expected = VALID[name]
    data, errors = parse_submission(schema, MultiDict([("csrf_token", "abc"), *posted.items()]))
    assert errors == {}
    assert data == expected
    assert {k: type(v) for k, v in data.items()} == {k: type(v) for k, v in expected.items()}
    assert validation_errors(schema, data) == {}
    # What a browser posts back from a form rendered with that data is the same data again.
    markup = render_form(schema, ui, data, {})
    assert read_submission(schema, browser_submission(markup), ui) == (data, {})


@pytest.mark.parametrize(("name", "changes", "field", "message"), [
    ("fulfil_assistance_request", {"time_spent_hours": "abc"}, "time_spent_hours", NUMBER_MESSAGE),
    ("fulfil_assistance_request", {"time_spent_hours": "NaN"}, "time_spent_hours", NUMBER_MESSAGE),
    ("fulfil_assistance_request", {"time_spent_hours": "1.3"}, "time_spent_hours", "Must be a multiple of 0.25."),
    ("fulfil_assistance_request", {"time_spent_hours": "1001"}, "time_spent_hours", "Must be at most 1000."),
    ("fulfil_assistance_request", {"resolution_code": "fixed"}, "resolution_code",
     "Must be one of: resolved, workaround, information_provided, no_fault_found, awaiting_customer."),
    ("fulfil_assistance_request", {"resolution_notes": " \r\n "}, "resolution_notes", REQUIRED_MESSAGE),
    ("determine_chargeability", {"hourly_rate": "0"}, "hourly_rate", "Must be greater than 0."),
    ("determine_chargeability", {"hourly_rate": "1000.01"}, "hourly_rate", "Must be at most 1000."),
    ("determine_chargeability", {"billing_code": "ps 628"}, "billing_code",
     "A parts-list billing code such as PS-628: 2 to 20 upper-case letters, digits or hyphens."),
    ("determine_chargeability", {"chargeable": "maybe"}, "chargeable", "Must be true or false."),
    ("test_solution", {"test_result": "maybe"}, "test_result", "Must be one of: pass, fail."),
    ("draw_up_work_plan", {"planned_start": "2027-02-30"}, "planned_start", "Must be a valid date (YYYY-MM-DD)."),
    ("draw_up_work_plan", {"planned_finish": "29/01/2027"}, "planned_finish", "Must be a valid date (YYYY-MM-DD)."),
    ("draw_up_work_plan", {"estimated_hours": "0"}, "estimated_hours", "Must be greater than 0."),
    ("prepare_proposal", {"po_number": "x" * 41}, "po_number", "Must be at most 40 characters (this is 41)."),
    ("prepare_proposal", {"estimated_cost": "-5"}, "estimated_cost", "Must be at least 0."),
    ("assign_specialist", {"specialist": "mallory"}, "specialist", "Must be one of: alice, bob."),
    ("initiate_billing", {"service_live_date": ""}, "service_live_date", REQUIRED_MESSAGE),
    ("notify_customer_of_fulfilment", {"customer_message": "x" * 5001}, "customer_message",
     "Must be at most 5000 characters (this is 5001)."),
])
def test_invalid_posts_give_a_message_for_the_right_field(name, changes, field, message):
    schema, ui = load(name)
    posted = {**VALID[name][0], **changes}
    data, errors = read_submission(schema, posted, ui)
    assert errors == {field: message}


def test_a_non_number_is_kept_raw_for_the_re_render():
    schema, _ = load("fulfil_assistance_request")
    data, errors = parse_submission(schema, {"time_spent_hours": " 1,5 "})
    assert data == {"time_spent_hours": "1,5"} and errors == {"time_spent_hours": NUMBER_MESSAGE}
    assert validation_errors(schema, data)["time_spent_hours"] == NUMBER_MESSAGE


def test_unexpected_properties_are_a_whole_form_error():
    schema, _ = load("test_solution")
    data = {"test_result": "pass", "test_notes": "ok", "sneaky": 1, "other": 2}
    assert validation_errors(schema, data) == {"": "Unexpected fields: sneaky, other."}


def test_unknown_posted_keys_are_ignored_and_multidict_takes_the_first_value():
    schema, _ = load("test_solution")
    form = MultiDict([("csrf_token", "t"), ("test_result", "pass"), ("test_result", "fail"), ("test_notes", "ok"),
                      ("sneaky", "1")])
    assert parse_submission(schema, form) == ({"test_result": "pass", "test_notes": "ok"}, {})


def test_first_error_per_field_wins():
    schema = {"type": "object", "properties": {"code": {"type": "string", "minLength": 5, "pattern": "^A"}}}
    assert validation_errors(schema, {"code": "b"}) == {"code": "Must be at least 5 characters."}


def test_numbers_integers_and_typed_enums():
    schema = {"type": "object", "properties": {
        "count": {"type": "integer", "exclusiveMinimum": 0},
        "ratio": {"type": "number"},
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "flag": {"enum": [True, False, None]},
        "kind": {"type": "string", "oneOf": [{"const": "a", "title": "Alpha"}, {"const": "b", "title": "Beta"}]},
    }}
    posted = {"count": "1e3", "ratio": "-.5", "level": "2", "flag": "false", "kind": "b"}
    assert read_submission(schema, posted) == (
        {"count": 1000, "ratio": -0.5, "level": 2, "flag": False, "kind": "b"}, {})
    assert read_submission(schema, {"count": "2.5"})[1] == {"count": "Must be a whole number."}
    assert read_submission(schema, {"count": "0"})[1] == {"count": "Must be greater than 0."}
    assert read_submission(schema, {"level": "7"})[1] == {"level": "Must be one of: 1, 2, 3."}
    assert read_submission(schema, {"kind": "c"})[1] == {"kind": "Must be one of: a, b."}
    root = parse(render_form(schema, None, {"level": 2, "kind": "b"}, {}))
    (count,) = root.xpath(".//input[@name='count']")
    assert (count.get("type"), count.get("step"), count.get("min")) == ("number", "1", "1")
    assert root.xpath(".//select[@name='level']/option[@selected]")[0].get("value") == "2"
    kinds = root.xpath(".//select[@name='kind']/option")
    assert [(o.get("value"), o.text) for o in kinds] == [("", "Choose…"), ("a", "Alpha"), ("b", "Beta")]
    assert kinds[2].get("selected") is not None


@pytest.mark.parametrize(("prop", "expected"), [
    ({"type": "number", "minimum": 0, "maximum": 1000, "multipleOf": 0.25},
     {"step": "0.25", "min": "0", "max": "1000"}),
    ({"type": "number", "exclusiveMinimum": 0, "maximum": 10000}, {"step": "any", "min": "0", "max": "10000"}),
    ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10, "multipleOf": 0.25},
     {"step": "0.25", "min": "0.25", "max": "9.75"}),
    ({"type": "number", "minimum": 0.1, "multipleOf": 0.25}, {"step": "0.25", "min": "0.25"}),
    ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}, {"step": "1", "min": "1", "max": "9"}),
    ({"type": "integer", "minimum": 5, "exclusiveMinimum": 2}, {"step": "1", "min": "5"}),
    ({"type": "integer"}, {"step": "1"}),
])
def test_number_attributes(prop, expected):
    assert number_attrs(prop) == expected


def test_booleans_as_checkbox_or_yes_no_radios():
    schema = {"type": "object", "properties": {"urgent": {"type": "boolean"}, "billed": {"type": "boolean"}},
              "required": ["billed"]}
    ui = {"billed": {"ui:widget": "radio"}}
    root = parse(render_form(schema, ui, {"billed": False}, {}))
    radios = root.xpath(".//input[@name='billed']")
    assert [(r.get("type"), r.get("value")) for r in radios] == [("radio", "true"), ("radio", "false")]
    assert [root.xpath(f'.//label[@for="{r.get("id")}"]')[0].text for r in radios] == ["Yes", "No"]
    assert radios[1].get("checked") is not None and radios[0].get("checked") is None
    assert root.xpath(".//fieldset[@id='field-billed']/legend/abbr[@class='req']")
    # A checkbox: absent means False. Yes/no radios (with the UI schema): absent means unanswered.
    assert parse_submission(schema, {}, ui) == ({"urgent": False}, {})
    assert read_submission(schema, {}, ui) == ({"urgent": False}, {"billed": REQUIRED_MESSAGE})
    assert read_submission(schema, {"urgent": "on", "billed": "false"}, ui) == ({"urgent": True, "billed": False}, {})
    assert parse_submission(schema, {}) == ({"urgent": False, "billed": False}, {})


def test_ui_order_wildcard_humanised_titles_and_other_formats():
    schema = {"type": "object", "properties": {
        "due_date": {"type": "string", "format": "date"},
        "contactEmail": {"type": "string", "format": "email"},
        "note": {"type": "string"},
    }}
    root = parse(render_form(schema, {"ui:order": ["note", "*", "due_date"]}, {}, {}))
    assert [field_name(field) for field in fields(root)] == ["note", "contactEmail", "due_date"]
    assert root.xpath(".//label[@for='field-due_date']")[0].text_content() == "Due date"
    assert root.xpath(".//label[@for='field-contactEmail']")[0].text_content() == "Contact email"
    assert root.xpath(".//input[@name='contactEmail']")[0].get("type") == "email"
    assert read_submission(schema, {"contactEmail": "nope"})[1] == {"contactEmail": "Must be a valid email address."}


# --- re-rendering with values and errors -------------------------------------------------------------------------


def test_values_and_errors_are_kept_on_re_render():
    schema, ui = load("fulfil_assistance_request")
    notes = "Line one\nline two <b>bold</b> & more"
    data, errors = read_submission(schema, {"resolution_notes": notes, "resolution_code": "resolved",
                                            "time_spent_hours": "abc", "csrf_token": "t"}, ui)
    assert errors == {"time_spent_hours": NUMBER_MESSAGE}
    root = parse(render_form(schema, ui, data, errors))

    assert root.xpath(".//textarea[@name='resolution_notes']")[0].text_content().strip() == notes
    select = root.xpath(".//select[@name='resolution_code']")[0]
    assert [o.get("value") for o in select.xpath("./option[@selected]")] == ["resolved"]
    assert select.get("aria-invalid") is None and "invalid" not in (select.get("class") or "")

    field = field_for(root, "time_spent_hours")
    assert "invalid" in field.get("class").split()
    (box,) = field.xpath(".//input")
    assert box.get("value") == "abc" and box.get("type") == "text", "kept as typed, not emptied by the browser"
    assert box.get("aria-invalid") == "true" and "invalid" in box.get("class").split()
    described = box.get("aria-describedby").split()
    assert described[0] == "field-time_spent_hours-error"
    (error,) = field.xpath(".//p[@class='error']")
    assert error.get("id") == "field-time_spent_hours-error" and error.text == NUMBER_MESSAGE
    assert error.getnext() is box, "the message sits right beside its field"
    assert len(root.xpath(".//*[@aria-invalid='true']")) == 1
    assert not root.xpath(".//*[@class='form-errors']")


def test_checkbox_radio_and_date_values_are_kept_on_re_render():
    schema, ui = load("determine_chargeability")
    data, errors = read_submission(schema, {"chargeable": "on", "hourly_rate": "95"}, ui)
    root = parse(render_form(schema, ui, data, errors))
    assert root.xpath(".//input[@name='chargeable']")[0].get("checked") is not None
    assert root.xpath(".//input[@name='hourly_rate']")[0].get("value") == "95"
    assert {field_name(f) for f in fields(root) if f.xpath(".//p[@class='error']")} == {"billable_hours",
                                                                                           "billing_code"}

    schema, ui = load("test_solution")
    data, errors = read_submission(schema, {"test_result": "fail"}, ui)
    root = parse(render_form(schema, ui, data, errors))
    assert [r.get("value") for r in root.xpath(".//input[@type='radio'][@checked]")] == ["fail"]
    (fieldset,) = root.xpath(".//fieldset")
    assert fieldset.get("aria-invalid") is None
    assert root.xpath(".//textarea")[0].get("aria-invalid") == "true"

    schema, ui = load("draw_up_work_plan")
    root = parse(render_form(schema, ui, {"planned_start": "2027-02-30", "planned_finish": "next week"},
                             {"planned_finish": "Must be a valid date (YYYY-MM-DD)."}))
    start, finish = root.xpath(".//input[@name='planned_start']")[0], root.xpath(".//input[@name='planned_finish']")[0]
    assert (start.get("type"), start.get("value")) == ("date", "2027-02-30")
    assert (finish.get("type"), finish.get("value")) == ("text", "next week")


def test_whole_form_errors_are_shown_first_as_an_alert():
    schema, ui = load("test_solution")
    root = parse(render_form(schema, ui, {}, {"": "Someone else completed this task first.",
                                             "test_result": "Must be one of: pass, fail.",
                                             "legacy_field": "Is obsolete."}))
    first = root[0]
    assert first.get("class") == "form-errors" and first.get("role") == "alert"
    assert [p.text for p in first.xpath("./p")] == ["Someone else completed this task first.",
                                                   "Legacy field: Is obsolete."]
    assert root.xpath(".//fieldset[@aria-invalid='true']")


def test_html_in_values_and_schema_text_is_escaped():
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    schema = {"type": "object", "properties": {
        "title": {"type": "string", "title": "<i>Title</i>", "description": "<b>bold</b> & co"},
        "body": {"type": "string"},
        "pick": {"enum": [evil, "plain"]},
    }, "required": ["title"]}
    ui = {"body": {"ui:widget": "textarea", "ui:placeholder": evil}, "pick": {"ui:widget": "radio"}}
    markup = render_form(schema, ui, {"title": evil, "body": "</textarea>" + evil, "pick": evil},
                         {"title": "<u>bad</u>", "": evil})
    assert "<script" not in markup and "<img" not in markup and "<b>" not in markup
    root = parse(markup)
    assert not root.xpath(".//script | .//img | .//b | .//i | .//u")
    assert root.xpath(".//input[@name='title']")[0].get("value") == evil
    assert root.xpath(".//textarea")[0].text_content().strip() == "</textarea>" + evil
    assert root.xpath(".//textarea")[0].get("placeholder") == evil
    assert root.xpath(".//label[@for='field-title']")[0].text_content().startswith("<i>Title</i>")
    assert root.xpath(".//p[@class='error']")[0].text == "<u>bad</u>"
    assert root.xpath(".//input[@type='radio'][@checked]")[0].get("value") == evil
    assert root.xpath(".//*[@class='form-errors']/p")[0].text == evil


# --- HTML pattern attributes ------------------------------------------------------------------------------------


def test_patterns_are_made_safe_for_the_html_v_flag():
    assert html_pattern("^[A-Z0-9][A-Z0-9-]{1,19}$") == "^[A-Z0-9][A-Z0-9\\-]{1,19}$"
    assert html_pattern("^PO\\-[0-9]+$") == "^PO-[0-9]+$"
    assert html_pattern("abc") == "[\\s\\S]*(?:abc)[\\s\\S]*"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to compile the patterns as a browser does")
def test_pattern_attributes_compile_and_match_like_the_schema_in_a_javascript_engine():
    schema, ui = load("determine_chargeability")
    pattern = parse(render_form(schema, ui, {}, {})).xpath(".//input[@name='billing_code']")[0].get("pattern")
    cases = {"PS-628": True, "AB": True, "ps-628": False, "-PS": False, "P": False, "PS 628": False}
    script = ("const [p, c] = JSON.parse(process.argv[1]); const r = new RegExp('^(?:' + p + ')$', 'v');"
              "console.log(JSON.stringify(Object.fromEntries(Object.keys(c).map(k => [k, r.test(k)]))));")
    extra = {"[\\s\\S]*(?:abc)[\\s\\S]*": {"xabcx": True, "ab": False}}
    for source, expected in [(pattern, cases), *extra.items()]:
        run = subprocess.run(["node", "-e", script, json.dumps([source, expected])], capture_output=True, text=True,
                             check=True, timeout=30)
        assert json.loads(run.stdout) == expected


def test_rendering_does_not_change_the_schema():
    schema, ui = load("determine_chargeability")
    before = copy.deepcopy((schema, ui))
    render_form(schema, ui, {"chargeable": True}, {})
    read_submission(schema, {"chargeable": "on"}, ui)
    assert (schema, ui) == before
