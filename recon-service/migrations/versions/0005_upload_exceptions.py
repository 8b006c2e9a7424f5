"""Exceptions at upload: refused files and duplicate lines, kept apart from discrepancies.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from otd_shared.migrations import current_schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    schema = current_schema()
    op.create_table(
        "upload_exceptions",
        sa.Column("exception_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("statement_date", sa.Date),
        sa.Column("statement_id", UUID(as_uuid=True)),
        sa.Column("filename", sa.Text),
        sa.Column("content_sha256", sa.Text),
        sa.Column("line_no", sa.Integer),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", TS, nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_index(
        "ix_upload_exceptions_statement_line",
        "upload_exceptions",
        ["statement_id", "line_no"],
        schema=schema,
    )
    op.create_index(
        "ix_upload_exceptions_source_day",
        "upload_exceptions",
        ["source", "statement_date", "recorded_at"],
        schema=schema,
    )


def downgrade() -> None:
    op.drop_table("upload_exceptions", schema=current_schema())
