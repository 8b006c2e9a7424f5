"""Payment corrections: finance accepted the channel's figure for one of our payments (recon's
``accept_channel``). One row per correction, unique per recon adjustment and per discrepancy,
append-only (a trigger refuses UPDATE and DELETE): who, why, before, after; ``refund_id`` when
the correction is of a refund of the payment.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from otd_shared.migrations import current_schema

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_TABLE = "payment_corrections"


def upgrade() -> None:
    schema = current_schema()
    op.create_table(
        _TABLE,
        sa.Column("correction_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("adjustment_id", sa.Text, nullable=False, unique=True),
        sa.Column("discrepancy_id", sa.Text, nullable=False, unique=True),
        sa.Column(
            "payment_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{schema}.payments.payment_id"),
            nullable=False,
        ),
        sa.Column("refund_id", UUID(as_uuid=True), sa.ForeignKey(f"{schema}.refunds.refund_id")),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("before", JSONB, nullable=False),
        sa.Column("after", JSONB, nullable=False),
        sa.Column("delta_fen", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("approved_by", sa.Text),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        schema=schema,
    )
    op.create_index("ix_payment_corrections_payment", _TABLE, ["payment_id"], schema=schema)
    op.execute(
        f"CREATE FUNCTION {schema}.refuse_correction_change() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'payment_corrections is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER payment_corrections_append_only BEFORE UPDATE OR DELETE ON "
        f"{schema}.{_TABLE} FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_correction_change()"
    )


def downgrade() -> None:
    schema = current_schema()
    op.drop_table(_TABLE, schema=schema)
    op.execute(f"DROP FUNCTION IF EXISTS {schema}.refuse_correction_change()")
