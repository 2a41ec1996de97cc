"""Parsing and validation: the posted strings back to JSON-typed data, validated exactly as the services do (Draft
2020-12 with format checking), every problem mapped to its field with a short message for people."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from jsonschema.exceptions import ValidationError

from app.domain import input_limits
from app.domain.form_rules import form_validator
from app.web.forms.fields import (
    BOOLEAN_MESSAGE,
    JSON_MESSAGE,
    NO_MATCH,
    NUMBER_MESSAGE,
    NUMBER_RE,
    REQUIRED_MESSAGE,
    TRUE_WORDS,
    choices_of,
    const_options,
    form_text,
    humanise,
    json_type,
    properties_of,
    widget_of,
)

_FALSE_WORDS = frozenset({"false", "off", "0", "no"})
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
_MAX_LISTED_CHOICES = 12



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
    for name, prop in properties_of(schema).items():
        ui = ui_root.get(name)
        ui = ui if isinstance(ui, dict) else {}
        raw = form.get(name)
        text = "" if raw is None else str(raw).replace("\r\n", "\n").replace("\r", "\n").strip()
        kind = json_type(prop)
        widget = widget_of(prop, ui)
        if widget == "checkbox":
            if text.lower() in TRUE_WORDS:
                data[name] = True
            elif not text or text.lower() in _FALSE_WORDS:
                data[name] = False
            else:
                data[name], errors[name] = text, BOOLEAN_MESSAGE
            continue
        if not text:
            continue
        choices = choices_of(prop, ui)
        if choices is not None:
            match = next((option for option, _ in choices if form_text(option) == text), NO_MATCH)
            if match is not NO_MATCH:
                data[name] = match
                continue
        if kind in ("number", "integer"):
            number = _parse_number(text, kind == "integer")
            if number is None:
                data[name], errors[name] = text, NUMBER_MESSAGE
            else:
                data[name] = number
        elif kind == "boolean":
            if text.lower() in TRUE_WORDS | _FALSE_WORDS:
                data[name] = text.lower() in TRUE_WORDS
            else:
                data[name], errors[name] = text, BOOLEAN_MESSAGE
        elif kind in ("object", "array"):
            try:
                data[name] = input_limits.loads(text)  # bounded depth: never a RecursionError
            except ValueError:
                data[name], errors[name] = text, JSON_MESSAGE
        else:
            data[name] = text
    return data, errors


def validation_errors(schema: dict[str, Any], data: dict[str, Any], today: date | None = None) -> dict[str, str]:
    """Every validation problem as {field: message}, first message per field; "" holds problems with the form as a
    whole (such as unexpected fields). Validates like the services: Draft 2020-12 with the format checker, plus the
    form rules of app.domain.form_rules (cross-field comparisons beside the field they constrain)."""
    validator = form_validator(schema, today)
    found: dict[str, str] = {}
    for error in validator.iter_errors(data):
        for field, message in _describe(error):
            found.setdefault(field, message)
    return found


def read_submission(schema: dict[str, Any], form: Mapping[str, str], ui_schema: dict[str, Any] | None = None,
                    today: date | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """parse_submission then validation_errors: (data, errors), where errors is empty only if data is valid. A parse
    error (such as "Must be a number.") wins over the validator's message for the same field. `today` (the clock's
    date) decides comparisons with "today", which are skipped without it."""
    data, errors = parse_submission(schema, form, ui_schema)
    for field, message in validation_errors(schema, data, today).items():
        errors.setdefault(field, message)
    return data, errors


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    path = list(error.absolute_path)
    field = str(path[0]) if path else ""
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "required" and isinstance(instance, dict) and isinstance(expected, list):
        if path:
            missing = _missing(expected, instance)
            return [(field, f"{humanise(missing[0])} is required." if missing else REQUIRED_MESSAGE)]
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
    # the validator sets both on every error it yields (the stubs' Unset is for errors built by hand)
    expected: Any = error.validator_value
    instance: Any = error.instance
    match error.validator:
        case "type":
            kinds = expected if isinstance(expected, list) else [expected]
            kind = next((k for k in kinds if k != "null"), "null")
            return _TYPE_MESSAGES.get(kind, f"Must be of type {kind}.")
        case "minimum":
            return f"Must be at least {form_text(expected)}."
        case "maximum":
            return f"Must be at most {form_text(expected)}."
        case "exclusiveMinimum":
            return f"Must be greater than {form_text(expected)}."
        case "exclusiveMaximum":
            return f"Must be less than {form_text(expected)}."
        case "multipleOf":
            return f"Must be a multiple of {form_text(expected)}."
        case "minLength":
            return "Must not be empty." if expected == 1 else f"Must be at least {expected} characters."
        case "maxLength":
            return f"Must be at most {expected} characters (this is {len(instance)})."
        case "pattern":
            hint = error.schema.get("x-message") if isinstance(error.schema, Mapping) else None
            return str(hint or f"Must match the pattern {expected}.")
        case "format":
            return _FORMAT_MESSAGES.get(expected, f"Must be a valid {expected}.")
        case "enum":
            return _one_of(expected)
        case "const":
            return f"Must be {form_text(expected)}."
        case "oneOf" | "anyOf" if const_options(expected) is not None:
            return _one_of(const_options(expected) or [])
        case "minItems":
            return f"Must have at least {expected} item{'s' * (expected != 1)}."
        case "maxItems":
            return f"Must have at most {expected} item{'s' * (expected != 1)}."
        case "uniqueItems":
            return "Must not contain duplicates."
    message = str(error.message)
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _one_of(options: Iterable[Any]) -> str:
    shown = [text for text in (form_text(option) for option in options) if text]
    if not shown:
        return "No choices are available."
    listed = ", ".join(shown[:_MAX_LISTED_CHOICES]) + (", …" if len(shown) > _MAX_LISTED_CHOICES else "")
    return f"Must be one of: {listed}."


def _parse_number(text: str, integer: bool) -> int | float | None:
    if not NUMBER_RE.fullmatch(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        return None
    if integer and number.is_integer():
        return int(number)
    return number
