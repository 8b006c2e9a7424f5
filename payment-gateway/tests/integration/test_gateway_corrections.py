"""Payment corrections (recon's accept_channel): the payment is set to the channel's figure
once per adjustment, PaymentCorrected carries the difference, and every refusal changes
nothing (real PostgreSQL, the channel sandbox paying over HTTP)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from payment_gateway.adapters.tables import payment_corrections
from payment_gateway.testing.harness import Harness, auth
from payment_gateway.testing.notifications import refunded_event

pytestmark = pytest.mark.integration


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "adjustment_id": str(uuid.uuid4()),
        "discrepancy_id": str(uuid.uuid4()),
        "source": "wechatpay",
        "channel_amount_fen": 500_000,
        "adjustment_fen": 1_000,
        "reason": "the channel's statement says 5,000.00",
        "requested_by": "finance:ann",
        "approved_by": "finance-approver:bob",
    }
    body.update(overrides)
    return body


async def _correct(h: Harness, payment_id: str, body: dict[str, Any], role: str = "service") -> Any:
    return await h.client.post(
        f"/v1/payments/{payment_id}/corrections", json=body, headers=auth(role)
    )


async def test_an_amount_mismatch_is_corrected_once_per_adjustment(harness: Harness) -> None:
    paid = await harness.paid("wechatpay", 499_000)
    body = _body()
    first = await _correct(harness, paid["payment_id"], body)
    assert first.status_code == 201, first.text
    correction = first.json()
    assert correction["created"] is True
    assert correction["before"]["amount_fen"] == 499_000
    assert correction["after"] == {
        "status": "succeeded",
        "amount_fen": 500_000,
        "channel_txn_id": paid["channel_txn_id"],
    }
    assert (correction["delta_fen"], correction["recorded_by"][:8]) == (1_000, "service:")
    payment = await harness.payment(paid["payment_id"])
    assert (payment["status"], payment["amount_fen"]) == ("succeeded", 500_000)

    again = await _correct(harness, paid["payment_id"], body)
    assert again.status_code == 200, again.text
    assert again.json()["correction_id"] == correction["correction_id"]
    assert again.json()["created"] is False
    # The caller crashed after our commit and retries with a new adjustment id: same answer.
    retried = await _correct(harness, paid["payment_id"], {**body, "adjustment_id": "adj-2"})
    assert retried.status_code == 200, retried.text
    assert retried.json()["correction_id"] == correction["correction_id"]
    other = await _correct(harness, paid["payment_id"], {**body, "channel_amount_fen": 500_100})
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "correction_conflict"

    events = await harness.outbox_events("PaymentCorrected", paid["payment_id"])
    assert len(events) == 1
    assert (events[0]["before_amount_fen"], events[0]["after_amount_fen"]) == (499_000, 500_000)
    assert (events[0]["delta_fen"], events[0]["before_status"]) == (1_000, "succeeded")
    assert events[0]["adjustment_id"] == body["adjustment_id"]
    listed = await harness.client.get(
        f"/v1/payments/{paid['payment_id']}/corrections", headers=auth("finance")
    )
    assert [c["correction_id"] for c in listed.json()] == [correction["correction_id"]]
    assert (await harness.payment(paid["payment_id"]))["amount_fen"] == 500_000


async def test_a_paying_payment_the_channel_settled_becomes_succeeded(harness: Harness) -> None:
    paying = await harness.paying("wechatpay", 300_000)
    body = _body(channel_amount_fen=300_000, adjustment_fen=300_000)
    found = await harness.client.get(
        "/v1/payments", params={"out_trade_no": paying["out_trade_no"]}, headers=auth("service")
    )
    assert [p["payment_id"] for p in found.json()] == [paying["payment_id"]]
    body["channel_completed_at"] = "2031-07-14T02:00:00Z"
    answer = await _correct(harness, paying["payment_id"], body, role="finance-approver")
    assert answer.status_code == 201, answer.text
    assert answer.json()["before"]["status"] == "paying"
    payment = await harness.payment(paying["payment_id"])
    assert (payment["status"], payment["amount_fen"]) == ("succeeded", 300_000)
    events = await harness.outbox_events("PaymentCorrected", paying["payment_id"])
    assert [(e["before_status"], e["delta_fen"]) for e in events] == [("paying", 300_000)]
    assert events[0]["completed_at"].startswith("2031-07-14T02:00:00")
    none = await harness.client.get(
        "/v1/payments", params={"out_trade_no": "P-NEVER"}, headers=auth("finance")
    )
    assert (none.status_code, none.json()) == (200, [])


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"adjustment_fen": 999}, 422, "correction_amount_mismatch"),
        ({"source": "alipay"}, 422, "payment_of_another_source"),
        ({"channel_amount_fen": 499_000, "adjustment_fen": 0}, 409, "nothing_to_correct"),
        ({"channel_status": "failed"}, 422, "channel_status"),
        ({"adjustment_fen": 1.5}, 422, "adjustment_fen"),
    ],
)
async def test_refusals_change_nothing(
    harness: Harness, overrides: dict[str, Any], status: int, code: str
) -> None:
    paid = await harness.paid("wechatpay", 499_000)
    body = _body(**overrides)
    answer = await _correct(harness, paid["payment_id"], body)
    assert answer.status_code == status, answer.text
    assert answer.json().get("code") == code or code in answer.text
    payment = await harness.payment(paid["payment_id"])
    assert (payment["status"], payment["amount_fen"]) == ("succeeded", 499_000)
    assert await harness.outbox_events("PaymentCorrected", paid["payment_id"]) == []
    async with harness.gw.sessions() as session:
        stored = await session.scalar(
            sa.select(sa.func.count())
            .select_from(payment_corrections)
            .where(payment_corrections.c.adjustment_id == body["adjustment_id"])
        )
    assert stored == 0


async def test_unknown_payment_and_wrong_role_are_refused(harness: Harness) -> None:
    missing = await _correct(harness, str(uuid.uuid4()), _body())
    assert missing.status_code == 404, missing.text
    paid = await harness.paid("wechatpay", 499_000)
    for role in ("finance", "app-backend"):
        refused = await _correct(harness, paid["payment_id"], _body(), role=role)
        assert refused.status_code == 403, refused.text
    assert (await harness.payment(paid["payment_id"]))["amount_fen"] == 499_000


async def test_corrections_are_append_only(harness: Harness) -> None:
    paid = await harness.paid("wechatpay", 499_000)
    assert (await _correct(harness, paid["payment_id"], _body())).status_code == 201
    async with harness.gw.sessions() as session:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await session.execute(sa.delete(payment_corrections))


async def test_a_refund_the_channel_completed_or_made_larger_is_corrected(
    harness: Harness,
) -> None:
    paid = await harness.paid("wechatpay", 10_000)
    asked = await harness.client.post(
        f"/v1/payments/{paid['payment_id']}/refunds",
        json={"amount_fen": 3_000, "reason": "customer cancelled"},
        headers={**auth("finance"), "Idempotency-Key": uuid.uuid4().hex},
    )
    refund = asked.json()
    completed = _body(
        refund_id=refund["refund_id"], channel_amount_fen=3_000, adjustment_fen=-3_000
    )
    first = await _correct(harness, paid["payment_id"], completed)
    assert first.status_code == 201, first.text
    assert (first.json()["before"]["status"], first.json()["refund_id"]) == (
        "requested",
        refund["refund_id"],
    )
    larger = _body(refund_id=refund["refund_id"], channel_amount_fen=3_500, adjustment_fen=-500)
    assert (await _correct(harness, paid["payment_id"], larger)).status_code == 201
    other = await _correct(harness, paid["payment_id"], _body(refund_id=str(uuid.uuid4())))
    assert other.status_code == 404, other.text

    got = await harness.client.get(f"/v1/refunds/{refund['refund_id']}", headers=auth("finance"))
    assert (got.json()["status"], got.json()["amount_fen"]) == ("succeeded", 3_500)
    payment = await harness.payment(paid["payment_id"])
    assert (payment["amount_fen"], payment["refunded_fen"]) == (10_000, 3_500)
    events = await harness.outbox_events("PaymentCorrected", paid["payment_id"])
    assert [(e["refund_id"], e["delta_fen"]) for e in events] == [
        (refund["refund_id"], -3_000),
        (refund["refund_id"], -500),
    ]


async def _refund_sent(h: Harness, payment_id: str, amount_fen: int) -> dict[str, Any]:
    """A refund of ours the scheduler sent to the channel: processing."""
    asked = await h.client.post(
        f"/v1/payments/{payment_id}/refunds",
        json={"amount_fen": amount_fen, "reason": "customer cancelled"},
        headers={**auth("finance"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert asked.status_code == 201, asked.text
    await h.scheduler().run_once()
    refund: dict[str, Any] = await _get_refund(h, asked.json()["refund_id"])
    assert refund["status"] == "processing", refund
    return refund


async def _get_refund(h: Harness, refund_id: str) -> dict[str, Any]:
    got = await h.client.get(f"/v1/refunds/{refund_id}", headers=auth("finance"))
    assert got.status_code == 200, got.text
    found: dict[str, Any] = got.json()
    return found


async def _refund_settled(h: Harness, payment_id: str, amount_fen: int) -> dict[str, Any]:
    """A refund the channel made and our active query confirmed: succeeded."""
    refund = await _refund_sent(h, payment_id, amount_fen)
    h.sandbox.settle_refund("wechatpay", refund["out_refund_no"])
    for _ in range(10):
        await h.make_refund_due(refund["refund_id"])
        await h.scheduler().run_once()
        refund = await _get_refund(h, refund["refund_id"])
        if refund["status"] == "succeeded":
            return refund
    raise AssertionError("the refund did not succeed")


async def test_a_refund_the_channel_made_smaller_is_corrected_once(harness: Harness) -> None:
    paid = await harness.paid("wechatpay", 10_000)
    refund = await _refund_settled(harness, paid["payment_id"], 3_000)
    assert (await harness.payment(paid["payment_id"]))["refunded_fen"] == 3_000
    body = _body(refund_id=refund["refund_id"], channel_amount_fen=2_000, adjustment_fen=1_000)
    mismatch = await _correct(harness, paid["payment_id"], {**body, "adjustment_fen": -1_000})
    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "correction_amount_mismatch")
    zero = await _correct(harness, paid["payment_id"], {**body, "channel_amount_fen": 0})
    assert zero.status_code == 422, zero.text  # recon refuses it first (refund_corrected_to_zero)
    assert await harness.outbox_events("PaymentCorrected", paid["payment_id"]) == []

    first = await _correct(harness, paid["payment_id"], body)
    assert first.status_code == 201, first.text
    correction = first.json()
    assert (correction["before"], correction["after"], correction["delta_fen"]) == (
        {"status": "succeeded", "amount_fen": 3_000},
        {"status": "succeeded", "amount_fen": 2_000},
        1_000,
    )
    again = await _correct(harness, paid["payment_id"], body)
    assert (again.status_code, again.json()["correction_id"]) == (200, correction["correction_id"])
    retried = await _correct(harness, paid["payment_id"], {**body, "adjustment_id": "adj-2"})
    assert (retried.status_code, retried.json()["created"]) == (200, False)
    other = await _correct(harness, paid["payment_id"], {**body, "channel_amount_fen": 2_500})
    assert (other.status_code, other.json()["code"]) == (409, "correction_conflict")

    got = await _get_refund(harness, refund["refund_id"])
    assert (got["status"], got["amount_fen"]) == ("succeeded", 2_000)
    payment = await harness.payment(paid["payment_id"])
    assert (payment["amount_fen"], payment["refunded_fen"]) == (10_000, 2_000)
    events = await harness.outbox_events("PaymentCorrected", paid["payment_id"])
    assert [
        (e["refund_id"], e["before_status"], e["before_amount_fen"], e["after_amount_fen"],
         e["delta_fen"])
        for e in events
    ] == [(refund["refund_id"], "succeeded", 3_000, 2_000, 1_000)]  # fmt: skip
    # The 10.00 the channel did not refund may be refunded again: 8,000 of 10,000 are left.
    rest = await harness.client.post(
        f"/v1/payments/{paid['payment_id']}/refunds",
        json={"reason": "the rest"},
        headers={**auth("finance"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert (rest.status_code, rest.json()["amount_fen"]) == (201, 8_000)


async def test_a_processing_refund_is_found_by_its_number_and_completed(harness: Harness) -> None:
    paid = await harness.paid("wechatpay", 10_000)
    refund = await _refund_sent(harness, paid["payment_id"], 3_000)
    found = await harness.client.get(
        "/v1/refunds", params={"out_refund_no": refund["out_refund_no"]}, headers=auth("service")
    )
    assert found.status_code == 200, found.text
    assert [(r["refund_id"], r["payment_id"], r["status"]) for r in found.json()] == [
        (refund["refund_id"], paid["payment_id"], "processing")
    ]
    none = await harness.client.get(
        "/v1/refunds", params={"out_refund_no": "R-NEVER"}, headers=auth("finance")
    )
    assert (none.status_code, none.json()) == (200, [])
    denied = await harness.client.get(
        "/v1/refunds", params={"out_refund_no": refund["out_refund_no"]}, headers=auth("cashier")
    )
    assert denied.status_code == 403

    body = _body(refund_id=refund["refund_id"], channel_amount_fen=3_000, adjustment_fen=-3_000)
    answer = await _correct(harness, paid["payment_id"], body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["before"] == {"status": "processing", "amount_fen": 3_000}
    got = await _get_refund(harness, refund["refund_id"])
    assert (got["status"], got["amount_fen"]) == ("succeeded", 3_000)
    assert (await harness.payment(paid["payment_id"]))["refunded_fen"] == 3_000
    events = await harness.outbox_events("PaymentCorrected", paid["payment_id"])
    assert [(e["before_status"], e["delta_fen"]) for e in events] == [("processing", -3_000)]
    # The channel's notification arriving after the correction changes nothing more.
    sim_refund = harness.sandbox.settle_refund("wechatpay", refund["out_refund_no"])
    signed = harness.sign(
        "wechatpay",
        refunded_event(
            paid, refund, channel_refund_id=sim_refund.refund_id, refund_amount_fen=3_000
        ),
    )
    answer = await harness.notify("wechatpay", dict(signed.headers), signed.body)
    assert answer.status_code == 204, answer.text
    assert (await harness.payment(paid["payment_id"]))["refunded_fen"] == 3_000
    refunded = [
        e for e in await harness.callbacks_events(paid["payment_id"]) if e["outcome"] == "refunded"
    ]
    assert refunded == []
