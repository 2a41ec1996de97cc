"""REST API: access tokens and the answers to idempotent POSTs

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.store.db.UTCDateTime(), nullable=False),
    sa.Column('expires_at', app.store.db.UTCDateTime(), nullable=True),
    sa.Column('last_used_at', app.store.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', app.store.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_api_token_user_id', 'api_token', ['user_id'])
    op.create_table('api_idempotent_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('principal', sa.String(length=80), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', app.store.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('principal', 'key')
    )


def downgrade() -> None:
    op.drop_table('api_idempotent_response')
    op.drop_index('ix_api_token_user_id', table_name='api_token')
    op.drop_table('api_token')
