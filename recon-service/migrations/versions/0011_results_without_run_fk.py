"""Results without the foreign key to their run: a run writes its results in the same
transaction right after its own row, and no run is ever deleted, so the per-row check
(one lookup of the run per result: seconds for a million-line statement) guarded nothing.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

from otd_shared.migrations import current_schema

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(
        "fk_recon_results_run", "recon_results", type_="foreignkey", schema=current_schema()
    )


def downgrade() -> None:
    schema = current_schema()
    op.create_foreign_key(
        "fk_recon_results_run",
        "recon_results",
        "recon_runs",
        ["run_id"],
        ["run_id"],
        source_schema=schema,
        referent_schema=schema,
    )
