"""Random instant discounts (随机立减): activities, their validation, and the pre-dealt pool.

An activity is created by marketing (``pending_approval``), approved by a finance approver
(``approved``: its pool is dealt now) or cancelled. The pool is dealt in advance with a seeded
cryptographic RNG (HMAC-SHA256 as a deterministic generator over a 32-byte random seed), so:

* the sum of every card dealt never exceeds the budget, and the number of cards never exceeds
  the total cap, nor the per-store daily cap in any (day, store) pool;
* amounts follow the rule: uniform whole fen in ``[min_fen, max_fen]``, or a weighted table;
* anyone holding the seed can deal again and get the same cards (``deal`` is pure), which is
  how the audit endpoint proves the dealing was not changed afterwards.

A card is drawn by one payment at a time; caps and the budget hold because cards are only
ever taken from the pool, never created at the cashier.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from otd_shared.channels import ChannelCode
from otd_shared.money import fen_to_yuan
from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.errors import DiscountRuleInvalid

NAME_CHARS_MAX: Final = 120
WINDOW_DAYS_MAX: Final = 92  # one quarter: the pool is dealt per day and store
STORES_MAX: Final = 500
TIERS_MAX: Final = 20
POOL_CARDS_MAX: Final = 200_000  # per activity; a larger pool is refused at creation
SEED_BYTES: Final = 32
ALL_STORES: Final = "*"
BILLING_STAGES: Final = ("intent", "firm", "final", "service")
DISCOUNT_CHANNEL: Final = ChannelCode.DISCOUNT
DISCOUNT_METHOD: Final = "instant_discount"  # the discount ChannelSpec's one method
# Channel → methods of the channels started at the cashier (from the channel registry).
StartableMethods = Mapping[str, tuple[str, ...]]


class ActivityStatus(StrEnum):
    """Where an activity is; running = approved and inside its window."""

    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    CANCELLED = "cancelled"


class CardStatus(StrEnum):
    """A card of the pool: free to draw, held by a draw, or void (activity cancelled)."""

    AVAILABLE = "available"
    TAKEN = "taken"
    VOID = "void"


class DrawStatus(StrEnum):
    """One payment's draw: reserved while it pays, then confirmed, returned or reversed.

    ``shortfall``: the channel payment succeeded after its card had gone back to the pool and
    been drawn by someone else, and no card of the same amount was left in its pool; the
    discount cannot be honoured within the caps and the budget, so the billing stays due by
    the draw's amount (the customer pays the rest at the cashier) and the report counts it.
    """

    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    RETURNED = "returned"
    REVERSED = "reversed"
    SHORTFALL = "shortfall"


@dataclass(frozen=True)
class Tier:
    """One row of a weighted discount table."""

    amount_fen: int
    weight: int


@dataclass(frozen=True)
class DiscountRule:
    """A uniform range (``min_fen``..``max_fen`` inclusive) or a weighted table of tiers."""

    min_fen: int | None = None
    max_fen: int | None = None
    tiers: tuple[Tier, ...] = ()

    @property
    def low_fen(self) -> int:
        """The smallest discount the rule can give."""
        return min(t.amount_fen for t in self.tiers) if self.tiers else int(self.min_fen or 0)

    @property
    def high_fen(self) -> int:
        """The largest discount the rule can give."""
        return max(t.amount_fen for t in self.tiers) if self.tiers else int(self.max_fen or 0)

    def sample(self, rng: SeededRng) -> int:
        """One discount amount drawn by the rule."""
        if not self.tiers:
            assert self.min_fen is not None
            assert self.max_fen is not None
            return self.min_fen + rng.below(self.max_fen - self.min_fen + 1)
        pick = rng.below(sum(t.weight for t in self.tiers))
        for tier in self.tiers:
            if pick < tier.weight:
                return tier.amount_fen
            pick -= tier.weight
        raise AssertionError("weights cover the pick")

    def fit(self, left_fen: int) -> int | None:
        """The discount for the last card when a drawn one overruns the budget: what is
        left for a range (when at least ``min_fen``), the largest tier that fits for tiers."""
        if self.tiers:
            fitting = [t.amount_fen for t in self.tiers if t.amount_fen <= left_fen]
            return max(fitting) if fitting else None
        return left_fen if left_fen >= self.low_fen else None

    def as_json(self) -> dict[str, object]:
        """The stored form (JSONB)."""
        if self.tiers:
            return {
                "kind": "tiers",
                "tiers": [{"amount_fen": t.amount_fen, "weight": t.weight} for t in self.tiers],
            }
        return {"kind": "range", "min_fen": self.min_fen, "max_fen": self.max_fen}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DiscountRule:
        """From the stored form."""
        if data.get("kind") == "tiers":
            rows = data["tiers"]
            assert isinstance(rows, list)
            return cls(tiers=tuple(Tier(int(r["amount_fen"]), int(r["weight"])) for r in rows))
        low, high = data["min_fen"], data["max_fen"]
        assert isinstance(low, int)
        assert isinstance(high, int)
        return cls(min_fen=low, max_fen=high)


@dataclass(frozen=True, kw_only=True)
class Activity:
    """A discount activity as created by marketing (and, once approved, as dealt)."""

    activity_id: uuid.UUID
    name: str
    starts_at: datetime
    ends_at: datetime
    stages: tuple[str, ...]
    channels: tuple[str, ...]  # "channel" (every method) or "channel:method"
    store_ids: tuple[str, ...] | None  # None: every store (and payments naming none)
    threshold_fen: int
    rule: DiscountRule
    cap_per_store_day: int | None
    cap_per_customer: int | None
    cap_total: int | None
    budget_fen: int
    refund_returns_to_budget: bool
    status: ActivityStatus = ActivityStatus.PENDING_APPROVAL
    created_by: str = ""
    created_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    seed_hex: str | None = None
    dealt_cards: int = 0
    dealt_fen: int = 0
    dealing_sha256: str | None = None

    def days(self, since: datetime | None = None) -> list[date]:
        """The Asia/Shanghai days of the window (from ``since``'s day when later)."""
        start = self.starts_at if since is None else max(self.starts_at, since)
        first = start.astimezone(CHANNEL_TZ).date()
        last = (self.ends_at - timedelta(microseconds=1)).astimezone(CHANNEL_TZ).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def covers(self, channel: str, method: str) -> bool:
        """Does the activity apply to payments with this channel and method?"""
        return channel in self.channels or f"{channel}:{method}" in self.channels

    def applies(
        self,
        *,
        stage: str,
        channel: str,
        method: str,
        store_id: str | None,
        amount_fen: int,
        now: datetime,
    ) -> bool:
        """Is a payment with these facts eligible for a draw right now?"""
        return (
            self.status is ActivityStatus.APPROVED
            and self.starts_at <= now < self.ends_at
            and stage in self.stages
            and self.covers(channel, method)
            and (self.store_ids is None or store_id in self.store_ids)
            and amount_fen >= self.threshold_fen
        )

    def pool_key(self, now: datetime, store_id: str | None) -> str:
        """Which pool a draw at ``now`` takes from: ``<day>/<store>`` with daily caps, else *."""
        if self.cap_per_store_day is None:
            return ALL_STORES
        return f"{now.astimezone(CHANNEL_TZ).date().isoformat()}/{store_id}"


# --- validation -------------------------------------------------------------------------


def validate_activity(activity: Activity, *, now: datetime, startable: StartableMethods) -> None:
    """Raise DiscountRuleInvalid (422, with its field) for an activity that cannot work."""
    _validate_shape(activity, now=now)
    _validate_channels(activity.channels, startable)
    _validate_rule(activity.rule, activity.threshold_fen)
    _validate_budget(activity)


def _validate_shape(a: Activity, *, now: datetime) -> None:
    if not a.name.strip() or len(a.name) > NAME_CHARS_MAX:
        raise DiscountRuleInvalid(f"name must be 1–{NAME_CHARS_MAX} characters", field="name")
    if a.ends_at <= a.starts_at:
        raise DiscountRuleInvalid("the window must end after it starts", field="ends_at")
    if a.ends_at <= now:
        raise DiscountRuleInvalid("the window has already ended", field="ends_at")
    if len(a.days()) > WINDOW_DAYS_MAX:
        raise DiscountRuleInvalid(f"a window spans at most {WINDOW_DAYS_MAX} days", field="ends_at")
    if not a.stages or set(a.stages) - set(BILLING_STAGES):
        raise DiscountRuleInvalid(
            f"stages must be among {', '.join(BILLING_STAGES)}", field="stages"
        )
    if not a.channels:
        raise DiscountRuleInvalid("name at least one channel", field="channels")
    if a.store_ids is not None and not 0 < len(a.store_ids) <= STORES_MAX:
        raise DiscountRuleInvalid(f"store_ids lists 1–{STORES_MAX} stores", field="store_ids")
    if a.cap_per_store_day is not None and a.store_ids is None:
        raise DiscountRuleInvalid(
            "a per-store daily cap needs the stores it is dealt for (store_ids)",
            field="store_ids",
        )
    if a.threshold_fen <= 0:
        raise DiscountRuleInvalid("the threshold is a positive amount", field="threshold_fen")


def _validate_channels(entries: Sequence[str], startable: StartableMethods) -> None:
    for entry in entries:
        channel, _, method = entry.partition(":")
        if channel not in startable or (method and method not in startable[channel]):
            raise DiscountRuleInvalid(
                f"{entry!r} is not a channel (or channel:method) started at the cashier; "
                f"channels: {', '.join(startable)}",
                field="channels",
            )


def _validate_rule(rule: DiscountRule, threshold_fen: int) -> None:
    if rule.tiers:
        amounts = [t.amount_fen for t in rule.tiers]
        if len(rule.tiers) > TIERS_MAX or len(set(amounts)) != len(amounts):
            raise DiscountRuleInvalid(f"1–{TIERS_MAX} tiers of distinct amounts", field="tiers")
        if any(t.amount_fen <= 0 or t.weight <= 0 for t in rule.tiers):
            raise DiscountRuleInvalid("tier amounts and weights are positive", field="tiers")
    elif rule.min_fen is None or rule.max_fen is None:
        raise DiscountRuleInvalid("give min_fen and max_fen, or tiers", field="min_fen")
    elif not 0 < rule.min_fen <= rule.max_fen:
        raise DiscountRuleInvalid("0 < min_fen <= max_fen", field="min_fen")
    if rule.high_fen >= threshold_fen:
        raise DiscountRuleInvalid(
            f"the largest discount ({fen_to_yuan(rule.high_fen)} CNY) must stay below the "
            f"threshold ({fen_to_yuan(threshold_fen)} CNY): the customer always pays something",
            field="max_fen" if not rule.tiers else "tiers",
        )


def count_limit(a: Activity, since: datetime | None = None) -> int | None:
    """How many discounts the caps allow at most (None: only the budget limits them)."""
    limits = []
    if a.cap_total is not None:
        limits.append(a.cap_total)
    if a.cap_per_store_day is not None:
        assert a.store_ids is not None
        limits.append(a.cap_per_store_day * len(a.store_ids) * len(a.days(since)))
    return min(limits) if limits else None


def _validate_budget(a: Activity) -> None:
    for name in ("cap_per_store_day", "cap_per_customer", "cap_total"):
        value = getattr(a, name)
        if value is not None and value <= 0:
            raise DiscountRuleInvalid(f"{name} is a positive count", field=name)
    if a.budget_fen < a.rule.low_fen:
        raise DiscountRuleInvalid(
            f"the budget ({fen_to_yuan(a.budget_fen)} CNY) is below the smallest discount "
            f"({fen_to_yuan(a.rule.low_fen)} CNY)",
            field="budget_fen",
        )
    limit = count_limit(a)
    if limit is None:
        if a.budget_fen // a.rule.low_fen > POOL_CARDS_MAX:
            raise DiscountRuleInvalid(
                f"the budget would deal more than {POOL_CARDS_MAX} discounts; add a total cap",
                field="budget_fen",
            )
        return
    if limit > POOL_CARDS_MAX:
        raise DiscountRuleInvalid(
            f"the caps allow more than {POOL_CARDS_MAX} discounts", field="cap_total"
        )
    spendable_fen = limit * a.rule.high_fen
    if a.budget_fen > spendable_fen:
        raise DiscountRuleInvalid(
            f"the caps allow at most {limit} discounts of at most {fen_to_yuan(a.rule.high_fen)} "
            f"CNY ({fen_to_yuan(spendable_fen)} CNY): the budget of {fen_to_yuan(a.budget_fen)} "
            "CNY can never be spent; lower it or raise the caps",
            field="budget_fen",
        )


def overlaps(a: Activity, b: Activity) -> bool:
    """Do two activities compete for the same payments (window, stage, channel and store)?"""
    if a.ends_at <= b.starts_at or b.ends_at <= a.starts_at:
        return False
    if not set(a.stages) & set(b.stages):
        return False
    if (
        a.store_ids is not None
        and b.store_ids is not None
        and not set(a.store_ids) & set(b.store_ids)
    ):
        return False
    return any(_entries_meet(x, y) for x in a.channels for y in b.channels)


def _entries_meet(x: str, y: str) -> bool:
    cx, _, mx = x.partition(":")
    cy, _, my = y.partition(":")
    return cx == cy and (not mx or not my or mx == my)


# --- the seeded generator and the dealing ---------------------------------------------


class SeededRng:
    """A deterministic cryptographic generator: HMAC-SHA256(seed, counter) blocks.

    Unbiased integers by rejection sampling; the same seed always yields the same sequence.
    """

    def __init__(self, seed: bytes) -> None:
        assert len(seed) >= SEED_BYTES // 2, "a seed of at least 128 bits"
        self._seed = seed
        self._counter = 0

    def _block(self) -> int:
        self._counter += 1
        digest = hmac.new(self._seed, self._counter.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest, "big")

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)``."""
        assert n > 0
        space = 1 << 256
        limit = space - space % n
        while True:
            value = self._block()
            if value < limit:
                return value % n

    def shuffle(self, items: list[str]) -> list[str]:
        """A Fisher–Yates shuffle (new list)."""
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


@dataclass(frozen=True)
class Card:
    """One pre-dealt discount: its pool (``<day>/<store>`` or ``*``), place and amount."""

    pool_key: str
    seq: int
    amount_fen: int
    pool_day: date | None = None
    store_id: str | None = None


@dataclass(frozen=True)
class Dealing:
    """The cards of one activity, with the seed and digest recorded for audit."""

    seed_hex: str
    cards: tuple[Card, ...] = field(repr=False)
    sha256: str = ""

    @property
    def total_fen(self) -> int:
        """Sum of every card (never above the budget)."""
        return sum(c.amount_fen for c in self.cards)


def pools_of(a: Activity, since: datetime) -> list[tuple[str, date | None, str | None]]:
    """The pools to deal: one per (day, store) with a daily cap, else one for the window."""
    if a.cap_per_store_day is None:
        return [(ALL_STORES, None, None)]
    assert a.store_ids is not None
    return [(f"{d.isoformat()}/{s}", d, s) for d in a.days(since) for s in a.store_ids]


def deal(a: Activity, seed: bytes, *, since: datetime) -> Dealing:
    """Deal the pool from ``since`` to the window's end (pure: the same seed, the same cards).

    Amounts are drawn one by one until a cap is reached or the next one would overrun the
    budget (that last card is trimmed to what is left of it, ``DiscountRule.fit``); the cards
    are then spread over the pools round-robin in a seeded order, so no pool
    holds more than its daily cap.
    """
    rng = SeededRng(seed)
    limit = count_limit(a, since)
    amounts: list[int] = []
    spent_fen = 0
    while limit is None or len(amounts) < limit:
        amount_fen = a.rule.sample(rng)
        if spent_fen + amount_fen > a.budget_fen:
            last_fen = a.rule.fit(a.budget_fen - spent_fen)
            if last_fen is not None:
                amounts.append(last_fen)
            break
        amounts.append(amount_fen)
        spent_fen += amount_fen
        assert len(amounts) <= POOL_CARDS_MAX, "validation bounds the pool"
    pools = pools_of(a, since)
    order = rng.shuffle([key for key, _, _ in pools])
    where = {key: (day, store) for key, day, store in pools}
    filled: dict[str, int] = {}
    cards = []
    for i, amount_fen in enumerate(amounts):
        key = order[i % len(order)]
        seq = filled.get(key, 0)
        filled[key] = seq + 1
        day, store = where[key]
        cards.append(Card(key, seq, amount_fen, day, store))
    assert a.cap_per_store_day is None or max(filled.values(), default=0) <= a.cap_per_store_day
    assert sum(amounts) <= a.budget_fen
    return Dealing(seed.hex(), tuple(cards), dealing_digest(cards))


def dealing_digest(cards: Sequence[Card]) -> str:
    """SHA-256 over the canonical list of (pool, seq, amount): the dealing's fingerprint."""
    rows = sorted((c.pool_key, c.seq, c.amount_fen) for c in cards)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Draw:
    """One payment's hold on one card (``payment_id`` is the channel payment)."""

    draw_id: uuid.UUID
    activity_id: uuid.UUID
    card_id: int
    payment_id: uuid.UUID
    discount_payment_id: uuid.UUID
    order_id: uuid.UUID
    billing_id: uuid.UUID
    customer_id: str
    store_id: str | None
    amount_fen: int
    status: DrawStatus
    drawn_at: datetime
    returned_to_budget: bool | None = None
    confirmed_at: datetime | None = None
    returned_at: datetime | None = None
    reversed_at: datetime | None = None
