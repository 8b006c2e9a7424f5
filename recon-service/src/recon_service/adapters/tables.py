"""Tables of the ``recon`` schema (SQLAlchemy Core; migrations mirror them)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "recon"
metadata = sa.MetaData(schema=SCHEMA)
TS = sa.DateTime(timezone=True)

# One loaded statement file: unique per source, day and content.
statements = sa.Table(
    "statements",
    metadata,
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
)

# The staging table the parsers' lines are COPYed into (one row per statement line).
statement_lines = sa.Table(
    "statement_lines",
    metadata,
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
)

STATEMENT_LINE_COLUMNS = tuple(c.name for c in statement_lines.columns)
