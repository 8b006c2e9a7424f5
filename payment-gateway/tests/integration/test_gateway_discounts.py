"""Random instant discounts on real PostgreSQL: activities over the API, the draw at
``POST /v1/payments``, confirmation / return / reversal by the payment's verified outcome,
reports, the dealing audit, and 200 concurrent payments against a pool of 20."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from payment_gateway.testing.discounts import DiscountDriver, activity_body
from payment_gateway.testing.harness import Harness, auth

pytestmark = pytest.mark.integration
NOTIFY_BATCH = 20
HarnessFactory = Callable[..., contextlib.AbstractAsyncContextManager[Harness]]


@pytest.fixture
async def dd(harness: Harness) -> DiscountDriver:
    driver = DiscountDriver(harness)
    await driver.skip_existing()
    return driver


def store() -> str:
    return f"S-{uuid.uuid4().hex[:10]}"


# --- activities over the API ------------------------------------------------------------


async def test_marketing_creates_and_a_finance_approver_approves_and_deals(
    harness: Harness, dd: DiscountDriver
) -> None:
    created = await dd.create(store())
    assert created["status"] == "pending_approval"
    assert created["dealt_cards"] == 0
    path = f"/v1/discount-activities/{created['activity_id']}"
    refused = await harness.client.post(f"{path}/approve", headers=auth("marketing"))
    assert refused.status_code == 403
    approved = await dd.approve(created["activity_id"])
    assert approved["status"] == "approved"
    assert approved["dealt_cards"] == 20
    assert approved["dealt_fen"] <= approved["budget_fen"]
    again = await harness.client.post(f"{path}/approve", headers=auth("finance-approver"))
    assert (again.status_code, again.json()["code"]) == (409, "activity_state_conflict")
    audit = await harness.client.get(f"{path}/dealing", headers=auth("finance-approver"))
    assert audit.status_code == 200
    assert audit.json()["verified"] is True
    assert len(audit.json()["seed_hex"]) == 64
    cards = await dd.cards(created["activity_id"])
    assert sum(c["amount_fen"] for c in cards) == approved["dealt_fen"]
    listed = await harness.client.get(
        "/v1/discount-activities?status=approved&limit=200", headers=auth("finance")
    )
    assert created["activity_id"] in {a["activity_id"] for a in listed.json()}


async def test_a_tampered_pool_fails_the_dealing_audit(
    harness: Harness, dd: DiscountDriver
) -> None:
    approved = await dd.running(store())
    async with harness.gw.sessions() as session, session.begin():
        await session.execute(
            sa.text(
                "UPDATE payment.discount_cards SET amount_fen = amount_fen + 1 "
                "WHERE card_id = (SELECT min(card_id) FROM payment.discount_cards "
                "WHERE activity_id = :a)"
            ),
            {"a": uuid.UUID(approved["activity_id"])},
        )
    audit = await harness.client.get(
        f"/v1/discount-activities/{approved['activity_id']}/dealing", headers=auth("finance")
    )
    assert audit.json()["verified"] is False
    assert audit.json()["redealt_sha256"] == audit.json()["recorded_sha256"]


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"max_fen": 1_000}, "invalid_discount_activity", "max_fen"),
        ({"budget_fen": 20 * 500 + 1}, "invalid_discount_activity", "budget_fen"),
        ({"min_fen": 600}, "invalid_discount_activity", "min_fen"),
        ({"channels": ["cash"]}, "invalid_discount_activity", "channels"),
        ({"cap_per_store_day": 5, "store_ids": None}, "invalid_discount_activity", "store_ids"),
        ({"stages": ["deposit"]}, "validation_error", None),
        ({"budget_fen": 1.5}, "validation_error", None),
        ({"refund_returns_to_budget": "yes"}, "validation_error", None),
    ],
)
async def test_invalid_activities_get_clear_422s_and_change_nothing(
    harness: Harness, changes: dict[str, Any], code: str, field: str | None
) -> None:
    body = activity_body(store(), **changes)
    answer = await harness.client.post(
        "/v1/discount-activities", json=body, headers=auth("marketing")
    )
    assert answer.status_code == 422, answer.text
    if code != "validation_error":
        assert answer.json()["code"] == code
        assert answer.json()["field"] == field
    listed = await harness.client.get(
        "/v1/discount-activities?limit=200", headers=auth("marketing")
    )
    assert body["name"] not in {a["name"] for a in listed.json()}


async def test_overlapping_activities_on_the_same_scope_are_refused(
    harness: Harness, dd: DiscountDriver
) -> None:
    shop = store()
    first = await dd.create(shop)
    clash = await harness.client.post(
        "/v1/discount-activities",
        json=activity_body(shop, channels=["wechatpay:app"], name="clash"),
        headers=auth("marketing"),
    )
    assert clash.status_code == 422
    assert clash.json()["code"] == "activity_overlap"
    assert first["activity_id"] in clash.json()["detail"]
    elsewhere = await dd.create(store())  # another store: no overlap
    assert elsewhere["status"] == "pending_approval"
    cancelled = await harness.client.post(
        f"/v1/discount-activities/{first['activity_id']}/cancel", headers=auth("marketing")
    )
    assert cancelled.json()["status"] == "cancelled"
    assert (await dd.create(shop))["status"] == "pending_approval"  # the slot is free again


# --- at the cashier -------------------------------------------------------------------------


async def test_a_payment_draws_a_discount_and_the_channel_charges_the_rest(
    harness: Harness, dd: DiscountDriver
) -> None:
    shop = store()
    activity = await dd.running(shop)
    billing_id = await dd.billing()
    key = uuid.uuid4().hex
    answer = await dd.start(billing_id, 10_000, shop, key=key)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    discount = created["discount"]
    assert discount["activity_id"] == activity["activity_id"]
    assert 100 <= created["discount_fen"] == discount["discount_fen"] <= 500
    assert created["amount_fen"] == 10_000 - created["discount_fen"]
    assert created["requested_amount_fen"] == 10_000
    assert (
        harness.sandbox.order("wechatpay", created["out_trade_no"]).amount_fen
        == created["amount_fen"]
    )
    assert discount["status"] == "reserved"
    retry = await dd.start(billing_id, 10_000, shop, key=key)
    assert retry.json() == created  # the same payment and the same draw
    assert len(await dd.draws(activity["activity_id"])) == 1
    listed = await harness.client.get(
        f"/v1/billings/{billing_id}/payments", headers=auth("finance")
    )
    by_channel = {p["channel"]: p for p in listed.json()}
    assert by_channel["discount"]["amount_fen"] == created["discount_fen"]
    assert by_channel["discount"]["status"] == "paying"


async def test_ineligible_payments_draw_nothing(harness: Harness, dd: DiscountDriver) -> None:
    shop = store()
    await dd.running(shop, cap_per_customer=1)
    below = await dd.start(await dd.billing(), 999, shop)
    assert below.json()["discount"] is None
    assert below.json()["amount_fen"] == 999
    other_store = await dd.start(await dd.billing(), 10_000, store())
    assert other_store.json()["discount"] is None
    final_stage = await dd.start(await dd.billing(stage="final"), 10_000, shop)
    assert final_stage.status_code == 201
    assert final_stage.json()["discount"] is None
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    first = await dd.start(await dd.billing(customer=customer), 10_000, shop)
    assert first.json()["discount"] is not None
    second = await dd.start(await dd.billing(customer=customer), 10_000, shop)
    assert second.json()["discount"] is None  # one per customer per activity
    opted_out = await harness.client.post(
        "/v1/payments",
        json={
            "billing_id": str(await dd.billing()),
            "channel": "wechatpay",
            "amount_fen": 10_000,
            "store_id": shop,
            "apply_discount": False,
        },
        headers={**auth(), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert opted_out.json()["discount"] is None


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "batch-handler"])
async def test_success_confirms_the_draw_and_pays_the_discount_once(
    harness: Harness, dd: DiscountDriver, batched: bool
) -> None:
    dd.batched = batched
    shop = store()
    activity = await dd.running(shop)
    created = (await dd.start(await dd.billing(), 10_000, shop)).json()
    await dd.pay_notified(created)
    await dd.follow()
    await dd.pay_notified(created)  # a duplicate notification
    await dd.follow()
    discount_id = created["discount"]["discount_payment_id"]
    events = await dd.discount_events(discount_id)
    assert [(e["outcome"], e["amount_fen"]) for e in events] == [
        ("succeeded", created["discount_fen"])
    ]
    assert events[0]["billing_id"] == created["billing_id"]
    assert (await harness.payment(discount_id))["status"] == "succeeded"
    shown = await harness.payment(created["payment_id"])
    assert shown["discount"]["status"] == "confirmed"
    report = await dd.report(activity["activity_id"])
    assert report["spent_fen"] == created["discount_fen"]
    assert report["budget_left_fen"] == activity["budget_fen"] - created["discount_fen"]
    (today,) = report["days"]
    assert (today["drawn"], today["confirmed"], today["returned"]) == (1, 1, 0)


async def test_a_closed_payment_returns_its_card_to_the_pool(
    harness: Harness, dd: DiscountDriver
) -> None:
    shop = store()
    activity = await dd.running(shop, cap_total=1, budget_fen=500, min_fen=500, max_fen=500)
    created = (await dd.start(await dd.billing(), 10_000, shop)).json()
    assert created["discount_fen"] == 500
    empty = (await dd.start(await dd.billing(), 10_000, shop)).json()
    assert empty["discount"] is None  # the only card is reserved
    closed = await harness.client.post(
        f"/v1/payments/{created['payment_id']}/close", headers=auth()
    )
    assert closed.status_code == 200, closed.text
    await dd.follow()
    assert (await harness.payment(created["discount"]["discount_payment_id"]))["status"] == (
        "closed"
    )
    again = (await dd.start(await dd.billing(), 10_000, shop)).json()
    assert again["discount_fen"] == 500  # the same card, drawn again
    report = await dd.report(activity["activity_id"])
    assert (report["days"][0]["drawn"], report["days"][0]["returned"]) == (2, 1)
    assert report["reserved_fen"] == 500
    assert report["budget_left_fen"] == 0


async def _late_success_after_redraw(
    harness: Harness, dd: DiscountDriver, cards: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A pays nothing and closes (its card goes back), B draws that card, then A's channel
    reports success after all: (activity, A, B)."""
    shop = store()
    activity = await dd.running(
        shop, cap_total=cards, budget_fen=500 * cards, min_fen=500, max_fen=500
    )
    first = (await dd.start(await dd.billing(), 10_000, shop)).json()
    await dd.close(first)
    await dd.follow()
    second = await _holding(harness, dd, shop)
    await dd.notify_success(first, f"4200{uuid.uuid4().int % 10**24:024d}")  # paid after all
    await dd.follow()
    return activity, first, second


