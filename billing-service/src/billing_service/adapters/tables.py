"""Tables of the ``billing`` schema (SQLAlchemy Core; migrations mirror them)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

SCHEMA = "billing"
metadata = sa.MetaData(schema=SCHEMA)

fund_orders = sa.Table(
    "fund_orders",
    metadata,
    sa.Column("fund_order_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("price_fen", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

billings = sa.Table(
    "billings",
    metadata,
    sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "fund_order_id",
        UUID(as_uuid=True),
        sa.ForeignKey(fund_orders.c.fund_order_id),
        nullable=False,
    ),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("paid_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("order_id", "stage", name="uq_billings_order_stage"),
)
