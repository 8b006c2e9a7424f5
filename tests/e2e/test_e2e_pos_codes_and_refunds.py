"""Offline paths of issue 10 through the running cluster's HTTP APIs and the sandbox only:

* part of the firm deposit by a payment code (付款码) that first answers "user paying" (the
  customer enters a password), then is paid: the gateway settles it once;
* the rest by two UnionPay order QRs for the same amount, both swiped: billing asks the
  overpayment back, the gateway refunds it through the acquirer (UnionPay 退货 or, if billing
  picks the code's payment, Alipay), nothing lands in the offline refunds queue, and the
  billing ends paid at exactly its amount;
* a firm deposit paid by a WeChat code (API v2 micropay, paid at once) and a UnionPay 云闪付
  code (ACP 被扫) that first waits for the customer: both settle once, the billing is paid.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from otd_shared.testing.cluster import RunningCluster, eventually
from otd_shared.testing.journey import WAIT_S, Journey

pytestmark = pytest.mark.e2e
PRICE_FEN = 30_000_000
CODE_FEN = 1_000_000
USER_PAYING_CODE = "280000000000000009"  # the sandbox: a password is needed first
WECHAT_PAID_CODE = "134567890123456781"  # micropay: paid at once
UNIONPAY_USER_PAYING_CODE = "6212345678901234569"  # 被扫: accepted, the customer confirms


async def _order_locked(j: Journey) -> str:
    order = await j.call(
        "POST",
        "order-service",
        "/v1/orders",
        "app-backend",
        json={
            "customer_id": f"cust-{uuid.uuid4().hex[:8]}",
            "vehicle_model": "OTD-S",
            "price_fen": PRICE_FEN,
            "loan_fen": 0,
            "charging_pile": False,
        },
    )
    order_id = str(order["order_id"])
    intent = await j.payable(order_id, "intent")
    payment = await j.call(
        "POST",
        "payment-gateway",
        "/v1/payments",
        "app-backend",
        headers={"Idempotency-Key": uuid.uuid4().hex},
        json={
            "billing_id": intent["billing_id"],
            "channel": "wechatpay",
            "amount_fen": intent["outstanding_fen"],
        },
    )
    await j.sandbox(channel="wechatpay", out_trade_no=payment["out_trade_no"], action="pay")
    await j.billing(order_id, "intent", "paid")
    await j.order_status(order_id, "intent_paid")  # order-service heard it too: the lock gate
    await j.call("POST", "order-service", f"/v1/orders/{order_id}/lock", "app-backend")
    return order_id


async def _store(j: Journey, acquirer: str) -> tuple[str, str]:
    """A new registered store with one terminal of ``acquirer``: (store id, terminal id)."""
    store = f"S{uuid.uuid4().hex[:6].upper()}"
    terminal = f"T-{acquirer[:2].upper()}-{store}"
    await j.call(
        "PUT",
        "payment-gateway",
        f"/v1/pos/stores/{store}",
        "sre",
        json={"name": "Codes store", "terminals": {terminal: acquirer}},
    )
    return store, terminal


async def _two_swipes(
    j: Journey, billing_id: str, amount_fen: int, store: str, terminal: str
) -> list[dict[str, Any]]:
    """Two UnionPay charges of ``amount_fen`` each, both fetched before either is paid (so
    together they overpay the billing)."""
    qrs = [await _qr(j, billing_id, amount_fen, store) for _ in range(2)]
    return [
        await j.call(
            "POST",
            "payment-gateway",
            "/v1/pos/charges",
            "pos-integrator",
            json={"token": issued["token"], "terminal_id": terminal, "channel": "unionpay"},
        )
        for issued in qrs
    ]


async def _qr(j: Journey, billing_id: str, amount_fen: int, store: str) -> dict[str, Any]:
    qr: dict[str, Any] = await j.call(
        "POST",
        "payment-gateway",
        "/v1/pos/order-qr",
        "app-backend",
        json={"billing_id": billing_id, "amount_fen": amount_fen, "store_id": store},
    )
    return qr


async def _succeeded(j: Journey, payment_id: str) -> None:
    async def probe() -> bool:
        shown = await j.get("payment-gateway", f"/v1/payments/{payment_id}")
        return bool(shown and shown["status"] == "succeeded")

    await eventually(probe, timeout_s=WAIT_S)


async def test_payment_code_then_overpaying_swipes_refunded_by_the_acquirer(
    running_cluster: RunningCluster, http: Any
) -> None:
    j = Journey(running_cluster, http)
    order_id = await _order_locked(j)
    store, terminal = await _store(j, "unionpay")
    firm = await j.payable(order_id, "firm")

    qr = await _qr(j, firm["billing_id"], CODE_FEN, store)
    code = await j.call(
        "POST",
        "payment-gateway",
        "/v1/pos/payment-codes",
        "pos-integrator",
        json={"token": qr["token"], "terminal_id": terminal, "auth_code": USER_PAYING_CODE},
    )
    assert (code["channel"], code["status"]) == ("alipay", "paying")
    await j.sandbox(channel="alipay", out_trade_no=code["out_trade_no"], action="pay")
    await _succeeded(j, code["payment_id"])

    rest_fen = firm["outstanding_fen"] - CODE_FEN
    swipes = await _two_swipes(j, firm["billing_id"], rest_fen, store, terminal)
    for charge in swipes:
        await j.sandbox(
            channel="unionpay",
            out_trade_no=charge["out_trade_no"],
            action="pay",
            amount_fen=rest_fen,
        )
    for swipe in swipes:
        await _succeeded(j, swipe["payment_id"])

    paid_ids = [code["payment_id"], *(s["payment_id"] for s in swipes)]

    async def refunded() -> list[dict[str, Any]] | None:
        found = []
        for payment_id in paid_ids:
            refunds = await j.get("payment-gateway", f"/v1/payments/{payment_id}/refunds")
            found += [r for r in refunds or [] if r["status"] == "succeeded"]
        return found if sum(r["amount_fen"] for r in found) >= rest_fen else None

    done = await eventually(refunded, timeout_s=WAIT_S)
    assert sum(r["amount_fen"] for r in done) == rest_fen
    assert {r["channel"] for r in done} <= {"unionpay", "alipay"}  # through a channel's API

    async def settled() -> dict[str, Any] | None:
        fund = await j.get("billing-service", f"/v1/orders/{order_id}/fund-order", "finance")
        billing = next(b for b in fund["billings"] if b["stage"] == "firm")
        return billing if billing["paid_fen"] == billing["amount_fen"] else None

    billing = await eventually(settled, timeout_s=WAIT_S)
    assert billing["status"] == "paid"
    queue = await j.get(
        "payment-gateway", f"/v1/offline-refunds?billing_id={firm['billing_id']}", "finance"
    )
    assert queue["total"] == 0, queue


async def test_wechat_and_unionpay_codes_pay_the_firm_deposit(
    running_cluster: RunningCluster, http: Any
) -> None:
    j = Journey(running_cluster, http)
    order_id = await _order_locked(j)
    store, terminal = await _store(j, "allinpay")  # any terminal charges codes at their channel
    firm = await j.payable(order_id, "firm")

    async def charge(amount_fen: int, auth_code: str) -> dict[str, Any]:
        qr = await _qr(j, firm["billing_id"], amount_fen, store)
        charged: dict[str, Any] = await j.call(
            "POST",
            "payment-gateway",
            "/v1/pos/payment-codes",
            "pos-integrator",
            json={"short_code": qr["short_code"], "terminal_id": terminal, "auth_code": auth_code},
        )
        return charged

    wechat = await charge(CODE_FEN, WECHAT_PAID_CODE)
    assert (wechat["channel"], wechat["method"], wechat["status"]) == (
        "wechatpay",
        "bar_code",
        "succeeded",
    )
    unionpay = await charge(firm["outstanding_fen"] - CODE_FEN, UNIONPAY_USER_PAYING_CODE)
    assert (unionpay["channel"], unionpay["status"]) == ("unionpay", "paying")
    await j.sandbox(channel="unionpay", out_trade_no=unionpay["out_trade_no"], action="pay")
    await _succeeded(j, unionpay["payment_id"])  # the gateway's queries found it paid
    await j.billing(order_id, "firm", "paid")
    for payment_id in (wechat["payment_id"], unionpay["payment_id"]):
        shown = await j.get("payment-gateway", f"/v1/payments/{payment_id}")
        assert shown["channel_txn_id"], shown


async def test_a_refused_pos_refund_is_paid_by_bank_transfer_and_booked_from_the_bank(
    running_cluster: RunningCluster, http: Any
) -> None:
    """Two UnionPay swipes overpay the firm deposit; UnionPay refuses the refund (退货), so
    the gateway queues it for finance, who pays it by bank transfer: the ledger books the
    payout Dr deposits / Cr bank, never the UnionPay clearing account (which keeps the two
    swipes the acquirer will settle), and the order's deposits hold exactly the billing."""
    j = Journey(running_cluster, http)
    order_id = await _order_locked(j)
    store, terminal = await _store(j, "unionpay")
    firm = await j.payable(order_id, "firm")
    rest_fen = firm["outstanding_fen"]
    swipes = await _two_swipes(j, firm["billing_id"], rest_fen, store, terminal)
    for charge in swipes:
        order = {"channel": "unionpay", "out_trade_no": charge["out_trade_no"]}
        await j.sandbox(**order, action="refuse_refunds", amount_fen=rest_fen)
        await j.sandbox(**order, action="pay", amount_fen=rest_fen)
    for swipe in swipes:
        await _succeeded(j, swipe["payment_id"])

    async def queued() -> dict[str, Any] | None:
        page = await j.get(
            "payment-gateway",
            f"/v1/offline-refunds?billing_id={firm['billing_id']}&status=open",
            "finance",
        )
        items = (page or {}).get("items", [])
        return items[0] if items else None

    item = await eventually(queued, timeout_s=WAIT_S)
    assert (item["channel"], item["payout_method"], item["amount_fen"]) == (
        "unionpay",
        "bank_transfer",
        rest_fen,
    )
    done = await j.call(
        "POST",
        "payment-gateway",
        f"/v1/offline-refunds/{item['offline_refund_id']}/complete",
        "finance",
        json={"method": "bank_transfer", "reference": f"BT-{uuid.uuid4().hex[:12]}"},
    )
    if done["status"] == "pending_approval":  # above the approval threshold
        done = await j.call(
            "POST",
            "payment-gateway",
            f"/v1/offline-refunds/{item['offline_refund_id']}/approve",
            "finance-approver",
        )
    assert done["status"] == "completed", done

    async def booked() -> list[dict[str, Any]] | None:
        statement = await j.get("ledger-service", f"/v1/orders/{order_id}/statement")
        lines = (statement or {}).get("lines", [])
        refunds = [line for line in lines if line["debit_fen"] and "deposits:" in line["account"]]
        return lines if refunds else None

    lines = await eventually(booked, timeout_s=WAIT_S)
    moves = {(line["account"], line["debit_fen"], line["credit_fen"]) for line in lines}
    paid_out = [m for m in moves if m[0].startswith("bank:")]
    assert paid_out == [(paid_out[0][0], 0, rest_fen)], lines  # Cr bank, the payout
    swiped = [m for m in lines if m["account"] == "clearing:unionpay"]
    assert sorted((m["debit_fen"], m["credit_fen"]) for m in swiped) == [(rest_fen, 0)] * 2
    assert (f"deposits:{order_id}", rest_fen, 0) in moves  # the refund left the deposits

    async def billing_paid() -> dict[str, Any] | None:
        fund = await j.get("billing-service", f"/v1/orders/{order_id}/fund-order", "finance")
        billing = next(b for b in fund["billings"] if b["stage"] == "firm")
        return billing if billing["paid_fen"] == billing["amount_fen"] else None

    assert (await eventually(billing_paid, timeout_s=WAIT_S))["status"] == "paid"