async def _holding(harness: Harness, dd: DiscountDriver, shop: str) -> dict[str, Any]:
    """A payment that holds the returned card: ``paying`` with its draw reserved. On a busy
    machine the sandbox may refuse to open the order, which returns the card at once; then
    another payment draws it."""
    for _ in range(3):
        created = (await dd.start(await dd.billing(), 10_000, shop)).json()
        assert created["discount_fen"] == 500
        shown = await harness.payment(created["payment_id"])
        if shown["discount"]["status"] == "reserved":
            return dict(created)
    raise AssertionError("no payment kept the card reserved")


async def test_a_late_success_whose_card_was_drawn_again_takes_a_same_amount_card(
    harness: Harness, dd: DiscountDriver
) -> None:
    activity, first, second = await _late_success_after_redraw(harness, dd, cards=2)
    shown = await harness.payment(first["payment_id"])
    assert (shown["status"], shown["discount"]["status"]) == ("succeeded", "confirmed")
    events = await dd.discount_events(first["discount"]["discount_payment_id"])
    assert [(e["outcome"], e["amount_fen"]) for e in events][-1] == ("succeeded", 500)
    draws = {str(d.payment_id): d for d in await dd.draws(activity["activity_id"])}
    assert draws[first["payment_id"]].card_id != draws[second["payment_id"]].card_id
    report = await dd.report(activity["activity_id"])
    assert (report["spent_fen"], report["reserved_fen"], report["budget_left_fen"]) == (
        500,
        500,
        0,
    )
    assert report["days"][0]["shortfall"] == 0


