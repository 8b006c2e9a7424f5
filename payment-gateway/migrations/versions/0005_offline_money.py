"""Offline money: payer accounts, wires and claims, cash receipts and day closes, POS stores,
terminals, order-QR tokens, parked POS callbacks, offline refunds; payments may be ``reversed``.

The tables are created from their definitions in adapters/offline_tables.py as they stand at
this revision (as otd_shared.migrations.create_messaging_tables does); a later change to a
table needs its own revision, and the table's shape at this revision is then frozen here
(``offline_refunds``, extended by 0007).

Revision ID: 0005
Revises: 0004_discounts
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from otd_shared.migrations import current_schema
from payment_gateway.adapters import offline_tables

revision = "0005"
down_revision = "0004_discounts"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_OFFLINE_REFUNDS_0005 = sa.Table(
    "offline_refunds",
    sa.MetaData(),
    sa.Column("offline_refund_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("refund_request_id", sa.Text, unique=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("billing_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("payment_id", UUID(as_uuid=True)),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("bank_reference", sa.Text),
    sa.Column("completed_by", sa.Text),
    sa.Column("completed_at", _TS),
    sa.Column("created_at", _TS, nullable=False),
    sa.CheckConstraint("amount_fen > 0", name="ck_offline_refunds_amount_positive"),
    sa.CheckConstraint("status IN ('open','completed')", name="ck_offline_refunds_status"),
)

_TABLES = (
    offline_tables.payer_accounts,
    offline_tables.wires,
    offline_tables.wire_claims,
    offline_tables.cash_receipts,
    offline_tables.cash_day_closes,
    offline_tables.pos_stores,
    offline_tables.pos_terminals,
    offline_tables.order_qr_tokens,
    offline_tables.pos_fetch_refusals,
    offline_tables.parked_callbacks,
    _OFFLINE_REFUNDS_0005,
)
_STATUSES_BEFORE = "'created','paying','unknown','succeeded','failed','closed'"


def upgrade() -> None:
    schema = current_schema()
    target = sa.MetaData(schema=schema)
    bind = op.get_bind()
    for table in _TABLES:
        table.to_metadata(target, schema=schema)
    target.create_all(bind)
    op.drop_constraint("ck_payments_status", "payments", schema=schema, type_="check")
    op.create_check_constraint(
        "ck_payments_status",
        "payments",
        f"status IN ({_STATUSES_BEFORE},'reversed')",
        schema=schema,
    )


def downgrade() -> None:
    schema = current_schema()
    op.drop_constraint("ck_payments_status", "payments", schema=schema, type_="check")
    op.create_check_constraint(
        "ck_payments_status", "payments", f"status IN ({_STATUSES_BEFORE})", schema=schema
    )
    for table in reversed(_TABLES):
        op.drop_table(table.name, schema=schema)
