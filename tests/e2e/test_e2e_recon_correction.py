"""Issue 11's "accept the channel" across the cluster: a WeChat statement line of 5,000.00
against our payment of 4,990.00 is an amount mismatch; finance accepts the channel, a
finance-approver approves (above the threshold), recon corrects the payment through the
gateway's API (real HTTP, service token), and PaymentCorrected moves billing and the ledger
once: the billing is paid, the order's deposits hold 5,000.00, no adjustment journal goes to
reconciliation differences, the trial balance balances. Re-running changes nothing."""

from __future__ import annotations

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
OURS_FEN, CHANNEL_FEN = 499_000, 500_000  # 4,990.00 recorded, 5,000.00 on the statement
STRANGER_DAY = date(2031, 10, 9)  # a day no other test reconciles


async def _paid(j: Journey, billing: dict[str, Any]) -> dict[str, Any]:
    return await _paid_fen(j, billing, OURS_FEN)


async def _paid_fen(j: Journey, billing: dict[str, Any], fen: int) -> dict[str, Any]:
    payment = await j.start_payment(billing["billing_id"], "wechatpay", fen)
    await j.sandbox(channel="wechatpay", out_trade_no=payment["out_trade_no"], action="pay")

    async def succeeded() -> dict[str, Any] | None:
        found = await j.get("payment-gateway", f"/v1/payments/{payment['payment_id']}")
        return found if found and found["status"] == "succeeded" else None

    done = await eventually(succeeded, timeout_s=WAIT_S)
    assert isinstance(done, dict)
    return done


async def _mismatch(j: Journey, payment: dict[str, Any]) -> dict[str, Any]:
    """The day's statement with the channel's 5,000.00 for our payment: an amount mismatch."""
    at = datetime.fromisoformat(payment["completed_at"]).astimezone(SHANGHAI)
    line = Txn(
        out_trade_no=payment["out_trade_no"],
        channel_txn_id=payment["channel_txn_id"],
        amount_fen=CHANNEL_FEN,
        at=at,
    )
    return await _discrepancy_of(j, [line], at.date(), payment["payment_id"])


async def _discrepancy_of(
    j: Journey, lines: list[Txn], day: date, record_ref: str
) -> dict[str, Any]:
    """Upload the day's WeChat statement and reconcile until recon's projection has our
    record (the run pairs it); the discrepancy of that record."""
    uploaded = await j.http.post(
        j.urls["recon-service"] + "/v1/statements",
        data={"source": "wechatpay", "statement_date": day.isoformat()},
        files={"file": ("trade-bill.csv", wechat_bill(lines))},
        headers=j.cluster.auth("finance"),
    )
    assert uploaded.status_code in (200, 201), uploaded.text

    async def found() -> dict[str, Any] | None:
        await j.call(
            "POST", "recon-service", "/v1/recon-runs", "finance",
            json={"source": "wechatpay", "date": day.isoformat()},
        )  # fmt: skip
        page = await j.get("recon-service", f"/v1/discrepancies?source=wechatpay&date={day}")
        mine = [d for d in page["items"] if d.get("record_ref") == record_ref]
        return mine[0] if mine else None

    discrepancy = await eventually(found, timeout_s=WAIT_S, interval_s=1.0)
    assert isinstance(discrepancy, dict)
    return discrepancy


async def _accepted(
    j: Journey, discrepancy: dict[str, Any], adjustment_fen: int = 1_000
) -> dict[str, Any]:
    held = await j.call(
        "POST",
        "recon-service",
        f"/v1/discrepancies/{discrepancy['discrepancy_id']}/resolve",
        "finance",
        json={"action": "accept_channel", "reason": "WeChat's bill shows 5,000.00"},
    )
    assert (held["status"], held["adjustment_fen"]) == ("pending_approval", adjustment_fen), held
    approved = await j.call(
        "POST",
        "recon-service",
        f"/v1/adjustments/{held['adjustment_id']}/approve",
        "finance-approver",
        json={"reason": "checked with WeChat Pay"},
    )
    assert approved["status"] == "applied", approved
    assert approved["payment_id"], approved
    assert approved["correction_id"], approved
    return approved


async def _recon_difference_journals(j: Journey, discrepancy_id: str) -> list[dict[str, Any]]:
    page = await j.get("ledger-service", "/v1/journals?account=recon_differences&limit=500")
    return [x for x in (page or {}).get("journals", []) if discrepancy_id in x["description"]]


