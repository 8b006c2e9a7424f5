"""The rule that paired a line with a record, on every result and discrepancy.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("recon_results", "discrepancies"):
        op.add_column(table, sa.Column("match_rule", sa.Text), schema=current_schema())


def downgrade() -> None:
    for table in ("recon_results", "discrepancies"):
        op.drop_column(table, "match_rule", schema=current_schema())
