"""audit_event is append-only on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

A trigger refuses every UPDATE, DELETE and TRUNCATE of audit_event, whoever issues it (the application never does;
only someone who can disable triggers, i.e. the table owner or a superuser, gets past it, and then the hash chain
still shows the change: `rf audit verify`). SQLite has no equivalent that its own owner could not drop just as
easily, so there the migration does nothing and the application simply never updates or deletes a row.
"""

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

FUNCTION = "audit_event_refuse_change"
ROW_TRIGGER = "audit_event_append_only"
TRUNCATE_TRIGGER = "audit_event_no_truncate"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return
    op.execute(f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                RAISE EXCEPTION 'audit_event is append-only: TRUNCATE refused'
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = 'The audit log is a hash chain; rows are only ever appended.';
            END IF;
            RAISE EXCEPTION 'audit_event is append-only: % of seq % refused', TG_OP, OLD.seq
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'The audit log is a hash chain; rows are only ever appended.';
        END
        $body$
    """)
    op.execute(f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON audit_event "
               f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")
    op.execute(f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON audit_event "
               f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade() -> None:
    if not _postgresql():
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON audit_event")
    op.execute(f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON audit_event")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