async def test_accept_channel_corrects_the_payment_and_moves_the_money_once(
    running_cluster: RunningCluster, http: Any
) -> None:
    j = Journey(running_cluster, http)
    billing = await order_with_intent_billing(http, running_cluster)
    assert billing["outstanding_fen"] == CHANNEL_FEN
    order_id = billing["order_id"]
    payment = await _paid(j, billing)
    await j.billing(order_id, "intent", "partially_paid")
    discrepancy = await _mismatch(j, payment)
    assert discrepancy["outcome"] == "amount_mismatch"
    assert (discrepancy["line_amount_fen"], discrepancy["record_amount_fen"]) == (
        CHANNEL_FEN,
        OURS_FEN,
    )
    adjustment = await _accepted(j, discrepancy)
    assert adjustment["payment_id"] == payment["payment_id"]

    corrected = await j.get("payment-gateway", f"/v1/payments/{payment['payment_id']}")
    assert (corrected["status"], corrected["amount_fen"]) == ("succeeded", CHANNEL_FEN)
    corrections = await j.get(
        "payment-gateway", f"/v1/payments/{payment['payment_id']}/corrections"
    )
    assert [(c["correction_id"], c["delta_fen"]) for c in corrections] == [
        (adjustment["correction_id"], 1_000)
    ]
    await j.billing(order_id, "intent", "paid")

    async def deposits_held(fen: int) -> bool:
        return await j.account(f"deposits:{order_id}") == -fen

    await eventually(lambda: deposits_held(CHANNEL_FEN), timeout_s=WAIT_S)
    statement = await j.get("ledger-service", f"/v1/orders/{order_id}/statement")
    assert statement["summary"]["paid_fen"] == CHANNEL_FEN
    deposits = [
        line["credit_fen"] - line["debit_fen"]
        for line in statement["lines"]
        if line["account"] == f"deposits:{order_id}"
    ]
    assert sorted(deposits) == [1_000, OURS_FEN]  # the payment, then the correction: once each
    assert await _recon_difference_journals(j, discrepancy["discrepancy_id"]) == []
    day = datetime.fromisoformat(payment["completed_at"]).astimezone(SHANGHAI).date()
    trial = await j.get("ledger-service", f"/v1/trial-balance?date={day.isoformat()}")
    assert trial["total_debit_fen"] == trial["total_credit_fen"]

    # Again: nothing new anywhere.
    twice = await http.post(
        running_cluster.urls["recon-service"]
        + f"/v1/adjustments/{adjustment['adjustment_id']}/approve",
        json={},
        headers=running_cluster.auth("finance-approver"),
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "adjustment_not_pending")
    rerun = await j.call(
        "POST", "recon-service", "/v1/recon-runs", "finance",
        json={"source": "wechatpay", "date": day.isoformat()},
    )  # fmt: skip

    async def matched_now() -> bool:
        page = await j.get(
            "recon-service", f"/v1/recon-runs/{rerun['run_id']}/results?outcome=matched&limit=500"
        )
        items = page if isinstance(page, list) else page.get("items", [])
        return any(r.get("record_ref") == payment["payment_id"] for r in items)

    assert await matched_now()
    listed = await j.get(
        "recon-service", f"/v1/discrepancies?source=wechatpay&date={day}&status=resolved"
    )
    assert [
        d["discrepancy_id"] for d in listed["items"] if d.get("record_ref") == payment["payment_id"]
    ] == [discrepancy["discrepancy_id"]]
    await eventually(lambda: deposits_held(CHANNEL_FEN), timeout_s=5)
    again = await j.get("payment-gateway", f"/v1/payments/{payment['payment_id']}/corrections")
    assert len(again) == 1


def _line(out_trade_no: str, fen: int, at: datetime) -> Txn:
    txn_id = f"4200{at:%Y%m%d}{uuid.uuid4().int % 10**16:016d}"
    return Txn(out_trade_no=out_trade_no, channel_txn_id=txn_id, amount_fen=fen, at=at)


