"""Cash receipts, reversals and day closes; POS stores, order QRs and the terminal's fetch."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from payment_gateway.adapters.offline_tables import order_qr_tokens
from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.testing.harness import Harness, auth

pytestmark = pytest.mark.integration


async def _store(h: Harness) -> tuple[str, str, str]:
    store = f"S{uuid.uuid4().hex[:6].upper()}"
    up, al = f"T-UP-{store}", f"T-AL-{store}"
    put = await h.client.put(
        f"/v1/pos/stores/{store}",
        json={"name": "Test store", "terminals": {up: "unionpay", al: "allinpay"}},
        headers=auth("sre"),
    )
    assert put.status_code == 200, put.text
    return store, up, al


async def _receipt(h: Harness, billing: uuid.UUID, store: str, no: str, amount_fen: int) -> Any:
    return await h.client.post(
        "/v1/cash-receipts",
        json={
            "billing_id": str(billing),
            "amount_fen": amount_fen,
            "receipt_no": no,
            "store_id": store,
        },
        headers=auth("cashier"),
    )


async def test_cash_receipt_reversal_and_day_close(harness: Harness) -> None:
    store, _, _ = await _store(harness)
    billing = await harness.due_billing(stage="firm", amount_fen=1_000_000)
    first = await _receipt(harness, billing, store, "R0001", 400_000)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "succeeded"
    assert body["payment_id"]
    same = await _receipt(harness, billing, store, "R0001", 400_000)
    assert same.status_code == 200
    assert same.json()["payment_id"] == body["payment_id"]
    taken = await _receipt(harness, billing, store, "R0001", 1)
    assert taken.status_code == 409
    assert taken.json()["code"] == "receipt_no_taken"
    second = await _receipt(harness, billing, store, "R0002", 100_000)
    assert second.status_code == 201
    too_much = await _receipt(harness, billing, store, "R0003", 600_000)
    assert too_much.status_code == 422
    unknown_store = await _receipt(harness, billing, "NOPE", "R0004", 100)
    assert unknown_store.status_code == 422
    assert unknown_store.json()["code"] == "unknown_store"
    [paid] = await harness.outbox_events("PaymentCallback", body["payment_id"])
    assert (paid["channel"], paid["store_id"], paid["outcome"]) == ("cash", store, "succeeded")

    path = f"/v1/cash-receipts/{second.json()['receipt_id']}/reversal"
    by_cashier = await harness.client.post(path, json={"reason": "typo"}, headers=auth("cashier"))
    assert by_cashier.status_code == 403
    no_reason = await harness.client.post(path, json={}, headers=auth("finance-approver"))
    assert no_reason.status_code == 422
    reversed_ = await harness.client.post(
        path, json={"reason": "typo"}, headers=auth("finance-approver")
    )
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["status"] == "reversed"
    again = await harness.client.post(
        path, json={"reason": "typo"}, headers=auth("finance-approver")
    )
    assert again.status_code == 409
    events = await harness.outbox_events("PaymentCallback", second.json()["payment_id"])
    assert [e["outcome"] for e in events] == ["succeeded", "reversed"]
    assert events[1]["store_id"] == store
    assert events[1]["reason"] == "typo"

    today = gw_today(harness)
    closed = await harness.client.post(
        "/v1/cash-day-closes", json={"store_id": store, "date": today}, headers=auth("cashier")
    )
    assert closed.status_code == 201, closed.text
    totals = closed.json()
    assert (totals["receipts_fen"], totals["reversals_fen"], totals["total_fen"]) == (
        500_000,
        100_000,
        400_000,
    )
    report = await harness.client.get(totals["report_url"], headers=auth("finance"))
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [(r["receipt_no"], r["kind"], r["amount_fen"]) for r in rows] == [
        ("R0001", "payment", "400000"),
        ("R0002", "payment", "100000"),
        ("R0002", "refund", "100000"),
    ]
    assert rows[0]["order_ref"] == body["out_trade_no"]
    late = await _receipt(harness, billing, store, "R0009", 100)
    assert late.status_code == 409
    assert late.json()["code"] == "day_closed"
    reclose = await harness.client.post(
        "/v1/cash-day-closes", json={"store_id": store, "date": today}, headers=auth("cashier")
    )
    assert reclose.status_code == 200


def gw_today(h: Harness) -> str:
    return h.gw.now().astimezone(CHANNEL_TZ).date().isoformat()


async def _qr(h: Harness, billing: uuid.UUID, store: str, amount_fen: int) -> Any:
    return await h.client.post(
        "/v1/pos/order-qr",
        json={"billing_id": str(billing), "amount_fen": amount_fen, "store_id": store},
        headers=auth("app-backend"),
    )


async def _charge(h: Harness, terminal: str, channel: str = "unionpay", **ref: str) -> Any:
    return await h.client.post(
        "/v1/pos/charges",
        json={**ref, "terminal_id": terminal, "channel": channel},
        headers=auth("pos-integrator"),
    )


async def test_order_qr_reserves_one_payment_per_token(harness: Harness) -> None:
    store, up, al = await _store(harness)
    billing = await harness.due_billing(stage="firm", amount_fen=9_000_000)
    issued = await _qr(harness, billing, store, 6_000_000)
    assert issued.status_code == 201, issued.text
    qr = issued.json()
    assert set(qr) >= {"token", "qr_content", "short_code", "expires_at"}
    assert qr["qr_content"].endswith(qr["token"])
    assert len(qr["short_code"]) == 8
    charged = await _charge(harness, up, token=qr["token"])
    assert charged.status_code == 201, charged.text
    payment = charged.json()
    assert (payment["amount_fen"], payment["channel"], payment["status"]) == (
        6_000_000,
        "unionpay",
        "paying",
    )
    assert payment["method"] == "pos_card"
    retry = await _charge(harness, up, token=qr["token"])
    assert retry.status_code == 200
    assert retry.json()["payment_id"] == payment["payment_id"]
    used = await _charge(harness, al, channel="allinpay", token=qr["token"])
    assert (used.status_code, used.json()["code"]) == (409, "token_used")

    second = (await _qr(harness, billing, store, 3_000_000)).json()
    by_code = await _charge(harness, al, channel="allinpay", short_code=second["short_code"])
    assert by_code.status_code == 201, by_code.text
    over = await _qr(harness, billing, store, 9_000_001)
    assert over.status_code == 422  # reservations may overlap; only the amount left caps one


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown_terminal", 403, "unknown_terminal"),
        ("wrong_channel", 422, "wrong_channel"),
        ("forged", 422, "bad_token"),
        ("garbage", 422, "bad_token"),
        ("unknown_code", 404, "unknown_token"),
        ("expired", 409, "token_expired"),
        ("wrong_store", 403, "wrong_store"),
    ],
)
async def test_terminal_fetch_refusals_are_clear_and_recorded(
    harness: Harness, case: str, status: int, code: str
) -> None:
    store, up, _ = await _store(harness)
    _, other_up, _ = await _store(harness)
    billing = await harness.due_billing(stage="firm", amount_fen=500_000)
    qr = (await _qr(harness, billing, store, 100_000)).json()
    ref: dict[str, str] = {"token": qr["token"]}
    terminal, channel = up, "unionpay"
    if case == "unknown_terminal":
        terminal = "T-NOPE"
    elif case == "wrong_channel":
        channel = "allinpay"
    elif case == "forged":
        head, _, sig = qr["token"].rpartition(".")
        ref = {"token": f"{head}.{'A' * len(sig)}"}
    elif case == "garbage":
        ref = {"token": "hello"}
    elif case == "unknown_code":
        ref = {"short_code": "00000000" if qr["short_code"] != "00000000" else "11111111"}
    elif case == "expired":
        async with harness.gw.sessions() as session, session.begin():
            await session.execute(
                sa.update(order_qr_tokens)
                .where(order_qr_tokens.c.short_code == qr["short_code"])
                .values(expires_at=sa.func.now() - sa.text("interval '1 second'"))
            )
    elif case == "wrong_store":
        terminal = other_up
    refused = await _charge(harness, terminal, channel=channel, **ref)
    assert refused.status_code == status, refused.text
    assert refused.json()["code"] == code
    recorded = await harness.client.get("/v1/pos/refusals", headers=auth("finance"))
    assert any((r["code"], r["terminal_id"]) == (code, terminal) for r in recorded.json())


async def test_order_qr_needs_a_registered_store_and_a_due_billing(harness: Harness) -> None:
    billing = await harness.due_billing(stage="firm", amount_fen=500_000)
    assert (await _qr(harness, billing, "NOPE", 100)).status_code == 422
    store, _, _ = await _store(harness)
    assert (await _qr(harness, uuid.uuid4(), store, 100)).status_code == 404
    forbidden = await harness.client.post(
        "/v1/pos/order-qr",
        json={"billing_id": str(billing), "amount_fen": 100, "store_id": store},
        headers=auth("pos-integrator"),
    )
    assert forbidden.status_code == 403
