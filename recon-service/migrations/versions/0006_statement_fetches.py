"""Statement fetches: the last outcome per source and day, with the archived raw file.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from otd_shared.migrations import current_schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "statement_fetches",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("statement_date", sa.Date, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("statement_id", UUID(as_uuid=True)),
        sa.Column("content_sha256", sa.Text),
        sa.Column("archive_path", sa.Text),
        sa.Column("detail", sa.Text),
        sa.Column("first_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        schema=current_schema(),
    )


def downgrade() -> None:
    op.drop_table("statement_fetches", schema=current_schema())
