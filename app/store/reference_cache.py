"""Reference data cached per process, right across processes: keyed by the database's reference generation.

Reference data (users and their memberships, roles, groups, email templates, webhook subscriptions, the business
calendar, SLA targets, deployed and current versions) is edited by administrators now and then, and read by nearly
every user action: who may pick a task's assignee, which subscriptions hear an event, which template an email uses,
which holidays move an SLA deadline. Each such read was a round trip per action.

The database keeps one number, `reference_generation.value`, that triggers set to a fresh random number whenever any
row of those tables is inserted, updated or deleted, by anyone (migration 0021). A transaction reads the number once
(`generation`; or a statement it runs anyway brings it along: `note_generation`), and `cached` hands out what this
process read earlier at the same number, else reads afresh and keeps it. So an edit committed in any process is seen
by the next transaction everywhere, as an uncached read would see it. A transaction that writes reference data
itself reads it uncached until it ends (its writes are noted as they are executed), so it sees its own changes and
never leaves an uncommitted value behind.

One web request reads the number once: its sign-in check brings it along and `carry`s it, and the request's later
transactions take it from there instead of reading it again (as if they had begun with the sign-in check, whose
identity and grants the whole request acts on anyway). So an edit made elsewhere is seen by the next web request.
A write to reference data drops what is carried: the transactions after it in the same request read afresh.

Values kept must be immutable (tuples, frozensets, named tuples): every caller shares them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from app.store.db import forget_when_transaction_ends, table_of
from app.store.models import ReferenceGeneration

T = TypeVar("T")

# The tables whose changes the triggers of migration 0021 count (the migration keeps its own frozen copy).
REFERENCE_TABLES = frozenset({
    "app_user", "membership", "role", "provider_group", "email_template", "webhook_subscription", "holiday",
    "sla_target", "definition_version", "process_current_version"})
MAX_ENTRIES = 4096  # (name, key) pairs; least recently used first out

_GENERATION = "rf_reference_generation"  # session.info: (the transaction, the number it read)
_WROTE = "rf_wrote_reference_data"  # connection info: this transaction wrote reference data
CURRENT = select(table_of(ReferenceGeneration).c.value).where(table_of(ReferenceGeneration).c.id == 1)

class _Carried:
    """What a web request carries: the generation its sign-in check read (None: not yet, or dropped)."""

    value: int | None = None


# Set only while a web request runs (`carrying`); None everywhere else (the worker, the CLI, a direct service call).
_CARRIED: ContextVar[_Carried | None] = ContextVar("rf_reference_generation_carried", default=None)
_lock = threading.Lock()
_entries: OrderedDict[tuple[str, Hashable], tuple[int, Any]] = OrderedDict()


def current_column() -> Any:
    """The generation as a scalar subquery, for a statement that can bring it along (see `note_generation`)."""
    return CURRENT.scalar_subquery()


def note_generation(session: Session, value: int | None) -> None:
    """The generation as a statement of this transaction read it (None: no row, an unmigrated database)."""
    if value is not None:
        session.info[_GENERATION] = (session.get_transaction(), value)


def carrying(on: bool) -> None:
    """A web request starts (`True`) or ends (`False`): only between the two does `carry` keep anything, so that a
    service called outside a web request (a script, a test, the worker) never leaves a number behind in its thread."""
    _CARRIED.set(_Carried() if on else None)


def carry(value: int | None) -> None:
    """Within a web request (see `carrying`): let its next transactions take `value`, the generation its sign-in
    check read, rather than read it again. Dropped as soon as a statement writes reference data."""
    carried = _CARRIED.get()
    if carried is not None:
        carried.value = value


def generation(session: Session) -> int | None:
    """This transaction's reference generation, read once per transaction (or carried: see `carry`)."""
    noted = session.info.get(_GENERATION)
    if noted is not None and noted[0] is session.get_transaction():
        return int(noted[1])
    carried = _CARRIED.get()
    if carried is not None and carried.value is not None:
        note_generation(session, carried.value)
        return carried.value
    value = session.connection().execute(CURRENT).scalar_one_or_none()
    note_generation(session, value)
    return value


def cached(session: Session, name: str, key: Hashable, load: Callable[[], T]) -> T:
    """`load()`'s value for (`name`, `key`) as this process last read it at this transaction's generation, else
    `load()` now (and kept). `load` must read only reference tables and return an immutable value."""
    if session.connection().info.get(_WROTE):
        return load()
    current = generation(session)
    if current is None:
        return load()
    entry_key = (name, key)
    with _lock:
        found = _entries.get(entry_key)
        if found is not None and found[0] == current:
            _entries.move_to_end(entry_key)
            return found[1]  # type: ignore[no-any-return]
    value = load()
    with _lock:
        _entries[entry_key] = (current, value)
        _entries.move_to_end(entry_key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every entry (the cache is only ever a copy: nothing is lost)."""
    with _lock:
        _entries.clear()


@event.listens_for(Engine, "before_execute")
def _note_reference_write(conn: Connection, statement: Any, *_args: Any) -> None:
    if isinstance(statement, UpdateBase):
        table = getattr(statement, "table", None)
        if getattr(table, "name", None) in REFERENCE_TABLES:
            conn.info[_WROTE] = True
            carried = _CARRIED.get()
            if carried is not None:  # the number changes with this write: the rest of the web request reads it afresh
                carried.value = None


forget_when_transaction_ends(_WROTE)
