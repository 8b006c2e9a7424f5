"""Discount draws may end in ``shortfall`` (a late success whose card was drawn again and had
no same-amount replacement left), with the time it happened.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_STATUSES_BEFORE = "'reserved','confirmed','returned','reversed'"


def upgrade() -> None:
    schema = current_schema()
    op.add_column(
        "discount_draws", sa.Column("shortfall_at", sa.DateTime(timezone=True)), schema=schema
    )
    op.drop_constraint("ck_discount_draws_status", "discount_draws", schema=schema, type_="check")
    op.create_check_constraint(
        "ck_discount_draws_status",
        "discount_draws",
        f"status IN ({_STATUSES_BEFORE},'shortfall')",
        schema=schema,
    )


def downgrade() -> None:
    schema = current_schema()
    op.drop_constraint("ck_discount_draws_status", "discount_draws", schema=schema, type_="check")
    op.create_check_constraint(
        "ck_discount_draws_status",
        "discount_draws",
        f"status IN ({_STATUSES_BEFORE})",
        schema=schema,
    )
    op.drop_column("discount_draws", "shortfall_at", schema=schema)
