"""SLA clock: business-time target, pauses, next escalation check, breaches; escalations raised once per level

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-11-28

Also merges the two heads (audit trigger, business calendar).
"""

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0004'
down_revision = ('0002', '0003')
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('service_request') as batch:
        batch.add_column(sa.Column('sla_target_seconds', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('sla_paused_since', app.store.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('sla_paused_seconds', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('sla_next_check_at', app.store.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('sla_breached_at', app.store.db.UTCDateTime(), nullable=True))
        batch.create_index('ix_service_request_sla_next_check_at', ['sla_next_check_at'])
    op.create_table('sla_escalation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('threshold_at', app.store.db.UTCDateTime(), nullable=False),
    sa.Column('raised_at', app.store.db.UTCDateTime(), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'level')
    )
    op.create_index('ix_sla_escalation_request_id', 'sla_escalation', ['request_id'])


def downgrade() -> None:
    op.drop_index('ix_sla_escalation_request_id', table_name='sla_escalation')
    op.drop_table('sla_escalation')
    with op.batch_alter_table('service_request') as batch:
        batch.drop_index('ix_service_request_sla_next_check_at')
        batch.drop_column('sla_breached_at')
        batch.drop_column('sla_next_check_at')
        batch.drop_column('sla_paused_seconds')
        batch.drop_column('sla_paused_since')
        batch.drop_column('sla_target_seconds')
