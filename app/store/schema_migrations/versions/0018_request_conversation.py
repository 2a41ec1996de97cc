"""The conversation around a request: internal notes, attachments, inbound (customer reply) mail

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03

`request_note` holds staff's internal work notes, `request_attachment` the files attached to a request (their bytes
in `content` or on disk, with their sha256), `inbound_mail` every message the inbound mail endpoint received
(filed, unfiled or discarded), unique by Message-ID so a message delivered twice is handled once.
"""

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'request_note',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), sa.ForeignKey('service_request.id'), nullable=False),
        sa.Column('author', sa.String(length=320), nullable=False),
        sa.Column('author_name', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', app.store.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_request_note_request_id', 'request_note', ['request_id'])
    op.create_table(
        'request_attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), sa.ForeignKey('service_request.id'), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=120), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploaded_by', sa.String(length=320), nullable=False),
        sa.Column('uploaded_at', app.store.db.UTCDateTime(), nullable=False),
        sa.Column('storage', sa.String(length=20), nullable=False),
        sa.Column('storage_key', sa.String(length=200), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_request_attachment_request_id', 'request_attachment', ['request_id'])
    op.create_table(
        'inbound_mail',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=500), nullable=False),
        sa.Column('received_at', app.store.db.UTCDateTime(), nullable=False),
        sa.Column('mail_from', sa.String(length=320), nullable=False),
        sa.Column('rcpt_to', sa.Text(), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('reply_text', sa.Text(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('request_number', sa.String(length=32), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('handled_by', sa.String(length=320), nullable=True),
        sa.Column('handled_at', app.store.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
    )
    op.create_index('ix_inbound_mail_request_number', 'inbound_mail', ['request_number'])
    op.create_index('ix_inbound_mail_status', 'inbound_mail', ['status'])


def downgrade() -> None:
    op.drop_table('inbound_mail')
    op.drop_table('request_attachment')
    op.drop_table('request_note')
