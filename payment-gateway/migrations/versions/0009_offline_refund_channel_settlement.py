"""A queued refund the channel refunded itself is closed with why (``closed_reason``: the
channel, how it told us and its refund id), beside who (``completed_by = 'channel'``) and when.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("offline_refunds", sa.Column("closed_reason", sa.Text), schema=current_schema())


def downgrade() -> None:
    op.drop_column("offline_refunds", "closed_reason", schema=current_schema())
