"""The offline refunds queue: every ``manual`` refund gets one item with an owner, a payout
method (bank transfer or cash at the till), the payout's reference (unique) and a second
approver above a threshold. Manual refunds recorded before this revision are queued here.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from otd_shared.migrations import current_schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_TABLE = "offline_refunds"
_NEW_COLUMNS = (
    ("refund_id", UUID(as_uuid=True)),
    ("payment_ref", sa.Text),
    ("payout_method", sa.Text),
    ("store_id", sa.Text),
    ("cash_voucher_no", sa.Text),
    ("submitted_by", sa.Text),
    ("submitted_at", _TS),
    ("approved_by", sa.Text),
    ("rejected_by", sa.Text),
    ("reject_reason", sa.Text),
    ("updated_at", _TS),
)


def upgrade() -> None:
    schema = current_schema()
    for name, type_ in _NEW_COLUMNS:
        op.add_column(_TABLE, sa.Column(name, type_), schema=schema)
    op.execute(f"UPDATE {schema}.{_TABLE} SET payout_method = 'bank_transfer'")  # noqa: S608  (schema name only)
    op.alter_column(
        _TABLE, "payout_method", nullable=False, server_default="bank_transfer", schema=schema
    )
    op.create_unique_constraint(
        "offline_refunds_refund_id_key", _TABLE, ["refund_id"], schema=schema
    )
    op.drop_constraint("ck_offline_refunds_status", _TABLE, schema=schema, type_="check")
    op.create_check_constraint(
        "ck_offline_refunds_status",
        _TABLE,
        "status IN ('open','pending_approval','completed')",
        schema=schema,
    )
    op.create_check_constraint(
        "ck_offline_refunds_payout_method",
        _TABLE,
        "payout_method IN ('bank_transfer','cash')",
        schema=schema,
    )
    op.create_index(
        "uq_offline_refunds_bank_reference",
        _TABLE,
        ["bank_reference"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("bank_reference IS NOT NULL"),
    )
    op.create_index(
        "uq_offline_refunds_cash_voucher",
        _TABLE,
        ["store_id", "cash_voucher_no"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("cash_voucher_no IS NOT NULL"),
    )
    op.create_index("ix_offline_refunds_status", _TABLE, ["status", "created_at"], schema=schema)
    _queue_existing_manual_refunds(schema)


def _queue_existing_manual_refunds(schema: str) -> None:
    """Manual refunds of before this revision get their queue item (finance owns them; a
    cash one goes to its store's till when the receipt is known)."""
    op.execute(
        f"""
        INSERT INTO {schema}.{_TABLE} (
            offline_refund_id, refund_id, refund_request_id, order_id, billing_id, payment_id,
            channel, amount_fen, reason, status, owner, payout_method, store_id, created_at,
            updated_at)
        SELECT r.refund_id, r.refund_id, r.refund_request_id, r.order_id, r.billing_id,
               r.payment_id, r.channel, r.amount_fen, r.reason, 'open',
               CASE WHEN r.channel = 'cash' AND c.store_id IS NOT NULL
                    THEN 'store:' || c.store_id ELSE 'finance' END,
               CASE WHEN r.channel = 'cash' AND c.store_id IS NOT NULL
                    THEN 'cash' ELSE 'bank_transfer' END,
               c.store_id, r.created_at, now()
        FROM {schema}.refunds r
        LEFT JOIN {schema}.cash_receipts c ON c.payment_id = r.payment_id
        WHERE r.status = 'manual'
        ON CONFLICT DO NOTHING
        """  # noqa: S608  (schema name only)
    )


def downgrade() -> None:
    schema = current_schema()
    op.execute(
        f"UPDATE {schema}.{_TABLE} SET status = 'open' WHERE status = 'pending_approval'"  # noqa: S608  (schema name only)
    )
    for index in (
        "ix_offline_refunds_status",
        "uq_offline_refunds_cash_voucher",
        "uq_offline_refunds_bank_reference",
    ):
        op.drop_index(index, table_name=_TABLE, schema=schema)
    op.drop_constraint("ck_offline_refunds_payout_method", _TABLE, schema=schema, type_="check")
    op.drop_constraint("ck_offline_refunds_status", _TABLE, schema=schema, type_="check")
    op.create_check_constraint(
        "ck_offline_refunds_status", _TABLE, "status IN ('open','completed')", schema=schema
    )
    op.drop_constraint("offline_refunds_refund_id_key", _TABLE, schema=schema, type_="unique")
    for name, _ in reversed(_NEW_COLUMNS):
        op.drop_column(_TABLE, name, schema=schema)
