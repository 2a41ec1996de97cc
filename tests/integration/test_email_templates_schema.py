"""Migration 0018: the email template, in-app notice and staff email preference tables match the models, and going
down to 0016 and up again works and keeps every user and membership."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app.services.admin import setup
from app.store.db import Base

OURS = ("email_template", "user_notice", "notification", "app_user")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(setup.MIGRATIONS))
    return cfg


def _counts(services) -> tuple[int, int]:
    with services.engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM app_user")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM membership")).scalar_one())


def test_the_migrated_tables_match_the_models_and_every_user_wants_every_staff_email(services):
    with services.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in diffs if any(name in repr(d) for name in OURS)] == []
        assert conn.execute(text("SELECT count(*) FROM app_user WHERE NOT (email_on_assignment AND email_on_billing "
                                 "AND email_on_escalation)")).scalar_one() == 0


def test_going_down_to_0018_and_up_again_keeps_users_and_memberships(services):
    before = _counts(services)
    cfg = _config()
    with services.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0018")
    with services.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert not {"email_template", "user_notice"} & tables
        assert "email_on_assignment" not in {c["name"] for c in inspect(conn).get_columns("app_user")}
        assert "html_body" not in {c["name"] for c in inspect(conn).get_columns("notification")}
    assert _counts(services) == before
    setup.migrate(services)
    with services.engine.connect() as conn:
        assert {"email_template", "user_notice"} <= set(inspect(conn).get_table_names())
    assert _counts(services) == before
