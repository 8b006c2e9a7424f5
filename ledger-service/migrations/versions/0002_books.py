"""The books: accounts (seeded with the fixed chart rows), journals, lines, balances, SAP.

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
# Codes sort and compare byte-wise ("C"): the same order as Python's, on every server.
CODE = sa.Text(collation="C")
ACCOUNT_TYPES = "('asset', 'liability', 'equity', 'revenue', 'expense')"
SAP_STATUSES = "('pending', 'sent', 'acknowledged', 'rejected')"
# The owner-less rows of the chart and each clearing channel's clearing and fee accounts.
# Spelled out (not imported from the domain) so that this revision never changes.
SEED_ACCOUNTS = [
    ("loan_receivable", "loan_receivable", None, "asset"),
    ("refunds_payable", "refunds_payable", None, "liability"),
    ("suspense", "suspense", None, "liability"),
    ("revenue", "revenue", None, "revenue"),
    ("recon_differences", "recon_differences", None, "expense"),
    *[
        (f"{family}:{channel}", family, channel, kind)
        for channel in ("wechatpay", "alipay", "lakala", "unionpay", "allinpay")
        for family, kind in (("clearing", "asset"), ("fees", "expense"))
    ],
]


def upgrade() -> None:
    schema = current_schema()
    _accounts(schema)
    _journals(schema)
    _balances(schema)
    _unposted(schema)
    _sap(schema)
    _immutable(schema, "journals")
    _immutable(schema, "journal_lines")


def _accounts(schema: str) -> None:
    table = op.create_table(
        "accounts",
        sa.Column("code", CODE, primary_key=True),
        sa.Column("family", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("opened_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"type IN {ACCOUNT_TYPES}", name="ck_accounts_type"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_accounts_currency"),
        schema=schema,
    )
    op.bulk_insert(
        table,
        [
            {"code": code, "family": family, "owner": owner, "type": kind, "currency": "CNY"}
            for code, family, owner, kind in SEED_ACCOUNTS
        ],
    )


def _journals(schema: str) -> None:
    op.create_table(
        "journals",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("journal_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("source_id", CODE, nullable=False, unique=True),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("reverses_journal_id", UUID(as_uuid=True)),
        sa.Column("source_kind", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text),
        sa.Column("posted_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("length(source_id) > 0", name="ck_journals_source"),
        schema=schema,
    )
    # At most one reversal per journal; partial, so the many non-reversals cost nothing.
    op.create_index(
        "uq_journals_reverses_journal_id",
        "journals",
        ["reverses_journal_id"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("reverses_journal_id IS NOT NULL"),
    )
    # BRIN: journals arrive roughly in business-date order; a block-range index costs almost
    # nothing to maintain on the hot insert path and serves the by-date reads (SAP job, lists).
    op.create_index(
        "ix_journals_business_date",
        "journals",
        ["business_date"],
        schema=schema,
        postgresql_using="brin",
    )
    op.create_table(
        "journal_lines",
        sa.Column("journal_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("line_no", sa.SmallInteger, primary_key=True),
        sa.Column("account", CODE, nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("debit_fen", sa.BigInteger, nullable=False),
        sa.Column("credit_fen", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.CheckConstraint(
            "debit_fen >= 0 AND credit_fen >= 0 AND (debit_fen > 0) <> (credit_fen > 0)",
            name="ck_journal_lines_one_side",
        ),
        schema=schema,
    )
    op.create_index(
        "ix_journal_lines_account_date",
        "journal_lines",
        ["account", "business_date"],
        schema=schema,
    )


def _balances(schema: str) -> None:
    op.create_table(
        "account_balances",
        sa.Column("account", CODE, primary_key=True),
        sa.Column("business_date", sa.Date, primary_key=True),
        sa.Column("shard", sa.SmallInteger, primary_key=True),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("debit_fen", sa.BigInteger, nullable=False),
        sa.Column("credit_fen", sa.BigInteger, nullable=False),
        schema=schema,
    )


def _unposted(schema: str) -> None:
    op.create_table(
        "unposted_events",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("recorded_at", TS, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def _sap(schema: str) -> None:
    op.create_table(
        "sap_documents",
        sa.Column("reference", sa.Text, primary_key=True),
        sa.Column("company_code", sa.Text, nullable=False),
        sa.Column("posting_date", sa.Date, nullable=False, index=True),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column("journal_count", sa.Integer, nullable=False),
        sa.Column("total_debit_fen", sa.BigInteger, nullable=False),
        sa.Column("total_credit_fen", sa.BigInteger, nullable=False),
        sa.Column("connector", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("sap_document_number", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TS),
        sa.Column("acknowledged_at", TS),
        sa.Column("rejected_at", TS),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"status IN {SAP_STATUSES}", name="ck_sap_documents_status"),
        sa.CheckConstraint("total_debit_fen = total_credit_fen", name="ck_sap_documents_balanced"),
        schema=schema,
    )
    op.create_table(
        "sap_document_journals",
        sa.Column("journal_id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "reference",
            sa.Text,
            sa.ForeignKey(f"{schema}.sap_documents.reference"),
            primary_key=True,
            index=True,
        ),
        schema=schema,
    )


def _immutable(schema: str, table: str) -> None:
    # Journals are corrected by reversing journals, never by UPDATE or DELETE.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION "{schema}".refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger % are append-only: post a reversing journal instead',
                TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
        END $$
        """
    )
    op.execute(
        f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON "{schema}".{table} '
        f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".refuse_change()'
    )


def downgrade() -> None:
    schema = current_schema()
    for table in (
        "sap_document_journals",
        "sap_documents",
        "unposted_events",
        "account_balances",
        "journal_lines",
        "journals",
        "accounts",
    ):
        op.drop_table(table, schema=schema)
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".refuse_change()')
