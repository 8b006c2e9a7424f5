"""The full journey of one car, through the running cluster's HTTP APIs and the channel
sandbox only (issue 15; the offline paths of issue 10):

an order with a loan and a charging pile → the intent deposit by WeChat Pay → lock → the firm
deposit by two UnionPay POS swipes of order QRs → production → ready for delivery → the final
payment by a wire matched by the payer's card last 4 plus the loan disbursement → delivered →
the next morning's statements, fetched by recon's own daily scheduler when its (driven) clock
says 14:30 of the next day (the sandbox publishes today's bills early), reconciled with our
three channel payments matched → the ledger balanced, the customer's deposit moved to revenue,
suspense back at zero for the wire → the day's SAP document posted.

Nothing is published or written by hand: every event comes from a service's own outbox.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster, eventually
from otd_shared.testing.journey import WAIT_S, Journey
from recon_service.bootstrap import ENTRY as RECON
from recon_service.bootstrap import daily_scheduler
from recon_service.config import ReconSettings
from recon_service.testing.clock import DrivenClock

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")
PRICE_FEN = 32_000_000
LOAN_FEN = 12_000_000
FIRST_SWIPE_FEN = 3_000_000  # a card limit: the firm deposit takes two swipes
PAYER_CARD = "6222020200112233445"


async def _order(j: Journey, customer_id: str) -> str:
    await j.call(
        "PUT",
        "payment-gateway",
        f"/v1/customers/{customer_id}/payer-accounts",
        "app-backend",
        json={"accounts": [PAYER_CARD]},
    )
    order = await j.call(
        "POST",
        "order-service",
        "/v1/orders",
        "app-backend",
        json={
            "customer_id": customer_id,
            "vehicle_model": "OTD-S",
            "price_fen": PRICE_FEN,
            "loan_fen": LOAN_FEN,
            "charging_pile": True,
        },
    )
    return str(order["order_id"])


async def _intent_by_wechat(j: Journey, order_id: str) -> dict[str, Any]:
    intent = await j.payable(order_id, "intent")
    payment = await j.start_payment(intent["billing_id"], "wechatpay", intent["outstanding_fen"])
    await j.sandbox(channel="wechatpay", out_trade_no=payment["out_trade_no"], action="pay")
    await j.billing(order_id, "intent", "paid")
    await j.order_status(order_id, "intent_paid")
    return payment


async def _firm_by_two_swipes(j: Journey, order_id: str) -> list[dict[str, Any]]:
    store = f"S{uuid.uuid4().hex[:6].upper()}"
    terminal = f"T-UP-{store}"
    await j.call(
        "PUT",
        "payment-gateway",
        f"/v1/pos/stores/{store}",
        "sre",
        json={"name": "Journey store", "terminals": {terminal: "unionpay"}},
    )
    firm = await j.payable(order_id, "firm")
    swipes = []
    for amount_fen in (FIRST_SWIPE_FEN, firm["outstanding_fen"] - FIRST_SWIPE_FEN):
        qr = await j.call(
            "POST",
            "payment-gateway",
            "/v1/pos/order-qr",
            "app-backend",
            json={"billing_id": firm["billing_id"], "amount_fen": amount_fen, "store_id": store},
        )
        charge = await j.call(
            "POST",
            "payment-gateway",
            "/v1/pos/charges",
            "pos-integrator",
            json={"token": qr["token"], "terminal_id": terminal, "channel": "unionpay"},
        )
        assert (charge["amount_fen"], charge["status"]) == (amount_fen, "paying")
        await j.sandbox(
            channel="unionpay",
            out_trade_no=charge["out_trade_no"],
            action="pay",
            amount_fen=amount_fen,
        )
        swipes.append(charge)
    paid = await j.billing(order_id, "firm", "paid")
    assert paid["paid_fen"] == firm["outstanding_fen"]
    for swipe in swipes:
        shown = await j.get("payment-gateway", f"/v1/payments/{swipe['payment_id']}")
        assert shown["status"] == "succeeded", shown
    return swipes


async def _production_to_ready(j: Journey, order_id: str) -> None:
    async def scheduled() -> bool:
        order = await j.get("order-service", f"/v1/orders/{order_id}", "app-backend")
        subs = {s["kind"]: s for s in (order or {}).get("sub_orders", [])}
        return subs.get("production", {}).get("status") == "scheduled"

    await eventually(scheduled, timeout_s=WAIT_S)
    orders = f"/v1/orders/{order_id}"
    await j.call(
        "POST", "order-service", f"{orders}/loan/submit", "bank", json={"bank_code": "ICBC"}
    )
    await j.call(
        "POST", "order-service", f"{orders}/loan/approve", "bank", json={"principal_fen": LOAN_FEN}
    )
    await j.call(
        "POST",
        "order-service",
        f"{orders}/production/built",
        "sre",
        json={"vin": "LSVAU2180N2183294"},
    )
    await j.call("POST", "order-service", f"{orders}/production/shipped", "sre")
    ready = await j.call(
        "POST",
        "order-service",
        f"{orders}/production/arrived",
        "sre",
        json={"delivery_centre": "SH-Pudong"},
    )
    assert ready["status"] == "ready_for_delivery"


async def _final_by_wire_and_loan(j: Journey, order_id: str) -> dict[str, Any]:
    final = await j.billing(order_id, "final", "due")
    self_pay_fen = final["customer_payable_fen"]
    await j.call(
        "POST",
        "order-service",
        f"/v1/orders/{order_id}/loan/disburse",
        "bank",
        json={"amount_fen": LOAN_FEN, "bank_reference": f"LOAN-{order_id[:8]}"},
    )
    await j.payable(order_id, "final")
    intake = await j.call(
        "POST",
        "payment-gateway",
        "/v1/wires",
        "bank",
        json={
            "transfers": [
                {
                    "bank_reference": f"WIRE-{uuid.uuid4().hex[:12]}",
                    "payer_name": "Journey Customer",
                    "payer_account": PAYER_CARD,
                    "amount_fen": self_pay_fen,
                    "value_date": datetime.now(UTC).astimezone(SHANGHAI).date().isoformat(),
                    "memo": f"final payment {order_id[:8]}",
                }
            ]
        },
    )
    (result,) = intake["results"]
    assert (result["status"], result["billing_id"]) == ("matched", final["billing_id"]), result
    paid = await j.billing(order_id, "final", "paid")
    assert (paid["paid_fen"], paid["loan_paid_fen"]) == (self_pay_fen, LOAN_FEN)
    await j.order_status(order_id, "final_paid")
    return result


async def _statements_next_day(
    j: Journey, database_url: str, archive: Path, paid: list[str]
) -> None:
    """Recon's daily scheduler at 14:30 tomorrow fetches today's WeChat and UnionPay bills
    and reconciles the day; our channel payments are matched."""
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    await j.call(
        "POST", "channel-sandbox", "/sandbox/bills/publish-day", None, json={"date": str(day)}
    )
    settings = ReconSettings(
        database_url=database_url,
        kafka_bootstrap_servers=j.cluster.kafka_bootstrap,
        kafka_topic_prefix=j.cluster.topic_prefix,
        channel_sandbox_url=j.urls["channel-sandbox"],
        keys_dir=j.cluster.var_dir / "keys",
        statement_archive_dir=archive,
        fetch_backoff_ms=0,
        log_json=False,
    )
    runtime = RECON.build_runtime(settings)
    try:
        at = datetime.combine(day + timedelta(days=1), time(14, 31), SHANGHAI)
        scheduler = daily_scheduler(runtime, DrivenClock(at))
        assert await scheduler.tick() == day
    finally:
        await runtime.engine.dispose()
    outcomes = {}
    for source in ("wechatpay", "unionpay"):
        outcomes.update(await _outcomes(j, source, day))
    assert {ref: outcomes.get(ref) for ref in paid} == dict.fromkeys(paid, "matched")


async def _outcomes(j: Journey, source: str, day: date) -> dict[str, str]:
    """record_ref → outcome of the day's current run of a source."""
    runs = await j.get("recon-service", f"/v1/recon-runs?source={source}&date={day}")
    items = runs if isinstance(runs, list) else runs["items"]
    assert items, f"no {source} run for {day}"
    run_id, found, offset = items[0]["run_id"], {}, 0
    while True:
        page = await j.get(
            "recon-service", f"/v1/recon-runs/{run_id}/results?limit=500&offset={offset}"
        )
        for result in page["items"]:
            if result["record_ref"]:
                found[result["record_ref"]] = result["outcome"]
        offset += len(page["items"])
        if not page["items"] or offset >= page.get("total", offset):
            return found


