"""The second journey (issue 15), through the running cluster's HTTP APIs and the sandbox:

* an order paid by Alipay and cancelled: the intent deposit goes back through Alipay's refund
  API and the ledger shows it refunded, the deposit at zero;
* an intent billing paid twice at once (WeChat Pay and Alipay): billing asks the overpayment
  back, the gateway refunds it through the channel, the books show the billing amount paid;
* a channel-only line of a statement above the approval threshold: finance writes it off,
  a finance-approver approves, the ledger posts the adjustment once.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from otd_shared.testing.cluster import RunningCluster, eventually, order_with_intent_billing
from otd_shared.testing.journey import WAIT_S, Journey
from recon_service.testing.statement_files import Txn, wechat_bill

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")
STATEMENT_DAY = date(2031, 9, 23)  # a day no other test reconciles
CHANNEL_ONLY_FEN = 1_500_000  # 15,000.00 CNY: above the 10,000.00 approval threshold


async def _start(j: Journey, billing: dict[str, Any], channel: str, amount_fen: int) -> Any:
    return await j.start_payment(billing["billing_id"], channel, amount_fen)


async def _pay(j: Journey, payment: dict[str, Any]) -> None:
    action: dict[str, Any] = {
        "channel": payment["channel"],
        "out_trade_no": payment["out_trade_no"],
        "action": "pay",
    }
    if payment["channel"] == "alipay":
        action["order_string"] = payment["pay_params"]["order_string"]
    await j.sandbox(**action)


async def _refunds_of(j: Journey, payment_id: str, status: str) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        found = await j.get("payment-gateway", f"/v1/payments/{payment_id}/refunds")
        items = found if isinstance(found, list) else (found or {}).get("items", [])
        done = [r for r in items if r["status"] == status]
        return done or None

    refunds = await eventually(probe, timeout_s=WAIT_S)
    assert isinstance(refunds, list)
    return refunds


async def _statement_when(j: Journey, order_id: str, **summary: int) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = await j.get("ledger-service", f"/v1/orders/{order_id}/statement")
        got = (found or {}).get("summary", {})
        return found if all(got.get(k) == v for k, v in summary.items()) else None

    statement = await eventually(probe, timeout_s=WAIT_S)
    assert isinstance(statement, dict), summary
    return statement


async def _cancelled_and_refunded(j: Journey, cluster: RunningCluster) -> None:
    billing = await order_with_intent_billing(j.http, cluster)
    order_id, amount_fen = billing["order_id"], billing["outstanding_fen"]
    payment = await _start(j, billing, "alipay", amount_fen)
    await _pay(j, payment)
    await j.order_status(order_id, "intent_paid")
    await j.call(
        "POST",
        "order-service",
        f"/v1/orders/{order_id}/cancel",
        "app-backend",
        json={"reason": "customer changed their mind"},
    )
    (refund,) = await _refunds_of(j, payment["payment_id"], "succeeded")
    assert refund["amount_fen"] == amount_fen
    await _statement_when(j, order_id, paid_fen=amount_fen, refunded_fen=amount_fen)
    assert await j.account(f"deposits:{order_id}") == 0


async def _overpaid_and_refunded(j: Journey, cluster: RunningCluster) -> dict[str, Any]:
    billing = await order_with_intent_billing(j.http, cluster)
    order_id, amount_fen = billing["order_id"], billing["outstanding_fen"]
    wechat, alipay = await asyncio.gather(
        _start(j, billing, "wechatpay", amount_fen), _start(j, billing, "alipay", amount_fen)
    )
    await _pay(j, wechat)
    await j.billing(order_id, "intent", "paid")
    await _pay(j, alipay)  # the second one succeeds too: the billing is overpaid

    async def refunded() -> list[dict[str, Any]] | None:
        found = []
        for payment in (wechat, alipay):
            data = await j.get("payment-gateway", f"/v1/payments/{payment['payment_id']}/refunds")
            items = data if isinstance(data, list) else (data or {}).get("items", [])
            found += [r for r in items if r["status"] == "succeeded"]
        return found or None

    refunds = await eventually(refunded, timeout_s=WAIT_S)
    assert isinstance(refunds, list)
    assert sum(r["amount_fen"] for r in refunds) == amount_fen  # exactly the overpayment
    await _statement_when(j, order_id, paid_fen=2 * amount_fen, refunded_fen=amount_fen)
    assert await j.account(f"deposits:{order_id}") == -amount_fen  # one billing amount held
    return wechat


async def _discrepancy_with_a_second_approver(j: Journey) -> None:
    line = Txn(
        out_trade_no=f"P{uuid.uuid4().hex[:16].upper()}",
        channel_txn_id=f"4200{STATEMENT_DAY:%Y%m%d}{uuid.uuid4().int % 10**16:016d}",
        amount_fen=CHANNEL_ONLY_FEN,
        at=datetime.combine(STATEMENT_DAY, time(11, 5), SHANGHAI),
    )
    response = await j.http.post(
        j.urls["recon-service"] + "/v1/statements",
        data={"source": "wechatpay", "statement_date": STATEMENT_DAY.isoformat()},
        files={"file": ("trade-bill.csv", wechat_bill([line]))},
        headers=j.cluster.auth("finance"),
    )
    assert response.status_code in (200, 201), response.text
    run = await j.call(
        "POST",
        "recon-service",
        "/v1/recon-runs",
        "finance",
        json={"source": "wechatpay", "date": STATEMENT_DAY.isoformat()},
    )
    assert run["counts"]["channel_only"] == 1, run["counts"]
    found = await j.get(
        "recon-service",
        f"/v1/discrepancies?source=wechatpay&date={STATEMENT_DAY.isoformat()}&status=open",
    )
    items = found if isinstance(found, list) else found["items"]
    (discrepancy,) = [d for d in items if d["outcome"] == "channel_only"]
    held = await j.call(
        "POST",
        "recon-service",
        f"/v1/discrepancies/{discrepancy['discrepancy_id']}/resolve",
        "finance",
        json={"action": "write_off", "reason": "unknown credit, booked to differences"},
    )
    assert held["status"] == "pending_approval", held
    refused = await j.http.post(
        j.urls["recon-service"] + f"/v1/adjustments/{held['adjustment_id']}/approve",
        json={},
        headers=j.cluster.auth("finance"),
    )
    assert refused.status_code == 403  # the second person is a finance-approver
    approved = await j.call(
        "POST",
        "recon-service",
        f"/v1/adjustments/{held['adjustment_id']}/approve",
        "finance-approver",
        json={"reason": "checked against the bank statement"},
    )
    assert approved["status"] == "applied"

    async def posted() -> list[dict[str, Any]] | None:
        page = await j.get("ledger-service", "/v1/journals?account=recon_differences&limit=500")
        journals = [
            x
            for x in (page or {}).get("journals", [])
            if discrepancy["discrepancy_id"] in x["description"]
        ]
        return journals or None

    journals = await eventually(posted, timeout_s=WAIT_S)
    assert isinstance(journals, list)
    (journal,) = journals
    assert journal["total_debit_fen"] == CHANNEL_ONLY_FEN
    trail = await j.get(
        "recon-service", f"/v1/audit-log?subject_id={discrepancy['discrepancy_id']}"
    )
    assert [e["action"] for e in trail][:1] == ["resolve:write_off"]
    verified = await j.get("recon-service", "/v1/audit-log/verify")
    assert verified["ok"] is True


async def test_cancellation_overpayment_and_a_discrepancy_approved_by_a_second_person(
    running_cluster: RunningCluster, http: Any
) -> None:
    j = Journey(running_cluster, http)
    await _cancelled_and_refunded(j, running_cluster)
    await _overpaid_and_refunded(j, running_cluster)
    await _discrepancy_with_a_second_approver(j)
