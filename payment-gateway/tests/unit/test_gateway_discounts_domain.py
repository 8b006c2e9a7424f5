"""Discount activities (pure): validation, overlap, the seeded generator and the dealing."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payment_gateway.adapters.channels.registry import REGISTRY
from payment_gateway.domain.discounts import (
    ALL_STORES,
    Activity,
    ActivityStatus,
    DiscountRule,
    SeededRng,
    Tier,
    count_limit,
    deal,
    dealing_digest,
    overlaps,
    validate_activity,
)
from payment_gateway.errors import DiscountRuleInvalid

NOW = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 Asia/Shanghai
SEED = bytes(range(32))
STARTABLE = {c.value: m for c, m in REGISTRY.methods().items() if c in REGISTRY.startable()}


def activity(**changes: object) -> Activity:
    base = Activity(
        activity_id=uuid.uuid4(),
        name="launch: 1-5 CNY off the intent deposit",
        starts_at=NOW,
        ends_at=NOW + timedelta(days=3),
        stages=("intent",),
        channels=("wechatpay", "alipay"),
        store_ids=("S001", "S002"),
        threshold_fen=1_000,
        rule=DiscountRule(min_fen=100, max_fen=500),
        cap_per_store_day=20,
        cap_per_customer=1,
        cap_total=None,
        budget_fen=20 * 2 * 3 * 500,
        refund_returns_to_budget=False,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]  # test helper


def test_a_sound_activity_passes() -> None:
    validate_activity(activity(), now=NOW, startable=STARTABLE)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"rule": DiscountRule(min_fen=100, max_fen=1_000)}, "max_fen", "below the threshold"),
        ({"rule": DiscountRule(tiers=(Tier(1_000, 1),))}, "tiers", "below the threshold"),
        ({"budget_fen": 20 * 2 * 3 * 500 + 1}, "budget_fen", "can never be spent"),
        ({"cap_total": 10, "budget_fen": 5_001}, "budget_fen", "can never be spent"),
        ({"budget_fen": 99}, "budget_fen", "below the smallest discount"),
        ({"store_ids": None}, "store_ids", "per-store daily cap"),
        ({"ends_at": NOW}, "ends_at", "end after it starts"),
        ({"channels": ("cash",)}, "channels", "not a channel"),
        ({"channels": ("wechatpay:qr",)}, "channels", "not a channel"),
        ({"stages": ()}, "stages", "stages"),
        ({"rule": DiscountRule(min_fen=300, max_fen=200)}, "min_fen", "min_fen"),
        ({"rule": DiscountRule(tiers=(Tier(100, 1), Tier(100, 2)))}, "tiers", "distinct"),
        (
            {"cap_per_store_day": None, "cap_total": None, "budget_fen": 10**9},
            "budget_fen",
            "add a total cap",
        ),
    ],
)
def test_invalid_activities_are_refused_naming_the_field(
    changes: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(DiscountRuleInvalid) as refused:
        validate_activity(activity(**changes), now=NOW, startable=STARTABLE)
    assert refused.value.field == field
    assert words in refused.value.message
    assert refused.value.http_status == 422


def test_overlap_needs_window_stage_channel_and_store_to_meet() -> None:
    a = activity()
    assert overlaps(a, activity(channels=("wechatpay:app",)))
    assert not overlaps(a, activity(channels=("lakala",)))
    assert not overlaps(a, activity(stages=("firm",)))
    assert not overlaps(a, activity(store_ids=("S003",)))
    assert overlaps(a, activity(store_ids=None, cap_per_store_day=None, cap_total=10))
    later = activity(starts_at=a.ends_at, ends_at=a.ends_at + timedelta(days=1))
    assert not overlaps(a, later)


def test_the_generator_is_deterministic_and_unbiased_enough() -> None:
    first, again = SeededRng(SEED), SeededRng(SEED)
    values = [first.below(5) for _ in range(5_000)]
    assert values == [again.below(5) for _ in range(5_000)]
    counts = Counter(values)
    assert set(counts) == {0, 1, 2, 3, 4}
    assert all(850 < n < 1_150 for n in counts.values()), counts
    assert [SeededRng(b"\x01" * 32).below(10**6) for _ in range(3)] != values[:3]


def test_dealing_per_store_and_day_respects_the_daily_cap_and_the_budget() -> None:
    a = activity()
    dealing = deal(a, SEED, since=NOW)
    pools = Counter(c.pool_key for c in dealing.cards)
    assert len(pools) == 2 * 3  # 3 Shanghai days x 2 stores
    assert max(pools.values()) <= 20
    assert dealing.total_fen <= a.budget_fen
    assert all(100 <= c.amount_fen <= 500 for c in dealing.cards)
    assert "2026-12-01/S001" in pools
    assert dealing.sha256 == dealing_digest(list(dealing.cards))
    assert deal(a, SEED, since=NOW) == dealing  # the seed deals the same cards again


def test_dealing_after_the_start_skips_the_past_days() -> None:
    a = activity()
    dealing = deal(a, SEED, since=NOW + timedelta(days=1))
    assert {c.pool_day.isoformat() for c in dealing.cards if c.pool_day} == {
        "2026-12-02",
        "2026-12-03",
    }


def test_a_budget_only_activity_deals_until_the_budget_is_spent() -> None:
    a = activity(store_ids=None, cap_per_store_day=None, cap_total=None, budget_fen=100_000)
    dealing = deal(a, SEED, since=NOW)
    assert {c.pool_key for c in dealing.cards} == {ALL_STORES}
    assert dealing.total_fen == 100_000  # the last card takes what is left


def test_weighted_tiers_follow_their_weights() -> None:
    rule = DiscountRule(tiers=(Tier(100, 7), Tier(300, 2), Tier(500, 1)))
    a = activity(rule=rule, store_ids=None, cap_per_store_day=None, cap_total=10_000)
    a = dataclasses.replace(a, budget_fen=10_000 * 500)
    counts = Counter(c.amount_fen for c in deal(a, SEED, since=NOW).cards)
    assert sum(counts.values()) == 10_000
    assert 6_700 < counts[100] < 7_300
    assert 1_750 < counts[300] < 2_250
    assert 800 < counts[500] < 1_200


@settings(max_examples=150, deadline=None)
@given(
    low=st.integers(1, 2_000),
    spread=st.integers(0, 3_000),
    stores=st.integers(1, 4),
    days=st.integers(1, 4),
    cap_day=st.integers(1, 15) | st.none(),
    cap_total=st.integers(1, 200) | st.none(),
    budget_share=st.floats(0.0, 1.0, allow_nan=False),
    seed=st.binary(min_size=32, max_size=32),
)
def test_no_dealing_exceeds_a_cap_or_the_budget(
    low: int,
    spread: int,
    stores: int,
    days: int,
    cap_day: int | None,
    cap_total: int | None,
    budget_share: float,
    seed: bytes,
) -> None:
    rule = DiscountRule(min_fen=low, max_fen=low + spread)
    a = activity(
        rule=rule,
        threshold_fen=low + spread + 1,
        ends_at=NOW + timedelta(days=days),
        store_ids=tuple(f"S{i}" for i in range(stores)),
        cap_per_store_day=cap_day,
        cap_total=cap_total if cap_total or cap_day else 50,
        budget_fen=1,
    )
    limit = count_limit(a)
    assert limit is not None
    top_fen = limit * rule.high_fen
    budget_fen = max(rule.low_fen, int(top_fen * budget_share))
    a = dataclasses.replace(a, budget_fen=budget_fen)
    validate_activity(a, now=NOW, startable=STARTABLE)
    dealing = deal(a, seed, since=NOW)
    assert dealing.total_fen <= budget_fen
    assert len(dealing.cards) <= limit
    assert all(rule.low_fen <= c.amount_fen <= rule.high_fen for c in dealing.cards)
    if cap_day is not None:
        assert max(Counter(c.pool_key for c in dealing.cards).values()) <= cap_day
    assert len(dealing.cards) >= 1
    assert a.status is ActivityStatus.PENDING_APPROVAL
