"""Settlements posted per (channel, statement day, statement version).

Each row is what a version of a day's statement settles in total (gross, fee); the journal of
a version posts only the difference to the highest version posted before it.

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    schema = current_schema()
    op.create_table(
        "settlements",
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("statement_date", sa.Date, primary_key=True),
        sa.Column("statement_version", sa.Integer, primary_key=True),
        sa.Column("statement_id", sa.Text),
        sa.Column("gross_fen", sa.BigInteger, nullable=False),
        sa.Column("fee_fen", sa.BigInteger, nullable=False),
        sa.Column("delta_gross_fen", sa.BigInteger, nullable=False),
        sa.Column("delta_fee_fen", sa.BigInteger, nullable=False),
        sa.Column("journal_source_id", sa.Text, nullable=False),
        sa.Column("recorded_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("statement_version >= 1", name="ck_settlements_version"),
        schema=schema,
    )


def downgrade() -> None:
    op.drop_table("settlements", schema=current_schema())
