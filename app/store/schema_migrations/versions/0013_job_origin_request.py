"""The web request that made a service job ready (its X-Request-Id), for the worker's log lines about the job

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('service_job') as batch:
        batch.add_column(sa.Column('origin_request_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('service_job') as batch:
        batch.drop_column('origin_request_id')
