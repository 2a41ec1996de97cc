"""Email templates edited by administrators, the HTML part of queued email, staff email preferences, in-app notices

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03

`email_template` holds the templates an administrator changed (a template without a row is the default that ships).
`notification.html_body` is the HTML part of a queued email (NULL: text only, as every earlier message).
`app_user.email_on_*` say which staff emails a user wants (all on by default). `user_notice` holds the in-app
notifications listed under the bell.
"""

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_PREFERENCES = ('email_on_assignment', 'email_on_billing', 'email_on_escalation')


def upgrade() -> None:
    op.create_table(
        'email_template',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('text_body', sa.Text(), nullable=False),
        sa.Column('html_body', sa.Text(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', app.store.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_table(
        'user_notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('text', sa.String(length=500), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('request_number', sa.String(length=32), nullable=True),
        sa.Column('task_uuid', sa.String(length=64), nullable=True),
        sa.Column('created_at', app.store.db.UTCDateTime(), nullable=False),
        sa.Column('read_at', app.store.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'],
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['request_id'], ['service_request.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_user_notice_user_created', 'user_notice', ['user_id', 'created_at'])
    # Plain ADD COLUMN (no batch recreation: app_user has ON DELETE CASCADE children on SQLite).
    op.add_column('notification', sa.Column('html_body', sa.Text(), nullable=True))
    for name in _PREFERENCES:
        op.add_column('app_user', sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    # Not batch mode: on SQLite it would copy app_user to a new table and drop the old one, and with foreign keys
    # on that DROP deletes every membership (ON DELETE CASCADE). SQLite 3.35+ drops a column in place.
    for name in reversed(_PREFERENCES):
        op.execute(f'ALTER TABLE app_user DROP COLUMN {name}')
    op.execute('ALTER TABLE notification DROP COLUMN html_body')
    op.drop_index('ix_user_notice_user_created', table_name='user_notice')
    op.drop_table('user_notice')
    op.drop_table('email_template')
