"""What every handler shares: its context, its errors, and the client interfaces it talks to.

Handlers are plain functions `(params, ctx) -> dict` with JSON-native results. They know nothing of Flask,
SQLAlchemy or SpiffWorkflow; the app hands them client objects that keep the records.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class HandlerError(Exception):
    """A service call failed; the worker retries it with backoff and raises an incident after the last attempt."""


class InvalidParams(HandlerError):
    """The parameters the process passed are unusable (a modelling or data error; retrying will not help)."""


class Refused(HandlerError):
    """The external system refused the call for good (an HTTP 4xx answer): retrying it as it is will not help, so the
    worker raises an incident at once. The message says what was called and what the system answered."""


class CrmClient(Protocol):
    """Every call carries `key`, the same on every retry of one service task, so the CRM can dedupe it."""

    def take_case(self, case_id: str, request_number: str, provider_group: str, key: str) -> dict[str, Any]: ...
    def add_note(self, case_id: str, note: str, key: str) -> dict[str, Any]: ...
    def close_case(self, case_id: str, resolution: str, resolution_code: str, now: datetime,
                   key: str) -> dict[str, Any]: ...


class WorkListClient(Protocol):
    def upsert_entry(self, entry: dict[str, Any], key: str) -> dict[str, Any]: ...


class BillingClient(Protocol):
    def create_case(self, case: dict[str, Any], key: str) -> dict[str, Any]: ...


class AsdClient(Protocol):
    def record_service(self, entry: dict[str, Any], key: str) -> dict[str, Any]: ...


class Outbox(Protocol):
    def queue(self, *, kind: str, to: list[str], subject: str, body: str, request_number: str | None,
              key: str, values: dict[str, Any] | None = None) -> dict[str, Any]: ...
    # `values`: what the kind's email template takes beyond the request's own values and subject/message


class Directory(Protocol):
    def escalation_recipients(self, provider_group: str, request_number: str) -> list[str]: ...


@dataclass(frozen=True)
class Clients:
    crm: CrmClient
    worklist: WorkListClient
    billing: BillingClient
    asd: AsdClient
    outbox: Outbox
    directory: Directory


@dataclass(frozen=True)
class HandlerContext:
    idempotency_key: str  # the service task's uuid: the same on every retry of that task
    now: datetime
    clients: Clients
    # When the service task became ready: the same on every retry of that task. A time sent to another system goes
    # with the Idempotency-Key, so it must be this one, not `now`: a retry after a lost answer must send the very
    # same request, or the system refuses the key as reused for a different request (422).
    ready_at: datetime | None = None

    @property
    def stable_now(self) -> datetime:
        return self.ready_at or self.now


Handler = Callable[[dict[str, Any], HandlerContext], dict[str, Any]]


def require_text(params: dict[str, Any], name: str, max_length: int = 10_000) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidParams(f"parameter {name} must be a non-empty string, got {value!r}")
    if len(value) > max_length:
        raise InvalidParams(f"parameter {name} is longer than {max_length} characters")
    return value.strip()


def require_number(params: dict[str, Any], name: str, minimum: float = 0) -> float:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParams(f"parameter {name} must be a number, got {value!r}")
    if value < minimum:
        raise InvalidParams(f"parameter {name} must be at least {minimum}, got {value}")
    return float(value)


_BREAKS = frozenset({"Cc", "Zl", "Zp"})  # control characters (tab and newline included), line and paragraph separators


def one_line(text: str, limit: int) -> str:
    """`text` as one line of at most `limit` characters, for a header such as an email subject: runs of white space
    and control characters become one space, and a text too long is cut (at a word boundary when one is near) and
    ends with an ellipsis. A later step builds a bounded value instead of failing on a long or multi-line input."""
    flat = " ".join("".join(" " if unicodedata.category(ch) in _BREAKS else ch for ch in text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + "…"
