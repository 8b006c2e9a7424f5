"""Payable billings learn ``payable_from``: a lease installment is known before it falls due
(BillingScheduled) and takes payments only inside its advance window.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "payable_billings",
        sa.Column("payable_from", sa.DateTime(timezone=True)),
        schema=current_schema(),
    )


def downgrade() -> None:
    op.drop_column("payable_billings", "payable_from", schema=current_schema())
