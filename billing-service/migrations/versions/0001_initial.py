"""Initial schema: fund orders, billings, messaging tables.

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
        "fund_orders",
        sa.Column("fund_order_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("order_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("price_fen", sa.BigInteger, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        schema=schema,
    )
    op.create_table(
        "billings",
        sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "fund_order_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{schema}.fund_orders.fund_order_id"),
            nullable=False,
        ),
        sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("paid_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("due_at", ts),
        sa.Column("updated_at", ts, nullable=False),
        sa.UniqueConstraint("order_id", "stage", name="uq_billings_order_stage"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_billings_amount_nonnegative"),
        sa.CheckConstraint("paid_fen >= 0", name="ck_billings_paid_nonnegative"),
        schema=schema,
    )
    create_messaging_tables(op, schema)


def downgrade() -> None:
    op.execute(f'DROP SCHEMA IF EXISTS "{current_schema()}" CASCADE')
