"""Tables of the ``payment`` schema (SQLAlchemy Core; migrations mirror them)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

SCHEMA = "payment"
metadata = sa.MetaData(schema=SCHEMA)

payable_billings = sa.Table(
    "payable_billings",
    metadata,
    sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("outstanding_fen", sa.BigInteger, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
