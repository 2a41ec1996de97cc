"""Database engine and session factory; no connection is opened at import time."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, DateTime, Engine, Table, create_engine, event, inspect, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import (
    DeclarativeBase,
    MappedColumn,
    Session,
    make_transient_to_detached,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.pool import NullPool, Pool, QueuePool
from sqlalchemy.types import TypeDecorator

from app.clock import Clock
from app.store.pg_cursor import DescribedOnceCursor


class Base(DeclarativeBase):
    pass


M = TypeVar("M", bound=Base)


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for the hot paths that write and read with prebuilt Core statements."""
    return cast(Table, model.__table__)


def insert_unless_present(session: Session, model: type[Base], on: list[str]) -> Any:
    """`INSERT … ON CONFLICT (on) DO NOTHING` for the session's database (PostgreSQL or SQLite): one statement where
    a read and an insert would be two, and a concurrent writer of the same key wins quietly. Chain `.values()`
    (and `.returning()`: no row back means the key was there)."""
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table_of(model)).on_conflict_do_nothing(index_elements=on)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


_READ_FIRST = "rf_read_first"
READ_FIRST: dict[str, Any] = {_READ_FIRST: True}


def reading(session: Session) -> Connection:
    """The session's connection for a transaction that reads first: on SQLite a deferred BEGIN, which takes no
    lock (WAL readers never wait for a writer), where every other transaction takes the write lock at BEGIN
    (IMMEDIATE) so writers queue instead of failing. Such a transaction must not write: to write after reading, end
    it (`session.rollback()`) and take `session.connection()` again, which begins an ordinary one. On PostgreSQL
    the reads run in autocommit: each sees what is committed, as in a READ COMMITTED transaction, without the round
    trips of its BEGIN and ROLLBACK (this is the sign-in check of every request)."""
    if session.get_bind().dialect.name == "postgresql":
        return session.connection(execution_options={**READ_FIRST, "isolation_level": "AUTOCOMMIT"})
    return session.connection(execution_options=READ_FIRST)


def as_persistent(session: Session, model: type[M], values: Mapping[str, Any]) -> M:
    """The `model` object of the row a Core statement of this transaction just wrote or read back (`values`: every
    column, by attribute name), as if the session had loaded it: the session's own object for that row, its
    columns set to `values`, else a new one put into the session as persistent (nothing to load, nothing to flush).
    A Core statement built once costs a fraction of the ORM's execution of the same statement."""
    found = session.identity_map.get(identity_key(model, values["id"]))
    if found is not None:
        for name, value in values.items():
            set_committed_value(found, name, value)
        return found
    made = cast(M, inspect(model).class_manager.new_instance())
    made.__dict__.update(values)  # as the ORM's loading sets them: no attribute events, no history
    make_transient_to_detached(made)  # its identity from them; the attributes not given load when used
    session.add(made)
    return made


def forget_when_transaction_ends(key: str) -> None:
    """Connection info `key` describes the connection's current transaction: drop it when the transaction commits
    or rolls back, and when the connection goes back to the pool."""

    def _ended(conn: Connection) -> None:
        if conn.invalidated:  # its connection is gone (cut, the database restarted), and its info with it: reading
            return  # `info` would try to reconnect inside the failed transaction and hide the database's error
        conn.info.pop(key, None)

    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info.pop(key, None)

    event.listen(Engine, "commit", _ended)
    event.listen(Engine, "rollback", _ended)
    event.listen(Pool, "checkin", _returned)


