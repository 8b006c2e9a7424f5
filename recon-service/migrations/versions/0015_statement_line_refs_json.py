"""Statement lines keep their channel references as ``json`` (the text, checked to be JSON)
instead of ``jsonb``: a load COPYs every line, and building the binary form of a million
lines' references was 30-40 % of the server's COPY (6.7-7.9 s against 4.7-5.4 s for the same
million-line bill, measured back to back); nothing searches inside them but the wire
settlement's ``->> 'payer_name'``, which ``json`` answers as well.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

from otd_shared.migrations import current_schema

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    op.execute(f"ALTER TABLE {schema}.statement_lines ALTER COLUMN refs TYPE json USING refs::json")


def downgrade() -> None:
    schema = current_schema()
    op.execute(
        f"ALTER TABLE {schema}.statement_lines ALTER COLUMN refs TYPE jsonb USING refs::jsonb"
    )
