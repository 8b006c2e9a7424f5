"""The group a pair belongs to (one statement line with several records, or several lines
with one record, whose amounts add up), on every result and discrepancy.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("recon_results", "discrepancies"):
        op.add_column(table, sa.Column("match_group", sa.Text), schema=current_schema())


def downgrade() -> None:
    for table in ("recon_results", "discrepancies"):
        op.drop_column(table, "match_group", schema=current_schema())
