"""Rendering: a JSON Schema (plus optional UI schema, current values and error messages) as accessible form fields;
the caller wraps them in its own `<form>` with the CSRF token and the submit button."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from markupsafe import Markup, escape

from app.domain.form_rules import OPERATORS, describe, rules_of
from app.web.forms.fields import (
    CHOOSE_LABEL,
    NUMBER_RE,
    TRUE_WORDS,
    choices_of,
    form_text,
    humanise,
    json_type,
    properties_of,
    text_of,
    widget_of,
)

_REQUIRED_MARK = Markup(' <abbr title="required" class="req">*</abbr>')
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TEXT_TYPES = frozenset({"text", "email", "url", "password"})


def render_form(schema: dict[str, Any], ui_schema: dict[str, Any] | None, values: dict[str, Any],
                errors: dict[str, str]) -> Markup:
    """The form's fields as HTML: one `<div class="field">` per property, in "ui:order" order.

    `values` are the current values (JSON-typed, or the raw strings `parse_submission` kept for fields it could not
    parse); schema defaults are used only for a fresh form (empty `values`). `errors` maps property names to messages;
    the "" key (and any key that is not a property) is shown at the top in a `role="alert"` box.
    """
    ui_root = ui_schema if isinstance(ui_schema, dict) else {}
    properties = properties_of(schema)
    required = required_now(schema, values)
    fresh = not values
    parts: list[Markup] = []
    top = [(key, message) for key, message in errors.items() if key not in properties and message]
    if top:
        items = Markup("").join(
            Markup("<p>{}</p>").format(message if key in ("", "(data)") else f"{humanise(key)}: {message}")
            for key, message in top)
        parts.append(Markup('<div class="form-errors" role="alert">{}</div>').format(items))
    for name in _ordered(properties, ui_root.get("ui:order")):
        prop = properties[name]
        ui = ui_root.get(name)
        value = values[name] if name in values else (prop.get("default") if fresh else None)
        parts.append(_render_field(name, prop, ui if isinstance(ui, dict) else {}, value, errors.get(name),
                                   name in required, rule_hints(schema, name, prop)))
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


def rule_hints(schema: dict[str, Any], name: str, prop: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The field's cross-field rules (app.domain.form_rules) as (sentence, operator, other field) for the help text
    and the input's data-compare hint; malformed rules are left to the validator, which names them."""
    return [(describe(rule, schema), rule.op, rule.other) for rule in rules_of(name, prop) if rule.op in OPERATORS]


def _render_field(name: str, prop: dict[str, Any], ui: dict[str, Any], value: Any, error: str | None,
                  required: bool, hints: list[tuple[str, str, str]] | None = None) -> Markup:
    field_id = _field_id(name)
    widget = widget_of(prop, ui)
    title = text_of(ui.get("ui:title")) or text_of(prop.get("title")) or humanise(name)
    description = text_of(ui.get("ui:description", prop.get("description")))
    help_texts = [text for text in (description, text_of(ui.get("ui:help"))) if text]
    help_texts += [hint for hint, _, _ in hints or [] if hint.casefold() not in {t.casefold() for t in help_texts}]
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
        # the rules again for the enhancing script (form-rules.js: live min/max on dates); the server decides
        "data-compare": "; ".join(f"{op} {other}" for _, op, other in hints or []) or None,
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
    placeholder = text_of(ui.get("ui:placeholder")) or None
    if widget == "select":
        control = _render_select(prop, ui, value, common, placeholder, required)
    elif widget in ("textarea", "json"):
        options = ui.get("ui:options")
        rows = options.get("rows") if isinstance(options, dict) else None
        if widget == "json" and value is not None and not isinstance(value, str):
            text = json.dumps(value, indent=2, ensure_ascii=False)
        else:
            text = form_text(value)
        attrs = {**common, "rows": rows if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0 else 5,
                 "placeholder": placeholder}
        if widget == "textarea":
            attrs.update(_length_attrs(prop))
        # The newline after the start tag is dropped by HTML parsers, so a value's own leading newline survives.
        control = Markup("{}\n{}</textarea>").format(_tag("textarea", attrs), text)
    elif widget == "number":
        control = _render_number(prop, value, common, placeholder)
    else:
        attrs = {"type": widget, **common, "value": form_text(value), "placeholder": placeholder}
        if widget == "date" and form_text(value) and not _DATE_RE.fullmatch(form_text(value)):
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
    chosen = form_text(value) if value is not None else None
    buttons: list[Markup] = []
    for index, (option, label) in enumerate(choices_of(prop, ui) or []):
        option_id = f"{field_id}-{index}"
        text = form_text(option)
        radio = _tag("input", {"type": "radio", "id": option_id, "name": name, "value": text,
                               "checked": text == chosen, "disabled": common["disabled"],
                               "autofocus": common["autofocus"] and index == 0})
        buttons.append(
            Markup('<div class="choice">{} <label for="{}">{}</label></div>').format(radio, option_id, label))
    return Markup('<div class="{}">{}<legend>{}{}</legend>{}{}{}</fieldset></div>').format(
        div_class, _tag("fieldset", group), title, mark, help_html, error_html, Markup("").join(buttons))


def _render_select(prop: dict[str, Any], ui: dict[str, Any], value: Any, attrs: dict[str, Any],
                   placeholder: str | None, required: bool) -> Markup:
    chosen = form_text(value) if value is not None else None
    options = [(option, label) for option, label in choices_of(prop, ui) or [] if form_text(option) != ""]
    texts = [form_text(option) for option, _ in options]
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
    integer = json_type(prop) == "integer"
    text = form_text(value)
    control = {"type": "number", **attrs, "value": text, "placeholder": placeholder, **number_attrs(prop)}
    if isinstance(value, str) and value.strip() and not NUMBER_RE.fullmatch(value.strip()):
        # A browser empties a number input holding a non-number: show the raw text so the user can correct it.
        control.update(type="text", step=None, min=None, max=None)
    control["inputmode"] = ("numeric" if integer else "decimal") if control["type"] == "text" else None
    return _tag("input", control)


def number_attrs(prop: dict[str, Any]) -> dict[str, str]:
    """step/min/max for an `<input type="number">`: step from multipleOf (else 1 for integers, "any" for numbers);
    exclusive bounds become the nearest allowed step inside them, and bounds are aligned to the step (a browser counts
    steps from min)."""
    integer = json_type(prop) == "integer"
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


def _ordered(properties: Mapping[str, Any], order: Any) -> list[str]:
    if not isinstance(order, list):
        return list(properties)
    order = [name for name in order if isinstance(name, str)]  # a UI schema may list anything
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


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in TRUE_WORDS)


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
