"""The id of the web request being handled (or of the request whose job the worker is running) in this thread.

A web request takes a sane `X-Request-Id` from its caller (a proxy or a client) or gets a new one; it is echoed in
the response, carried on every log line of the request, and stored on each service job the request creates
(`service_job.origin_request_id`), so the worker's log lines for that job carry the same id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

HEADER = "X-Request-Id"
MAX_LENGTH = 64  # the column's length
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=@/-]{0,63}")

_current: ContextVar[str | None] = ContextVar("rf_request_id", default=None)


def sane(value: str | None) -> str | None:
    """`value` when it is a usable id (1-64 characters: letters, digits and ._:+=@/-), else None."""
    if value is None:
        return None
    value = value.strip()
    return value if _SANE.fullmatch(value) else None


def new() -> str:
    return uuid.uuid4().hex


def current() -> str | None:
    return _current.get()


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Make `request_id` the current one for the block (None: none)."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def begin(request_id: str | None) -> object:
    """Set the current id until `end(token)` (for before/teardown request hooks)."""
    return _current.set(request_id)


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
