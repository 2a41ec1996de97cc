"""Finds timestamps a test run stored far from the tests' clock: with the clock years away from today, any such value
was read from the wall clock (or typed in by hand) instead of taken from the injected clock."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlalchemy import Date, DateTime, String, Text, select
from sqlalchemy.types import JSON, TypeDecorator

import app.store.models  # noqa: F401 - registers every table on Base.metadata
from app.bootstrap import Services
from app.store.db import Base

ISO_DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d])")
# The deployed BPMN/DMN/forms are documents, not records of time: their text is not scanned.
DOCUMENTS = {("definition_version", "files"), ("definition_version", "spec_json")}


def _kind(column_type: object) -> str:
    impl = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
    if isinstance(impl, DateTime | Date):
        return "time"
    if isinstance(impl, String | Text | JSON):
        return "text"
    return ""


def far_from(services: Services, start: datetime, window: timedelta = timedelta(days=400)) -> list[str]:
    """Every stored date or time (columns, and ISO dates inside text and JSON) more than `window` from `start`."""
    low, high = (start - window).date(), (start + window).date()
    found: list[str] = []
    with services.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [(c, _kind(c.type)) for c in table.columns
                       if _kind(c.type) and (table.name, c.name) not in DOCUMENTS]
            if not columns:
                continue
            for row in conn.execute(select(*(c for c, _ in columns))):
                for (column, kind), value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    where = f"{table.name}.{column.name}"
                    if kind == "time":
                        day = value.date() if isinstance(value, datetime) else value
                        if isinstance(day, date) and not low <= day <= high:
                            found.append(f"{where} = {value}")
                        continue
                    for match in ISO_DATE.finditer(value if isinstance(value, str) else repr(value)):
                        try:
                            day = date(*(int(part) for part in match.groups()))
                        except ValueError:
                            continue
                        if not low <= day <= high:
                            found.append(f"{where} contains {match.group(0)}")
    return found