async def test_channel_only_lines_correct_a_paying_payment_and_park_a_stranger(
    running_cluster: RunningCluster, http: Any
) -> None:
    j = Journey(running_cluster, http)
    billing = await order_with_intent_billing(http, running_cluster)
    # the customer paid, but no notification or query told us: it stays paying
    paying = await j.start_payment(billing["billing_id"], "wechatpay", 200_000)
    day = STRANGER_DAY
    at = datetime.combine(day, time(9, 30), SHANGHAI)
    ours = _line(paying["out_trade_no"], 200_000, at)
    stranger = _line(f"P{uuid.uuid4().hex[:16].upper()}", 70_000, at)
    uploaded = await http.post(
        running_cluster.urls["recon-service"] + "/v1/statements",
        data={"source": "wechatpay", "statement_date": day.isoformat()},
        files={"file": ("trade-bill.csv", wechat_bill([ours, stranger]))},
        headers=running_cluster.auth("finance"),
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    run = await j.call(
        "POST", "recon-service", "/v1/recon-runs", "finance",
        json={"source": "wechatpay", "date": day.isoformat()},
    )  # fmt: skip
    assert run["counts"]["channel_only"] == 2, run["counts"]
    page = await j.get("recon-service", f"/v1/discrepancies?source=wechatpay&date={day}")
    by_amount = {d["line_amount_fen"]: d for d in page["items"]}

    parked = await http.post(
        running_cluster.urls["recon-service"]
        + f"/v1/discrepancies/{by_amount[70_000]['discrepancy_id']}/resolve",
        json={"action": "accept_channel", "reason": "the bill says so"},
        headers=running_cluster.auth("finance"),
    )
    assert (parked.status_code, parked.json()["code"]) == (409, "no_payment_to_correct")
    still = await j.get("recon-service", f"/v1/discrepancies?source=wechatpay&date={day}")
    assert {d["line_amount_fen"]: d["status"] for d in still["items"]}[70_000] == "open"

    held = await j.call(
        "POST",
        "recon-service",
        f"/v1/discrepancies/{by_amount[200_000]['discrepancy_id']}/resolve",
        "finance",
        json={"action": "accept_channel", "reason": "WeChat settled it"},
    )
    approved = await j.call(
        "POST",
        "recon-service",
        f"/v1/adjustments/{held['adjustment_id']}/approve",
        "finance-approver",
        json={},
    )
    assert approved["payment_id"] == paying["payment_id"]
    payment = await j.get("payment-gateway", f"/v1/payments/{paying['payment_id']}")
    assert (payment["status"], payment["amount_fen"]) == ("succeeded", 200_000)

    async def deposits() -> bool:
        return await j.account(f"deposits:{billing['order_id']}") == -200_000

    await eventually(deposits, timeout_s=WAIT_S)


@pytest.mark.parametrize("channel_refund_fen", [35_000, 25_000], ids=["larger", "smaller"])
async def test_a_refund_the_channel_made_larger_or_smaller_is_corrected_once(
    running_cluster: RunningCluster, http: Any, channel_refund_fen: int
) -> None:
    j = Journey(running_cluster, http)
    billing = await order_with_intent_billing(http, running_cluster)
    order_id = billing["order_id"]
    payment = await _paid_fen(j, billing, CHANNEL_FEN)
    asked = await j.call(
        "POST",
        "payment-gateway",
        f"/v1/payments/{payment['payment_id']}/refunds",
        "finance",
        headers={"Idempotency-Key": uuid.uuid4().hex},
        json={"amount_fen": 30_000, "reason": "goodwill"},
    )

    async def refunded() -> dict[str, Any] | None:
        found = await j.get("payment-gateway", f"/v1/refunds/{asked['refund_id']}")
        return found if found and found["status"] == "succeeded" else None

    refund = await eventually(refunded, timeout_s=WAIT_S)
    assert isinstance(refund, dict)
    at = datetime.fromisoformat(payment["completed_at"]).astimezone(SHANGHAI)
    lines = [
        Txn(out_trade_no=payment["out_trade_no"], channel_txn_id=payment["channel_txn_id"],
            amount_fen=CHANNEL_FEN, at=at),
        Txn(out_trade_no=payment["out_trade_no"], channel_txn_id=payment["channel_txn_id"],
            amount_fen=channel_refund_fen, at=at, refund=True,
            out_refund_no=refund["out_refund_no"]),
    ]  # fmt: skip
    discrepancy = await _discrepancy_of(j, lines, at.date(), refund["refund_id"])
    assert (discrepancy["outcome"], discrepancy["kind"]) == ("amount_mismatch", "refund")
    # The adjustment is what the channel moved minus what we hold: a larger refund took
    # money out of the deposits, a smaller one gives it back.
    adjustment = await _accepted(j, discrepancy, adjustment_fen=30_000 - channel_refund_fen)
    assert adjustment["payment_id"] == payment["payment_id"]
    corrected = await j.get("payment-gateway", f"/v1/refunds/{refund['refund_id']}")
    assert corrected["amount_fen"] == channel_refund_fen

    async def deposits_held() -> bool:
        return await j.account(f"deposits:{order_id}") == -(CHANNEL_FEN - channel_refund_fen)

    await eventually(deposits_held, timeout_s=WAIT_S)

    async def billing_counts_it() -> bool:  # billing's consumer may trail the ledger's
        fund = await j.get("billing-service", f"/v1/orders/{order_id}/fund-order")
        intent = next(b for b in fund["billings"] if b["stage"] == "intent")
        return bool(intent["paid_fen"] == CHANNEL_FEN - channel_refund_fen)

    await eventually(billing_counts_it, timeout_s=WAIT_S)
    assert await _recon_difference_journals(j, discrepancy["discrepancy_id"]) == []
