"""Tables of the ``order_svc`` schema (SQLAlchemy Core; migrations mirror them)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

SCHEMA = "order_svc"
metadata = sa.MetaData(schema=SCHEMA)

vehicle_orders = sa.Table(
    "vehicle_orders",
    metadata,
    sa.Column("order_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("vehicle_model", sa.Text, nullable=False),
    sa.Column("price_fen", sa.BigInteger, nullable=False),
    sa.Column("loan_fen", sa.BigInteger, nullable=False),
    sa.Column("charging_pile", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("price_fen > 0", name="ck_vehicle_orders_price_positive"),
    sa.CheckConstraint("loan_fen >= 0", name="ck_vehicle_orders_loan_nonnegative"),
)

sub_orders = sa.Table(
    "sub_orders",
    metadata,
    sa.Column("sub_order_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "order_id",
        UUID(as_uuid=True),
        sa.ForeignKey(vehicle_orders.c.order_id),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("order_id", "kind", name="uq_sub_orders_order_kind"),
)

order_history = sa.Table(
    "order_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("sub_order_id", UUID(as_uuid=True)),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
