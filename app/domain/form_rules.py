"""What a form's JSON Schema may say beyond standard JSON Schema, and the one validator that enforces it everywhere
(the intake and task services for the web, the CLI and any API; the web's forms for the message beside the field).

* **Cross-field comparisons** on a property: `"x-compare": {"op": ">=", "field": "planned_start", "message": "…"}`
  (or a list of them): the property's value must compare so with the other property's value of the same object.
  `op` is one of >=, >, <=, <, !=, ==; values compare as dates (YYYY-MM-DD), date-times (with an offset) or numbers;
  `message` is optional (a sentence is made from the other field's title). A rule is checked only when both values
  are present and of a comparable kind: "required", "type" and "format" report the rest.
* SpiffArena's `"minimumDate"` / `"maximumDate"` (`"field:<name>"`, `"field:<name>:start|end"` or `"today"`) are read
  as the comparisons >= and <= (today only where the caller gives the date).
* **Single-line text**: `"x-single-line": true` refuses line breaks, tabs and other control characters.
* **Exact `multipleOf`**: decimal arithmetic, so 19.99 is a multiple of 0.01 (binary floats say it is not).

`rule_problems` finds malformed rules, for the definition checks and tests.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

COMPARE = "x-compare"
SINGLE_LINE = "x-single-line"
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "!=": operator.ne, "==": operator.eq}
_DATE_WORDS = {">=": "on or after", ">": "after", "<=": "on or before", "<": "before", "!=": "different from",
               "==": "the same as"}
_NUMBER_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "!=": "different from",
                 "==": "equal to"}
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_LINE_BREAKS = frozenset({"Cc", "Zl", "Zp"})  # C0/C1 controls (tab, CR, LF, DEL…), line and paragraph separators
TODAY = "today"


@dataclass(frozen=True)
class Rule:
    """`field` must be `op` `other` (another property of the same object, or TODAY)."""

    field: str
    op: str
    other: str
    message: str | None = None
    part: str | None = None  # "start" / "end" of a SpiffArena date range "a:::b"


def rules_of(name: str, prop: Any) -> list[Rule]:
    """The comparisons property `name` declares (well-formed or not: see rule_problems)."""
    if not isinstance(prop, Mapping):
        return []
    found: list[Rule] = []
    declared = prop.get(COMPARE)
    for item in declared if isinstance(declared, list) else [declared] if declared is not None else []:
        if isinstance(item, Mapping):
            message = item.get("message")
            found.append(Rule(name, str(item.get("op")), str(item.get("field")),
                              message if isinstance(message, str) and message.strip() else None))
        else:
            found.append(Rule(name, "?", repr(item)))
    for keyword, op in (("minimumDate", ">="), ("maximumDate", "<=")):
        value = prop.get(keyword)
        if isinstance(value, str):
            if value == TODAY:
                found.append(Rule(name, op, TODAY))
            elif value.startswith("field:"):
                other, _, part = value[len("field:"):].partition(":")
                found.append(Rule(name, op, other, None, part or None))
            else:
                found.append(Rule(name, "?", value))
    return found


def _title(schema: Mapping[str, Any], name: str) -> str:
    prop = schema.get("properties", {}).get(name) if isinstance(schema.get("properties"), Mapping) else None
    title = prop.get("title") if isinstance(prop, Mapping) else None
    if isinstance(title, str) and title.strip():
        return title.strip()
    return name.replace("_", " ").capitalize()


def _is_number_field(schema: Mapping[str, Any], name: str) -> bool:
    props = schema.get("properties")
    prop = props.get(name) if isinstance(props, Mapping) else None
    kind = prop.get("type") if isinstance(prop, Mapping) else None
    return kind in ("number", "integer") or (isinstance(kind, list) and bool({"number", "integer"} & set(kind)))


def describe(rule: Rule, schema: Mapping[str, Any]) -> str:
    """The rule as a sentence for people ("Must be on or after Planned start."), its own message when it has one."""
    if rule.message:
        return rule.message
    numbers = _is_number_field(schema, rule.field) and rule.other != TODAY
    words = (_NUMBER_WORDS if numbers else _DATE_WORDS).get(rule.op, rule.op)
    other = "today" if rule.other == TODAY else _title(schema, rule.other)
    return f"Must be {words} {other}."


def _property_problems(name: str, prop: Any, siblings: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for rule in rules_of(name, prop):
        if rule.op not in OPERATORS:
            problems.append(f"unknown comparison {rule.op!r} (use one of {', '.join(OPERATORS)})")
        elif rule.other != TODAY and (rule.other not in siblings or rule.other == name):
            problems.append(f"compares with {rule.other!r}, which is not another field of the form")
    if isinstance(prop, Mapping) and SINGLE_LINE in prop and not isinstance(prop[SINGLE_LINE], bool):
        problems.append(f"{SINGLE_LINE} must be true or false")
    return problems


def rule_problems(schema: Any, where: str = "") -> list[str]:
    """Malformed rules anywhere in the schema ("field: problem"): unknown operators, fields the object does not
    have, a field compared with itself, "x-single-line" that is not a boolean."""
    problems: list[str] = []
    if isinstance(schema, Mapping):
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        for name, prop in props.items():
            at = f"{where}{name}"
            problems += [f"{at}: {problem}" for problem in _property_problems(str(name), prop, props)]
            problems += rule_problems(prop, f"{at}.")
        for key, value in schema.items():
            if key != "properties":
                problems += rule_problems(value, where)
    elif isinstance(schema, list):
        for item in schema:
            problems += rule_problems(item, where)
    return problems


def _comparable(value: Any, part: str | None = None) -> Any:
    """A value as something to compare: a number, a date, an aware date-time; None when it is none of these."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str):
        return None
    if part and ":::" in value:
        start, _, end = value.partition(":::")
        value = start if part == "start" else end
    if _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def check(rule: Rule, instance: Mapping[str, Any], today: date | None) -> bool | None:
    """Whether the object satisfies the rule; None when the rule cannot be decided (a value missing or not
    comparable, or today unknown)."""
    if rule.field not in instance:
        return None
    if rule.other == TODAY:
        if today is None:
            return None
        right: Any = today
    elif rule.other in instance:
        right = _comparable(instance[rule.other], rule.part)
    else:
        return None
    left = _comparable(instance[rule.field])
    if left is None or right is None:
        if rule.op in ("!=", "==") and rule.other in instance and type(instance[rule.field]) is type(
                instance[rule.other]):
            return bool(OPERATORS[rule.op](instance[rule.field], instance[rule.other]))
        return None
    if isinstance(left, datetime) and isinstance(right, date) and not isinstance(right, datetime):
        left = left.date()
    kinds = {type(left), type(right)}
    if not (kinds <= {int, float} or len(kinds) == 1):
        return None
    return bool(OPERATORS[rule.op](left, right))


