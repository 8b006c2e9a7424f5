"""The offline refunds queue: refunds owed on cash, wire and POS payments (or naming no
gateway payment, or that no channel can send) are queued with an owner, paid out by bank
transfer (finance) or at the store's till (cashier), with a second approver above the
threshold; completion succeeds the refund and emits the refund PaymentCallback once."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from otd_shared.db import asyncpg_url
from otd_shared.events import RefundRequested, new_envelope
from otd_shared.migrations import alembic_config
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.offline_tables import offline_refunds
from payment_gateway.adapters.tables import SCHEMA, refunds
from payment_gateway.bootstrap import MIGRATIONS_DIR
from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.domain.refund import RefundStatus
from payment_gateway.service_layer import offline_refunds as offline_refunds_service
from payment_gateway.service_layer.event_handlers import refund_requested_handler
from payment_gateway.service_layer.refunds import new_refund
from payment_gateway.testing.discounts import DiscountDriver
from payment_gateway.testing.harness import Harness, auth
from payment_gateway.testing.notifications import NotificationEvent

pytestmark = pytest.mark.integration
THRESHOLD_FEN = 1_000_000


@pytest.fixture
async def harness(make_harness: Any) -> Any:
    async with make_harness(offline_refund_approval_threshold_fen=THRESHOLD_FEN) as h:
        yield h


async def _store(h: Harness) -> str:
    store = f"S{uuid.uuid4().hex[:6].upper()}"
    put = await h.client.put(
        f"/v1/pos/stores/{store}",
        json={"name": "Test store", "terminals": {f"T-UP-{store}": "unionpay"}},
        headers=auth("sre"),
    )
    assert put.status_code == 200, put.text
    return store


async def _cash_payment(h: Harness, amount_fen: int) -> tuple[dict[str, Any], str]:
    store = await _store(h)
    billing = await h.due_billing(stage="firm", amount_fen=amount_fen)
    receipt = await h.client.post(
        "/v1/cash-receipts",
        json={
            "billing_id": str(billing),
            "amount_fen": amount_fen,
            "receipt_no": "R-1",
            "store_id": store,
        },
        headers=auth("cashier"),
    )
    assert receipt.status_code == 201, receipt.text
    return {**receipt.json(), "channel": "cash"}, store


async def _wire_payment(h: Harness, amount_fen: int) -> dict[str, Any]:
    card = f"62284800{uuid.uuid4().int % 10**8:08d}"
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    put = await h.client.put(
        f"/v1/customers/{customer}/payer-accounts", json={"accounts": [card]}, headers=auth()
    )
    assert put.status_code == 200, put.text
    billing = await h.due_billing(stage="final", amount_fen=amount_fen, customer_id=customer)
    transfer = {
        "bank_reference": f"BR{uuid.uuid4().hex[:16].upper()}",
        "payer_account": card,
        "amount_fen": amount_fen,
        "value_date": datetime.now(CHANNEL_TZ).date().isoformat(),
    }
    wired = await h.client.post("/v1/wires", json={"transfers": [transfer]}, headers=auth("bank"))
    assert wired.json()["results"][0]["status"] == "matched", wired.text
    listed = await h.client.get(f"/v1/billings/{billing}/payments", headers=auth("finance"))
    [payment] = listed.json()
    assert payment["channel"] == "wire"
    result: dict[str, Any] = payment
    return result


async def _billing_asks_back(
    h: Harness,
    payment: dict[str, Any],
    amount_fen: int,
    *,
    payment_id: str | None = None,
    channel: str | None = None,
) -> str:
    """billing-service's RefundRequested (delivered twice) → the queue item's id."""
    request_id = f"{payment['billing_id']}-R{uuid.uuid4().hex[:6]}"
    envelope = new_envelope(
        RefundRequested(
            order_id=payment["order_id"],
            billing_id=payment["billing_id"],
            refund_request_id=request_id,
            amount_fen=amount_fen,
            reason="overpaid",
            payment_id=payment_id if payment_id is not None else payment["payment_id"],
            channel=channel or payment["channel"],
        ),
        producer="billing-service",
        correlation_id="c",
    )
    handler = refund_requested_handler(h.gw.now)
    for _ in range(2):
        async with h.gw.uow() as uow:
            await handler(uow, envelope)
            await uow.commit()
    async with h.gw.sessions() as session:
        ids = (
            await session.scalars(
                sa.select(offline_refunds.c.offline_refund_id).where(
                    offline_refunds.c.refund_request_id == request_id
                )
            )
        ).all()
    assert len(ids) == 1, "one queue item per refund request, also when redelivered"
    return str(ids[0])


async def _item(h: Harness, item_id: str) -> dict[str, Any]:
    got = await h.client.get(f"/v1/offline-refunds/{item_id}", headers=auth("finance"))
    assert got.status_code == 200, got.text
    result: dict[str, Any] = got.json()
    return result


async def _complete(h: Harness, item_id: str, method: str, reference: str, role: str) -> Any:
    return await h.client.post(
        f"/v1/offline-refunds/{item_id}/complete",
        json={"method": method, "reference": reference},
        headers=auth(role),
    )


async def _refunded_events(h: Harness, payment_id: str) -> list[dict[str, Any]]:
    return [e for e in await h.callbacks_events(payment_id) if e["outcome"] == "refunded"]


async def test_cash_refund_is_paid_at_the_till_and_in_the_day_report(harness: Harness) -> None:
    h = harness
    receipt, store = await _cash_payment(h, 300_000)
    item_id = await _billing_asks_back(h, receipt, 50_000)
    item = await _item(h, item_id)
    assert (item["status"], item["owner"], item["payout_method"], item["store_id"]) == (
        "open",
        f"store:{store}",
        "cash",
        store,
    )
    assert (item["amount_fen"], item["channel"], item["payment_id"]) == (
        50_000,
        "cash",
        receipt["payment_id"],
    )
    wrong = await _complete(h, item_id, "bank_transfer", "BANK-1", "finance")
    assert (wrong.status_code, wrong.json()["code"]) == (422, "wrong_payout_method")
    by_bank = await _complete(h, item_id, "cash", "V-1", "bank")
    assert by_bank.status_code == 403
    assert await _refunded_events(h, receipt["payment_id"]) == []

    done = await _complete(h, item_id, "cash", "V-1", "cashier")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["reference"], body["completed_by"]) == (
        "completed",
        "V-1",
        body["submitted_by"],
    )
    assert body["completed_by"].startswith("cashier")
    again = await _complete(h, item_id, "cash", "V-1", "cashier")
    assert again.status_code == 200
    assert again.json()["completed_at"] == body["completed_at"]
    other = await _complete(h, item_id, "cash", "V-2", "cashier")
    assert other.status_code == 409

    [event] = await _refunded_events(h, receipt["payment_id"])
    assert (event["channel"], event["store_id"], event["amount_fen"]) == ("cash", store, 50_000)
    assert event["payout_via"] == "till"  # the ledger books it Cr cash:<store>
    refund = await h.client.get(f"/v1/refunds/{event['refund_id']}", headers=auth("finance"))
    assert refund.json()["status"] == "succeeded"
    payment = await h.payment(receipt["payment_id"])
    assert payment["refunded_fen"] == 50_000

    today = datetime.now(CHANNEL_TZ).date().isoformat()
    closed = await h.client.post(
        "/v1/cash-day-closes", json={"store_id": store, "date": today}, headers=auth("cashier")
    )
    assert closed.status_code == 201, closed.text
    totals = closed.json()
    assert (totals["receipts_fen"], totals["reversals_fen"], totals["total_fen"]) == (
        300_000,
        50_000,
        250_000,
    )
    report = await h.client.get(totals["report_url"], headers=auth("finance"))
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [(r["receipt_no"], r["kind"], r["amount_fen"]) for r in rows] == [
        ("R-1", "payment", "300000"),
        ("V-1", "refund", "50000"),
    ]
    assert rows[1]["order_ref"] == receipt["out_trade_no"]


async def test_cash_payout_refused_on_a_closed_day(harness: Harness) -> None:
    h = harness
    receipt, store = await _cash_payment(h, 200_000)
    item_id = await _billing_asks_back(h, receipt, 1_000)
    today = datetime.now(CHANNEL_TZ).date().isoformat()
    closed = await h.client.post(
        "/v1/cash-day-closes", json={"store_id": store, "date": today}, headers=auth("cashier")
    )
    assert closed.status_code == 201
    late = await _complete(h, item_id, "cash", "V-9", "cashier")
    assert (late.status_code, late.json()["code"]) == (409, "day_closed")
    assert (await _item(h, item_id))["status"] == "open"
    assert await _refunded_events(h, receipt["payment_id"]) == []


async def test_wire_refund_above_threshold_needs_a_second_approver(harness: Harness) -> None:
    h = harness
    payment = await _wire_payment(h, 5_000_000)
    item_id = await _billing_asks_back(h, payment, 2_000_000)
    item = await _item(h, item_id)
    assert (item["owner"], item["payout_method"], item["channel"]) == (
        "finance",
        "bank_transfer",
        "wire",
    )
    by_cashier = await _complete(h, item_id, "bank_transfer", "TRF-001", "cashier")
    assert (by_cashier.status_code, by_cashier.json()["code"]) == (403, "payout_role")
    bad = await h.client.post(
        f"/v1/offline-refunds/{item_id}/complete",
        json={"method": "bank_transfer", "reference": "has spaces"},
        headers=auth("finance"),
    )
    assert bad.status_code == 422

    pending = await _complete(h, item_id, "bank_transfer", "TRF-001", "finance")
    assert pending.status_code == 200, pending.text
    assert pending.json()["status"] == "pending_approval"
    assert await _refunded_events(h, payment["payment_id"]) == []
    early = await h.client.post(f"/v1/offline-refunds/{item_id}/approve", headers=auth("finance"))
    assert early.status_code == 403

    rejected = await h.client.post(
        f"/v1/offline-refunds/{item_id}/reject",
        json={"reason": "reference is for another customer"},
        headers=auth("finance-approver"),
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["reference"]) == ("open", None)
    assert rejected.json()["reject_reason"] == "reference is for another customer"
    approve_open = await h.client.post(
        f"/v1/offline-refunds/{item_id}/approve", headers=auth("finance-approver")
    )
    assert approve_open.status_code == 409

    await _complete(h, item_id, "bank_transfer", "TRF-002", "finance")
    approved = await h.client.post(
        f"/v1/offline-refunds/{item_id}/approve", headers=auth("finance-approver")
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["reference"]) == ("completed", "TRF-002")
    assert body["approved_by"].startswith("finance-approver")
    assert body["completed_by"].startswith("finance")
    twice = await h.client.post(
        f"/v1/offline-refunds/{item_id}/approve", headers=auth("finance-approver")
    )
    assert twice.status_code == 409
    [event] = await _refunded_events(h, payment["payment_id"])
    assert (event["channel"], event["amount_fen"], event["refund_id"]) == (
        "wire",
        2_000_000,
        body["refund_id"],
    )
    assert event["payout_via"] == "bank_transfer"  # the ledger books it Cr bank

    # The same bank transfer cannot pay a second refund.
    second = await _billing_asks_back(h, payment, 10_000)
    taken = await _complete(h, second, "bank_transfer", "TRF-002", "finance")
    assert (taken.status_code, taken.json()["code"]) == (409, "reference_taken")
    assert (await _item(h, second))["status"] == "open"


async def test_refund_naming_no_gateway_payment_is_paid_by_transfer(harness: Harness) -> None:
    h = harness
    payment = await _wire_payment(h, 400_000)
    item_id = await _billing_asks_back(h, payment, 7_000, payment_id="LOAN-42", channel="loan")
    item = await _item(h, item_id)
    assert (item["payment_id"], item["payment_ref"], item["channel"]) == (None, "LOAN-42", "loan")
    ask = await h.client.post(
        f"/v1/offline-refunds/{item_id}/channel-check", headers=auth("finance")
    )
    assert (ask.status_code, ask.json()["code"]) == (409, "no_channel_query")
    done = await _complete(h, item_id, "bank_transfer", "TRF-LOAN-42", "finance")
    assert done.json()["status"] == "completed", done.text
    [event] = await h.outbox_events("PaymentCallback", "LOAN-42")
    assert (event["payment_id"], event["outcome"], event["channel"], event["amount_fen"]) == (
        "LOAN-42",
        "refunded",
        "loan",
        7_000,
    )
    assert event["refund_id"] == done.json()["refund_id"]
    assert event["payout_via"] == "bank_transfer"


async def test_queue_lists_filters_and_assigns(harness: Harness) -> None:
    h = harness
    receipt, store = await _cash_payment(h, 100_000)
    cash_item = await _billing_asks_back(h, receipt, 1_000)
    wire = await _wire_payment(h, 100_000)
    wire_item = await _billing_asks_back(h, wire, 2_000)

    by_store = await h.client.get(
        "/v1/offline-refunds", params={"store_id": store}, headers=auth("cashier")
    )
    assert [i["offline_refund_id"] for i in by_store.json()["items"]] == [cash_item]
    by_billing = await h.client.get(
        "/v1/offline-refunds",
        params={"billing_id": wire["billing_id"], "status": "open", "channel": "wire"},
        headers=auth("finance"),
    )
    assert by_billing.json()["total"] == 1
    assert by_billing.json()["items"][0]["offline_refund_id"] == wire_item
    refused = await h.client.get("/v1/offline-refunds", headers=auth("bank"))
    assert refused.status_code == 403
    bad_status = await h.client.get(
        "/v1/offline-refunds", params={"status": "manual"}, headers=auth("finance")
    )
    assert bad_status.status_code == 422

    assigned = await h.client.post(
        f"/v1/offline-refunds/{wire_item}/assign", json={"owner": "li.na"}, headers=auth("finance")
    )
    assert assigned.json()["owner"] == "li.na"
    mine = await h.client.get(
        "/v1/offline-refunds", params={"owner": "li.na"}, headers=auth("finance")
    )
    assert [i["offline_refund_id"] for i in mine.json()["items"]] == [wire_item]
    await _complete(h, cash_item, "cash", "V-7", "cashier")
    late = await h.client.post(
        f"/v1/offline-refunds/{cash_item}/assign", json={"owner": "x"}, headers=auth("finance")
    )
    assert late.status_code == 409
    unknown = await h.client.get(f"/v1/offline-refunds/{uuid.uuid4()}", headers=auth("finance"))
    assert unknown.status_code == 404


async def test_a_refund_no_channel_can_send_is_queued_by_the_scheduler(harness: Harness) -> None:
    h = harness
    receipt, store = await _cash_payment(h, 100_000)
    async with h.gw.uow() as uow:
        payment = await uow.payments.get(uuid.UUID(receipt["payment_id"]))
        assert payment is not None
        refund = new_refund(payment, 3_000, "goodwill", now=h.gw.now(), actor="finance")
        await uow.refunds.add(refund, now=h.gw.now())
        await uow.commit()
    await h.make_refund_due(refund.refund_id)
    await h.scheduler().run_once()
    async with h.gw.sessions() as session:
        status = await session.scalar(
            sa.select(refunds.c.status).where(refunds.c.refund_id == refund.refund_id)
        )
        owner = await session.scalar(
            sa.select(offline_refunds.c.owner).where(
                offline_refunds.c.refund_id == refund.refund_id
            )
        )
    assert (status, owner) == (RefundStatus.MANUAL.value, f"store:{store}")


def _migrate(url: str, target: str, *, down: bool = False) -> None:
    config = alembic_config(MIGRATIONS_DIR, url, SCHEMA)
    (command.downgrade if down else command.upgrade)(config, target)


async def test_migration_queues_the_manual_refunds_recorded_before_it(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    """0007 on a database with manual refunds of before: each gets its queue item (a cash one
    at its store's till); downgrading keeps the refunds and drops the new columns."""
    url = await new_database()
    await asyncio.to_thread(_migrate, url, "0006")
    cash_payment, wire_payment = uuid.uuid4(), uuid.uuid4()
    engine = create_async_engine(asyncpg_url(url))
    try:
        async with engine.begin() as conn:
            for payment_id, channel in ((cash_payment, "cash"), (wire_payment, "wire")):
                await conn.execute(
                    sa.text(
                        "INSERT INTO payment.refunds (refund_id, out_refund_no, billing_id, "
                        "order_id, channel, amount_fen, reason, status, requested_by, "
                        "created_at, updated_at, query_attempts, refund_request_id) VALUES "
                        "(:id, :no, :b, :o, :ch, 500, 'overpaid', 'manual', 'billing', now(), "
                        "now(), 0, :req)"
                    ),
                    {
                        "id": payment_id,  # the refund id (no payment row: payment_id null)
                        "no": f"R{payment_id.hex[:26].upper()}",
                        "b": uuid.uuid4(),
                        "o": uuid.uuid4(),
                        "ch": channel,
                        "req": f"req-{payment_id}",
                    },
                )
        await asyncio.to_thread(_migrate, url, "head")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT refund_id, channel, status, owner, payout_method "
                        "FROM payment.offline_refunds ORDER BY channel"
                    )
                )
            ).all()
        assert [tuple(r)[1:] for r in rows] == [
            ("cash", "open", "finance", "bank_transfer"),  # no receipt known: by transfer
            ("wire", "open", "finance", "bank_transfer"),
        ]
        assert {r[0] for r in rows} == {cash_payment, wire_payment}
        await asyncio.to_thread(_migrate, url, "0006", down=True)
        async with engine.connect() as conn:
            columns = (
                (
                    await conn.execute(
                        sa.text(
                            "SELECT column_name FROM information_schema.columns "
                            "WHERE table_schema = 'payment' AND table_name = 'offline_refunds'"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert "payout_method" not in columns
        assert "owner" in columns
    finally:
        await engine.dispose()


async def test_a_queued_refund_the_channel_refunds_after_all_is_closed_not_paid_twice(
    harness: Harness,
) -> None:
    """A WeChat refund whose fate was unknown went to the queue (manual); then WeChat's signed
    refund notification says it refunded after all: the refund succeeds once, its queue item
    is completed by the channel, and finance can no longer pay it out by hand."""
    h = harness
    dd = DiscountDriver(h)
    created = (await dd.start(await dd.billing(), 10_000, f"S{uuid.uuid4().hex[:6]}")).json()
    txn_id = await dd.pay_notified(created)
    async with h.gw.uow() as uow:
        payment = await uow.payments.get(uuid.UUID(created["payment_id"]))
        assert payment is not None
        assert payment.status.value == "succeeded"
        refund = new_refund(payment, 10_000, "customer cancelled", now=h.gw.now(), actor="t")
        await uow.refunds.add(refund, now=h.gw.now())
        moved = await uow.refunds.transition(
            refund.refund_id, RefundStatus.MANUAL, now=h.gw.now(), values={}
        )
        assert moved is not None
        await offline_refunds_service.queue_manual(uow, moved, now=h.gw.now())
        await uow.commit()
    item = await _item_of(h, refund.refund_id)
    assert (item["status"], item["completed_by"]) == ("open", None)

    signed = h.sign(
        "wechatpay",
        NotificationEvent(
            kind=NotificationKind.REFUND,
            outcome=Outcome.REFUNDED,
            out_trade_no=created["out_trade_no"],
            channel_txn_id=txn_id,
            amount_fen=created["amount_fen"],
            out_refund_no=refund.out_refund_no,
            channel_refund_id=f"50300{uuid.uuid4().int % 10**24:024d}",
            refund_amount_fen=10_000,
        ),
    )
    for _ in range(2):  # the channel resends: one refund, one event
        answer = await h.notify("wechatpay", dict(signed.headers), signed.body)
        assert answer.status_code == 204, answer.text
    item = await _item_of(h, refund.refund_id)
    assert (item["status"], item["completed_by"]) == ("completed", "channel")
    assert item["completed_at"] is not None
    assert item["closed_reason"].startswith("wechatpay refunded it (notification; refund id 50300")
    events = [e for e in await h.callbacks_events(created["payment_id"]) if e["refund_id"]]
    assert [(e["outcome"], e["amount_fen"]) for e in events] == [("refunded", 10_000)]
    assert events[0]["payout_via"] is None  # the channel returned the money
    await _refused_to_people(h, str(item["offline_refund_id"]))
    assert len([e for e in await h.callbacks_events(created["payment_id"]) if e["refund_id"]]) == 1


async def _refused_to_people(h: Harness, item_id: str) -> None:
    """Every move by people on an item the channel settled is a clear 409 changing nothing."""
    before = await h.client.get(f"/v1/offline-refunds/{item_id}", headers=auth("finance"))
    moves = [
        ("complete", {"method": "bank_transfer", "reference": f"BT{uuid.uuid4().hex[:10]}"},
         "finance"),
        ("approve", None, "finance-approver"),
        ("reject", {"reason": "x"}, "finance-approver"),
        ("assign", {"owner": "someone"}, "finance"),
    ]  # fmt: skip
    for move, body, role in moves:
        answer = await h.client.post(
            f"/v1/offline-refunds/{item_id}/{move}", json=body, headers=auth(role)
        )
        assert (answer.status_code, answer.json()["code"]) == (409, "settled_by_channel"), move
        assert "refunded by the channel" in answer.json()["detail"]
    after = await h.client.get(f"/v1/offline-refunds/{item_id}", headers=auth("finance"))
    assert after.json() == before.json()
    assert after.json()["closed_reason"]


async def _item_of(h: Harness, refund_id: uuid.UUID) -> dict[str, Any]:
    async with h.gw.sessions() as session:
        row = (
            (
                await session.execute(
                    sa.select(offline_refunds).where(offline_refunds.c.refund_id == refund_id)
                )
            )
            .mappings()
            .one()
        )
    return dict(row)
