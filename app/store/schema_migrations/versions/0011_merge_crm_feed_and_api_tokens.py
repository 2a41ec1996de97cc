"""Merge two heads of issue 13: the CRM case feed (0008) and API tokens (0010).

Revision ID: 0011
Revises: 0008, 0010
"""

revision = '0011'
down_revision = ('0008', '0010')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
