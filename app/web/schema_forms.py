"""Server-rendered HTML forms for user tasks, driven by the task's JSON Schema and react-jsonschema-form UI schema.

Three steps, all without JavaScript:

* `render_form` turns a schema (plus optional UI schema, current values and error messages) into accessible form
  fields: the caller wraps them in its own `<form>` with the CSRF token and the submit button.
* `parse_submission` turns the posted strings back into JSON-typed data (numbers, booleans, enum values).
* `validation_errors` validates that data exactly as the services do (Draft 2020-12 with format checking) and maps
  every problem to the field it concerns, with a short message for people.

`read_submission` chains the last two, keeping a parse error in preference to the validator's message.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from markupsafe import Markup, escape

__all__ = [
    "NUMBER_MESSAGE",
    "REQUIRED_MESSAGE",
    "parse_submission",
    "read_submission",
    "render_form",
    "validation_errors",
]

REQUIRED_MESSAGE = "This field is required."
NUMBER_MESSAGE = "Must be a number."
BOOLEAN_MESSAGE = "Must be true or false."
JSON_MESSAGE = "Must be valid JSON."
CHOOSE_LABEL = "Choose…"
YES_NO = ("Yes", "No")

_REQUIRED_MARK = Markup(' <abbr title="required" class="req">*</abbr>')
_TRUE_WORDS = frozenset({"true", "on", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "off", "0", "no"})
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FORMAT_MESSAGES = {
    "date": "Must be a valid date (YYYY-MM-DD).",
    "date-time": "Must be a valid date and time.",
    "time": "Must be a valid time.",
    "email": "Must be a valid email address.",
    "idn-email": "Must be a valid email address.",
    "uri": "Must be a valid URI.",
}
_TYPE_MESSAGES = {
    "number": NUMBER_MESSAGE,
    "integer": "Must be a whole number.",
    "string": "Must be text.",
    "boolean": BOOLEAN_MESSAGE,
    "array": "Must be a list.",
    "object": "Must be an object.",
    "null": "Must be empty.",
}
_TEXT_TYPES = frozenset({"text", "email", "url", "password"})
_MAX_LISTED_CHOICES = 12


# ---------------------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------------------


def render_form(schema: dict[str, Any], ui_schema: dict[str, Any] | None, values: dict[str, Any],
                errors: dict[str, str]) -> Markup:
    """The form's fields as HTML: one `<div class="field">` per property, in "ui:order" order.

    `values` are the current values (JSON-typed, or the raw strings `parse_submission` kept for fields it could not
    parse); schema defaults are used only for a fresh form (empty `values`). `errors` maps property names to messages;
    the "" key (and any key that is not a property) is shown at the top in a `role="alert"` box.
    """
    ui_root = ui_schema if isinstance(ui_schema, dict) else {}
    properties = _properties(schema)
    required = required_now(schema, values)
    fresh = not values
    parts: list[Markup] = []
    top = [(key, message) for key, message in errors.items() if key not in properties and message]
    if top:
        items = Markup("").join(
            Markup("<p>{}</p>").format(message if key in ("", "(data)") else f"{_humanise(key)}: {message}")
            for key, message in top)
        parts.append(Markup('<div class="form-errors" role="alert">{}</div>').format(items))
    for name in _ordered(properties, ui_root.get("ui:order")):
        prop = properties[name]
        ui = ui_root.get(name)
        value = values[name] if name in values else (prop.get("default") if fresh else None)
        parts.append(_render_field(name, prop, ui if isinstance(ui, dict) else {}, value, errors.get(name),
                                   name in required))
    return Markup("\n").join(parts)


def required_now(schema: dict[str, Any], values: Mapping[str, Any]) -> set[str]:
    """Properties required given the current values: "required", plus a top-level (or allOf) if/then/else whose
    "if" the values decide (every property the "if" mentions has a value), plus "dependentRequired"."""
    required = {name for name in schema.get("required", []) if isinstance(name, str)}
    branches = [schema, *(s for s in schema.get("allOf", []) if isinstance(s, dict))]
    for branch in branches:
        condition = branch.get("if")
        if not isinstance(condition, dict | bool):
            continue
        if isinstance(condition, dict):
            mentioned = set(condition.get("properties", {})) | set(condition.get("required", []))
            if not all(values.get(name) is not None for name in mentioned):
                continue
        try:
            holds = Draft202012Validator(condition).is_valid(dict(values))
        except SchemaError:  # pragma: no cover - the definition checks reject broken schemas first
            continue
        chosen = branch.get("then" if holds else "else")
        if isinstance(chosen, dict):
            required.update(name for name in chosen.get("required", []) if isinstance(name, str))
    for trigger, dependants in schema.get("dependentRequired", {}).items():
        if values.get(trigger) is not None:
            required.update(name for name in dependants if isinstance(name, str))
    return required


def _render_field(name: str, prop: dict[str, Any], ui: dict[str, Any], value: Any, error: str | None,
                  required: bool) -> Markup:
    field_id = _field_id(name)
    widget = _widget(prop, ui)
    title = _text(ui.get("ui:title")) or _text(prop.get("title")) or _humanise(name)
    help_texts = [text for text in (_text(ui.get("ui:description", prop.get("description"))), _text(ui.get("ui:help")))
                  if text]
    help_id, error_id = f"{field_id}-help", f"{field_id}-error"
    described = " ".join([error_id] * bool(error) + [help_id] * bool(help_texts)) or None
    help_html = Markup("")
    if help_texts:
        help_html = Markup('<div class="help" id="{}">{}</div>').format(
            help_id, Markup("").join(Markup("<p>{}</p>").format(text) for text in help_texts))
    error_html = Markup('<p class="error" id="{}">{}</p>').format(error_id, error) if error else Markup("")
    mark = _REQUIRED_MARK if required and widget != "checkbox" else Markup("")
    div_class = f"field field-{widget}" + (" invalid" if error else "")
    common: dict[str, Any] = {
        "name": name,
        "class": "invalid" if error else None,
        "aria-describedby": described,
        "aria-invalid": "true" if error else None,
        "disabled": bool(ui.get("ui:disabled")),
        "autofocus": bool(ui.get("ui:autofocus")),
    }
    if widget == "radio":
        return _render_radios(name, prop, ui, value, field_id, title, mark, div_class, common, help_html,
                              error_html, required)
    if widget == "checkbox":
        box = _tag("input", {"type": "checkbox", "id": field_id, **common, "value": "true",
                             "checked": _is_true(value)})
        label = Markup('<label for="{}">{}</label>').format(field_id, title)
        return Markup('<div class="{}">{}{} {}{}</div>').format(div_class, error_html, box, label, help_html)
    common = {"id": field_id, **common, "aria-required": "true" if required else None,
              "readonly": bool(ui.get("ui:readonly") or prop.get("readOnly")) and widget != "select"}
    placeholder = _text(ui.get("ui:placeholder")) or None
    if widget == "select":
        control = _render_select(prop, ui, value, common, placeholder, required)
    elif widget in ("textarea", "json"):
        options = ui.get("ui:options")
        rows = options.get("rows") if isinstance(options, dict) else None
        if widget == "json" and value is not None and not isinstance(value, str):
            text = json.dumps(value, indent=2, ensure_ascii=False)
        else:
            text = _form_text(value)
        attrs = {**common, "rows": rows if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0 else 5,
                 "placeholder": placeholder}
        if widget == "textarea":
            attrs.update(_length_attrs(prop))
        # The newline after the start tag is dropped by HTML parsers, so a value's own leading newline survives.
        control = Markup("{}\n{}</textarea>").format(_tag("textarea", attrs), text)
    elif widget == "number":
        control = _render_number(prop, value, common, placeholder)
    else:
        attrs = {"type": widget, **common, "value": _form_text(value), "placeholder": placeholder}
        if widget == "date" and _form_text(value) and not _DATE_RE.fullmatch(_form_text(value)):
            # A browser empties a date input holding anything else: show the raw text so the user can correct it.
            attrs.update(type="text", placeholder=placeholder or "YYYY-MM-DD")
        if widget in _TEXT_TYPES:
            attrs.update(_length_attrs(prop))
            pattern = prop.get("pattern")
            if isinstance(pattern, str):
                attrs["pattern"] = html_pattern(pattern)
        control = _tag("input", attrs)
    label = Markup('<label for="{}">{}{}</label>').format(field_id, title, mark)
    return Markup('<div class="{}">{}{}{}{}</div>').format(div_class, label, help_html, error_html, control)


def _render_radios(name: str, prop: dict[str, Any], ui: dict[str, Any], value: Any, field_id: str, title: str,
                   mark: Markup, div_class: str, common: dict[str, Any], help_html: Markup, error_html: Markup,
                   required: bool) -> Markup:
    group = {"id": field_id, "class": common["class"], "role": "radiogroup",
             "aria-describedby": common["aria-describedby"], "aria-invalid": common["aria-invalid"],
             "aria-required": "true" if required else None}
    chosen = _form_text(value) if value is not None else None
    buttons: list[Markup] = []
    for index, (option, label) in enumerate(_choices(prop, ui) or []):
        option_id = f"{field_id}-{index}"
        text = _form_text(option)
        radio = _tag("input", {"type": "radio", "id": option_id, "name": name, "value": text,
                               "checked": text == chosen, "disabled": common["disabled"],
                               "autofocus": common["autofocus"] and index == 0})
        buttons.append(
            Markup('<div class="choice">{} <label for="{}">{}</label></div>').format(radio, option_id, label))
    return Markup('<div class="{}">{}<legend>{}{}</legend>{}{}{}</fieldset></div>').format(
        div_class, _tag("fieldset", group), title, mark, help_html, error_html, Markup("").join(buttons))


def _render_select(prop: dict[str, Any], ui: dict[str, Any], value: Any, attrs: dict[str, Any],
                   placeholder: str | None, required: bool) -> Markup:
    chosen = _form_text(value) if value is not None else None
    options = [(option, label) for option, label in _choices(prop, ui) or [] if _form_text(option) != ""]
    texts = [_form_text(option) for option, _ in options]
    rendered: list[Markup] = []
    if chosen not in texts or not required:
        empty = (placeholder or CHOOSE_LABEL) if options else "No choices available"
        rendered.append(Markup('<option value="">{}</option>').format(empty))
    if chosen is not None and chosen != "" and chosen not in texts:
        # Keep a value that is no longer offered (or was mistyped) visible, so the error next to it makes sense.
        rendered.append(Markup('<option value="{}" selected>{}</option>').format(chosen, chosen))
    for text, (_, label) in zip(texts, options, strict=True):
        option_tag = _tag("option", {"value": text, "selected": text == chosen})
        rendered.append(Markup("{}{}</option>").format(option_tag, label))
    return Markup("{}{}</select>").format(_tag("select", attrs), Markup("").join(rendered))


def _render_number(prop: dict[str, Any], value: Any, attrs: dict[str, Any], placeholder: str | None) -> Markup:
    integer = _json_type(prop) == "integer"
    text = _form_text(value)
    control = {"type": "number", **attrs, "value": text, "placeholder": placeholder, **number_attrs(prop)}
    if isinstance(value, str) and value.strip() and not _NUMBER_RE.fullmatch(value.strip()):
        # A browser empties a number input holding a non-number: show the raw text so the user can correct it.
        control.update(type="text", step=None, min=None, max=None)
    control["inputmode"] = ("numeric" if integer else "decimal") if control["type"] == "text" else None
    return _tag("input", control)


def number_attrs(prop: dict[str, Any]) -> dict[str, str]:
    """step/min/max for an `<input type="number">`: step from multipleOf (else 1 for integers, "any" for numbers);
    exclusive bounds become the nearest allowed step inside them, and bounds are aligned to the step (a browser counts
    steps from min)."""
    integer = _json_type(prop) == "integer"
    multiple = _decimal(prop.get("multipleOf"))
    step = multiple if multiple is not None and multiple > 0 else (Decimal(1) if integer else None)
    lows: list[Decimal] = []
    highs: list[Decimal] = []
    if (bound := _decimal(prop.get("minimum"))) is not None:
        lows.append(bound if step is None else _round_to(bound, step, ROUND_CEILING))
    if (bound := _decimal(prop.get("exclusiveMinimum"))) is not None:
        lows.append(bound if step is None else _round_to(bound, step, ROUND_FLOOR) + step)
    if (bound := _decimal(prop.get("maximum"))) is not None:
        highs.append(bound if step is None else _round_to(bound, step, ROUND_FLOOR))
    if (bound := _decimal(prop.get("exclusiveMaximum"))) is not None:
        highs.append(bound if step is None else _round_to(bound, step, ROUND_CEILING) - step)
    attrs = {"step": "any" if step is None else _decimal_text(step)}
    if lows:
        attrs["min"] = _decimal_text(max(lows))
    if highs:
        attrs["max"] = _decimal_text(min(highs))
    return attrs


def html_pattern(pattern: str) -> str:
    """A JSON Schema (ECMA-262, unanchored search) pattern as an HTML `pattern` attribute, which browsers compile with
    the `v` flag and anchor to the whole value: literal hyphens and brackets in classes are escaped, identity escapes
    the `v` flag rejects are dropped, and a pattern not anchored at both ends is wrapped to keep search semantics."""
    out: list[str] = []
    in_class = False
    class_start = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped.isalnum() or escaped in "^$\\.*+?()[]{}|/" or (in_class and escaped in "&-!#%,:;<=>@`~"):
                out.append(char + escaped)
            else:
                out.append(escaped)
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
                out.append(char)
            elif char == "-" and (i == class_start or pattern[i + 1:i + 2] == "]"):
                out.append("\\-")
            elif char in "()[{}/|":
                out.append("\\" + char)
            else:
                out.append(char)
        else:
            if char == "[":
                in_class = True
                class_start = i + 1
                if pattern[i + 1:i + 2] == "^":
                    out.append("[^")
                    class_start = i + 2
                    i += 2
                    continue
            out.append(char)
        i += 1
    converted = "".join(out)
    anchored_end = pattern.endswith("$") and not pattern.endswith("\\$")
    if pattern.startswith("^") and anchored_end and "|" not in pattern:
        return converted
    return f"[\\s\\S]*(?:{converted})[\\s\\S]*"


# ---------------------------------------------------------------------------------------------------------------------
# Parsing and validation
# ---------------------------------------------------------------------------------------------------------------------


def parse_submission(schema: dict[str, Any], form: Mapping[str, str],
                     ui_schema: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Posted strings (a dict or a werkzeug MultiDict) as JSON-typed data for the schema's properties.

    Empty (or all-blank) values are omitted; numbers are parsed (a non-number keeps the raw string and gets an error);
    a boolean checkbox is True when posted as true/on and False when absent; enum values take the enum's own type;
    text has CRLF line ends turned into LF and surrounding white space removed; keys that are not properties (such
    as csrf_token) are ignored. Pass the UI schema so a boolean shown as yes/no radios counts as unanswered (omitted,
    so "required" can catch it) rather than False when neither is chosen.
    """
    ui_root = ui_schema if isinstance(ui_schema, dict) else {}
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, prop in _properties(schema).items():
        ui = ui_root.get(name)
        ui = ui if isinstance(ui, dict) else {}
        raw = form.get(name)
        text = "" if raw is None else str(raw).replace("\r\n", "\n").replace("\r", "\n").strip()
        kind = _json_type(prop)
        widget = _widget(prop, ui)
        if widget == "checkbox":
            if text.lower() in _TRUE_WORDS:
                data[name] = True
            elif not text or text.lower() in _FALSE_WORDS:
                data[name] = False
            else:
                data[name], errors[name] = text, BOOLEAN_MESSAGE
            continue
        if not text:
            continue
        choices = _choices(prop, ui)
        if choices is not None:
            match = next((option for option, _ in choices if _form_text(option) == text), _NO_MATCH)
            if match is not _NO_MATCH:
                data[name] = match
                continue
        if kind in ("number", "integer"):
            number = _parse_number(text, kind == "integer")
            if number is None:
                data[name], errors[name] = text, NUMBER_MESSAGE
            else:
                data[name] = number
        elif kind == "boolean":
            if text.lower() in _TRUE_WORDS | _FALSE_WORDS:
                data[name] = text.lower() in _TRUE_WORDS
            else:
                data[name], errors[name] = text, BOOLEAN_MESSAGE
        elif kind in ("object", "array"):
            try:
                data[name] = json.loads(text)
            except ValueError:
                data[name], errors[name] = text, JSON_MESSAGE
        else:
            data[name] = text
    return data, errors


