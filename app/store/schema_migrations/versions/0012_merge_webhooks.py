"""Merge the heads of issue 13: webhooks (0009) with the CRM feed and API tokens (0011).

Revision ID: 0012
Revises: 0009, 0011
"""

revision = '0012'
down_revision = ('0009', '0011')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
