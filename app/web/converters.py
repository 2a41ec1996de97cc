"""URL converters: `<int:…>` in a route accepts only a record number the database can hold (1 to
`MAX_RECORD_NUMBER`); anything larger is no such page (404), never an overflow deep in the database driver."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

from app.domain.input_limits import MAX_RECORD_NUMBER


class RecordNumberConverter(IntegerConverter):
    """werkzeug's `int` converter, bounded to 1..MAX_RECORD_NUMBER (ten digits at most before parsing)."""

    regex = r"\d{1,10}"

    def __init__(self, url_map: Any, *args: Any, **options: Any) -> None:
        options.setdefault("min", 1)
        options["max"] = min(options.get("max") or MAX_RECORD_NUMBER, MAX_RECORD_NUMBER)
        super().__init__(url_map, *args, **options)
