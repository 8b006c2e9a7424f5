"""accept_channel on recon's side (real PostgreSQL): PaymentCorrected sets the projection to
the channel's figure so a re-run matches; the gateway unreachable → 503 and nothing changed;
discrepancies that correct no payment still post the adjustment journal."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from otd_shared.infra import free_port
from recon_service.testing.days import Day, load

pytestmark = pytest.mark.integration


async def _discrepancies(recon: Any, day: date) -> dict[str, dict[str, Any]]:
    response = await recon.http.get(
        "/v1/discrepancies",
        params={"date": day.isoformat(), "source": "wechatpay", "limit": 100},
        headers=recon.auth(),
    )
    assert response.status_code == 200, response.text
    return {d["outcome"]: d for d in response.json()["items"]}


async def test_a_corrected_payment_matches_on_the_re_run(recon: Any) -> None:
    d = Day(date(2032, 3, 17))
    await recon.deliver(d.callback(1, 499_000, d.at(10)))
    await recon.deliver(d.corrected(1, 499_000, 500_000, d.at(10), "succeeded"))
    await recon.deliver(d.corrected(2, 300_000, 300_000, d.at(11), "paying"))  # no record yet
    await load(recon, [d.line(1, 500_000, d.at(10)), d.line(2, 300_000, d.at(11))], d.day)
    run = await recon.run("wechatpay", d.day.isoformat())
    assert run["counts"]["matched"] == 2, run["counts"]
    assert await _discrepancies(recon, d.day) == {}
    r = Day(date(2032, 5, 9))  # a day nothing reconciles: the refund record stays aside
    refunded = r.callback(3, 20_000, r.at(12), outcome="refunded", refund_id=f"ref-{r.tag}-3")
    await recon.deliver(refunded)
    bigger = r.corrected(3, 20_000, 25_000, r.at(12), "succeeded").model_copy(
        update={"refund_id": f"ref-{r.tag}-3", "delta_fen": -5_000}
    )
    await recon.deliver(bigger)
    stored_refund = await recon.scalar(
        "SELECT amount_fen FROM recon.internal_records WHERE kind = 'refund' AND ref_id = :ref",
        ref=f"ref-{r.tag}-3",
    )
    assert stored_refund == 25_000
    stored = await recon.scalar(
        "SELECT amount_fen FROM recon.internal_records WHERE ref_id = :ref", ref=f"pay-{d.tag}-1"
    )
    assert stored == 500_000


async def test_gateway_unreachable_changes_nothing(recon_with: Any) -> None:
    d = Day(date(2032, 3, 25))
    closed = f"http://127.0.0.1:{free_port()}"
    async with recon_with(gateway_url=closed, gateway_timeout_s=1.0) as recon:
        await recon.deliver(d.callback(1, 499_000, d.at(10)))
        await recon.deliver(d.callback(2, 80_000, d.at(11)))  # internal only
        await load(recon, [d.line(1, 500_000, d.at(10))], d.day)
        await recon.run("wechatpay", d.day.isoformat())
        found = await _discrepancies(recon, d.day)
        mismatch = found["amount_mismatch"]
        audit_before = await recon.scalar("SELECT count(*) FROM recon.audit_log")

        answer = await recon.http.post(
            f"/v1/discrepancies/{mismatch['discrepancy_id']}/resolve",
            json={"action": "accept_channel", "reason": "the bill says 5,000.00"},
            headers=recon.auth(),
        )
        assert (answer.status_code, answer.json()["code"]) == (503, "gateway_unavailable")
        assert (await _discrepancies(recon, d.day))["amount_mismatch"]["status"] == "open"
        assert (
            await recon.scalar(
                "SELECT count(*) FROM recon.adjustments WHERE discrepancy_id = :id",
                id=mismatch["discrepancy_id"],
            )
            == 0
        )
        assert await recon.scalar("SELECT count(*) FROM recon.audit_log") == audit_before

        # internal only (the channel never had it): accept_channel posts the journal as before.
        short = await recon.http.post(
            f"/v1/discrepancies/{found['internal_only']['discrepancy_id']}/resolve",
            json={"action": "accept_channel", "reason": "no money came"},
            headers=recon.auth(),
        )
        assert short.status_code == 201, short.text
        assert (short.json()["status"], short.json()["correction_id"]) == ("applied", None)
        events = [
            e["payload"] for e in await recon.outbox("DiscrepancyResolved")
            if e["payload"]["discrepancy_id"] == found["internal_only"]["discrepancy_id"]
        ]  # fmt: skip
        assert [(e["adjustment_fen"], e["correction_id"]) for e in events] == [(-80_000, None)]
