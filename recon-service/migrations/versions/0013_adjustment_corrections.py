"""An ``accept_channel`` adjustment names the payment the gateway corrected and the
gateway's correction (``payment_id``, ``correction_id``; null for every other adjustment).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    op.add_column("adjustments", sa.Column("payment_id", sa.Text), schema=schema)
    op.add_column("adjustments", sa.Column("correction_id", sa.Text), schema=schema)


def downgrade() -> None:
    schema = current_schema()
    op.drop_column("adjustments", "correction_id", schema=schema)
    op.drop_column("adjustments", "payment_id", schema=schema)
