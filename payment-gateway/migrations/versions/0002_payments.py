"""Payments, refunds, idempotency keys, raw callback requests.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from otd_shared.migrations import current_schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "payments",
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
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=False),
        sa.Column("completed_at", ts),
        sa.Column("next_query_at", ts),
        sa.Column("query_attempts", sa.Integer, nullable=False),
        sa.CheckConstraint("amount_fen > 0", name="ck_payments_amount_positive"),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen",
            name="ck_payments_refunded_in_range",
        ),
        sa.CheckConstraint(
            "status IN ('created','paying','unknown','succeeded','failed','closed')",
            name="ck_payments_status",
        ),
        schema=schema,
    )
    op.create_index(
        "ix_payments_due_query",
        "payments",
        ["next_query_at"],
        schema=schema,
        postgresql_where=sa.text("status IN ('paying','unknown') AND next_query_at IS NOT NULL"),
    )
    op.create_table(
        "refunds",
        sa.Column("refund_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("out_refund_no", sa.Text, nullable=False, unique=True),
        sa.Column(
            "payment_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{schema}.payments.payment_id"),
            index=True,
        ),
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
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("completed_at", ts),
        sa.Column("next_query_at", ts),
        sa.Column("query_attempts", sa.Integer, nullable=False),
        sa.CheckConstraint("amount_fen > 0", name="ck_refunds_amount_positive"),
        sa.CheckConstraint(
            "status IN ('requested','processing','unknown','succeeded','failed','manual')",
            name="ck_refunds_status",
        ),
        schema=schema,
    )
    op.create_index(
        "ix_refunds_due",
        "refunds",
        ["next_query_at"],
        schema=schema,
        postgresql_where=sa.text(
            "status IN ('requested','processing','unknown') AND next_query_at IS NOT NULL"
        ),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("response_status", sa.Integer),
        sa.Column("response_body", JSONB),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("completed_at", ts),
        schema=schema,
    )
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("received_at", ts, nullable=False),
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
        schema=schema,
    )
    op.create_index(
        "ix_callback_requests_payment", "callback_requests", ["payment_id"], schema=schema
    )
    op.create_index(
        "ix_callback_requests_received", "callback_requests", ["received_at"], schema=schema
    )


def downgrade() -> None:
    schema = current_schema()
    for table in ("callback_requests", "idempotency_keys", "refunds", "payments"):
        op.drop_table(table, schema=schema)
