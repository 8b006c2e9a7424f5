"""accept_channel for refund lines on real PostgreSQL, the gateway faked behind recon's
corrector: a refund the channel made smaller and a channel-only refund line (our refund still
processing at the gateway, found by its refund number) are corrected through the gateway once
— at once or at the second approval — and the DiscrepancyResolved names the correction; a
refund line of no refund of ours is parked (409, the discrepancy stays open, nothing
written)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from recon_service.entrypoints.adjust_api import corrector_of
from recon_service.testing.days import Day, load

pytestmark = pytest.mark.integration


class FakeGateway:
    """The gateway's side of a correction, in memory: its refunds by refund number, each
    correction answered once per discrepancy (a replay gets the first one)."""

    def __init__(self, refunds: dict[str, tuple[str, str]]) -> None:
        self.refunds = refunds
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._made: dict[str, dict[str, Any]] = {}

    async def payment_id_of(self, out_trade_no: str) -> str | None:
        return None

    async def refund_of(self, out_refund_no: str) -> tuple[str, str] | None:
        return self.refunds.get(out_refund_no)

    async def correct(self, payment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((payment_id, body))
        return self._made.setdefault(
            body["discrepancy_id"],
            {
                "correction_id": str(uuid.uuid4()),
                "before": {"status": "processing"},
                "after": {"status": "succeeded", "amount_fen": body["channel_amount_fen"]},
            },
        )


@pytest.fixture
def gateway(recon: Any) -> Iterator[FakeGateway]:
    fake = FakeGateway({})
    recon.app.dependency_overrides[corrector_of] = lambda: fake
    yield fake
    recon.app.dependency_overrides.clear()


async def _refund_discrepancies(recon: Any, day: date) -> dict[str, dict[str, Any]]:
    response = await recon.http.get(
        "/v1/discrepancies",
        params={"date": day.isoformat(), "source": "wechatpay", "limit": 100},
        headers=recon.auth(),
    )
    assert response.status_code == 200, response.text
    return {d["outcome"]: d for d in response.json()["items"] if d["kind"] == "refund"}


async def _resolve(recon: Any, discrepancy: dict[str, Any]) -> Any:
    return await recon.http.post(
        f"/v1/discrepancies/{discrepancy['discrepancy_id']}/resolve",
        json={"action": "accept_channel", "reason": "WeChat's bill"},
        headers=recon.auth(),
    )


async def _resolved(recon: Any, discrepancy_id: str) -> list[dict[str, Any]]:
    return [
        e["payload"] for e in await recon.outbox("DiscrepancyResolved")
        if e["payload"]["discrepancy_id"] == discrepancy_id
    ]  # fmt: skip


async def test_a_refund_made_smaller_is_corrected_at_once(recon: Any, gateway: FakeGateway) -> None:
    d = Day(date(2032, 6, 3))
    refund_id = f"ref-{d.tag}-1"
    await recon.deliver(d.callback(1, 10_000, d.at(9)))
    await recon.deliver(d.callback(1, 3_000, d.at(10), outcome="refunded", refund_id=refund_id))
    refund_line = d.line(1, 2_000, d.at(10), refund=True, out_refund_no=f"R{d.tag}1")
    await load(recon, [d.line(1, 10_000, d.at(9)), refund_line], d.day)
    await recon.run("wechatpay", d.day.isoformat())
    smaller = (await _refund_discrepancies(recon, d.day))["amount_mismatch"]

    answer = await _resolve(recon, smaller)
    assert answer.status_code == 201, answer.text
    adjustment = answer.json()
    assert (adjustment["status"], adjustment["adjustment_fen"]) == ("applied", 1_000)
    assert adjustment["payment_id"] == f"pay-{d.tag}-1"
    assert adjustment["correction_id"] is not None
    [(payment_id, body)] = gateway.calls
    assert payment_id == f"pay-{d.tag}-1"
    assert (body["refund_id"], body["channel_amount_fen"], body["adjustment_fen"]) == (
        refund_id,
        2_000,
        1_000,
    )
    [event] = await _resolved(recon, smaller["discrepancy_id"])
    assert (event["adjustment_fen"], event["correction_id"]) == (1_000, adjustment["correction_id"])
    audited = await recon.scalar(
        "SELECT count(*) FROM recon.audit_log WHERE action = 'correct_payment' "
        "AND subject_id = :p AND after->>'refund_id' = :r",
        p=payment_id,
        r=refund_id,
    )
    assert audited == 1
    again = await _resolve(recon, smaller)
    assert (again.status_code, again.json()["code"]) == (409, "discrepancy_not_open")
    assert len(gateway.calls) == 1

    # The gateway's PaymentCorrected sets our refund to the channel's figure: a re-run matches.
    corrected = d.corrected(1, 3_000, 2_000, d.at(10), "succeeded").model_copy(
        update={"refund_id": refund_id, "delta_fen": 1_000}
    )
    await recon.deliver(corrected)
    rerun = await recon.run("wechatpay", d.day.isoformat())
    assert (rerun["counts"]["matched"], rerun["counts"]["amount_mismatch"]) == (2, 0)


async def test_a_channel_only_refund_is_found_at_the_gateway_and_approved(
    recon_with: Any,
) -> None:
    d = Day(date(2032, 6, 4))
    async with recon_with(adjustment_approval_threshold_fen=2_000) as recon:
        fake = FakeGateway({f"R{d.tag}2": (f"ref-{d.tag}-2", f"pay-{d.tag}-2")})
        recon.app.dependency_overrides[corrector_of] = lambda: fake
        await recon.deliver(d.callback(2, 10_000, d.at(9)))  # its refund is processing
        lines = [
            d.line(2, 10_000, d.at(9)),
            d.line(2, 3_000, d.at(11), refund=True, out_refund_no=f"R{d.tag}2"),
        ]
        await load(recon, lines, d.day)
        await recon.run("wechatpay", d.day.isoformat())
        channel_only = (await _refund_discrepancies(recon, d.day))["channel_only"]

        held = await _resolve(recon, channel_only)
        assert held.status_code == 201, held.text
        assert (held.json()["status"], held.json()["adjustment_fen"]) == (
            "pending_approval",
            -3_000,
        )
        assert fake.calls == []  # looked up, not corrected before the approval
        approved = await recon.http.post(
            f"/v1/adjustments/{held.json()['adjustment_id']}/approve",
            json={"reason": "checked with WeChat Pay"},
            headers=recon.auth("finance-approver"),
        )
        assert approved.status_code == 200, approved.text
        [(payment_id, body)] = fake.calls
        assert (payment_id, body["refund_id"]) == (f"pay-{d.tag}-2", f"ref-{d.tag}-2")
        assert (body["channel_amount_fen"], body["adjustment_fen"]) == (3_000, -3_000)
        assert body["approved_by"] == approved.json()["decided_by"]
        [event] = await _resolved(recon, channel_only["discrepancy_id"])
        assert event["correction_id"] == approved.json()["correction_id"] is not None


async def test_a_refund_line_of_no_refund_of_ours_is_parked(
    recon: Any, gateway: FakeGateway
) -> None:
    d = Day(date(2032, 6, 5))
    await recon.deliver(d.callback(3, 10_000, d.at(9)))
    lines = [
        d.line(3, 10_000, d.at(9)),
        d.line(3, 3_000, d.at(11), refund=True, out_refund_no=f"R{d.tag}3"),
    ]
    await load(recon, lines, d.day)
    await recon.run("wechatpay", d.day.isoformat())
    stranger = (await _refund_discrepancies(recon, d.day))["channel_only"]
    audit_before = await recon.scalar("SELECT count(*) FROM recon.audit_log")

    answer = await _resolve(recon, stranger)
    assert (answer.status_code, answer.json()["code"]) == (409, "no_refund_to_correct")
    assert (await _refund_discrepancies(recon, d.day))["channel_only"]["status"] == "open"
    adjustments = await recon.scalar(
        "SELECT count(*) FROM recon.adjustments WHERE discrepancy_id = :id",
        id=stranger["discrepancy_id"],
    )
    assert (adjustments, gateway.calls) == (0, [])
    assert await recon.scalar("SELECT count(*) FROM recon.audit_log") == audit_before
    assert await _resolved(recon, stranger["discrepancy_id"]) == []
