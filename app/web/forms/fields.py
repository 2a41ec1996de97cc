"""What rendering and parsing share: the messages, and how a JSON Schema property is read (its type, choices,
widget and label)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

REQUIRED_MESSAGE = "This field is required."
NUMBER_MESSAGE = "Must be a number."
BOOLEAN_MESSAGE = "Must be true or false."
JSON_MESSAGE = "Must be valid JSON."
CHOOSE_LABEL = "Choose…"
YES_NO = ("Yes", "No")


TRUE_WORDS = frozenset({"true", "on", "1", "yes"})
NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
NO_MATCH = object()


def properties_of(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(found, dict):
        return {}
    return {str(name): prop if isinstance(prop, dict) else {} for name, prop in found.items()}


def json_type(prop: dict[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str):
        return kind
    if "enum" in prop or "const" in prop or const_options(prop.get("oneOf") or prop.get("anyOf")) is not None:
        return None
    return "string"


def const_options(options: Any) -> list[Any] | None:
    if not isinstance(options, list) or not options:
        return None
    if not all(isinstance(option, dict) and "const" in option for option in options):
        return None
    return [option["const"] for option in options]


def choices_of(prop: dict[str, Any], ui: dict[str, Any]) -> list[tuple[Any, str]] | None:
    """(value, label) pairs for a property with a fixed set of values, or None. Labels come from "ui:enumNames" (when
    it names every value), else the oneOf/anyOf titles, else Yes/No for booleans, else the value itself."""
    titles: list[str | None]
    options = prop.get("oneOf") or prop.get("anyOf")
    if isinstance(prop.get("enum"), list):
        values = list(prop["enum"])
        titles = [None] * len(values)
    elif isinstance(options, list) and (consts := const_options(options)) is not None:
        values = consts
        titles = [text_of(option.get("title")) or None for option in options]
    elif json_type(prop) == "boolean" and ui.get("ui:widget") in ("radio", "select"):
        values, titles = [True, False], list(YES_NO)
    else:
        return None
    names = ui.get("ui:enumNames")
    if isinstance(names, list) and len(names) == len(values):
        titles = [str(name) for name in names]
    return [(value, title or (YES_NO[0 if value else 1] if isinstance(value, bool) else form_text(value)))
            for value, title in zip(values, titles, strict=True)]


def widget_of(prop: dict[str, Any], ui: dict[str, Any]) -> str:
    requested = ui.get("ui:widget")
    kind = json_type(prop)
    if kind == "boolean" and requested not in ("radio", "select") and "enum" not in prop:
        return "checkbox"
    if choices_of(prop, ui) is not None:
        return "radio" if requested == "radio" else "select"
    if kind in ("number", "integer"):
        return "number"
    if kind in ("object", "array"):
        return "json"
    if requested in ("textarea", "date", "email", "password"):
        return str(requested)
    if requested in ("uri", "url"):
        return "url"
    fmt = prop.get("format")
    if not isinstance(fmt, str):
        return "text"
    return {"date": "date", "email": "email", "idn-email": "email", "uri": "url"}.get(fmt, "text")


def humanise(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").split()
    text = " ".join(words).lower()
    return text[:1].upper() + text[1:]


def form_text(value: Any) -> str:
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


def text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
