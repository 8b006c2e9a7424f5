"""The OTD lifecycle: configuration options, sub-order facts, service orders, audit entities.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from otd_shared.migrations import current_schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    ts = sa.DateTime(timezone=True)
    op.add_column(
        "vehicle_orders",
        sa.Column("options", ARRAY(sa.Text), nullable=False, server_default="{}"),
        schema=schema,
    )
    op.add_column(
        "vehicle_orders",
        sa.Column("firm_billing_paid", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=schema,
    )
    for column in (
        sa.Column("vin", sa.Text),
        sa.Column("delivery_centre", sa.Text),
        sa.Column("bank_code", sa.Text),
        sa.Column("principal_fen", sa.BigInteger),
        sa.Column("bank_reference", sa.Text),
    ):
        op.add_column("sub_orders", column, schema=schema)
    op.add_column("order_history", sa.Column("entity", sa.Text), schema=schema)
    op.add_column("order_history", sa.Column("entity_id", sa.Text), schema=schema)
    op.create_table(
        "service_orders",
        sa.Column("service_order_id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "parent_order_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{schema}.vehicle_orders.order_id"),
            nullable=False,
            index=True,
        ),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("price_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.CheckConstraint("price_fen > 0", name="ck_service_orders_price_positive"),
        schema=schema,
    )


def downgrade() -> None:
    schema = current_schema()
    op.drop_table("service_orders", schema=schema)
    op.drop_column("order_history", "entity_id", schema=schema)
    op.drop_column("order_history", "entity", schema=schema)
    for name in ("bank_reference", "principal_fen", "bank_code", "delivery_centre", "vin"):
        op.drop_column("sub_orders", name, schema=schema)
    op.drop_column("vehicle_orders", "firm_billing_paid", schema=schema)
    op.drop_column("vehicle_orders", "options", schema=schema)
