"""Wires: payer accounts (masked), intake by API and file, auto-match by last 4, the claim
queue (split, second approver, reject, unclaim) and ageing; events for billing and ledger."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.testing.harness import Harness, auth

pytestmark = pytest.mark.integration
CARD = "6228480012345678"


def _ref() -> str:
    return f"BR{uuid.uuid4().hex[:16].upper()}"


def _transfer(
    amount_fen: int, *, account: str = CARD, memo: str = "", **extra: Any
) -> dict[str, Any]:
    return {
        "bank_reference": _ref(),
        "bank_account": "ICBC-001",
        "payer_name": "Zhang San",
        "payer_account": account,
        "amount_fen": amount_fen,
        "value_date": datetime.now(CHANNEL_TZ).date().isoformat(),
        "memo": memo,
        **extra,
    }


async def _wires(h: Harness, *transfers: dict[str, Any]) -> list[dict[str, Any]]:
    response = await h.client.post(
        "/v1/wires", json={"transfers": list(transfers)}, headers=auth("bank")
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def _customer_with_card(h: Harness, card: str = CARD) -> str:
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    put = await h.client.put(
        f"/v1/customers/{customer}/payer-accounts", json={"accounts": [card]}, headers=auth()
    )
    assert put.status_code == 200, put.text
    return customer


async def test_payer_accounts_are_stored_masked_to_bin_and_last4(harness: Harness) -> None:
    customer = await _customer_with_card(harness, "6228 4800 1234 5678")
    got = await harness.client.get(f"/v1/customers/{customer}/payer-accounts", headers=auth())
    assert got.json()["accounts"] == ["622848******5678"]
    bad = await harness.client.put(
        f"/v1/customers/{customer}/payer-accounts", json={"accounts": ["12ab"]}, headers=auth()
    )
    assert bad.status_code == 422
    refused = await harness.client.put(
        f"/v1/customers/{customer}/payer-accounts", json={"accounts": [CARD]}, headers=auth("bank")
    )
    assert refused.status_code == 403


async def test_wire_matched_by_last4_and_amount_pays_the_billing(harness: Harness) -> None:
    customer = await _customer_with_card(harness, "6222020000009911")
    billing = await harness.due_billing(stage="firm", amount_fen=8_000_000, customer_id=customer)
    transfer = _transfer(8_000_000, account="6217000000009911")
    [result] = await _wires(harness, transfer)
    assert result["status"] == "matched", result
    assert result["billing_id"] == str(billing)
    assert result["rule"] == "last4_exact_amount"
    [again] = await _wires(harness, transfer)
    assert again["status"] == "duplicate"
    assert again["billing_id"] == str(billing)
    received = await harness.outbox_events("WireReceived", result["wire_id"])
    assert len(received) == 1
    assert received[0]["matched_order_id"] is None
    assert received[0]["payer_account_last4"] == "9911"
    [claimed] = await harness.outbox_events("WireClaimed", result["wire_id"])
    assert claimed["amount_fen"] == 8_000_000
    paid = await harness.outbox_events("PaymentCallback", str(billing))
    assert [(p["channel"], p["outcome"], p["amount_fen"]) for p in paid] == [
        ("wire", "succeeded", 8_000_000)
    ]
    wire = await harness.client.get(f"/v1/wires/{result['wire_id']}", headers=auth("cashier"))
    body = wire.json()
    assert body["payer_account"] == "621700******9911"
    assert body["unclaimed_fen"] == 0
    assert "6217000000009911" not in wire.text


async def test_ambiguous_or_unknown_wires_wait_in_the_claim_queue(harness: Harness) -> None:
    customer = await _customer_with_card(harness, "6222020000007722")
    for _ in range(2):
        await harness.due_billing(stage="firm", amount_fen=3_000_000, customer_id=customer)
    ambiguous, unknown = await _wires(
        harness,
        _transfer(3_000_000, account="6222020000007722"),
        _transfer(123_456, account="40001111"),
    )
    assert ambiguous["status"] == "queued"
    assert ambiguous["billing_id"] is None
    assert unknown["status"] == "queued"
    queue = await harness.client.get(
        "/v1/wires", params={"payer_last4": "7722"}, headers=auth("cashier")
    )
    assert queue.status_code == 200
    [item] = [w for w in queue.json()["items"] if w["wire_id"] == ambiguous["wire_id"]]
    assert "2 open billings" in item["queue_reason"]


async def test_memo_rule_and_tolerance_are_configurable(make_harness: Any) -> None:
    async with make_harness(
        wire_match_tolerance_fen=100, wire_match_rules=["last4_tolerance"]
    ) as h:
        customer = await _customer_with_card(h, "6222020000003344")
        billing = await h.due_billing(stage="firm", amount_fen=1_000_000, customer_id=customer)
        [result] = await _wires(h, _transfer(999_950, account="6222020000003344"))
        assert (result["status"], result["rule"], result["billing_id"]) == (
            "matched",
            "last4_tolerance",
            str(billing),
        )
        other = await h.due_billing(stage="firm", amount_fen=2_000_000)
        [queued] = await _wires(h, _transfer(2_000_000, account="99998888", memo=f"order {other}"))
        assert queued["status"] == "queued"  # memo rule switched off here


async def test_cashier_claim_split_across_two_billings(harness: Harness) -> None:
    first = await harness.due_billing(stage="firm", amount_fen=600_000)
    second = await harness.due_billing(stage="final", amount_fen=900_000)
    [queued] = await _wires(harness, _transfer(1_000_000, account="55554444"))
    assert queued["status"] == "queued"
    claim = await harness.client.post(
        f"/v1/wires/{queued['wire_id']}/claims",
        json={
            "allocations": [
                {"billing_id": str(first), "amount_fen": 600_000},
                {"billing_id": str(second), "amount_fen": 400_000},
            ]
        },
        headers=auth("cashier"),
    )
    assert claim.status_code == 201, claim.text
    assert [c["status"] for c in claim.json()] == ["claimed", "claimed"]
    wire = (
        await harness.client.get(f"/v1/wires/{queued['wire_id']}", headers=auth("cashier"))
    ).json()
    assert wire["unclaimed_fen"] == 0
    assert len(wire["claims"]) == 2
    events = await harness.outbox_events("WireClaimed", queued["wire_id"])
    assert sorted(e["amount_fen"] for e in events) == [400_000, 600_000]
    over = await harness.client.post(
        f"/v1/wires/{queued['wire_id']}/claims",
        json={"allocations": [{"billing_id": str(second), "amount_fen": 1}]},
        headers=auth("cashier"),
    )
    assert over.status_code == 422
    assert "exceeds what is unclaimed" in over.json()["detail"]


async def test_large_claim_needs_a_second_approver_and_can_be_rejected(harness: Harness) -> None:
    billing = await harness.due_billing(stage="final", amount_fen=20_000_000)
    [queued] = await _wires(harness, _transfer(20_000_000, account="11112222"))
    claimed = await harness.client.post(
        f"/v1/wires/{queued['wire_id']}/claims",
        json={"allocations": [{"billing_id": str(billing), "amount_fen": 20_000_000}]},
        headers=auth("cashier"),
    )
    [pending] = claimed.json()
    assert pending["status"] == "pending_approval"
    assert await harness.outbox_events("PaymentCallback", str(billing)) == []
    cashier = await harness.client.post(
        f"/v1/wire-claims/{pending['claim_id']}/approve", headers=auth("cashier")
    )
    assert cashier.status_code == 403
    listed = await harness.client.get("/v1/wire-claims", headers=auth("finance-approver"))
    assert pending["claim_id"] in [c["claim_id"] for c in listed.json()]
    rejected = await harness.client.post(
        f"/v1/wire-claims/{pending['claim_id']}/reject",
        json={"reason": "wrong customer"},
        headers=auth("finance-approver"),
    )
    assert rejected.json()["status"] == "rejected"
    wire = (
        await harness.client.get(f"/v1/wires/{queued['wire_id']}", headers=auth("cashier"))
    ).json()
    assert wire["unclaimed_fen"] == 20_000_000
    again = await harness.client.post(
        f"/v1/wires/{queued['wire_id']}/claims",
        json={"allocations": [{"billing_id": str(billing), "amount_fen": 20_000_000}]},
        headers=auth("cashier"),
    )
    approved = await harness.client.post(
        f"/v1/wire-claims/{again.json()[0]['claim_id']}/approve", headers=auth("finance-approver")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "claimed"
    assert approved.json()["approved_by"].startswith("finance-approver")
    [paid] = await harness.outbox_events("PaymentCallback", str(billing))
    assert paid["outcome"] == "succeeded"


async def test_unclaim_reverses_the_payment_and_requeues_the_wire(harness: Harness) -> None:
    billing = await harness.due_billing(stage="firm", amount_fen=700_000)
    [queued] = await _wires(harness, _transfer(700_000, account="33336666"))
    [claim] = (
        await harness.client.post(
            f"/v1/wires/{queued['wire_id']}/claims",
            json={"allocations": [{"billing_id": str(billing), "amount_fen": 700_000}]},
            headers=auth("cashier"),
        )
    ).json()
    no_reason = await harness.client.post(
        f"/v1/wire-claims/{claim['claim_id']}/unclaim", json={"reason": ""}, headers=auth("finance")
    )
    assert no_reason.status_code == 422
    undone = await harness.client.post(
        f"/v1/wire-claims/{claim['claim_id']}/unclaim",
        json={"reason": "payer is another customer"},
        headers=auth("finance"),
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "unclaimed"
    assert await harness.status_of(claim["payment_id"]) == "reversed"
    events = await harness.outbox_events("PaymentCallback", str(billing))
    assert [e["outcome"] for e in events] == ["succeeded", "reversed"]
    assert events[1]["refund_id"] == claim["claim_id"]
    assert events[1]["reason"] == "payer is another customer"
    twice = await harness.client.post(
        f"/v1/wire-claims/{claim['claim_id']}/unclaim",
        json={"reason": "again"},
        headers=auth("finance"),
    )
    assert twice.status_code == 409
    wire = (
        await harness.client.get(f"/v1/wires/{queued['wire_id']}", headers=auth("cashier"))
    ).json()
    assert wire["unclaimed_fen"] == 700_000


async def test_statement_file_intake_and_ageing(harness: Harness) -> None:
    old_day = (datetime.now(CHANNEL_TZ).date() - timedelta(days=10)).isoformat()
    ref = _ref()
    csv_text = (
        "value_date,bank_account,payer_name,payer_account,amount_yuan,bank_reference,memo\n"
        f"{old_day},ICBC-001,Li Si,6217000000004455,1234.50,{ref},deposit\n"
    )
    files = {"file": ("statement.csv", csv_text.encode(), "text/csv")}
    response = await harness.client.post(
        "/v1/wires/statement-files", files=files, headers=auth("bank")
    )
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["status"] == "queued"
    again = await harness.client.post(
        "/v1/wires/statement-files", files=files, headers=auth("bank")
    )
    assert again.json()["results"][0]["status"] == "duplicate"
    ageing = (await harness.client.get("/v1/wires/ageing", headers=auth("finance"))).json()
    buckets = {b["bucket"]: b for b in ageing["buckets"]}
    assert list(buckets) == ["0-3", "4-7", "8-30", ">30"]
    assert buckets["8-30"]["unclaimed_fen"] >= 123_450
    bad = {"file": ("s.csv", b"value_date,bank_account\n2026-01-01,x\n", "text/csv")}
    refused = await harness.client.post(
        "/v1/wires/statement-files", files=bad, headers=auth("bank")
    )
    assert refused.status_code == 422


@pytest.mark.parametrize(
    "bad",
    [
        {"amount_fen": 0},
        {"amount_fen": -5},
        {"amount_fen": 1.5},
        {"amount_fen": "100"},
        {"payer_account": "12"},
        {"value_date": "2026-13-01"},
        {"bank_reference": ""},
        {"unexpected": 1},
    ],
)
async def test_bad_transfers_are_refused_whole(harness: Harness, bad: dict[str, Any]) -> None:
    transfer = {**_transfer(1000), **bad}
    response = await harness.client.post(
        "/v1/wires", json={"transfers": [transfer]}, headers=auth("bank")
    )
    assert response.status_code == 422, response.text
