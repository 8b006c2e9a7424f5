"""Initial schema: vehicle orders, sub-orders, history, messaging tables.

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
        "vehicle_orders",
        sa.Column("order_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("vehicle_model", sa.Text, nullable=False),
        sa.Column("price_fen", sa.BigInteger, nullable=False),
        sa.Column("loan_fen", sa.BigInteger, nullable=False),
        sa.Column("charging_pile", sa.Boolean, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.CheckConstraint("price_fen > 0", name="ck_vehicle_orders_price_positive"),
        sa.CheckConstraint("loan_fen >= 0", name="ck_vehicle_orders_loan_nonnegative"),
        schema=schema,
    )
    op.create_table(
        "sub_orders",
        sa.Column("sub_order_id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "order_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{schema}.vehicle_orders.order_id"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.UniqueConstraint("order_id", "kind", name="uq_sub_orders_order_kind"),
        schema=schema,
    )
    op.create_table(
        "order_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("sub_order_id", UUID(as_uuid=True)),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", ts, nullable=False),
        schema=schema,
    )
    create_messaging_tables(op, schema)


def downgrade() -> None:
    op.execute(f'DROP SCHEMA IF EXISTS "{current_schema()}" CASCADE')
