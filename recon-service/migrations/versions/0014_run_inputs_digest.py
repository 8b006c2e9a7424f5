"""A run records the digest of what it read (statement, records, neighbouring days' runs,
policy), so a re-run that would read the same answers the current run instead of redoing it
(null for runs of before: they are redone once).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from otd_shared.migrations import current_schema

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recon_runs", sa.Column("inputs_digest", sa.Text), schema=current_schema())


def downgrade() -> None:
    op.drop_column("recon_runs", "inputs_digest", schema=current_schema())