async def test_a_late_success_with_no_card_left_is_a_recorded_shortfall(
    harness: Harness, dd: DiscountDriver
) -> None:
    activity, first, second = await _late_success_after_redraw(harness, dd, cards=1)
    shown = await harness.payment(first["payment_id"])
    assert (shown["status"], shown["discount"]["status"]) == ("succeeded", "shortfall")
    discount_id = first["discount"]["discount_payment_id"]
    assert (await harness.payment(discount_id))["status"] == "closed"
    outcomes = [e["outcome"] for e in await dd.discount_events(discount_id)]
    assert "succeeded" not in outcomes  # billing is told of no discount: it stays due by 500
    assert (await harness.payment(second["payment_id"]))["discount"]["status"] == "reserved"
    report = await dd.report(activity["activity_id"])
    (today,) = report["days"]
    assert (today["shortfall"], today["shortfall_fen"]) == (1, 500)
    assert (report["spent_fen"], report["reserved_fen"], report["budget_left_fen"]) == (0, 500, 0)


async def test_a_late_success_never_takes_another_activitys_card(
    harness: Harness, dd: DiscountDriver
) -> None:
    """Pools without a daily cap share the pool key ``*`` across activities: the replacement
    card must still come from the late payment's own activity (another's would spend its
    budget)."""
    other = await dd.running(store(), cap_total=3, budget_fen=1_500, min_fen=500, max_fen=500)
    activity, first, _ = await _late_success_after_redraw(harness, dd, cards=1)
    shown = await harness.payment(first["payment_id"])
    assert (shown["status"], shown["discount"]["status"]) == ("succeeded", "shortfall")
    others = await dd.cards(other["activity_id"])
    assert [c["status"] for c in others] == ["available"] * 3
    report = await dd.report(other["activity_id"])
    assert (report["spent_fen"], report["reserved_fen"]) == (0, 0)


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "batch-handler"])
@pytest.mark.parametrize("returns_to_budget", [False, True])
async def test_a_full_refund_reverses_the_discount_by_the_activity_setting(
    harness: Harness, dd: DiscountDriver, returns_to_budget: bool, batched: bool
) -> None:
    dd.batched = batched
    shop = store()
    activity = await dd.running(
        shop,
        cap_total=1,
        budget_fen=300,
        min_fen=300,
        max_fen=300,
        refund_returns_to_budget=returns_to_budget,
    )
    created = (await dd.start(await dd.billing(), 10_000, shop)).json()
    txn_id = await dd.pay_notified(created)
    await dd.follow()
    await dd.refund(created, txn_id)
    await dd.follow()
    await dd.follow()
    discount_id = created["discount"]["discount_payment_id"]
    events = await dd.discount_events(discount_id)
    assert [(e["outcome"], e["amount_fen"]) for e in events] == [
        ("succeeded", 300),
        ("refunded", 300),
    ]
    assert events[1]["refund_id"]
    customer_refund = [
        e
        for e in await harness.callbacks_events(created["payment_id"])
        if e["outcome"] == "refunded"
    ]
    assert [e["amount_fen"] for e in customer_refund] == [10_000 - 300]  # what the customer paid
    report = await dd.report(activity["activity_id"])
    assert report["days"][0]["reversed"] == 1
    assert report["spent_fen"] == (0 if returns_to_budget else 300)
    next_one = (await dd.start(await dd.billing(), 10_000, shop)).json()
    assert (next_one["discount"] is not None) is returns_to_budget


