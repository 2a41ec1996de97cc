"""The reference generation: one number that changes whenever reference data changes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03

`reference_generation` holds one row whose `value` is set to a fresh random number by a trigger on every INSERT,
UPDATE and DELETE of the reference tables (`REFERENCE_TABLES`: users, memberships, roles, groups, email templates,
webhook subscriptions, holidays, SLA targets, deployed and current versions), whoever writes them: the application
in any process, the command line or psql. Processes cache what they read of that data keyed by this number
(app/store/reference_cache.py): an unchanged number means unchanged data, in any database (it is random, so two
databases, or a database and a copy of it that then changed, do not share one).

On PostgreSQL the triggers are deferred constraint triggers: they run as the writing transaction commits, after it
took every other lock, so two administrators' transactions cannot deadlock on the row (a TRUNCATE has a trigger of
its own). On SQLite, whose writers are serialised anyway, they run after each row.
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

# Frozen here: the tables at this revision (app.store.reference_cache.REFERENCE_TABLES must name the same ones).
REFERENCE_TABLES = ("app_user", "membership", "role", "provider_group", "email_template", "webhook_subscription",
                    "holiday", "sla_target", "definition_version", "process_current_version")
FUNCTION = "reference_generation_bump"
_PG_RANDOM = "(random() * 9007199254740991)::bigint"
_SQLITE_RANDOM = "random()"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _trigger(table: str, operation: str = "") -> str:
    return f"reference_generation_on_{table}{'_' + operation.lower() if operation else ''}"


def upgrade() -> None:
    op.create_table(
        'reference_generation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    postgresql = _postgresql()
    op.execute(f"INSERT INTO reference_generation (id, value) VALUES (1, {_PG_RANDOM if postgresql else _SQLITE_RANDOM})")
    if postgresql:
        op.execute(f"""
            CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                UPDATE reference_generation SET value = {_PG_RANDOM} WHERE id = 1;
                RETURN NULL;
            END
            $body$
        """)
        for table in REFERENCE_TABLES:
            op.execute(f"CREATE CONSTRAINT TRIGGER {_trigger(table)} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")
            op.execute(f"CREATE TRIGGER {_trigger(table, 'TRUNCATE')} AFTER TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")
        return
    for table in REFERENCE_TABLES:
        for operation in ("INSERT", "UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {_trigger(table, operation)} AFTER {operation} ON {table} FOR EACH ROW "
                       f"BEGIN UPDATE reference_generation SET value = {_SQLITE_RANDOM} WHERE id = 1; END")


def downgrade() -> None:
    if _postgresql():
        for table in REFERENCE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table, 'TRUNCATE')} ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table)} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    else:
        for table in REFERENCE_TABLES:
            for operation in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table, operation)}")
    op.drop_table('reference_generation')
