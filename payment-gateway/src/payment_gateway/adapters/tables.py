"""Tables of the ``payment`` schema (SQLAlchemy Core; migrations mirror them)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "payment"
metadata = sa.MetaData(schema=SCHEMA)
_TS = sa.DateTime(timezone=True)

payable_billings = sa.Table(
    "payable_billings",
    metadata,
    sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("outstanding_fen", sa.BigInteger, nullable=False),
    sa.Column("due_at", _TS, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    # Lease installments (status ``scheduled``): payments are accepted from this instant on.
    sa.Column("payable_from", _TS),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("payment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("out_trade_no", sa.Text, nullable=False, unique=True),
    sa.Column("billing_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("channel_txn_id", sa.Text),
    sa.Column("fee_fen", sa.BigInteger),
    sa.Column("refunded_fen", sa.BigInteger, nullable=False),
    sa.Column("pay_params", JSONB, nullable=False),
    sa.Column("failure_code", sa.Text),
    sa.Column("failure_message", sa.Text),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
    sa.Column("completed_at", _TS),
    sa.Column("next_query_at", _TS),
    sa.Column("query_attempts", sa.Integer, nullable=False),
    sa.CheckConstraint("amount_fen > 0", name="ck_payments_amount_positive"),
    sa.CheckConstraint(
        "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="ck_payments_refunded_in_range"
    ),
    sa.CheckConstraint(
        "status IN ('created','paying','unknown','succeeded','failed','closed','reversed')",
        name="ck_payments_status",
    ),
    sa.Index(
        "ix_payments_due_query",
        "next_query_at",
        postgresql_where=sa.text("status IN ('paying','unknown') AND next_query_at IS NOT NULL"),
    ),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("refund_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("out_refund_no", sa.Text, nullable=False, unique=True),
    sa.Column("payment_id", UUID(as_uuid=True), sa.ForeignKey("payments.payment_id"), index=True),
    sa.Column("billing_id", UUID(as_uuid=True), nullable=False),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("refund_request_id", sa.Text, unique=True),
    sa.Column("channel_refund_id", sa.Text),
    sa.Column("failure_reason", sa.Text),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("completed_at", _TS),
    sa.Column("next_query_at", _TS),
    sa.Column("query_attempts", sa.Integer, nullable=False),
    sa.CheckConstraint("amount_fen > 0", name="ck_refunds_amount_positive"),
    sa.CheckConstraint(
        "status IN ('requested','processing','unknown','succeeded','failed','manual')",
        name="ck_refunds_status",
    ),
    sa.Index(
        "ix_refunds_due",
        "next_query_at",
        postgresql_where=sa.text(
            "status IN ('requested','processing','unknown') AND next_query_at IS NOT NULL"
        ),
    ),
)

# Finance accepted the channel's figure (recon's accept_channel): append-only (migration 0008).
payment_corrections = sa.Table(
    "payment_corrections",
    metadata,
    sa.Column("correction_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("adjustment_id", sa.Text, nullable=False, unique=True),
    sa.Column("discrepancy_id", sa.Text, nullable=False, unique=True),
    sa.Column(
        "payment_id", UUID(as_uuid=True), sa.ForeignKey("payments.payment_id"), nullable=False
    ),
    sa.Column("refund_id", UUID(as_uuid=True), sa.ForeignKey("refunds.refund_id")),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("before", JSONB, nullable=False),
    sa.Column("after", JSONB, nullable=False),
    sa.Column("delta_fen", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("approved_by", sa.Text),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Index("ix_payment_corrections_payment", "payment_id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("response_status", sa.Integer),
    sa.Column("response_body", JSONB),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("completed_at", _TS),
)

callback_requests = sa.Table(
    "callback_requests",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("received_at", _TS, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("body_bytes", sa.Integer, nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("notification_id", sa.Text),
    sa.Column("out_trade_no", sa.Text),
    sa.Column("payment_id", UUID(as_uuid=True)),
    sa.Column("refund_id", UUID(as_uuid=True)),
    sa.CheckConstraint(
        "verdict IN ('accepted','duplicate','rejected')", name="ck_callback_requests_verdict"
    ),
    sa.Index("ix_callback_requests_payment", "payment_id"),
    sa.Index("ix_callback_requests_received", "received_at"),
)

# --- random instant discounts (migration 0004_discounts) ---------------------------------

discount_activities = sa.Table(
    "discount_activities",
    metadata,
    sa.Column("activity_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("starts_at", _TS, nullable=False),
    sa.Column("ends_at", _TS, nullable=False),
    sa.Column("stages", JSONB, nullable=False),
    sa.Column("channels", JSONB, nullable=False),
    sa.Column("store_ids", JSONB),
    sa.Column("threshold_fen", sa.BigInteger, nullable=False),
    sa.Column("rule", JSONB, nullable=False),
    sa.Column("cap_per_store_day", sa.Integer),
    sa.Column("cap_per_customer", sa.Integer),
    sa.Column("cap_total", sa.Integer),
    sa.Column("budget_fen", sa.BigInteger, nullable=False),
    sa.Column("refund_returns_to_budget", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("approved_by", sa.Text),
    sa.Column("approved_at", _TS),
    sa.Column("cancelled_by", sa.Text),
    sa.Column("cancelled_at", _TS),
    sa.Column("seed_hex", sa.Text),
    sa.Column("dealt_cards", sa.Integer, nullable=False),
    sa.Column("dealt_fen", sa.BigInteger, nullable=False),
    sa.Column("dealing_sha256", sa.Text),
    sa.Column("updated_at", _TS, nullable=False),
    sa.CheckConstraint(
        "status IN ('pending_approval','approved','cancelled')", name="ck_discount_activity_status"
    ),
    sa.CheckConstraint("dealt_fen <= budget_fen", name="ck_discount_dealt_within_budget"),
)

discount_cards = sa.Table(
    "discount_cards",
    metadata,
    sa.Column("card_id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "activity_id",
        UUID(as_uuid=True),
        sa.ForeignKey("discount_activities.activity_id"),
        nullable=False,
    ),
    sa.Column("pool_key", sa.Text, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("pool_day", sa.Date),
    sa.Column("store_id", sa.Text),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("draw_id", UUID(as_uuid=True)),
    sa.Column("updated_at", _TS, nullable=False),
    sa.UniqueConstraint("activity_id", "pool_key", "seq", name="uq_discount_cards_place"),
    sa.CheckConstraint("amount_fen > 0", name="ck_discount_cards_amount_positive"),
    sa.CheckConstraint("status IN ('available','taken','void')", name="ck_discount_cards_status"),
    sa.Index(
        "ix_discount_cards_available",
        "activity_id",
        "pool_key",
        "seq",
        postgresql_where=sa.text("status = 'available'"),
    ),
)

discount_draws = sa.Table(
    "discount_draws",
    metadata,
    sa.Column("draw_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("activity_id", UUID(as_uuid=True), nullable=False),
    sa.Column("card_id", sa.BigInteger, sa.ForeignKey("discount_cards.card_id"), nullable=False),
    sa.Column("payment_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("discount_payment_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("billing_id", UUID(as_uuid=True), nullable=False),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("store_id", sa.Text),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("returned_to_budget", sa.Boolean),
    sa.Column("drawn_at", _TS, nullable=False),
    sa.Column("confirmed_at", _TS),
    sa.Column("returned_at", _TS),
    sa.Column("reversed_at", _TS),
    sa.Column("shortfall_at", _TS),
    sa.Column("updated_at", _TS, nullable=False),
    sa.CheckConstraint(
        "status IN ('reserved','confirmed','returned','reversed','shortfall')",
        name="ck_discount_draws_status",
    ),
    sa.Index("ix_discount_draws_customer", "activity_id", "customer_id"),
)
