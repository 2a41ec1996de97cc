"""Migration 0005 creates exactly the sign-in tables the models describe (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.store.db import Base

TABLES = {"web_session", "sign_in_throttle", "installation_setting"}


def _table(diff) -> str | None:
    """The table an autogenerate difference is about (column changes come as a list of tuples)."""
    if isinstance(diff, list):
        diff = diff[0]
    for item in diff[1:]:
        if isinstance(item, str) and item in TABLES:
            return item
        table = getattr(item, "table", None)  # columns, indexes, constraints
        if table is not None:
            return str(table.name)
        if getattr(item, "name", None) in TABLES:  # tables
            return str(item.name)
    return None


def test_migrated_sign_in_tables_match_the_models(services):
    with services.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert set(conn.dialect.get_table_names(conn)) >= TABLES
    assert [d for d in diffs if _table(d) in TABLES] == []
