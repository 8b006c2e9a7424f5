"""Tables of the ``recon`` schema (SQLAlchemy Core; migrations mirror them)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSON, JSONB, UUID

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
    # 1 for the first statement of (source, day), +1 for each corrected one.
    sa.Column("version", sa.Integer, nullable=False),
    sa.UniqueConstraint(
        "source", "statement_date", "content_sha256", name="uq_statements_source_day_content"
    ),
    sa.UniqueConstraint(
        "source", "statement_date", "version", name="uq_statements_source_day_version"
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
    sa.Column("refs", JSON, nullable=False),  # json: text, cheaper to COPY than jsonb
)

STATEMENT_LINE_COLUMNS = tuple(c.name for c in statement_lines.columns)
# What two lines share when one may be a duplicate of the other (kind, ids and amount): the
# columns right after the four every line of a statement has alike (its statement id, line
# number, source and day), in this order.
DUPLICATE_KEY_COLUMNS = ("kind", "out_trade_no", "channel_txn_id", "out_refund_no", "amount_fen")
assert STATEMENT_LINE_COLUMNS[4:9] == DUPLICATE_KEY_COLUMNS

# recon's own projection of internal payments and refunds (fed by PaymentCallback).
internal_records = sa.Table(
    "internal_records",
    metadata,
    sa.Column("kind", sa.Text, primary_key=True),  # payment | refund
    sa.Column("ref_id", sa.Text, primary_key=True),  # payment_id | refund_id
    sa.Column("payment_id", sa.Text, nullable=False),
    sa.Column("refund_id", sa.Text),
    sa.Column("order_id", sa.Text, nullable=False),
    sa.Column("billing_id", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # succeeded | failed
    sa.Column("out_trade_no", sa.Text, nullable=False),
    sa.Column("channel_txn_id", sa.Text),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("fee_fen", sa.BigInteger),
    sa.Column("completed_at", TS, nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

recon_runs = sa.Table(
    "recon_runs",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("recon_date", sa.Date, nullable=False),
    sa.Column("statement_id", UUID(as_uuid=True), nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("counts", JSONB, nullable=False),
    sa.Column("settled_fen", sa.BigInteger, nullable=False),  # net: gross − fees
    sa.Column("fee_fen", sa.BigInteger, nullable=False),
    sa.Column("started_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", TS),
    sa.Column("gross_fen", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("statement_version", sa.Integer),
    # What the run read (RunRepository.inputs_digest): a re-run reading the same is skipped.
    sa.Column("inputs_digest", sa.Text),
)

# The run whose results stand for each source and day (the latest).
recon_days = sa.Table(
    "recon_days",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("recon_date", sa.Date, primary_key=True),
    sa.Column("current_run_id", UUID(as_uuid=True), nullable=False),
)


def _result_columns(*, keyed: bool) -> list[sa.Column[object]]:
    """What a result and a discrepancy both record (fresh Column objects per table); a
    discrepancy always has its ``discrepancy_key`` (``keyed``), a matched result has none."""
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
        sa.Column("discrepancy_key", sa.Text, nullable=not keyed),
        sa.Column("match_rule", sa.Text),  # domain.recon.MatchRule of a pair, else null
        sa.Column("match_group", sa.Text),  # a one-to-many / many-to-one group's id, else null
    ]


recon_results = sa.Table(
    "recon_results",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("result_no", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("recon_date", sa.Date, nullable=False),
    *_result_columns(keyed=False),
)

discrepancies = sa.Table(
    "discrepancies",
    metadata,
    sa.Column("discrepancy_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("recon_date", sa.Date, nullable=False),
    *_result_columns(keyed=True),
    sa.Column("status", sa.Text, nullable=False),  # open | cleared (a re-run no longer finds it)
    sa.Column("first_run_id", UUID(as_uuid=True), nullable=False),
    sa.Column("last_run_id", UUID(as_uuid=True), nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

# Exceptions at upload (上传异常): a refused file (no statement_id) or a duplicate line of a
# loaded statement; listed apart from reconciliation discrepancies.
upload_exceptions = sa.Table(
    "upload_exceptions",
    metadata,
    sa.Column("exception_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("statement_date", sa.Date),
    sa.Column("statement_id", UUID(as_uuid=True)),
    sa.Column("filename", sa.Text),
    sa.Column("content_sha256", sa.Text),
    sa.Column("line_no", sa.Integer),
    sa.Column("code", sa.Text, nullable=False),  # the error code, or duplicate_line
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("recorded_at", TS, nullable=False, server_default=sa.func.now()),
)

# The last fetch of each source and day (the 14:30 job) and where its raw file is archived.
statement_fetches = sa.Table(
    "statement_fetches",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("statement_date", sa.Date, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),  # domain.fetch.FetchStatus
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("statement_id", UUID(as_uuid=True)),
    sa.Column("content_sha256", sa.Text),
    sa.Column("archive_path", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("first_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

# Adjustments (调差): one per resolution attempt of a discrepancy.
adjustments = sa.Table(
    "adjustments",
    metadata,
    sa.Column("adjustment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("discrepancy_id", UUID(as_uuid=True), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("recon_date", sa.Date, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("linked_ref", sa.Text),
    sa.Column("adjustment_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending_approval | applied | rejected
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requested_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", TS),
    sa.Column("decision_reason", sa.Text),
    # accept_channel: the payment the gateway corrected and its correction (migration 0013)
    sa.Column("payment_id", sa.Text),
    sa.Column("correction_id", sa.Text),
)

# Append-only, hash-chained: every step of every resolution, approval, close and reopen.
audit_log = sa.Table(
    "audit_log",
    metadata,
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
    sa.Column("hash", sa.Text, nullable=False),
)

day_closures = sa.Table(
    "day_closures",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("recon_date", sa.Date, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),  # closed | reopened
    sa.Column("closed_by", sa.Text, nullable=False),
    sa.Column("closed_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("reopened_by", sa.Text),
    sa.Column("reopened_at", TS),
    sa.Column("reopen_reason", sa.Text),
)
