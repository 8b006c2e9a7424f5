"""Fund order lifecycle: policy, loan share, cancellation, payments as rows, deferred
outcomes, webhook deliveries and attempts, reminders.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from otd_shared.migrations import current_schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    _extend_fund_orders(schema)
    _extend_billings(schema)
    _money_rows(schema)
    _deferred_outcomes(schema)
    _webhooks(schema)
    op.create_table(
        "billing_reminders",
        sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("schedule", sa.Text, nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        schema=schema,
    )


def _extend_fund_orders(schema: str) -> None:
    ts = sa.DateTime(timezone=True)
    for column in (
        sa.Column("kind", sa.Text, nullable=False, server_default="vehicle"),
        sa.Column("parent_order_id", UUID(as_uuid=True)),
        sa.Column("policy_name", sa.Text, nullable=False, server_default="standard"),
        sa.Column("policy_intent_fen", sa.BigInteger, nullable=False, server_default="500000"),
        sa.Column("policy_firm_fen", sa.BigInteger, nullable=False, server_default="5000000"),
        sa.Column(
            "intent_refundable_after_lock", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        sa.Column(
            "firm_refundable_after_lock", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        sa.Column("locked_at", ts),
        sa.Column("loan_status", sa.Text, nullable=False, server_default="none"),
        sa.Column("loan_requested_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("loan_principal_fen", sa.BigInteger),
        sa.Column("loan_bank_reference", sa.Text),
        sa.Column("cancelled_at", ts),
        sa.Column("cancel_refund_fen", sa.BigInteger),
        sa.Column("cancel_retained_fen", sa.BigInteger),
        sa.Column("cancel_reason", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", ts),
    ):
        op.add_column("fund_orders", column, schema=schema)


def _extend_billings(schema: str) -> None:
    ts = sa.DateTime(timezone=True)
    for column in (
        sa.Column("customer_id", sa.Text, nullable=False, server_default=""),
        sa.Column("loan_share_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("loan_paid_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("customer_payable_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("credit_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("retained_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cancelled_at", ts),
        sa.Column("last_reminder_step", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_reminder_at", ts),
    ):
        op.add_column("billings", column, schema=schema)
    op.create_index("ix_billings_status_due_at", "billings", ["status", "due_at"], schema=schema)
    op.create_index(
        "ix_billings_next_reminder_at",
        "billings",
        ["next_reminder_at"],
        schema=schema,
        postgresql_where=sa.text("next_reminder_at IS NOT NULL"),
    )


def _money_rows(schema: str) -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "billing_payments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "billing_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{schema}.billings.billing_id"),
            nullable=False,
        ),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("order_id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False, index=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("refunded_fen", sa.BigInteger, nullable=False),
        sa.Column("refund_requested_fen", sa.BigInteger, nullable=False),
        sa.Column("received_at", ts, nullable=False),
        sa.UniqueConstraint("billing_id", "payment_id", name="uq_billing_payments_payment"),
        sa.CheckConstraint("amount_fen > 0", name="ck_billing_payments_amount_positive"),
        sa.CheckConstraint(
            "refunded_fen BETWEEN 0 AND amount_fen", name="ck_billing_payments_refund_within"
        ),
        schema=schema,
    )
    op.create_table(
        "billing_refunds",
        sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("refund_id", sa.Text, primary_key=True),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("refunded_at", ts, nullable=False),
        schema=schema,
    )
    op.create_table(
        "billing_failed_payments",
        sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("payment_id", sa.Text, primary_key=True),
        sa.Column("recorded_at", ts, nullable=False),
        schema=schema,
    )
    op.create_table(
        "refund_requests",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("refund_request_id", sa.Text, nullable=False, unique=True),
        sa.Column("billing_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("order_id", UUID(as_uuid=True), nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("on_cancellation", sa.Boolean, nullable=False),
        sa.Column("requested_at", ts, nullable=False),
        schema=schema,
    )


def _deferred_outcomes(schema: str) -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "deferred_outcomes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("order_id", sa.Text, nullable=False, index=True),
        sa.Column("billing_id", sa.Text, nullable=False),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("refund_id", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", ts, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("resolved_at", ts),
        schema=schema,
    )


def _webhooks(schema: str) -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text),
        sa.Column("billing_id", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", ts, nullable=False),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("delivered_at", ts),
        schema=schema,
    )
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["next_attempt_at"],
        schema=schema,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "delivery_id",
            sa.BigInteger,
            sa.ForeignKey(f"{schema}.webhook_deliveries.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("attempted_at", ts, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = current_schema()
    for table in (
        "billing_reminders",
        "webhook_attempts",
        "webhook_deliveries",
        "deferred_outcomes",
        "refund_requests",
        "billing_failed_payments",
        "billing_refunds",
        "billing_payments",
    ):
        op.drop_table(table, schema=schema)
    op.drop_index("ix_billings_next_reminder_at", "billings", schema=schema)
    op.drop_index("ix_billings_status_due_at", "billings", schema=schema)
    for name in (
        "customer_id", "loan_share_fen", "loan_paid_fen", "customer_payable_fen", "credit_fen",
        "retained_fen", "cancelled_at", "last_reminder_step", "next_reminder_at",
    ):  # fmt: skip
        op.drop_column("billings", name, schema=schema)
    for name in (
        "kind", "parent_order_id", "policy_name", "policy_intent_fen", "policy_firm_fen",
        "intent_refundable_after_lock", "firm_refundable_after_lock", "locked_at",
        "loan_status", "loan_requested_fen", "loan_principal_fen", "loan_bank_reference",
        "cancelled_at", "cancel_refund_fen", "cancel_retained_fen", "cancel_reason", "version",
        "updated_at",
    ):  # fmt: skip
        op.drop_column("fund_orders", name, schema=schema)
