"""Random instant discounts: activities, the pre-dealt pool of cards, draws.

Revision ID: 0004_discounts
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from otd_shared.migrations import current_schema

revision = "0004_discounts"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = current_schema()
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "discount_activities",
        sa.Column("activity_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("starts_at", ts, nullable=False),
        sa.Column("ends_at", ts, nullable=False),
        sa.Column("stages", JSONB, nullable=False),
        sa.Column("channels", JSONB, nullable=False),
        sa.Column("store_ids", JSONB),
        sa.Column("threshold_fen", sa.BigInteger, nullable=False),
        sa.Column("rule", JSONB, nullable=False),
        sa.Column("cap_per_store_day", sa.Integer),
        sa.Column("cap_per_customer", sa.Integer),
        sa.Column("cap_total", sa.Integer),
        sa.Column("budget_fen", sa.BigInteger, nullable=False),
        sa.Column("refund_returns_to_budget", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("approved_by", sa.Text),
        sa.Column("approved_at", ts),
        sa.Column("cancelled_by", sa.Text),
        sa.Column("cancelled_at", ts),
        sa.Column("seed_hex", sa.Text),
        sa.Column("dealt_cards", sa.Integer, nullable=False),
        sa.Column("dealt_fen", sa.BigInteger, nullable=False),
        sa.Column("dealing_sha256", sa.Text),
        sa.Column("updated_at", ts, nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_approval','approved','cancelled')",
            name="ck_discount_activity_status",
        ),
        sa.CheckConstraint("dealt_fen <= budget_fen", name="ck_discount_dealt_within_budget"),
        schema=schema,
    )
    op.create_table(
        "discount_cards",
        sa.Column("card_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "activity_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{schema}.discount_activities.activity_id"),
            nullable=False,
        ),
        sa.Column("pool_key", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("pool_day", sa.Date),
        sa.Column("store_id", sa.Text),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("draw_id", UUID(as_uuid=True)),
        sa.Column("updated_at", ts, nullable=False),
        sa.UniqueConstraint("activity_id", "pool_key", "seq", name="uq_discount_cards_place"),
        sa.CheckConstraint("amount_fen > 0", name="ck_discount_cards_amount_positive"),
        sa.CheckConstraint(
            "status IN ('available','taken','void')", name="ck_discount_cards_status"
        ),
        schema=schema,
    )
    op.create_index(
        "ix_discount_cards_available",
        "discount_cards",
        ["activity_id", "pool_key", "seq"],
        schema=schema,
        postgresql_where=sa.text("status = 'available'"),
    )
    op.create_table(
        "discount_draws",
        sa.Column("draw_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("activity_id", UUID(as_uuid=True), nullable=False),
        sa.Column(
            "card_id",
            sa.BigInteger,
            sa.ForeignKey(f"{schema}.discount_cards.card_id"),
            nullable=False,
        ),
        sa.Column("payment_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("discount_payment_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("order_id", UUID(as_uuid=True), nullable=False),
        sa.Column("billing_id", UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("store_id", sa.Text),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("returned_to_budget", sa.Boolean),
        sa.Column("drawn_at", ts, nullable=False),
        sa.Column("confirmed_at", ts),
        sa.Column("returned_at", ts),
        sa.Column("reversed_at", ts),
        sa.Column("updated_at", ts, nullable=False),
        sa.CheckConstraint(
            "status IN ('reserved','confirmed','returned','reversed')",
            name="ck_discount_draws_status",
        ),
        schema=schema,
    )
    op.create_index(
        "ix_discount_draws_customer",
        "discount_draws",
        ["activity_id", "customer_id"],
        schema=schema,
    )


def downgrade() -> None:
    schema = current_schema()
    op.drop_table("discount_draws", schema=schema)
    op.drop_table("discount_cards", schema=schema)
    op.drop_table("discount_activities", schema=schema)
