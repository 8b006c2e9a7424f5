"""Leases: installment billings (number, scheduled due date, overdue mark, superseded by a
payoff), one billing per (order, stage, installment number), and the schedule change log.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    ts = sa.DateTime(timezone=True)
    op.add_column(
        "billings",
        sa.Column("installment_no", sa.Integer, nullable=False, server_default="0"),
        schema=schema,
    )
    op.add_column("billings", sa.Column("scheduled_due_at", ts), schema=schema)
    op.add_column("billings", sa.Column("overdue_at", ts), schema=schema)
    op.add_column(
        "billings",
        sa.Column("superseded", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=schema,
    )
    op.drop_constraint("uq_billings_order_stage", "billings", schema=schema)
    op.create_unique_constraint(
        "uq_billings_order_stage_installment",
        "billings",
        ["order_id", "stage", "installment_no"],
        schema=schema,
    )
    op.create_index(
        "ix_billings_installments_open",
        "billings",
        ["scheduled_due_at"],
        schema=schema,
        postgresql_where=sa.text("stage = 'installment' AND cancelled_at IS NULL"),
    )
    op.create_table(
        "lease_schedule_changes",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("order_id", sa.dialects.postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("billing_id", sa.Text),
        sa.Column("change", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("changed_at", ts, nullable=False),
        sa.Index("ix_lease_schedule_changes_order", "order_id", "seq"),
        schema=schema,
    )


def downgrade() -> None:
    schema = current_schema()
    op.drop_table("lease_schedule_changes", schema=schema)
    op.drop_index("ix_billings_installments_open", "billings", schema=schema)
    op.drop_constraint("uq_billings_order_stage_installment", "billings", schema=schema)
    op.create_unique_constraint(
        "uq_billings_order_stage", "billings", ["order_id", "stage"], schema=schema
    )
    for column in ("superseded", "overdue_at", "scheduled_due_at", "installment_no"):
        op.drop_column("billings", column, schema=schema)