def validation_errors(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
    """Every validation problem as {field: message}, first message per field; "" holds problems with the form as a
    whole (such as unexpected fields). Validates like the services: Draft 2020-12 with the format checker."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    found: dict[str, str] = {}
    for error in validator.iter_errors(data):
        for field, message in _describe(error):
            found.setdefault(field, message)
    return found


def read_submission(schema: dict[str, Any], form: Mapping[str, str],
                    ui_schema: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """parse_submission then validation_errors: (data, errors), where errors is empty only if data is valid. A parse
    error (such as "Must be a number.") wins over the validator's message for the same field."""
    data, errors = parse_submission(schema, form, ui_schema)
    for field, message in validation_errors(schema, data).items():
        errors.setdefault(field, message)
    return data, errors


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    path = list(error.absolute_path)
    field = str(path[0]) if path else ""
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "required" and isinstance(instance, dict) and isinstance(expected, list):
        if path:
            missing = _missing(expected, instance)
            return [(field, f"{_humanise(missing[0])} is required." if missing else REQUIRED_MESSAGE)]
        return [(name, REQUIRED_MESSAGE) for name in _missing(expected, instance)]
    if keyword == "dependentRequired" and isinstance(instance, dict) and isinstance(expected, dict) and not path:
        wanted = [name for trigger, names in expected.items() if trigger in instance for name in names]
        return [(name, REQUIRED_MESSAGE) for name in _missing(wanted, instance)]
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [str(key) for key in instance if key not in known]
        if extra:
            return [(field, f"Unexpected field{'s' * (len(extra) > 1)}: {', '.join(extra)}.")]
    return [(field, _message(error))]


def _missing(names: Iterable[Any], instance: dict[str, Any]) -> list[str]:
    return [name for name in names if isinstance(name, str) and name not in instance]


def _message(error: ValidationError) -> str:
    expected, instance = error.validator_value, error.instance
    match error.validator:
        case "type":
            kinds = expected if isinstance(expected, list) else [expected]
            kind = next((k for k in kinds if k != "null"), "null")
            return _TYPE_MESSAGES.get(kind, f"Must be of type {kind}.")
        case "minimum":
            return f"Must be at least {_form_text(expected)}."
        case "maximum":
            return f"Must be at most {_form_text(expected)}."
        case "exclusiveMinimum":
            return f"Must be greater than {_form_text(expected)}."
        case "exclusiveMaximum":
            return f"Must be less than {_form_text(expected)}."
        case "multipleOf":
            return f"Must be a multiple of {_form_text(expected)}."
        case "minLength":
            return "Must not be empty." if expected == 1 else f"Must be at least {expected} characters."
        case "maxLength":
            return f"Must be at most {expected} characters (this is {len(instance)})."
        case "pattern":
            return str(error.schema.get("x-message") or f"Must match the pattern {expected}.")
        case "format":
            return _FORMAT_MESSAGES.get(expected, f"Must be a valid {expected}.")
        case "enum":
            return _one_of(expected)
        case "const":
            return f"Must be {_form_text(expected)}."
        case "oneOf" | "anyOf" if _const_options(expected) is not None:
            return _one_of(_const_options(expected) or [])
        case "minItems":
            return f"Must have at least {expected} item{'s' * (expected != 1)}."
        case "maxItems":
            return f"Must have at most {expected} item{'s' * (expected != 1)}."
        case "uniqueItems":
            return "Must not contain duplicates."
    message = str(error.message)
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _one_of(options: Iterable[Any]) -> str:
    shown = [text for text in (_form_text(option) for option in options) if text]
    if not shown:
        return "No choices are available."
    listed = ", ".join(shown[:_MAX_LISTED_CHOICES]) + (", …" if len(shown) > _MAX_LISTED_CHOICES else "")
    return f"Must be one of: {listed}."


# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------

_NO_MATCH = object()


def _properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(found, dict):
        return {}
    return {str(name): prop if isinstance(prop, dict) else {} for name, prop in found.items()}


def _ordered(properties: Mapping[str, Any], order: Any) -> list[str]:
    if not isinstance(order, list):
        return list(properties)
    listed = [name for name in order if name in properties]
    rest = [name for name in properties if name not in listed]
    result: list[str] = []
    for name in order:
        if name == "*":
            result.extend(rest)
        elif name in properties and name not in result:
            result.append(name)
    if "*" not in order:
        result.extend(rest)
    return result


def _json_type(prop: dict[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str):
        return kind
    if "enum" in prop or "const" in prop or _const_options(prop.get("oneOf") or prop.get("anyOf")) is not None:
        return None
    return "string"


def _const_options(options: Any) -> list[Any] | None:
    if not isinstance(options, list) or not options:
        return None
    if not all(isinstance(option, dict) and "const" in option for option in options):
        return None
    return [option["const"] for option in options]


def _choices(prop: dict[str, Any], ui: dict[str, Any]) -> list[tuple[Any, str]] | None:
    """(value, label) pairs for a property with a fixed set of values, or None. Labels come from "ui:enumNames" (when
    it names every value), else the oneOf/anyOf titles, else Yes/No for booleans, else the value itself."""
    titles: list[str | None]
    if isinstance(prop.get("enum"), list):
        values = list(prop["enum"])
        titles = [None] * len(values)
    elif (consts := _const_options(prop.get("oneOf") or prop.get("anyOf"))) is not None:
        values = consts
        titles = [_text(option.get("title")) or None for option in prop.get("oneOf") or prop.get("anyOf")]
    elif _json_type(prop) == "boolean" and ui.get("ui:widget") in ("radio", "select"):
        values, titles = [True, False], list(YES_NO)
    else:
        return None
    names = ui.get("ui:enumNames")
    if isinstance(names, list) and len(names) == len(values):
        titles = [str(name) for name in names]
    return [(value, title or (YES_NO[0 if value else 1] if isinstance(value, bool) else _form_text(value)))
            for value, title in zip(values, titles, strict=True)]


def _widget(prop: dict[str, Any], ui: dict[str, Any]) -> str:
    requested = ui.get("ui:widget")
    kind = _json_type(prop)
    if kind == "boolean" and requested not in ("radio", "select") and "enum" not in prop:
        return "checkbox"
    if _choices(prop, ui) is not None:
        return "radio" if requested == "radio" else "select"
    if kind in ("number", "integer"):
        return "number"
    if kind in ("object", "array"):
        return "json"
    if requested in ("textarea", "date", "email", "password"):
        return str(requested)
    if requested in ("uri", "url"):
        return "url"
    return {"date": "date", "email": "email", "idn-email": "email", "uri": "url"}.get(prop.get("format"), "text")


def _length_attrs(prop: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for keyword, attribute in (("maxLength", "maxlength"), ("minLength", "minlength")):
        value = prop.get(keyword)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            attrs[attribute] = value
    return attrs


def _tag(name: str, attrs: Mapping[str, Any]) -> Markup:
    """A start tag; None and False attributes are left out, True ones are written bare, all values are escaped."""
    rendered: list[str] = [f"<{name}"]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        rendered.append(f" {key}" if value is True else f' {key}="{escape(str(value))}"')
    return Markup("".join(rendered) + ">")


def _field_id(name: str) -> str:
    return "field-" + re.sub(r"\s", "-", name)


def _humanise(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").split()
    text = " ".join(words).lower()
    return text[:1].upper() + text[1:]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _form_text(value: Any) -> str:
    """A JSON value as the text of a form control."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in _TRUE_WORDS)


def _parse_number(text: str, integer: bool) -> int | float | None:
    if not _NUMBER_RE.fullmatch(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        return None
    if integer and number.is_integer():
        return int(number)
    return number


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - str() of an int or float always parses
        return None
    return number if number.is_finite() else None


def _round_to(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
