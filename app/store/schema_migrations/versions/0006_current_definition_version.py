"""current definition version: the version of each process that new requests start on

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03

A process owner can make an older version current again ("going back a version"). Existing databases keep starting
new requests on their latest version: each process gets a row pointing at its highest version number. (0005 revises
0004 too; `rf init` runs `upgrade heads`.)
"""

import sqlalchemy as sa
from alembic import op

import app.store.db

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('process_current_version',
    sa.Column('process_id', sa.String(length=200), nullable=False),
    sa.Column('definition_version_id', sa.Integer(), nullable=False),
    sa.Column('made_current_by', sa.String(length=64), nullable=False),
    sa.Column('made_current_at', app.store.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['definition_version_id'], ['definition_version.id'], ),
    sa.PrimaryKeyConstraint('process_id')
    )
    op.execute(
        "INSERT INTO process_current_version (process_id, definition_version_id, made_current_by, made_current_at) "
        "SELECT d.process_id, d.id, d.deployed_by, d.deployed_at FROM definition_version d "
        "WHERE d.version = (SELECT max(v.version) FROM definition_version v WHERE v.process_id = d.process_id)")


def downgrade() -> None:
    op.drop_table('process_current_version')
