"""crm feed: where a CRM case came from, the last feed message applied to it, a cancellation in the CRM

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

The CRM's case feed (POST /api/v1/crm/cases) creates, updates and cancels Pending Queue cases; a case already taken
by a request is never edited behind the request's back: the feed records what changed on the request and, for a
cancellation, marks the case (`cancelled_in_crm_at`). Existing cases are "local" (logged in Request Fulfillment).
"""

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('crm_case') as batch:
        batch.add_column(sa.Column('origin', sa.String(length=20), nullable=False, server_default='local'))
        batch.add_column(sa.Column('registered_at', app.store.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('feed_sequence', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('feed_digest', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('feed_outcome', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('feed_received_at', app.store.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('cancelled_in_crm_at', app.store.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('crm_case') as batch:
        for column in ('cancelled_in_crm_at', 'feed_received_at', 'feed_outcome', 'feed_digest', 'feed_sequence',
                       'registered_at', 'origin'):
            batch.drop_column(column)
