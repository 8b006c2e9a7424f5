"""API bodies of the discount activities (pydantic; not rows). Money is integer fen."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from otd_shared.events import BillingStage
from payment_gateway.adapters.discount_pool import DayFigures
from payment_gateway.domain.discounts import (
    NAME_CHARS_MAX,
    STORES_MAX,
    TIERS_MAX,
    Activity,
    DiscountRule,
    Tier,
)
from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.service_layer.discounts import ActivityReport, DealingAudit

Fen = Annotated[int, Field(strict=True, gt=0, le=10**12)]
Count = Annotated[int, Field(strict=True, gt=0, le=10**7)]
Entry = Annotated[str, Field(min_length=1, max_length=48)]
StoreId = Annotated[str, Field(min_length=1, max_length=64)]


class TierBody(BaseModel):
    """One discount amount and its weight."""

    model_config = ConfigDict(extra="forbid")

    amount_fen: Fen
    weight: Count


class ActivityBody(BaseModel):
    """A random instant discount activity (naive times are Asia/Shanghai)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=NAME_CHARS_MAX)]
    starts_at: datetime
    ends_at: datetime
    stages: Annotated[list[BillingStage], Field(min_length=1, max_length=4)]
    channels: Annotated[list[Entry], Field(min_length=1, max_length=16)] = Field(
        description='"channel" (every method) or "channel:method", e.g. "wechatpay", '
        '"lakala:wechat_qr".'
    )
    store_ids: Annotated[list[StoreId], Field(min_length=1, max_length=STORES_MAX)] | None = Field(
        default=None, description="Stores the activity runs in; omitted: every store."
    )
    threshold_fen: Fen = Field(description="A payment of at least this much gets a discount.")
    min_fen: Fen | None = Field(default=None, description="Uniform range: smallest discount.")
    max_fen: Fen | None = Field(default=None, description="Uniform range: largest discount.")
    tiers: Annotated[list[TierBody], Field(min_length=1, max_length=TIERS_MAX)] | None = Field(
        default=None, description="Instead of a range: discount amounts with weights."
    )
    cap_per_store_day: Count | None = None
    cap_per_customer: Count | None = None
    cap_total: Count | None = None
    budget_fen: Fen
    refund_returns_to_budget: StrictBool = Field(
        default=False,
        description="A fully refunded payment gives its discount back to the pool (true) or "
        "the budget keeps it as spent (false).",
    )

    def to_activity(self, *, actor: str) -> Activity:
        """The domain activity (validated by the domain, not here)."""
        rule = (
            DiscountRule(tiers=tuple(Tier(t.amount_fen, t.weight) for t in self.tiers))
            if self.tiers
            else DiscountRule(min_fen=self.min_fen, max_fen=self.max_fen)
        )
        return Activity(
            activity_id=uuid.uuid4(),
            name=self.name,
            starts_at=_aware(self.starts_at),
            ends_at=_aware(self.ends_at),
            stages=tuple(dict.fromkeys(self.stages)),
            channels=tuple(dict.fromkeys(self.channels)),
            store_ids=None if self.store_ids is None else tuple(dict.fromkeys(self.store_ids)),
            threshold_fen=self.threshold_fen,
            rule=rule,
            cap_per_store_day=self.cap_per_store_day,
            cap_per_customer=self.cap_per_customer,
            cap_total=self.cap_total,
            budget_fen=self.budget_fen,
            refund_returns_to_budget=self.refund_returns_to_budget,
            created_by=actor,
        )


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=CHANNEL_TZ) if at.tzinfo is None else at


class ActivityOut(BaseModel):
    """An activity with its status and, once approved, its dealing."""

    activity_id: uuid.UUID
    name: str
    status: str
    starts_at: datetime
    ends_at: datetime
    stages: list[str]
    channels: list[str]
    store_ids: list[str] | None
    threshold_fen: int
    rule: dict[str, object]
    cap_per_store_day: int | None
    cap_per_customer: int | None
    cap_total: int | None
    budget_fen: int
    refund_returns_to_budget: bool
    created_by: str
    created_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    dealt_cards: int
    dealt_fen: int
    dealing_sha256: str | None

    @classmethod
    def of(cls, a: Activity) -> ActivityOut:
        """From the domain record (the seed is only shown by the dealing audit)."""
        return cls(
            activity_id=a.activity_id,
            name=a.name,
            status=a.status.value,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            stages=list(a.stages),
            channels=list(a.channels),
            store_ids=None if a.store_ids is None else list(a.store_ids),
            threshold_fen=a.threshold_fen,
            rule=a.rule.as_json(),
            cap_per_store_day=a.cap_per_store_day,
            cap_per_customer=a.cap_per_customer,
            cap_total=a.cap_total,
            budget_fen=a.budget_fen,
            refund_returns_to_budget=a.refund_returns_to_budget,
            created_by=a.created_by,
            created_at=a.created_at,
            approved_by=a.approved_by,
            approved_at=a.approved_at,
            dealt_cards=a.dealt_cards,
            dealt_fen=a.dealt_fen,
            dealing_sha256=a.dealing_sha256,
        )


class DealingOut(BaseModel):
    """The dealing as recorded, and whether the seed deals exactly the pool we hold."""

    activity_id: uuid.UUID
    seed_hex: str | None
    cards: int
    dealt_fen: int
    budget_fen: int
    recorded_sha256: str | None
    pool_sha256: str
    redealt_sha256: str | None
    verified: bool

    @classmethod
    def of(cls, audit: DealingAudit) -> DealingOut:
        """From the audit."""
        return cls(
            activity_id=audit.activity.activity_id,
            seed_hex=audit.activity.seed_hex,
            cards=audit.cards,
            dealt_fen=audit.dealt_fen,
            budget_fen=audit.activity.budget_fen,
            recorded_sha256=audit.recorded_sha256,
            pool_sha256=audit.pool_sha256,
            redealt_sha256=audit.redealt_sha256,
            verified=audit.verified,
        )


class ReportDayOut(BaseModel):
    """One Asia/Shanghai day of an activity."""

    day: date
    drawn: int
    drawn_fen: int
    confirmed: int
    confirmed_fen: int
    returned: int
    returned_fen: int
    reversed: int
    reversed_fen: int
    shortfall: int = Field(
        description="late successes whose discount could not be honoured (billing left due)"
    )
    shortfall_fen: int

    @classmethod
    def of(cls, d: DayFigures) -> ReportDayOut:
        """From the repository's figures."""
        return cls(**d.__dict__)


class ReportOut(BaseModel):
    """Per day and in total: drawn, confirmed, returned, reversed; budget spent and left."""

    activity_id: uuid.UUID
    name: str
    status: str
    budget_fen: int
    dealt_fen: int
    spent_fen: int
    reserved_fen: int
    budget_left_fen: int
    pool_available_fen: int
    days: list[ReportDayOut]

    @classmethod
    def of(cls, r: ActivityReport) -> ReportOut:
        """From the report."""
        return cls(
            activity_id=r.activity.activity_id,
            name=r.activity.name,
            status=r.activity.status.value,
            budget_fen=r.activity.budget_fen,
            dealt_fen=r.activity.dealt_fen,
            spent_fen=r.spent_fen,
            reserved_fen=r.reserved_fen,
            budget_left_fen=r.budget_left_fen,
            pool_available_fen=r.pool_available_fen,
            days=[ReportDayOut.of(d) for d in r.days],
        )
