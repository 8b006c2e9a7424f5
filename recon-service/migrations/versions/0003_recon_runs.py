"""recon's projection of internal payments, reconciliation runs, results and discrepancies.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from otd_shared.migrations import current_schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
OUTCOMES = (
    "'matched','amount_mismatch','status_mismatch','fee_mismatch','channel_only',"
    "'internal_only','carried_over','unsettled'"
)


def _result_columns() -> list[sa.Column]:
    return [
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("match_key", sa.Text),
        sa.Column("statement_id", UUID(as_uuid=True)),
        sa.Column("line_no", sa.Integer),
        sa.Column("record_kind", sa.Text),
        sa.Column("record_ref", sa.Text),
        sa.Column("order_id", sa.Text),
        sa.Column("line_amount_fen", sa.BigInteger),
        sa.Column("record_amount_fen", sa.BigInteger),
        sa.Column("line_fee_fen", sa.BigInteger),
        sa.Column("record_fee_fen", sa.BigInteger),
        sa.Column("line_status", sa.Text),
        sa.Column("record_status", sa.Text),
        sa.Column("discrepancy_key", sa.Text, nullable=False),
    ]


def upgrade() -> None:
    schema = current_schema()
    op.create_table(
        "internal_records",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("ref_id", sa.Text, primary_key=True),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("refund_id", sa.Text),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("billing_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("out_trade_no", sa.Text, nullable=False),
        sa.Column("channel_txn_id", sa.Text),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("fee_fen", sa.BigInteger),
        sa.Column("completed_at", TS, nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('payment','refund')", name="ck_internal_records_kind"),
        sa.CheckConstraint("status IN ('succeeded','failed')", name="ck_internal_records_status"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_internal_records_amount"),
        schema=schema,
    )
    op.create_index(
        "ix_internal_records_channel_day",
        "internal_records",
        ["channel", "business_date"],
        schema=schema,
    )
    op.create_table(
        "recon_runs",
        sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recon_date", sa.Date, nullable=False),
        sa.Column("statement_id", UUID(as_uuid=True), nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("counts", JSONB, nullable=False),
        sa.Column("settled_fen", sa.BigInteger, nullable=False),
        sa.Column("fee_fen", sa.BigInteger, nullable=False),
        sa.Column("started_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", TS),
        sa.ForeignKeyConstraint(
            ["statement_id"], [f"{schema}.statements.statement_id"], name="fk_recon_runs_statement"
        ),
        schema=schema,
    )
    op.create_index(
        "ix_recon_runs_day", "recon_runs", ["source", "recon_date", "started_at"], schema=schema
    )
    op.create_table(
        "recon_days",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("recon_date", sa.Date, primary_key=True),
        sa.Column("current_run_id", UUID(as_uuid=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["current_run_id"], [f"{schema}.recon_runs.run_id"], name="fk_recon_days_run"
        ),
        schema=schema,
    )
    op.create_table(
        "recon_results",
        sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("result_no", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recon_date", sa.Date, nullable=False),
        *_result_columns(),
        sa.ForeignKeyConstraint(
            ["run_id"], [f"{schema}.recon_runs.run_id"], name="fk_recon_results_run"
        ),
        sa.CheckConstraint(f"outcome IN ({OUTCOMES})", name="ck_recon_results_outcome"),
        schema=schema,
    )
    op.create_index(
        "ix_recon_results_record",
        "recon_results",
        ["record_kind", "record_ref"],
        schema=schema,
        postgresql_where=sa.text("record_ref IS NOT NULL"),
    )
    op.create_table(
        "discrepancies",
        sa.Column("discrepancy_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recon_date", sa.Date, nullable=False),
        *_result_columns(),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("first_run_id", UUID(as_uuid=True), nullable=False),
        sa.Column("last_run_id", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint(
            "source", "recon_date", "discrepancy_key", name="uq_discrepancies_identity"
        ),
        sa.CheckConstraint("status IN ('open','cleared')", name="ck_discrepancies_status"),
        schema=schema,
    )
    op.create_index(
        "ix_discrepancies_open", "discrepancies", ["status", "source", "recon_date"], schema=schema
    )


def downgrade() -> None:
    schema = current_schema()
    for table in ("discrepancies", "recon_results", "recon_days", "recon_runs", "internal_records"):
        op.drop_table(table, schema=schema)
