"""POS reservations whose notification does not arrive are queried (UnionPay ACP query
txnType 00, Allinpay 收银宝 query) on the online schedule; the channel sandbox answers for the
orders its terminals took. A verified query settles the reservation once; a late
notification after it changes nothing."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from channel_sandbox.channels.base import NotificationEvent
from channel_sandbox.store import PayState
from otd_shared.events import RefundRequested, new_envelope
from payment_gateway.adapters.offline_tables import offline_refunds
from payment_gateway.adapters.tables import refunds
from payment_gateway.domain.refund import RefundStatus
from payment_gateway.service_layer import offline_refunds as offline_refunds_service
from payment_gateway.service_layer.refunds import record_requested_refund
from payment_gateway.testing.harness import Harness, auth

pytestmark = pytest.mark.integration
ACQUIRERS = ("unionpay", "allinpay")
AMOUNT_FEN = 88_800
TERMINAL_FIELDS = {"unionpay": "termId", "allinpay": "termno"}


async def _reserve(h: Harness, channel: str) -> dict[str, Any]:
    store = f"S{uuid.uuid4().hex[:6].upper()}"
    terminal = f"T-{channel[:2].upper()}-{store}"
    put = await h.client.put(
        f"/v1/pos/stores/{store}",
        json={"name": "Query store", "terminals": {terminal: channel}},
        headers=auth("sre"),
    )
    assert put.status_code == 200, put.text
    billing = await h.due_billing(stage="firm", amount_fen=AMOUNT_FEN * 2)
    qr = await h.client.post(
        "/v1/pos/order-qr",
        json={"billing_id": str(billing), "amount_fen": AMOUNT_FEN, "store_id": store},
        headers=auth("app-backend"),
    )
    charge = await h.client.post(
        "/v1/pos/charges",
        json={"token": qr.json()["token"], "terminal_id": terminal, "channel": channel},
        headers=auth("pos-integrator"),
    )
    assert charge.status_code == 201, charge.text
    return {**charge.json(), "terminal_id": terminal}


async def _run_until_settled(h: Harness, payment_id: str) -> None:
    """Query until a final status (a query that times out under load is simply unknown)."""
    for _ in range(20):
        await h.make_due(payment_id)
        await h.scheduler().run_once()
        if await h.status_of(payment_id) not in ("paying", "unknown"):
            return
    raise AssertionError("payment did not settle")


def _swipe(h: Harness, channel: str, out_trade_no: str, amount_fen: int = AMOUNT_FEN) -> str:
    """The acquirer took the card; its notification never reaches us."""
    h.sandbox.open(channel, out_trade_no, amount_fen)
    return h.sandbox.pay(channel, out_trade_no).channel_txn_id


@pytest.mark.parametrize("channel", ACQUIRERS)
async def test_reservation_is_queried_on_the_online_schedule(
    make_harness: Any, channel: str
) -> None:
    async with make_harness(active_query_delay_s=30) as h:
        reserved = await _reserve(h, channel)
        row = await h.payment_row(reserved["payment_id"])
        delay = row["next_query_at"] - row["created_at"]
        assert timedelta(seconds=29) < delay < timedelta(seconds=31)


@pytest.mark.parametrize("channel", ACQUIRERS)
async def test_swiped_reservation_settled_by_query_then_late_notification_changes_nothing(
    harness: Harness, channel: str
) -> None:
    h = harness
    reserved = await _reserve(h, channel)
    txn_id = _swipe(h, channel, reserved["out_trade_no"])
    await _run_until_settled(h, reserved["payment_id"])
    payment = await h.payment(reserved["payment_id"])
    assert (payment["status"], payment["channel_txn_id"]) == ("succeeded", txn_id)
    assert (channel, "query", "ok") in h.sandbox.calls(channel)
    [event] = await h.callbacks_events(reserved["payment_id"])
    assert (event["outcome"], event["amount_fen"], event["channel"]) == (
        "succeeded",
        AMOUNT_FEN,
        channel,
    )
    late = h.sandbox.notification(
        channel,
        NotificationEvent(
            out_trade_no=reserved["out_trade_no"],
            channel_txn_id=txn_id,
            amount_fen=AMOUNT_FEN,
            extra_fields={TERMINAL_FIELDS[channel]: reserved["terminal_id"]},
        ),
    )
    answer = await h.notify(channel, dict(late.headers), late.body)
    assert answer.status_code == 200, answer.text
    assert len(await h.callbacks_events(reserved["payment_id"])) == 1


@pytest.mark.parametrize("channel", ACQUIRERS)
async def test_not_swiped_yet_is_asked_again_later(harness: Harness, channel: str) -> None:
    h = harness
    reserved = await _reserve(h, channel)
    await h.make_due(reserved["payment_id"])
    await h.scheduler().run_once()
    row = await h.payment_row(reserved["payment_id"])
    assert row["status"] == "paying"
    assert row["query_attempts"] == 1
    assert row["next_query_at"] is not None
    assert (channel, "query", "not-found") in h.sandbox.calls(channel)
    assert await h.callbacks_events(reserved["payment_id"]) == []


@pytest.mark.parametrize("channel", ACQUIRERS)
async def test_declined_card_fails_the_reservation(harness: Harness, channel: str) -> None:
    h = harness
    reserved = await _reserve(h, channel)
    h.sandbox.open(channel, reserved["out_trade_no"], AMOUNT_FEN)
    h.sandbox.set_state(channel, reserved["out_trade_no"], PayState.FAILED)
    await _run_until_settled(h, reserved["payment_id"])
    assert await h.status_of(reserved["payment_id"]) == "failed"
    [event] = await h.callbacks_events(reserved["payment_id"])
    assert event["outcome"] == "failed"


@pytest.mark.parametrize("channel", ACQUIRERS)
async def test_badly_signed_or_other_amount_answers_settle_nothing(
    harness: Harness, channel: str
) -> None:
    h = harness
    reserved = await _reserve(h, channel)
    _swipe(h, channel, reserved["out_trade_no"])
    with h.sandbox.faulty(channel, "bad_signature"):
        await h.make_due(reserved["payment_id"])
        await h.scheduler().run_once()
    assert await h.status_of(reserved["payment_id"]) == "paying"
    assert await h.callbacks_events(reserved["payment_id"]) == []

    other = await _reserve(h, channel)
    _swipe(h, channel, other["out_trade_no"], amount_fen=AMOUNT_FEN + 1)
    for _ in range(20):  # a query that times out under load is unknown: ask again
        await h.make_due(other["payment_id"])
        await h.scheduler().run_once()
        row = await h.payment_row(other["payment_id"])
        if row["failure_code"]:
            break
    assert (row["status"], row["failure_code"], row["next_query_at"]) == (
        "paying",
        "query_amount_mismatch",
        None,
    )
    assert await h.callbacks_events(other["payment_id"]) == []


async def test_sandbox_refuses_an_unsigned_query(harness: Harness) -> None:
    """The sandbox checks our signature and answers, signed, like UnionPay (5.1.0 with
    signPubKeyCert): respCode 11 for a signature that is not ours."""
    h = harness
    reserved = await _reserve(h, "unionpay")
    body = (
        f"version=5.1.0&signMethod=01&txnType=00&orderId={reserved['out_trade_no']}"
        f"&merId=1&signature={secrets.token_hex(8)}"
    )
    async with httpx.AsyncClient(base_url=h.sandbox.url) as client:
        response = await client.post(
            "/gateway/api/queryTrans.do",
            content=body.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200
    assert b"respCode=11" in response.content
    assert b"signPubKeyCert=" in response.content
    assert ("unionpay", "query", "refused") in h.sandbox.calls("unionpay")


async def _refund_row(h: Harness, refund_id: str) -> Any:
    async with h.gw.sessions() as session:
        return (
            (
                await session.execute(
                    sa.select(refunds).where(refunds.c.refund_id == uuid.UUID(refund_id))
                )
            )
            .mappings()
            .one()
        )


async def _refund_until(h: Harness, refund_id: str, status: str) -> Any:
    for _ in range(20):
        await h.make_refund_due(refund_id)
        await h.scheduler().run_once()
        row = await _refund_row(h, refund_id)
        if row["status"] == status:
            return row
    raise AssertionError(f"refund did not reach {status}")


async def _billing_asks_back(
    h: Harness, reserved: dict[str, Any], channel: str, request_no: str
) -> Any:
    """Billing's RefundRequested of 88.00 CNY on the reserved payment, recorded as consumed."""
    envelope = new_envelope(
        RefundRequested(
            order_id=str((await h.payment_row(reserved["payment_id"]))["order_id"]),
            billing_id=reserved["billing_id"],
            refund_request_id=f"{reserved['billing_id']}-{request_no}",
            amount_fen=8_800,
            reason="overpaid",
            payment_id=reserved["payment_id"],
            channel=channel,
        ),
        producer="billing-service",
        correlation_id="c",
    )
    async with h.gw.uow() as uow:
        refund = await record_requested_refund(uow, envelope.payload, now=h.gw.now())  # type: ignore[arg-type]
        await uow.commit()
    return refund


