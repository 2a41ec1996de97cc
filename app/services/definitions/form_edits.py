"""Forms edited in the modeler: a form's JSON Schema (and UI schema) as the owner types it, read and checked (for its
live preview, with the clear reason when the inbox could not show it), and the form files an edit posts beside its
BPMN, named and checked before they join the version's other files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from app.domain.form_rules import rule_problems
from app.engine.xml_safety import UnsafeXml, parse_xml
from app.errors import AppError, InvalidData, Problem

SCHEMA_SUFFIX = ".schema.json"
UI_SUFFIX = ".uischema.json"
MAX_FORM_BYTES = 64 * 1024
# a new form's file name; the version's own files keep the names they were deployed with
NEW_FORM_NAME = re.compile(r"^[a-z0-9_]{1,100}\.(?:schema|uischema)\.json$")
_UNSUPPORTED = {"$ref": "references ($ref) are not followed by the inbox's forms: write the property out in full",
                "$dynamicRef": "references ($dynamicRef) are not followed by the inbox's forms",
                "$anchor": "anchors ($anchor) are not supported by the inbox's forms",
                "$dynamicAnchor": "anchors ($dynamicAnchor) are not supported by the inbox's forms"}


class FormTooLarge(AppError):
    status = 413


def is_form_file(name: str) -> bool:
    return name.endswith(SCHEMA_SUFFIX) or name.endswith(UI_SUFFIX)


def _walk(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(where, key) of every key anywhere in a JSON value."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield where, str(key)
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, f"{where}/{i}")


def read_form(name: str, text: str, *, ui: bool | None = None) -> dict[str, Any]:
    """A form file's text as the JSON object the inbox renders (a UI schema when `ui`, by default when the name ends
    in .uischema.json); InvalidData with the first reason it is not (invalid JSON with its line and column, not an
    object, not a valid JSON Schema of type object, a construct the inbox's forms do not support, a broken rule),
    FormTooLarge over 64 KiB. `name` is only said in the messages."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FORM_BYTES:
        raise FormTooLarge(f"{name} is {size} bytes; a form file may have at most {MAX_FORM_BYTES} bytes (64 KiB)")
    if not text.strip():
        raise InvalidData(f"{name} is empty: write a JSON object")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidData(f"{name} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    except (ValueError, RecursionError) as err:
        raise InvalidData(f"{name} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise InvalidData(f"{name} is not a JSON object (it is {type(value).__name__.replace('dict', 'object')})")
    if name.endswith(UI_SUFFIX) if ui is None else ui:
        return value
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as err:
        at = "/".join(str(part) for part in err.absolute_path)
        raise InvalidData(f"{name} is not a valid JSON Schema: {err.message}" + (f" (at /{at})" if at else "")) \
            from None
    except RecursionError:
        raise InvalidData(f"{name} is nested too deeply") from None
    if value.get("type") != "object":
        raise InvalidData(f"{name} is not an object schema: a form's schema needs \"type\": \"object\" with its "
                          "fields under \"properties\"")
    for where, key in _walk(value):
        if key in _UNSUPPORTED:
            raise InvalidData(f"{name} uses a construct the inbox's forms do not support at {where or '/'}: "
                              f"{_UNSUPPORTED[key]}")
    problems = rule_problems(value)
    if problems:
        raise InvalidData(f"{name} has a broken rule: {problems[0]}")
    return value


def edited_forms(base: dict[str, str], posted: dict[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """The posted form files that differ from the version's (line endings aside), each checked as `read_form` does;
    names that are not form files, or new names that are not `[a-z0-9_]+.schema.json` (or .uischema.json), are
    refused."""
    changed: dict[str, str] = {}
    problems: list[Problem] = []
    for name, text in sorted(posted.items()):
        text = text.replace("\r\n", "\n")
        if not is_form_file(name):
            problems.append(Problem(file=name[:200], message=f"is not a form file: only *{SCHEMA_SUFFIX} and "
                                                             f"*{UI_SUFFIX} files are edited with the diagrams"))
            continue
        if name in base and base[name].replace("\r\n", "\n") == text:
            continue
        if name not in base and not NEW_FORM_NAME.match(name):
            problems.append(Problem(file=name[:200], message="a new form's file name is lower-case letters, digits "
                                                             f"and '_' followed by {SCHEMA_SUFFIX} or {UI_SUFFIX}"))
            continue
        try:
            read_form(name, text)
        except AppError as err:
            problems.append(Problem(file=name, message=str(err).removeprefix(f"{name} ")))
            continue
        changed[name] = text
    return changed, problems


def unused(changed: dict[str, str], files: dict[str, bytes]) -> list[Problem]:
    """A warning for each edited or new form file no user task of the bundle names: the deploy stores only the
    forms its tasks use, so it would not be kept."""
    named: set[str] = set()
    for name, data in files.items():
        if not name.endswith(".bpmn"):
            continue
        try:
            root = parse_xml(data)
        except UnsafeXml:
            continue
        named.update(str(p.get("value") or "") for p in root.iter("{*}property")
                     if p.get("name") in ("formJsonSchemaFilename", "formUiSchemaFilename"))
    return [Problem(file=name, severity="warning", message="no user task uses this form, so it is not stored with the "
                                                           "version: choose it as a task's Form in the panel")
            for name in sorted(set(changed) - named)]
