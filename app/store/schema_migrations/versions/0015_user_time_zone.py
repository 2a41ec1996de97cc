"""The time zone a user reads times in (Preferences); NULL: the installation's (RF_TIME_ZONE)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_user') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite it would copy app_user to a new table and drop the old one, and with foreign keys
    # on that DROP deletes every membership (ON DELETE CASCADE). SQLite 3.35+ drops a column in place.
    op.execute('ALTER TABLE app_user DROP COLUMN time_zone')