def make_engine(url: str, *, pool: dict[str, Any] | None = None, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and immediate transactions so writers queue cleanly.

    `pool` (PostgreSQL only) takes QueuePool's pool_size, max_overflow, pool_timeout, pool_recycle and
    pool_pre_ping, and `ping_after` (seconds, default 1): with pool_pre_ping, a connection is tested only when it sat
    in the pool that long (see `_ping_when_idle`). An engine belongs to one process: a forked process (a gunicorn
    worker) makes its own and never uses a connection its parent opened.

    A SQLite file keeps up to five idle connections open (any number while busy, never waiting for one): opening a
    connection per use cost a connect and, worse, closing the last open connection of a WAL database checkpoints
    and removes the WAL file, several milliseconds on every request. An in-memory database keeps no pool."""
    if url.startswith("sqlite"):
        memory = ":memory:" in url or url in ("sqlite://", "sqlite:///")
        pooling: dict[str, Any] = {"poolclass": NullPool} if memory else \
            {"poolclass": QueuePool, "pool_size": 5, "max_overflow": -1, "pool_pre_ping": False}
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pooling, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event emit BEGIN itself
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_FIRST) else "BEGIN IMMEDIATE")

        return engine
    options: dict[str, Any] = {"pool_pre_ping": True, **(pool or {})}
    ping_after = float(options.pop("ping_after", 1.0))
    ping = bool(options.pop("pool_pre_ping"))
    if make_url(url).drivername == "postgresql+psycopg":
        # psycopg 3 turns a statement into a server-side prepared one after its fifth use: measured here, the
        # client's bookkeeping for that cost more than the planning it saves (our statements are small and their
        # plans cheap): about 7 % of a user action's CPU and time (bench/README, fifth round).
        kwargs = {**kwargs, "connect_args": {"prepare_threshold": None, "cursor_factory": DescribedOnceCursor,
                                             **kwargs.get("connect_args", {})}}
    engine = create_engine(url, pool_pre_ping=ping and ping_after <= 0, **options, **kwargs)
    if ping and ping_after > 0:
        _ping_when_idle(engine, ping_after)
    return engine


_RETURNED_AT = "rf_returned_at"  # connection record info: time.monotonic() when it was opened or last checked in


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """SQLAlchemy's pre-ping, but only for a connection that sat in the pool `idle_seconds` or longer: a connection
    is tested with a round trip before it is handed out (a broken one, after a database restart or a dropped
    connection, is replaced, and the caller never sees it), except when it was in use less than `idle_seconds` ago.
    Every web request checks out a connection twice (its sign-in check, then its action): the test was two round
    trips of every request, about 7 % of a completion's server time. A connection broken within `idle_seconds` of
    its last use fails the one statement that finds it (SQLAlchemy then replaces every connection of the pool),
    as a connection broken in use does anyway."""

    @event.listens_for(engine, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is not None and time.monotonic() - returned < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as err:  # noqa: BLE001 - whatever the driver raises: the connection is not usable
            raise DisconnectionError(f"connection test failed: {err}") from err
        if not alive:
            raise DisconnectionError("connection test failed")


# Timestamp columns the session fills from the application's clock when the code did not set them.
_STAMP = "stamp"


def stamped_on_insert() -> MappedColumn[Any]:
    """A creation time (`created_at`, `opened_at`, `next_attempt_at`…): the injected clock's now at insert if unset."""
    return mapped_column(UTCDateTime, info={_STAMP: "insert"})


def stamped_on_write() -> MappedColumn[Any]:
    """An `updated_at`: the injected clock's now at insert and at every update that did not set it itself."""
    return mapped_column(UTCDateTime, info={_STAMP: "write"})


def make_session_factory(engine: Engine, clock: Clock) -> sessionmaker:  # type: ignore[type-arg]
    """Sessions whose unset timestamp columns take `clock.now()` at flush: never the wall clock.

    Use cases set their timestamps from the same clock themselves; this is the safety net for a column they miss.
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    @event.listens_for(factory, "before_flush")
    def _stamp(session: Session, _context: Any, _instances: Any) -> None:
        now: datetime | None = None
        for obj, inserting in [(o, True) for o in session.new] + [(o, False) for o in session.dirty]:
            state = inspect(obj)
            if not inserting and not session.is_modified(obj):
                continue
            for attr in state.mapper.column_attrs:
                kind = attr.columns[0].info.get(_STAMP)
                if kind is None or (not inserting and kind != "write"):
                    continue
                if inserting and getattr(obj, attr.key) is not None:
                    continue
                if not inserting and state.attrs[attr.key].history.has_changes():
                    continue
                now = now or clock.now()
                setattr(obj, attr.key, now)

    return factory
