"""A psycopg cursor that builds each statement's result description once per process, not once per execution.

SQLAlchemy reads `cursor.description` after every statement, and psycopg builds it afresh each time: a Python
`Column` object per result column, each with five calls into the result and a type lookup. For the statements a
user action runs (the instance lock alone returns 44 columns) that was about a tenth of the action's CPU. The
description of a statement's result is fixed by its text and its parameters' types, so it is kept per
(text, parameter types) and handed out again while the result has the same number of columns with the same types;
anything else (a changed schema behind the same text) is described afresh. Bounded: when full it starts over.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import pq

MAX_STATEMENTS = 2048

_described: dict[tuple[bytes, tuple[int, ...]], tuple[tuple[int, ...], list[Any]]] = {}


class DescribedOnceCursor(psycopg.Cursor[Any]):
    @property
    def description(self) -> list[Any] | None:
        res = self.pgresult
        query = self._query
        if res is None or query is None or res.status != pq.ExecStatus.TUPLES_OK or not res.nfields:
            return super().description
        key = (query.query, tuple(query.types))
        types = tuple(res.ftype(i) for i in range(res.nfields))
        found = _described.get(key)
        if found is not None and found[0] == types:
            return found[1]
        described = super().description
        if described is not None:
            if len(_described) >= MAX_STATEMENTS:
                _described.clear()
            _described[key] = (types, described)
        return described
