"""Statement versions per (source, day) and the gross of every run.

The first statement of a source and day is version 1, a corrected one 2, …; a run records the
version it reconciled and the statement's gross (before fees) next to the net.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    op.add_column("statements", sa.Column("version", sa.Integer), schema=schema)
    numbered = (
        f"UPDATE {schema}.statements s SET version = v.n FROM ("  # noqa: S608  (schema name only)
        "  SELECT statement_id, row_number() OVER (PARTITION BY source, statement_date"
        f"  ORDER BY loaded_at, statement_id) AS n FROM {schema}.statements) v"
        " WHERE v.statement_id = s.statement_id"
    )
    op.execute(numbered)
    op.alter_column("statements", "version", nullable=False, schema=schema)
    op.create_unique_constraint(
        "uq_statements_source_day_version",
        "statements",
        ["source", "statement_date", "version"],
        schema=schema,
    )
    for column in (
        sa.Column("gross_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("statement_version", sa.Integer),
    ):
        op.add_column("recon_runs", column, schema=schema)


def downgrade() -> None:
    schema = current_schema()
    op.drop_column("recon_runs", "statement_version", schema=schema)
    op.drop_column("recon_runs", "gross_fen", schema=schema)
    op.drop_constraint("uq_statements_source_day_version", "statements", schema=schema)
    op.drop_column("statements", "version", schema=schema)
