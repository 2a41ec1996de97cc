"""Forms as the modeler's form editor reads them: every schema it accepts (with any UI schema) renders with the inbox's
form renderer, whatever else it says; every form file of forms/ is accepted as it is; posted form files are kept only
when they changed (line endings aside) and refused when they are no form files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.errors import AppError, InvalidData
from app.services.definitions.form_edits import edited_forms, read_form
from app.web.forms import render_form

FORMS_DIR = Path(__file__).resolve().parents[2] / "forms"
KEYS = ["type", "title", "description", "default", "enum", "const", "oneOf", "anyOf", "format", "items", "properties",
        "required", "minimum", "maximum", "multipleOf", "minLength", "maxLength", "pattern", "x-compare",
        "x-single-line", "if", "then", "else", "allOf", "dependentRequired", "readOnly", "ui:order", "ui:widget",
        "ui:enumNames", "ui:options", "ui:placeholder", "ui:help", "a", "b"]
WORDS = ["string", "number", "integer", "boolean", "object", "array", "null", "date", "email", "textarea", "radio",
         "select", "a", "b", ">=", "field:a", "today", "*"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
                    st.text(max_size=6), st.sampled_from(WORDS))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
                      max_leaves=25)
schemas = st.fixed_dictionaries({"type": st.just("object"),
                                 "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), values, max_size=3)},
                                optional={"required": values, "allOf": values, "if": values, "then": values,
                                          "dependentRequired": values})
ui_schemas = st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b", "ui:order"]), values, max_size=3))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(schemas, ui_schemas)
@example({"type": "object", "properties": {"a": {"type": "string"}}}, {"ui:order": [["a"], {"b": 1}, "a"]})
def test_every_schema_the_editor_accepts_renders_with_any_ui_schema(schema: dict[str, Any], ui: Any):
    try:
        accepted = read_form("x.schema.json", json.dumps(schema))
    except AppError:
        return
    render_form(accepted, read_form("x.uischema.json", json.dumps(ui)) if ui is not None else None, {}, {})


@pytest.mark.parametrize("path", sorted(FORMS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_bundled_form_file_is_accepted(path: Path):
    assert read_form(path.name, path.read_text()) == json.loads(path.read_text())


def test_a_form_file_posted_unchanged_is_left_out_and_other_names_are_refused():
    base = {"a.schema.json": '{\n  "type": "object"\n}\n', "a.bpmn": "<x/>"}
    changed, problems = edited_forms(base, {"a.schema.json": '{\r\n  "type": "object"\r\n}\r\n'})
    assert (changed, problems) == ({}, [])
    changed, problems = edited_forms(base, {"a.schema.json": '{"type": "object", "title": "A"}',
                                            "b.uischema.json": '{"ui:order": ["*"]}', "a.bpmn": "<y/>",
                                            "C.schema.json": '{"type": "object"}'})
    assert changed == {"a.schema.json": '{"type": "object", "title": "A"}', "b.uischema.json": '{"ui:order": ["*"]}'}
    assert [(p.file, p.message.split(":")[0]) for p in problems] == [
        ("C.schema.json", "a new form's file name is lower-case letters, digits and '_' followed by .schema.json or "
                          ".uischema.json"),
        ("a.bpmn", "is not a form file")]


def test_a_ui_schema_is_any_json_object_and_a_schema_must_describe_an_object():
    assert read_form("a.uischema.json", '{"ui:order": 3}') == {"ui:order": 3}
    with pytest.raises(InvalidData, match="is not a JSON object"):
        read_form("a.uischema.json", "[]")
    with pytest.raises(InvalidData, match=r"is not valid JSON: Expecting value at line 2, column 11"):
        read_form("a.schema.json", '{"a":\n  1, "b": }')
    with pytest.raises(InvalidData, match="is not an object schema"):
        read_form("a.schema.json", "{}")
