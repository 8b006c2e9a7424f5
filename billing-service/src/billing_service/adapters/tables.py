"""Tables of the ``billing`` schema (SQLAlchemy Core; migrations mirror them).

A fund order is one ``fund_orders`` row (policy, loan share, cancellation) and its
``billings``; the money applied to a billing is rows: ``billing_payments`` (one per
successful payment, with what was refunded and asked back of it), ``billing_refunds``
(executed refunds, by refund id), ``billing_failed_payments`` and ``refund_requests``.
The billing row also carries derived amounts and the status (written with every save,
never edited alone) so queries need no aggregate. ``deferred_outcomes`` holds payment
outcomes that could not be applied yet (a refund before its success) or contradict what
was applied; ``webhook_deliveries``/``webhook_attempts`` are the app-backend push outbox;
``billing_reminders`` records each reminder step sent; ``lease_schedule_changes`` every change
of a lease's schedule (opened, fell due, overdue, paid off).
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

SCHEMA = "billing"
metadata = sa.MetaData(schema=SCHEMA)
_ts = sa.DateTime(timezone=True)

fund_orders = sa.Table(
    "fund_orders",
    metadata,
    sa.Column("fund_order_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("price_fen", sa.BigInteger, nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("kind", sa.Text, nullable=False, server_default="vehicle"),
    sa.Column("parent_order_id", UUID(as_uuid=True)),
    sa.Column("policy_name", sa.Text, nullable=False, server_default="standard"),
    sa.Column("policy_intent_fen", sa.BigInteger, nullable=False, server_default="500000"),
    sa.Column("policy_firm_fen", sa.BigInteger, nullable=False, server_default="5000000"),
    sa.Column(
        "intent_refundable_after_lock", sa.Boolean, nullable=False, server_default=sa.false()
    ),
    sa.Column("firm_refundable_after_lock", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("locked_at", _ts),
    sa.Column("loan_status", sa.Text, nullable=False, server_default="none"),
    sa.Column("loan_requested_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("loan_principal_fen", sa.BigInteger),
    sa.Column("loan_bank_reference", sa.Text),
    sa.Column("cancelled_at", _ts),
    sa.Column("cancel_refund_fen", sa.BigInteger),
    sa.Column("cancel_retained_fen", sa.BigInteger),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", _ts),
)

billings = sa.Table(
    "billings",
    metadata,
    sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "fund_order_id",
        UUID(as_uuid=True),
        sa.ForeignKey(fund_orders.c.fund_order_id),
        nullable=False,
    ),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("customer_id", sa.Text, nullable=False, server_default=""),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("loan_share_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("paid_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("loan_paid_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("customer_payable_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("credit_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("retained_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("due_at", _ts),
    sa.Column("cancelled_at", _ts),
    sa.Column("last_reminder_step", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_reminder_at", _ts),
    sa.Column("updated_at", _ts, nullable=False),
    sa.Column("installment_no", sa.Integer, nullable=False, server_default="0"),
    sa.Column("scheduled_due_at", _ts),
    sa.Column("overdue_at", _ts),
    sa.Column("superseded", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint(
        "order_id", "stage", "installment_no", name="uq_billings_order_stage_installment"
    ),
    sa.Index("ix_billings_fund_order_id", "fund_order_id"),
)

billing_payments = sa.Table(
    "billing_payments",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "billing_id", UUID(as_uuid=True), sa.ForeignKey(billings.c.billing_id), nullable=False
    ),
    sa.Column("payment_id", sa.Text, nullable=False),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("customer_id", sa.Text, nullable=False, index=True),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("refunded_fen", sa.BigInteger, nullable=False),
    sa.Column("refund_requested_fen", sa.BigInteger, nullable=False),
    sa.Column("received_at", _ts, nullable=False),
    sa.UniqueConstraint("billing_id", "payment_id", name="uq_billing_payments_payment"),
    sa.CheckConstraint("amount_fen > 0", name="ck_billing_payments_amount_positive"),
    sa.CheckConstraint(
        "refunded_fen BETWEEN 0 AND amount_fen", name="ck_billing_payments_refund_within"
    ),
)

billing_refunds = sa.Table(
    "billing_refunds",
    metadata,
    sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("refund_id", sa.Text, primary_key=True),
    sa.Column("payment_id", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("refunded_at", _ts, nullable=False),
)

billing_failed_payments = sa.Table(
    "billing_failed_payments",
    metadata,
    sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("payment_id", sa.Text, primary_key=True),
    sa.Column("recorded_at", _ts, nullable=False),
)

refund_requests = sa.Table(
    "refund_requests",
    metadata,
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
    sa.Column("requested_at", _ts, nullable=False),
)

deferred_outcomes = sa.Table(
    "deferred_outcomes",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    sa.Column("billing_id", sa.Text, nullable=False),
    sa.Column("payment_id", sa.Text, nullable=False),
    sa.Column("refund_id", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("occurred_at", _ts, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # waiting | applied | conflict
    sa.Column("error", sa.Text),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("resolved_at", _ts),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("order_id", sa.Text),
    sa.Column("billing_id", sa.Text),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending | delivered | failed | skipped
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _ts, nullable=False),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("delivered_at", _ts),
    sa.Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        "id",
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "delivery_id",
        sa.BigInteger,
        sa.ForeignKey(webhook_deliveries.c.id),
        nullable=False,
        index=True,
    ),
    sa.Column("attempted_at", _ts, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Integer, nullable=False),
)

billing_reminders = sa.Table(
    "billing_reminders",
    metadata,
    sa.Column("billing_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("schedule", sa.Text, nullable=False),
    sa.Column("remind_at", _ts, nullable=False),
    sa.Column("sent_at", _ts, nullable=False),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
)

lease_schedule_changes = sa.Table(
    "lease_schedule_changes",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", UUID(as_uuid=True), nullable=False),
    sa.Column("billing_id", sa.Text),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("changed_at", _ts, nullable=False),
)
