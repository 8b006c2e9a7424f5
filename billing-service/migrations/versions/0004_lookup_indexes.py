"""Indexes the hot paths were missing: a fund order's billings (every PaymentCallback loads
them by fund order id: a sequential scan of all billings until now) and the webhook
sender's due deliveries (its claim and next-due read scanned every delivery ever made).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    op.create_index("ix_billings_fund_order_id", "billings", ["fund_order_id"], schema=schema)
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at", "id"],
        schema=schema,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    schema = current_schema()
    op.drop_index("ix_webhook_deliveries_due", "webhook_deliveries", schema=schema)
    op.drop_index("ix_billings_fund_order_id", "billings", schema=schema)
