"""Tables of the ``order_svc`` schema (SQLAlchemy Core; migrations mirror them).

A vehicle order is one ``vehicle_orders`` row plus four ``sub_orders`` rows (fund,
production, charging_pile, loan); the sub-order's own facts (VIN, bank reference...) are
columns of its row. ``order_history`` is append-only: one row per audited change of any
entity (vehicle order, sub-order, service order). Service orders have their own table.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID

SCHEMA = "order_svc"
metadata = sa.MetaData(schema=SCHEMA)
_ts = sa.DateTime(timezone=True)

vehicle_orders = sa.Table(
    "vehicle_orders",
    metadata,
    sa.Column("order_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("vehicle_model", sa.Text, nullable=False),
    sa.Column("options", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("price_fen", sa.BigInteger, nullable=False),
    sa.Column("loan_fen", sa.BigInteger, nullable=False),
    sa.Column("charging_pile", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("firm_billing_paid", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("updated_at", _ts, nullable=False),
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
    sa.Column("vin", sa.Text),
    sa.Column("delivery_centre", sa.Text),
    sa.Column("bank_code", sa.Text),
    sa.Column("principal_fen", sa.BigInteger),
    sa.Column("bank_reference", sa.Text),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("updated_at", _ts, nullable=False),
    sa.UniqueConstraint("order_id", "kind", name="uq_sub_orders_order_kind"),
)

service_orders = sa.Table(
    "service_orders",
    metadata,
    sa.Column("service_order_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "parent_order_id",
        UUID(as_uuid=True),
        sa.ForeignKey(vehicle_orders.c.order_id),
        nullable=False,
        index=True,
    ),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("price_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("updated_at", _ts, nullable=False),
    sa.CheckConstraint("price_fen > 0", name="ck_service_orders_price_positive"),
)

order_history = sa.Table(
    "order_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("sub_order_id", UUID(as_uuid=True)),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("entity", sa.Text),
    sa.Column("entity_id", sa.Text),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", _ts, nullable=False),
)