@pytest.mark.parametrize("channel", ACQUIRERS)
async def test_pos_refund_goes_through_the_acquirer(harness: Harness, channel: str) -> None:
    """An overpayment refund on a POS payment is sent to the acquirer's refund call (not
    the offline refunds queue) and confirmed by querying the refund."""
    h = harness
    reserved = await _reserve(h, channel)
    _swipe(h, channel, reserved["out_trade_no"])
    await _run_until_settled(h, reserved["payment_id"])
    refund = await _billing_asks_back(h, reserved, channel, "R1")
    assert refund.status.value == "requested"
    async with h.gw.sessions() as session:
        queued = await session.scalar(
            sa.select(sa.func.count())
            .select_from(offline_refunds)
            .where(offline_refunds.c.refund_id == refund.refund_id)
        )
    assert queued == 0
    await _refund_until(h, str(refund.refund_id), "processing")
    assert (channel, "refund", "ok") in h.sandbox.calls(channel)
    h.sandbox.settle_refund(channel, refund.out_refund_no)
    row = await _refund_until(h, str(refund.refund_id), "succeeded")
    assert row["channel_refund_id"]
    events = await h.callbacks_events(reserved["payment_id"])
    [refunded] = [e for e in events if e["outcome"] == "refunded"]
    assert (refunded["refund_id"], refunded["amount_fen"]) == (str(refund.refund_id), 8_800)
    assert refunded["payout_via"] is None  # the acquirer refunded it (today's meaning)
    by_finance = await h.client.post(
        f"/v1/payments/{reserved['payment_id']}/refunds",
        json={"reason": "goodwill", "amount_fen": 100},
        headers={**auth("finance"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert by_finance.status_code == 201, by_finance.text
    too_much = await h.client.post(
        f"/v1/payments/{reserved['payment_id']}/refunds",
        json={"reason": "x", "amount_fen": AMOUNT_FEN},
        headers={**auth("finance"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert too_much.status_code == 409


@pytest.mark.parametrize("channel", ACQUIRERS)
async def test_a_refund_the_acquirer_refuses_goes_to_the_offline_refunds_queue(
    harness: Harness, channel: str
) -> None:
    """Not `failed` with nothing to do: `manual`, queued for finance (bank transfer), and
    paid out through the queue (refund succeeded, PaymentCallback `refunded` once)."""
    h = harness
    reserved = await _reserve(h, channel)
    _swipe(h, channel, reserved["out_trade_no"])
    await _run_until_settled(h, reserved["payment_id"])
    h.sandbox.forget(channel, reserved["out_trade_no"])  # the acquirer no longer knows it
    refund = await _billing_asks_back(h, reserved, channel, "R9")
    row = await _refund_until(h, str(refund.refund_id), "manual")
    assert "acquirer refused" in row["failure_reason"]
    assert (channel, "refund", "refused") in h.sandbox.calls(channel)
    listed = await h.client.get(
        f"/v1/offline-refunds?billing_id={reserved['billing_id']}&status=open",
        headers=auth("finance"),
    )
    assert listed.status_code == 200, listed.text
    [item] = [i for i in listed.json()["items"] if i["refund_id"] == str(refund.refund_id)]
    assert (item["owner"], item["payout_method"], item["amount_fen"]) == (
        "finance",
        "bank_transfer",
        8_800,
    )
    assert not [
        e for e in await h.callbacks_events(reserved["payment_id"]) if e["outcome"] != "succeeded"
    ]
    # Finance asks the acquirer first: it did not refund, so people pay it out.
    check = await _channel_check(h, item["offline_refund_id"])
    assert check.status_code == 200, check.text
    assert check.json()["channel_outcome"] != "succeeded"
    assert (check.json()["item"]["status"], check.json()["item"]["closed_reason"]) == ("open", None)
    done = await h.client.post(
        f"/v1/offline-refunds/{item['offline_refund_id']}/complete",
        json={"method": "bank_transfer", "reference": f"BANK-{secrets.token_hex(4)}"},
        headers=auth("finance"),
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    events = await h.callbacks_events(reserved["payment_id"])
    [refunded] = [e for e in events if e["outcome"] == "refunded"]
    assert (refunded["refund_id"], refunded["amount_fen"]) == (str(refund.refund_id), 8_800)
    # The money left our bank, not the acquirer: the ledger books it Cr bank, not clearing.
    assert refunded["payout_via"] == "bank_transfer"


async def _channel_check(h: Harness, item_id: str) -> httpx.Response:
    return await h.client.post(
        f"/v1/offline-refunds/{item_id}/channel-check", headers=auth("finance")
    )


@pytest.mark.parametrize("channel", ACQUIRERS)
async def test_a_queued_refund_the_acquirers_query_reports_refunded_is_closed_not_paid_twice(
    harness: Harness, channel: str
) -> None:
    """A POS refund went to the queue (manual) although the acquirer refunded it after all:
    finance's channel check queries the refund, the refund succeeds from the query
    (PaymentCallback `refunded` once), the item is closed as settled by the channel with
    who / when / why, and a payout is refused with 409 `settled_by_channel`."""
    h = harness
    reserved = await _reserve(h, channel)
    _swipe(h, channel, reserved["out_trade_no"])
    await _run_until_settled(h, reserved["payment_id"])
    refund = await _billing_asks_back(h, reserved, channel, "R7")
    await _refund_until(h, str(refund.refund_id), "processing")
    async with h.gw.uow() as uow:  # as if its answer had been a refusal: queued for finance
        moved = await uow.refunds.transition(
            refund.refund_id, RefundStatus.MANUAL, now=h.gw.now(), values={"next_query_at": None}
        )
        assert moved is not None
        item = await offline_refunds_service.queue_manual(uow, moved, now=h.gw.now())
        await uow.commit()
    h.sandbox.settle_refund(channel, refund.out_refund_no)  # the acquirer refunded it

    check = await _channel_check(h, str(item.offline_refund_id))
    assert check.status_code == 200, check.text
    body = check.json()
    assert body["channel_outcome"] == "succeeded"
    assert (body["item"]["status"], body["item"]["completed_by"]) == ("completed", "channel")
    assert body["item"]["completed_at"]
    assert body["item"]["closed_reason"].startswith(f"{channel} refunded it (query; refund id ")
    assert (await _refund_row(h, str(refund.refund_id)))["status"] == "succeeded"
    again = await _channel_check(h, str(item.offline_refund_id))
    assert (again.status_code, again.json()["code"]) == (409, "settled_by_channel")
    payout = await h.client.post(
        f"/v1/offline-refunds/{item.offline_refund_id}/complete",
        json={"method": "bank_transfer", "reference": f"BANK-{secrets.token_hex(4)}"},
        headers=auth("finance"),
    )
    assert (payout.status_code, payout.json()["code"]) == (409, "settled_by_channel")
    refunded = [
        e for e in await h.callbacks_events(reserved["payment_id"]) if e["outcome"] == "refunded"
    ]
    assert [(e["refund_id"], e["payout_via"]) for e in refunded] == [(str(refund.refund_id), None)]
    assert (await h.payment_row(reserved["payment_id"]))["refunded_fen"] == 8_800
