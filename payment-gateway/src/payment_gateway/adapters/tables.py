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
        "status IN ('created','paying','unknown','succeeded','failed','closed')",
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
