"""Statement lines without the foreign key to their statement: a load writes the lines (COPY)
and the statement row in one transaction, and nothing deletes statements, so the deferred
per-row check (one queued trigger event per line and one lookup per line at commit: seconds
for a million-line bill) guarded nothing.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

from otd_shared.migrations import current_schema

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(
        "fk_statement_lines_statement",
        "statement_lines",
        type_="foreignkey",
        schema=current_schema(),
    )


def downgrade() -> None:
    schema = current_schema()
    op.create_foreign_key(
        "fk_statement_lines_statement",
        "statement_lines",
        "statements",
        ["statement_id"],
        ["statement_id"],
        source_schema=schema,
        referent_schema=schema,
        ondelete="CASCADE",
        deferrable=True,
        initially="DEFERRED",
    )
