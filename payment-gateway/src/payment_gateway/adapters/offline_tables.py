"""Tables of offline money in the ``payment`` schema: payer accounts, wires and their claims,
cash receipts and day closes, POS stores, terminals, order-QR tokens, parked callbacks and
the offline refunds queue (migration 0007 extends the latter).

Card and account numbers are only ever stored masked to BIN + last 4 (domain/masking.py).
Migration 0005 mirrors these.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from payment_gateway.adapters.tables import metadata

_TS = sa.DateTime(timezone=True)

payer_accounts = sa.Table(
    "payer_accounts",
    metadata,
    sa.Column("customer_id", sa.Text, primary_key=True),
    sa.Column("masked", sa.Text, primary_key=True),
    sa.Column("bin", sa.Text, nullable=False),
    sa.Column("last4", sa.Text, nullable=False),
    sa.Column("registered_by", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Index("ix_payer_accounts_last4", "last4"),
)

wires = sa.Table(
    "wires",
    metadata,
    sa.Column("wire_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("bank_reference", sa.Text, nullable=False, unique=True),
    sa.Column("bank_account", sa.Text, nullable=False),
    sa.Column("payer_name", sa.Text, nullable=False),
    sa.Column("payer_account_masked", sa.Text, nullable=False),
    sa.Column("payer_last4", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("allocated_fen", sa.BigInteger, nullable=False),
    sa.Column("value_date", sa.Date, nullable=False),
    sa.Column("memo", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("match_rule", sa.Text),
    sa.Column("queue_reason", sa.Text),
    sa.Column("received_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.CheckConstraint("amount_fen > 0", name="ck_wires_amount_positive"),
    sa.CheckConstraint(
        "allocated_fen >= 0 AND allocated_fen <= amount_fen", name="ck_wires_allocated_in_range"
    ),
    sa.Index("ix_wires_payer_last4", "payer_last4"),
    sa.Index(
        "ix_wires_open", "received_at", postgresql_where=sa.text("allocated_fen < amount_fen")
    ),
)

wire_claims = sa.Table(
    "wire_claims",
    metadata,
    sa.Column("claim_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("wire_id", UUID(as_uuid=True), sa.ForeignKey("wires.wire_id"), nullable=False),
    sa.Column("billing_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("payment_id", UUID(as_uuid=True)),
    sa.Column("claimed_by", sa.Text, nullable=False),
    sa.Column("approved_by", sa.Text),
    sa.Column("decided_reason", sa.Text),
    sa.Column("unclaimed_by", sa.Text),
    sa.Column("unclaim_reason", sa.Text),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.CheckConstraint("amount_fen > 0", name="ck_wire_claims_amount_positive"),
    sa.CheckConstraint(
        "status IN ('pending_approval','claimed','rejected','unclaimed')",
        name="ck_wire_claims_status",
    ),
    sa.Index("ix_wire_claims_wire", "wire_id"),
)

cash_receipts = sa.Table(
    "cash_receipts",
    metadata,
    sa.Column("receipt_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("store_id", sa.Text, nullable=False),
    sa.Column("receipt_no", sa.Text, nullable=False),
    sa.Column("billing_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("payment_id", UUID(as_uuid=True), nullable=False),
    sa.Column("out_trade_no", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("cashier", sa.Text, nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reversed_by", sa.Text),
    sa.Column("reversal_reason", sa.Text),
    sa.Column("reversal_id", UUID(as_uuid=True)),
    sa.Column("reversal_date", sa.Date),
    sa.Column("reversed_at", _TS),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("store_id", "receipt_no", name="uq_cash_receipts_store_receipt_no"),
    sa.CheckConstraint("amount_fen > 0", name="ck_cash_receipts_amount_positive"),
    sa.CheckConstraint("status IN ('recorded','reversed')", name="ck_cash_receipts_status"),
    sa.Index("ix_cash_receipts_store_day", "store_id", "business_date"),
)

cash_day_closes = sa.Table(
    "cash_day_closes",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("business_date", sa.Date, primary_key=True),
    sa.Column("receipts_count", sa.Integer, nullable=False),
    sa.Column("receipts_fen", sa.BigInteger, nullable=False),
    sa.Column("reversals_count", sa.Integer, nullable=False),
    sa.Column("reversals_fen", sa.BigInteger, nullable=False),
    sa.Column("total_fen", sa.BigInteger, nullable=False),
    sa.Column("report_csv", sa.Text, nullable=False),
    sa.Column("closed_by", sa.Text, nullable=False),
    sa.Column("closed_at", _TS, nullable=False),
)

pos_stores = sa.Table(
    "pos_stores",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)

pos_terminals = sa.Table(
    "pos_terminals",
    metadata,
    sa.Column("terminal_id", sa.Text, primary_key=True),
    sa.Column("store_id", sa.Text, sa.ForeignKey("pos_stores.store_id"), nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)

order_qr_tokens = sa.Table(
    "order_qr_tokens",
    metadata,
    sa.Column("token_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("short_code", sa.Text, nullable=False, unique=True),
    sa.Column("billing_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("store_id", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("issued_by", sa.Text, nullable=False),
    sa.Column("issued_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
    sa.Column("used_at", _TS),
    sa.Column("terminal_id", sa.Text),
    sa.Column("payment_id", UUID(as_uuid=True)),
    sa.CheckConstraint("amount_fen > 0", name="ck_order_qr_tokens_amount_positive"),
    sa.CheckConstraint("status IN ('issued','used')", name="ck_order_qr_tokens_status"),
)

pos_fetch_refusals = sa.Table(
    "pos_fetch_refusals",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("token_id", UUID(as_uuid=True)),
    sa.Column("terminal_id", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("at", _TS, nullable=False),
)

parked_callbacks = sa.Table(
    "parked_callbacks",
    metadata,
    sa.Column("parked_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("out_trade_no", sa.Text, nullable=False),
    sa.Column("channel_txn_id", sa.Text),
    sa.Column("amount_fen", sa.BigInteger),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("voucher", JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("resolution", sa.Text),
    sa.Column("resolved_by", sa.Text),
    sa.Column("resolved_at", _TS),
    sa.Column("received_at", _TS, nullable=False),
    sa.UniqueConstraint("channel", "out_trade_no", "channel_txn_id", name="uq_parked_callbacks"),
    sa.CheckConstraint("status IN ('open','resolved')", name="ck_parked_callbacks_status"),
)

offline_refunds = sa.Table(
    "offline_refunds",
    metadata,
    sa.Column("offline_refund_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("refund_id", UUID(as_uuid=True), unique=True),
    sa.Column("refund_request_id", sa.Text, unique=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("billing_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("payment_id", UUID(as_uuid=True)),
    sa.Column("payment_ref", sa.Text),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("payout_method", sa.Text, nullable=False, server_default="bank_transfer"),
    sa.Column("store_id", sa.Text),
    sa.Column("bank_reference", sa.Text),
    sa.Column("cash_voucher_no", sa.Text),
    sa.Column("submitted_by", sa.Text),
    sa.Column("submitted_at", _TS),
    sa.Column("approved_by", sa.Text),
    sa.Column("rejected_by", sa.Text),
    sa.Column("reject_reason", sa.Text),
    sa.Column("completed_by", sa.Text),
    sa.Column("completed_at", _TS),
    sa.Column("closed_reason", sa.Text),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS),
    sa.CheckConstraint("amount_fen > 0", name="ck_offline_refunds_amount_positive"),
    sa.CheckConstraint(
        "status IN ('open','pending_approval','completed')", name="ck_offline_refunds_status"
    ),
    sa.CheckConstraint(
        "payout_method IN ('bank_transfer','cash')", name="ck_offline_refunds_payout_method"
    ),
    # One bank transfer or till voucher pays one refund: a reference typed twice is refused.
    sa.Index(
        "uq_offline_refunds_bank_reference",
        "bank_reference",
        unique=True,
        postgresql_where=sa.text("bank_reference IS NOT NULL"),
    ),
    sa.Index(
        "uq_offline_refunds_cash_voucher",
        "store_id",
        "cash_voucher_no",
        unique=True,
        postgresql_where=sa.text("cash_voucher_no IS NOT NULL"),
    ),
    sa.Index("ix_offline_refunds_status", "status", "created_at"),
)
