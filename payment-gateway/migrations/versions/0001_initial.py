"""Initial schema: payable billings (from BillingDue), messaging tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from otd_shared.migrations import create_messaging_tables, current_schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "payable_billings",
        sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger, nullable=False),
        sa.Column("due_at", ts, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        schema=schema,
    )
    create_messaging_tables(op, schema)


def downgrade() -> None:
    op.execute(f'DROP SCHEMA IF EXISTS "{current_schema()}" CASCADE')
