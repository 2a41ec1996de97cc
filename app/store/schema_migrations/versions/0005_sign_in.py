"""Sign-in: server-side web sessions, failed sign-in counters, installation settings (demo or not)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Existing signed cookies carry no session token, so everyone signs in again once after this upgrade.
"""

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.store.db.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', app.store.db.UTCDateTime(), nullable=False),
    sa.Column('remote', sa.String(length=64), nullable=False),
    sa.Column('ended_at', app.store.db.UTCDateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_web_session_user_id', 'web_session', ['user_id'])
    op.create_table('sign_in_throttle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', app.store.db.UTCDateTime(), nullable=True),
    sa.Column('locked_until', app.store.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'key')
    )
    op.create_table('installation_setting',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('updated_at', app.store.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('installation_setting')
    op.drop_table('sign_in_throttle')
    op.drop_index('ix_web_session_user_id', table_name='web_session')
    op.drop_table('web_session')
