"""Drop the per-record index of recon_results: runs find the records other days judged
through those runs' primary key (run_id), so the index only cost every result insert.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_recon_results_record", "recon_results", schema=current_schema())


def downgrade() -> None:
    op.create_index(
        "ix_recon_results_record",
        "recon_results",
        ["record_kind", "record_ref"],
        schema=current_schema(),
        postgresql_where=sa.text("record_ref IS NOT NULL"),
    )
