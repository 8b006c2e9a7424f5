"""Adjustments (调差) with approvals, the hash-chained audit log, day closing.

Discrepancies gain the statuses of their resolution; the audit log is append-only (a
trigger refuses UPDATE and DELETE).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from otd_shared.migrations import current_schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
STATUSES = "('open','cleared','waiting','pending_approval','resolved')"


def upgrade() -> None:
    schema = current_schema()
    op.drop_constraint("ck_discrepancies_status", "discrepancies", schema=schema)
    op.create_check_constraint(
        "ck_discrepancies_status", "discrepancies", f"status IN {STATUSES}", schema=schema
    )
    op.create_table(
        "adjustments",
        sa.Column("adjustment_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("discrepancy_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recon_date", sa.Date, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("linked_ref", sa.Text),
        sa.Column("adjustment_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", TS),
        sa.Column("decision_reason", sa.Text),
        sa.CheckConstraint(
            "status IN ('pending_approval','applied','rejected')", name="ck_adjustments_status"
        ),
        schema=schema,
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject_kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False, unique=True),
        schema=schema,
    )
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_id", "seq"], schema=schema)
    op.execute(
        f"CREATE FUNCTION {schema}.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON {schema}.audit_log "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_audit_change()"
    )
    op.create_table(
        "day_closures",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("recon_date", sa.Date, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("closed_by", sa.Text, nullable=False),
        sa.Column("closed_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("reopened_by", sa.Text),
        sa.Column("reopened_at", TS),
        sa.Column("reopen_reason", sa.Text),
        sa.CheckConstraint("status IN ('closed','reopened')", name="ck_day_closures_status"),
        schema=schema,
    )


def downgrade() -> None:
    schema = current_schema()
    for table in ("day_closures", "audit_log", "adjustments"):
        op.drop_table(table, schema=schema)
    op.execute(f"DROP FUNCTION IF EXISTS {schema}.refuse_audit_change()")
