"""Cross-field rules, single-line fields and exact multipleOf in form schemas (app.domain.form_rules), and the audit
of every bundled form against the rules its handlers rely on."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from app.domain.form_rules import describe, form_validator, rule_problems, rules_of
from app.domain.vocabulary import MULTI_LINE_FIELDS, REQUEST_SCHEMA
from app.web.forms import read_submission, render_form

FORMS = Path(__file__).resolve().parents[2] / "forms"


def errors(schema, data, today=None) -> dict[str, str]:
    found = form_validator(schema, today).iter_errors(data)
    return {".".join(str(p) for p in e.absolute_path): e.message for e in found}


def pair(op: str, kind: str = "string", **extra) -> dict:
    low = {"type": kind, "title": "Low"} | ({"format": "date"} if kind == "string" else {})
    return {"type": "object", "properties": {"low": low, "high": {**low, "title": "High",
                                                                   "x-compare": {"op": op, "field": "low", **extra}}}}


@pytest.mark.parametrize(("op", "low", "high", "holds"), [
    (">=", "2026-12-01", "2026-12-01", True), (">=", "2026-12-02", "2026-12-01", False),
    (">", "2026-12-01", "2026-12-01", False), (">", "2026-12-01", "2026-12-02", True),
    ("<=", "2026-12-02", "2026-12-01", True), ("<=", "2026-12-01", "2026-12-02", False),
    ("<", "2026-12-01", "2026-12-01", False), ("!=", "2026-12-01", "2026-12-01", False),
    ("!=", "2026-12-01", "2026-12-02", True), ("==", "2026-12-01", "2026-12-01", True),
])
def test_two_dates_compare_as_the_rule_says(op, low, high, holds):
    found = errors(pair(op), {"low": low, "high": high})
    assert (found == {}) is holds, found
    if not holds:
        assert set(found) == {"high"}  # the message belongs beside the field the rule is written on


@pytest.mark.parametrize(("op", "low", "high", "holds"), [
    (">=", 5, 5, True), (">=", 5, 4.5, False), (">", 5, 5.01, True), ("<", 2, 10, False), ("!=", 3, 3.0, False),
])
def test_two_numbers_compare_as_the_rule_says(op, low, high, holds):
    assert (errors(pair(op, "number"), {"low": low, "high": high}) == {}) is holds


def test_the_message_is_the_rules_own_or_a_sentence_naming_the_other_field():
    assert errors(pair(">=", message="Not before the start."), {"low": "2026-12-02", "high": "2026-12-01"}) == {
        "high": "Not before the start."}
    assert errors(pair(">="), {"low": "2026-12-02", "high": "2026-12-01"}) == {"high": "Must be on or after Low."}
    assert errors(pair("<", "number"), {"low": 1, "high": 2}) == {"high": "Must be less than Low."}


def test_a_rule_is_left_to_required_and_format_when_a_value_is_missing_or_not_a_date():
    schema = pair(">=") | {"required": ["low", "high"]}
    assert set(errors(schema, {"high": "2026-12-01"})) == {""}  # only "required" speaks
    assert errors(schema, {"low": "2026-02-30", "high": "2026-01-01"}) == {"low": "'2026-02-30' is not a 'date'"}


def test_date_times_with_an_offset_compare_as_instants():
    schema = pair(">")
    for prop in schema["properties"].values():
        prop["format"] = "date-time"
    assert errors(schema, {"low": "2026-12-01T10:00:00+00:00", "high": "2026-12-01T05:30:00-05:00"}) == {}
    assert set(errors(schema, {"low": "2026-12-01T10:00:00+00:00", "high": "2026-12-01T04:00:00-05:00"})) == {"high"}


def test_spiffarena_minimum_and_maximum_date_are_read_as_comparisons():
    schema = {"type": "object", "properties": {
        "start": {"type": "string", "format": "date", "title": "Start"},
        "end": {"type": "string", "format": "date", "minimumDate": "field:start"},
        "delivery": {"type": "string", "format": "date", "minimumDate": "today", "maximumDate": "field:end"}}}
    assert errors(schema, {"start": "2026-12-05", "end": "2026-12-04"}) == {"end": "Must be on or after Start."}
    assert errors(schema, {"end": "2026-12-04", "delivery": "2026-12-05"}) == {"delivery": "Must be on or before End."}
    late = {"delivery": "2026-11-30"}
    assert errors(schema, late) == {}  # without the clock's date, "today" cannot be decided here
    assert errors(schema, late, today=date(2026, 12, 1)) == {"delivery": "Must be on or after today."}


def test_rules_inside_nested_objects_and_array_items_point_at_the_nested_field():
    inner = pair(">=")
    schema = {"type": "object", "properties": {"phases": {"type": "array", "items": inner}}}
    found = errors(schema, {"phases": [{"low": "2026-12-01", "high": "2026-12-02"},
                                       {"low": "2026-12-03", "high": "2026-12-02"}]})
    assert found == {"phases.1.high": "Must be on or after Low."}


def test_a_malformed_rule_is_found_before_deploy_and_refuses_the_field_rather_than_passing_silently():
    broken = {"type": "object", "properties": {"a": {"type": "number"}, "b": {
        "type": "number", "x-compare": [{"op": "=>", "field": "a"}, {"op": ">", "field": "nope"}]}}}
    assert rule_problems(broken) == ["b: unknown comparison '=>' (use one of >=, >, <=, <, !=, ==)",
                                     "b: compares with 'nope', which is not another field of the form"]
    [message] = errors(broken, {"a": 1, "b": 2}).values()
    assert message.startswith("This form's rule for the field is broken")


@pytest.mark.parametrize("text", ["two\nlines", "tab\there", "carriage\rreturn", "bell\x07", "del\x7f",
                                  "next\x85line", "line\u2028separator"])
def test_a_single_line_field_refuses_line_breaks_tabs_and_control_characters(text):
    schema = {"type": "object", "properties": {"title": {"type": "string", "x-single-line": True},
                                               "notes": {"type": "string"}}}
    [message] = errors(schema, {"title": text, "notes": text}).values()  # notes keeps its line breaks
    assert message.startswith("Must be a single line")
    assert errors(schema, {"title": "one line — with ünïcode", "notes": text}) == {}


def test_multiple_of_is_exact_for_decimal_steps():
    schema = {"type": "number", "multipleOf": 0.01}
    for good in (19.99, 0.07, 1234.56, 0.29, 10, 99.99):
        assert errors(schema, good) == {}, good
    for bad in (19.999, 0.001, 1e-9):
        assert errors(schema, bad) != {}, bad
    assert errors({"type": "number", "multipleOf": 0.25}, 1.75) == {}


def test_the_rendered_form_shows_the_rule_as_help_and_hints_the_input():
    html = str(render_form(pair(">="), None, {}, {}))
    assert "Must be on or after Low." in html
    assert 'data-compare="&gt;= low"' in html
    data, problems = read_submission(pair(">="), {"low": "2026-12-02", "high": "2026-12-01"})
    assert problems == {"high": "Must be on or after Low."}
    shown = str(render_form(pair(">="), None, data, problems))
    assert 'class="error" id="field-high-error">Must be on or after Low.' in shown


# --- the bundled forms against the rules their handlers rely on ---------------------------------------------------


def bundled(name: str) -> dict:
    return json.loads((FORMS / f"{name}.schema.json").read_text())


def test_every_bundled_form_states_its_rules_well():
    for path in sorted(FORMS.glob("*.schema.json")):
        assert rule_problems(json.loads(path.read_text())) == [], path.name


def test_the_work_plan_form_refuses_a_finish_before_the_start_that_the_work_list_would_refuse():
    from handlers.base import InvalidParams
    from handlers.worklist import update_entry

    plan = {"work_plan": "Build it", "estimated_hours": 8, "planned_start": "2026-12-10",
            "planned_finish": "2026-12-09"}
    assert errors(bundled("draw_up_work_plan"), plan) == {"planned_finish": "Must be on or after the planned start."}
    with pytest.raises(InvalidParams, match="before planned_start"):
        update_entry({**plan, "request_number": "RF-1", "title": "t", "agency": "a", "provider_group": "g"},
                     None)  # type: ignore[arg-type]
    assert errors(bundled("draw_up_work_plan"), {**plan, "planned_finish": "2026-12-10"}) == {}


@pytest.mark.parametrize(("form", "field"), [("draw_up_work_plan", "work_plan"),
                                             ("fulfil_assistance_request", "resolution_notes"),
                                             ("notify_customer_of_fulfilment", "customer_message"),
                                             ("prepare_proposal", "po_number")])
def test_text_a_handler_requires_cannot_be_blank(form, field):
    from app.errors import InvalidData
    from app.services.tasks.forms import validate_submission

    with pytest.raises(InvalidData) as refused:
        validate_submission(bundled(form), {field: "  \t "})
    assert {e.field: e.message for e in refused.value.errors}[field] in (
        "Must not be blank.", "Must be a single line (it contains a tab).")


def test_the_billing_form_accepts_exactly_the_codes_and_amounts_the_billing_handler_takes():
    from handlers.billing import BILLING_CODE

    schema = bundled("determine_chargeability")
    assert schema["properties"]["billing_code"]["pattern"] == BILLING_CODE.pattern
    base = {"chargeable": True, "billable_hours": 12.5, "hourly_rate": 95.5}
    assert errors(schema, {**base, "billing_code": "PS-628"}) == {}
    assert set(errors(schema, {**base, "billing_code": "PS-628\n"})) == {"billing_code"}  # "$" allows a final \n
    assert set(errors(schema, {**base, "billing_code": "PS-628", "hourly_rate": 95.555})) == {"hourly_rate"}


def test_every_request_field_but_the_description_is_a_single_line_and_limits_agree_with_later_steps():
    props = REQUEST_SCHEMA["properties"]
    for name, prop in props.items():
        if prop.get("type") == "string":
            assert prop.get("x-single-line") is (None if name in MULTI_LINE_FIELDS else True), name
    assert props["title"]["maxLength"] == 300  # CRM subject, work-list title, ASD service name: String(300)
    assert props["agency"]["maxLength"] == props["requester_name"]["maxLength"] == 200
    assert props["requester_email"]["maxLength"] == 254


def test_the_rules_sentence_for_a_rule_without_a_message():
    schema = bundled("draw_up_work_plan")
    [rule] = rules_of("planned_finish", schema["properties"]["planned_finish"])
    assert describe(rule, schema) == "Must be on or after the planned start."
