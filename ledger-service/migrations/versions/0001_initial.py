"""Initial schema: the messaging tables.

Revision ID: 0001
Revises:
"""

from alembic import op

from otd_shared.migrations import create_messaging_tables, current_schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op, current_schema())


def downgrade() -> None:
    op.execute(f'DROP SCHEMA IF EXISTS "{current_schema()}" CASCADE')
