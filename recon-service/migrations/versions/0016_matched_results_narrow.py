"""A matched result keeps only what its line and record do not already say: its match key,
order, statuses and discrepancy key are null (read back from the statement line and the
record, ``RunRepository.results``). A million-line run writes a million results, and these
columns were about 40 % of each row (the results' INSERT: 5.8-6.3 s against 4.0 s with
them left out, measured on the same pairs).

Revision ID: 0016
Revises: 0015
"""

from alembic import op

from otd_shared.migrations import current_schema

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("recon_results", "discrepancy_key", nullable=True, schema=current_schema())


def downgrade() -> None:
    schema = current_schema()
    keyed = "discrepancy_key = 'P:' || record_kind || ':' || record_ref"
    op.execute(f"UPDATE {schema}.recon_results SET {keyed} WHERE discrepancy_key IS NULL")  # noqa: S608
    op.alter_column("recon_results", "discrepancy_key", nullable=False, schema=schema)
