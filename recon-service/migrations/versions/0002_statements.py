"""Statements and the statement-line staging table (COPY target).

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    schema = current_schema()
    op.create_table(
        "statements",
        sa.Column("statement_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("content_sha256", sa.Text, nullable=False),
        sa.Column("filename", sa.Text),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("line_count", sa.Integer, nullable=False),
        sa.Column("payment_count", sa.Integer, nullable=False),
        sa.Column("refund_count", sa.Integer, nullable=False),
        sa.Column("payment_total_fen", sa.BigInteger, nullable=False),
        sa.Column("refund_total_fen", sa.BigInteger, nullable=False),
        sa.Column("fee_total_fen", sa.BigInteger, nullable=False),
        sa.Column("loaded_by", sa.Text, nullable=False),
        sa.Column("loaded_at", TS, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint(
            "source", "statement_date", "content_sha256", name="uq_statements_source_day_content"
        ),
        sa.CheckConstraint(
            "source IN ('wechatpay','alipay','lakala','unionpay','allinpay','cash','wire')",
            name="ck_statements_source",
        ),
        sa.CheckConstraint("content_sha256 ~ '^[0-9a-f]{64}$'", name="ck_statements_sha256"),
        schema=schema,
    )
    op.create_index(
        "ix_statements_day",
        "statements",
        ["source", "statement_date", sa.text("loaded_at DESC")],
        schema=schema,
    )
    op.create_table(
        "statement_lines",
        sa.Column("statement_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("out_trade_no", sa.Text),
        sa.Column("channel_txn_id", sa.Text),
        sa.Column("out_refund_no", sa.Text),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("fee_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("refs", JSONB, nullable=False),
        # The lines are COPYed before their statement row is written (its totals come from
        # them): the reference is checked at commit.
        sa.ForeignKeyConstraint(
            ["statement_id"],
            [f"{schema}.statements.statement_id"],
            name="fk_statement_lines_statement",
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.CheckConstraint("kind IN ('payment','refund')", name="ck_statement_lines_kind"),
        sa.CheckConstraint("amount_fen > 0", name="ck_statement_lines_amount"),
        sa.CheckConstraint(
            "status IN ('succeeded','failed','closed','pending')", name="ck_statement_lines_status"
        ),
        schema=schema,
    )


def downgrade() -> None:
    schema = current_schema()
    op.drop_table("statement_lines", schema=schema)
    op.drop_table("statements", schema=schema)
