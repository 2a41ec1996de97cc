"""Enhancement requests wait on the 60 day schedule: the week a scheduled request is planned to be pulled in

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: no table is recreated on SQLite (service_request has children that cascade).
    op.add_column('service_request', sa.Column('planned_week', sa.Date(), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite it would copy service_request to a new table and drop the old one. SQLite 3.35+
    # drops a column in place.
    op.execute('ALTER TABLE service_request DROP COLUMN planned_week')
