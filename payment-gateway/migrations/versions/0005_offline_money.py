"""Offline money: payer accounts, wires and claims, cash receipts and day closes, POS stores,
terminals, order-QR tokens, parked POS callbacks, offline refunds; payments may be ``reversed``.

The tables are created from their definitions in adapters/offline_tables.py as they stand at
this revision (as otd_shared.migrations.create_messaging_tables does); a later change to a
table needs its own revision.

Revision ID: 0005
Revises: 0004_discounts
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema
from payment_gateway.adapters import offline_tables

revision = "0005"
down_revision = "0004_discounts"
branch_labels = None
depends_on = None

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
    offline_tables.offline_refunds,
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