async def _suspense_of_wire(j: Journey, wire_id: str) -> int:
    """Net debit of ``suspense`` over the journals of one wire (received, claimed)."""
    net, after, seen = 0, 0, 0
    while True:
        page = await j.get("ledger-service", f"/v1/journals?account=suspense&after={after}")
        for journal in page["journals"]:
            if wire_id not in journal["description"]:
                continue
            seen += 1
            for line in journal["lines"]:
                if line["account"] == "suspense":
                    net += line["debit_fen"] - line["credit_fen"]
        if not page.get("next_after"):
            break
        after = page["next_after"]
    assert seen == 2, f"wire {wire_id}: {seen} suspense journals, expected received + claimed"
    return net


async def _books(j: Journey, order_id: str, wire: dict[str, Any]) -> None:
    async def recognised() -> dict[str, Any] | None:
        found = await j.get("ledger-service", f"/v1/orders/{order_id}/statement")
        summary = (found or {}).get("summary", {})
        return found if summary.get("recognised_fen") == PRICE_FEN else None

    statement = await eventually(recognised, timeout_s=WAIT_S)
    assert isinstance(statement, dict)
    assert statement["summary"]["paid_fen"] == PRICE_FEN
    assert await j.account(f"deposits:{order_id}") == 0  # all of it moved to revenue
    assert await _suspense_of_wire(j, wire["wire_id"]) == 0  # received, then claimed
    assert wire["rule"]
    today = datetime.now(UTC).astimezone(SHANGHAI).date().isoformat()
    trial = await j.get("ledger-service", f"/v1/trial-balance?date={today}")
    assert trial["total_debit_fen"] == trial["total_credit_fen"] > 0
    integrity = await j.get("ledger-service", "/v1/integrity")
    assert integrity["ok"] is True, integrity["violations"]
    run = await j.call("POST", "ledger-service", "/v1/sap/runs", "finance", json={"date": today})
    assert run["documents"]
    assert {d["status"] for d in run["documents"]} == {"acknowledged"}


async def test_the_full_journey_of_one_car_through_the_cluster(
    running_cluster: RunningCluster,
    http: httpx.AsyncClient,
    cluster_database: str,
    tmp_path: Path,
) -> None:
    j = Journey(running_cluster, http)
    order_id = await _order(j, f"cust-{uuid.uuid4().hex[:8]}")
    intent = await _intent_by_wechat(j, order_id)
    await j.call("POST", "order-service", f"/v1/orders/{order_id}/lock", "app-backend")
    swipes = await _firm_by_two_swipes(j, order_id)
    await _production_to_ready(j, order_id)
    wire = await _final_by_wire_and_loan(j, order_id)
    delivered = await j.call(
        "POST", "order-service", f"/v1/orders/{order_id}/deliver", "app-backend"
    )
    assert delivered["status"] == "delivered"
    paid = [intent["payment_id"], *(s["payment_id"] for s in swipes)]
    await _statements_next_day(j, cluster_database, tmp_path / "archive", paid)
    await _books(j, order_id, wire)