async def test_a_partial_refund_keeps_the_discount(harness: Harness, dd: DiscountDriver) -> None:
    shop = store()
    await dd.running(shop)
    created = (await dd.start(await dd.billing(), 10_000, shop)).json()
    txn_id = await dd.pay_notified(created)
    await dd.follow()
    await dd.refund(created, txn_id, amount_fen=1_000)
    await dd.follow()
    shown = await harness.payment(created["payment_id"])
    assert shown["refunded_fen"] == 1_000
    outcomes = [
        e["outcome"] for e in await dd.discount_events(created["discount"]["discount_payment_id"])
    ]
    assert outcomes == ["succeeded"]
    assert shown["discount"]["status"] == "confirmed"


async def test_a_discount_payment_cannot_be_refunded_by_hand(
    harness: Harness, dd: DiscountDriver
) -> None:
    shop = store()
    await dd.running(shop)
    created = (await dd.start(await dd.billing(), 10_000, shop)).json()
    await dd.pay_notified(created)
    await dd.follow()
    refused = await harness.client.post(
        f"/v1/payments/{created['discount']['discount_payment_id']}/refunds",
        json={"reason": "no"},
        headers={**auth("finance"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refused.status_code == 409


# --- concurrency ---------------------------------------------------------------------------


async def test_200_concurrent_payments_against_a_pool_of_20_confirm_exactly_20(
    make_harness: HarnessFactory,
) -> None:
    # All 200 are sent at once; a small pool that waits long keeps the shared PostgreSQL
    # within its connection limit on a busy machine (the draw's locks, not the pool, decide).
    async with make_harness(
        db_pool_size=8, db_pool_timeout_s=300.0, channel_read_timeout_s=30.0, callback_deadline_s=30
    ) as harness:
        dd = DiscountDriver(harness)
        await dd.skip_existing()
        await _two_hundred_against_twenty(harness, dd)


async def _two_hundred_against_twenty(harness: Harness, dd: DiscountDriver) -> None:
    shop = store()
    activity = await dd.running(shop, cap_total=20, budget_fen=20 * 500)
    billings = [await dd.billing() for _ in range(200)]
    answers = await asyncio.gather(*(dd.start(b, 10_000, shop) for b in billings))
    assert all(a.status_code == 201 for a in answers), {a.status_code for a in answers}
    created = [a.json() for a in answers]
    drawn = [c for c in created if c["discount"] is not None]
    assert len(drawn) == 20
    assert sum(c["discount_fen"] for c in drawn) <= activity["budget_fen"]
    for start in range(0, len(created), NOTIFY_BATCH):  # the channel notifies as they pay
        await asyncio.gather(*(dd.pay_notified(c) for c in created[start : start + NOTIFY_BATCH]))
    await dd.follow()
    draws = await dd.draws(activity["activity_id"])
    assert [d["status"] for d in draws].count("confirmed") == 20
    assert len({d["card_id"] for d in draws}) == 20
    confirmed_events = [
        e for c in drawn for e in await dd.discount_events(c["discount"]["discount_payment_id"])
    ]
    assert len(confirmed_events) == 20
    report = await dd.report(activity["activity_id"])
    assert report["spent_fen"] == sum(c["discount_fen"] for c in drawn)
    assert report["pool_available_fen"] == 0
    assert json.dumps(report)  # serialisable figures