def _line_problem(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) in _LINE_BREAKS:
            if ch in "\n\r\u2028\u2029\x85":
                return "Must be a single line (it contains a line break)."
            if ch == "\t":
                return "Must be a single line (it contains a tab)."
            return f"Must be a single line (it contains the control character U+{ord(ch):04X})."
    return None


def _properties_with_rules(today: date | None) -> Callable[..., Iterator[ValidationError]]:
    standard = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator: Validator, props: Mapping[str, Any], instance: Any,
                   schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        yield from standard(validator, props, instance, schema)
        if not validator.is_type(instance, "object"):
            return
        for name, prop in props.items():
            broken = _property_problems(name, prop, props)
            if broken:
                if name in instance:
                    yield ValidationError(f"This form's rule for the field is broken ({broken[0]}); ask the process "
                                          "owner to correct the form.", validator=COMPARE, path=[name],
                                          instance=instance[name], schema=prop)
                continue
            for rule in rules_of(name, prop):
                if check(rule, instance, today) is False:
                    yield ValidationError(describe(rule, schema), validator=COMPARE, validator_value=rule.other,
                                          path=[name], instance=instance[name], schema=prop)

    return properties


def _single_line(validator: Validator, wanted: Any, instance: Any,
                 schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if wanted is True and isinstance(instance, str) and (problem := _line_problem(instance)):
        yield ValidationError(problem)


def _multiple_of(validator: Validator, step: Any, instance: Any,
                 schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "number") or isinstance(step, bool) or not isinstance(step, int | float):
        return
    try:
        quotient = Decimal(str(instance)) / Decimal(str(step))
        failed = quotient != quotient.to_integral_value()
    except (InvalidOperation, ArithmeticError):
        failed = True
    if failed:
        yield ValidationError(f"{instance!r} is not a multiple of {step}")


@lru_cache(maxsize=8)
def _validator_class(today: date | None) -> Any:
    extend: Callable[..., Any] = validators.extend
    return extend(Draft202012Validator, {"properties": _properties_with_rules(today), SINGLE_LINE: _single_line,
                                         "multipleOf": _multiple_of})


def form_validator(schema: Mapping[str, Any], today: date | None = None) -> Validator:
    """A Draft 2020-12 validator (with format checking) that also enforces this module's rules; `today` (the
    clock's date) decides "today" comparisons, which are skipped without it."""
    validator: Validator = _validator_class(today)(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return validator
