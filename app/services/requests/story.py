"""A request's data as people read it: each value under the label its form gave it, formatted (yes/no, money,
dates, lists), grouped by the step that recorded it; the engine's internal variables (results of service tasks,
counters, flags the diagram sets) are left out for staff and shown, raw, to auditors.

Labels come from the forms of the request's own definition version (its `*.schema.json` files) and the request
form (app.domain.vocabulary.REQUEST_SCHEMA); a variable no form asks for is internal. Money: a number field whose
name ends in `_rate`, `_amount`, `_cost` or `_price`, or whose description says "US dollars".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, tzinfo
from typing import Any

from sqlalchemy import select

from app.domain import local_time
from app.domain.permissions import Operator, Reader, may_read_audit
from app.domain.vocabulary import REQUEST_SCHEMA
from app.services.context import Context
from app.services.definitions import version_cache
from app.store.models import BillingCase

MONEY_SUFFIXES = ("_rate", "_amount", "_cost", "_price")
REQUEST_STEP = "The request"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value: str
    step: str  # the form (step) that asks for it, or REQUEST_STEP
    multi_line: bool


@dataclass(frozen=True)
class RequestData:
    fields: list[Field]  # what staff read, in form order
    internal: dict[str, Any]  # everything else: for auditors only ({} for anyone else)


def _form_fields(schemas: list[tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """variable name → (step title, its JSON Schema) for every form of the version, then the request form."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, schema in schemas:
        step = str(schema.get("title") or name.removesuffix(".schema.json").replace("_", " ").capitalize())
        for field, spec in (schema.get("properties") or {}).items():
            if isinstance(spec, dict):
                found.setdefault(field, (step, spec))
    for field, spec in REQUEST_SCHEMA["properties"].items():
        if "title" in spec:
            found[field] = (REQUEST_STEP, spec)
    return found


def format_value(name: str, spec: dict[str, Any], value: Any, where: tzinfo = UTC) -> str:
    """`value` of the field `name` as a person writes it (a moment in the reader's zone `where`)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        if _is_money(name, spec):
            return f"${value:,.2f}"
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, str) and spec.get("format") in ("date", "date-time"):
        try:
            if spec["format"] == "date":
                return local_time.calendar_date(date.fromisoformat(value))
            return local_time.moment(value, where)
        except ValueError:
            return value
    if isinstance(value, list):
        return ", ".join(format_value(name, spec.get("items") or {}, item, where) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {format_value(key, {}, item, where)}" for key, item in value.items()) or "—"
    return str(value)


def _is_money(name: str, spec: dict[str, Any]) -> bool:
    return name.endswith(MONEY_SUFFIXES) or "US dollars" in str(spec.get("description", ""))


def labelled(schemas: list[tuple[str, dict[str, Any]]], data: dict[str, Any], *, show_internal: bool,
             where: tzinfo = UTC) -> RequestData:
    """`data` under the labels of `schemas` (the version's forms, by file name)."""
    known = _form_fields(schemas)
    fields = [Field(name, str(spec.get("title") or name), format_value(name, spec, data[name], where), step,
                    spec.get("type") == "string" and not spec.get("x-single-line") and "enum" not in spec
                    and "format" not in spec)
              for name, (step, spec) in known.items() if name in data]
    internal = {k: v for k, v in data.items() if k not in known} if show_internal else {}
    return RequestData(fields, internal)


def request_data(services: Context, shown: dict[str, Any], reader: Reader, where: tzinfo = UTC) -> RequestData:
    """`shown` (queries.show_request for `reader`) as people read it, moments in `where`."""
    definition = shown["definition"]
    with services.uow() as uow:  # the version's forms, parsed once per process (version_cache)
        key = version_cache.numbered_key(uow.session, definition["process_id"], definition["version"])
        schemas = version_cache.data_of(uow.session, key).schemas()
    return labelled(schemas, shown["data"], show_internal=_is_auditor(reader), where=where)


def _is_auditor(reader: Reader) -> bool:
    return isinstance(reader, Operator) or may_read_audit(reader)


@dataclass(frozen=True)
class BillingShown:
    case: str
    amount: str
    hours: str
    rate: str
    billing_code: str
    status: str


def billing_cases(services: Context, request_number: str) -> list[BillingShown]:
    """The request's billing cases, for the Customer Account Representative's steps."""
    with services.uow() as uow:
        return [BillingShown(b.case_number or "(number pending)", f"${b.amount:,.2f}", f"{b.billable_hours:,}",
                             f"${b.hourly_rate:,.2f}", b.billing_code, b.status)
                for b in uow.session.scalars(select(BillingCase).where(BillingCase.request_number == request_number)
                                             .order_by(BillingCase.id))]
