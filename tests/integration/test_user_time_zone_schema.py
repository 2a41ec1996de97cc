"""Migration 0015 gives every user a nullable time zone, exactly as the model declares it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.store.db import Base


def test_the_migrated_user_table_matches_the_model_and_nobody_has_a_zone_of_their_own_yet(services):
    with services.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        columns = {c["name"]: c for c in inspect(conn).get_columns("app_user")}
    about_users = [d for d in diffs if "app_user" in repr(d)]
    assert about_users == []
    assert columns["time_zone"]["nullable"] is True
    with services.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM app_user WHERE time_zone IS NOT NULL").scalar() == 0
