"""The pool tests a PostgreSQL connection before handing it out only when it sat idle long enough
(RF_DB_POOL_PING_AFTER): one in use a moment ago is handed out as it is (no round trip), and one that idled and was
cut behind the pool's back (a database restart, a dropped connection) is replaced before anyone uses it. A
connection cut in the middle of a transaction fails that transaction with the database's own error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from app.store.db import make_engine

PING_AFTER = 0.3


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no connection to lose")
    made = make_engine(database_url, pool={"pool_size": 1, "max_overflow": 0, "pool_pre_ping": True,
                                           "ping_after": PING_AFTER})
    yield made
    made.dispose()


def _counting_pings(engine: Engine) -> list[int]:
    """Count the dialect's connection tests (the pool's own round trip, which statement events do not see)."""
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_connection))

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


def _terminate(database_url: str, pid: int) -> None:
    """Cut connection `pid` from another engine, as a database restart or a network cut would."""
    other = create_engine(database_url)
    try:
        with other.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        other.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def test_a_connection_used_a_moment_ago_is_handed_out_untested(engine):
    pings = _counting_pings(engine)
    first = _backend_pid(engine)  # a new connection: just opened, not tested
    assert [_backend_pid(engine) for _ in range(5)] == [first] * 5
    assert pings == []
    time.sleep(PING_AFTER + 0.1)
    assert _backend_pid(engine) == first
    assert pings == [1]  # idle long enough: tested once, and alive


def test_an_idle_connection_cut_behind_the_pools_back_is_replaced_before_use(engine, database_url):
    first = _backend_pid(engine)
    _terminate(database_url, first)
    time.sleep(PING_AFTER + 0.1)
    replaced = _backend_pid(engine)  # no error: the test found it dead and the pool opened another
    assert replaced != first


def test_a_connection_cut_in_a_transaction_fails_with_the_databases_error(services, database_url):
    """The request that was running when the database went away gets its error (a 503 on the web), not a failure
    of the clean-up that rolls its transaction back."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no connection to lose")
    with pytest.raises(OperationalError, match="terminating connection"), services.uow() as uow:
        own = uow.session.connection().scalar(text("SELECT pg_backend_pid()"))
        _terminate(database_url, own)
        uow.session.connection().execute(text("SELECT 1"))
    with services.uow() as uow:  # and the next transaction has a connection again
        assert uow.session.connection().scalar(text("SELECT 1")) == 1
