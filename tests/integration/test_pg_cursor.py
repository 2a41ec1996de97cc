"""PostgreSQL cursors describe a statement's result once per process: the same description again for the same text
and parameter types, a fresh one when the result's columns changed behind the same text."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.store.db import make_engine
from app.store.pg_cursor import DescribedOnceCursor

INT4, TEXT = 23, 25


@pytest.fixture
def engine(database_url: str):
    if not database_url.startswith("postgresql"):
        pytest.skip("the cursor is psycopg's (PostgreSQL)")
    made = make_engine(database_url)
    yield made
    made.dispose()


def _described(conn, statement: str) -> tuple[list[object], list[tuple[object, ...]]]:
    result = conn.execute(text(statement))
    return result.cursor.description, [tuple(row) for row in result]


def test_the_engine_uses_it_and_a_repeated_statement_is_described_once(engine):
    with engine.begin() as conn:
        assert isinstance(conn.connection.driver_connection.cursor(), DescribedOnceCursor)
        conn.execute(text("CREATE TABLE described (a integer, b text)"))
        conn.execute(text("INSERT INTO described VALUES (1, 'one'), (2, 'two')"))
        first, rows = _described(conn, "SELECT a, b FROM described ORDER BY a")
        again, rows_again = _described(conn, "SELECT a, b FROM described ORDER BY a")
        assert again is first
        assert rows == rows_again == [(1, "one"), (2, "two")]
        assert [(column.name, column.type_code) for column in first] == [("a", INT4), ("b", TEXT)]


def test_changed_columns_behind_the_same_text_are_described_afresh(engine):
    statement = "SELECT * FROM changing"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE changing (a integer)"))
        conn.execute(text("INSERT INTO changing VALUES (7)"))
        first, rows = _described(conn, statement)
        assert [(c.name, c.type_code) for c in first] == [("a", INT4)] and rows == [(7,)]
        conn.execute(text("DROP TABLE changing"))
        conn.execute(text("CREATE TABLE changing (a text)"))  # the same count of columns, another type
        conn.execute(text("INSERT INTO changing VALUES ('seven')"))
        retyped, rows = _described(conn, statement)
        assert [(c.name, c.type_code) for c in retyped] == [("a", TEXT)] and rows == [("seven",)]
        conn.execute(text("ALTER TABLE changing ADD COLUMN b integer"))  # another count of columns
        widened, rows = _described(conn, statement)
        assert [c.name for c in widened] == ["a", "b"] and rows == [("seven", None)]
        nothing = conn.execute(text("UPDATE changing SET b = 1"))
        assert nothing.rowcount == 1  # a statement without rows: described as none, as before
