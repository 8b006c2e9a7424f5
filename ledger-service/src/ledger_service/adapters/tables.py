"""Tables of the ``ledger`` schema (SQLAlchemy Core; migrations mirror them).

- ``accounts``: the chart as data, one row per account (``deposits:ORD-1``, ``bank:ICBC-001``…).
- ``journals`` + ``journal_lines``: append-only (a trigger refuses UPDATE and DELETE); the
  source id is unique, so an event never posts twice; ``seq`` is the posting order.
- ``account_balances``: turnovers per (account, business date, shard), maintained in the
  posting transaction. A posting adds to ONE shard row per account chosen at random, so
  concurrent postings on a hot account rarely touch the same row, and rows are locked in
  key order, so they never deadlock. A balance is the sum of an account's rows up to a date.
- ``unposted_events``: consumed events the posting rules refused, kept for finance.
- ``sap_documents`` + ``sap_document_journals``: accounting documents sent to SAP, their
  status, and which journal went into which document (at most one each).
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from otd_shared.messaging_tables import messaging_tables

SCHEMA = "ledger"
metadata = sa.MetaData(schema=SCHEMA)
messaging = messaging_tables(metadata)
TS = sa.DateTime(timezone=True)
# Codes sort and compare byte-wise ("C"): the same order as Python's, on every server.
CODE = sa.Text(collation="C")


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(name, TS, nullable=False, server_default=sa.func.now())


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("code", CODE, primary_key=True),
    sa.Column("family", sa.Text, nullable=False),
    sa.Column("owner", sa.Text),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    _stamp("opened_at"),
)

journals = sa.Table(
    "journals",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    sa.Column("journal_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("source_id", CODE, nullable=False, unique=True),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("reverses_journal_id", UUID(as_uuid=True)),
    sa.Column("source_kind", sa.Text, nullable=False),
    sa.Column("order_id", sa.Text),
    _stamp("posted_at"),
    sa.Index("ix_journals_business_date", "business_date", postgresql_using="brin"),
    sa.Index(
        "uq_journals_reverses_journal_id",
        "reverses_journal_id",
        unique=True,
        postgresql_where=sa.text("reverses_journal_id IS NOT NULL"),
    ),
)

journal_lines = sa.Table(
    "journal_lines",
    metadata,
    sa.Column("journal_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("line_no", sa.SmallInteger, primary_key=True),
    sa.Column("account", CODE, nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("debit_fen", sa.BigInteger, nullable=False),
    sa.Column("credit_fen", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Index("ix_journal_lines_account_date", "account", "business_date"),
)

account_balances = sa.Table(
    "account_balances",
    metadata,
    sa.Column("account", CODE, primary_key=True),
    sa.Column("business_date", sa.Date, primary_key=True),
    sa.Column("shard", sa.SmallInteger, primary_key=True),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("debit_fen", sa.BigInteger, nullable=False),
    sa.Column("credit_fen", sa.BigInteger, nullable=False),
)

unposted_events = sa.Table(
    "unposted_events",
    metadata,
    sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("order_id", sa.Text),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    _stamp("recorded_at"),
)

# What each version of a channel's statement of a day settles in total, and what its journal
# posted (the difference to the version before).
settlements = sa.Table(
    "settlements",
    metadata,
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("statement_date", sa.Date, primary_key=True),
    sa.Column("statement_version", sa.Integer, primary_key=True),
    sa.Column("statement_id", sa.Text),
    sa.Column("gross_fen", sa.BigInteger, nullable=False),
    sa.Column("fee_fen", sa.BigInteger, nullable=False),
    sa.Column("delta_gross_fen", sa.BigInteger, nullable=False),
    sa.Column("delta_fee_fen", sa.BigInteger, nullable=False),
    sa.Column("journal_source_id", sa.Text, nullable=False),
    _stamp("recorded_at"),
)

sap_documents = sa.Table(
    "sap_documents",
    metadata,
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
    _stamp("created_at"),
    sa.Column("sent_at", TS),
    sa.Column("acknowledged_at", TS),
    sa.Column("rejected_at", TS),
    _stamp("updated_at"),
)

sap_document_journals = sa.Table(
    "sap_document_journals",
    metadata,
    sa.Column("journal_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "reference", sa.Text, sa.ForeignKey(sap_documents.c.reference), primary_key=True, index=True
    ),
)
