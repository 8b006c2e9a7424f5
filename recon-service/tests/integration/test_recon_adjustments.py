"""Adjustments (调差) through the API on real PostgreSQL: every action, the second approver
above the threshold (never the requester), DiscrepancyResolved once per applied adjustment,
the hash-chained audit log and its verification, closing and reopening a day, ageing and
the figures, and a re-run that leaves resolutions alone."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from recon_service.adapters.gateway_client import GatewayCorrections
from recon_service.domain.errors import ApproverIsRequester
from recon_service.service_layer import adjustments
from recon_service.service_layer.unit_of_work import ReconUnitOfWork
from recon_service.testing.days import Day, load

pytestmark = pytest.mark.integration


async def open_discrepancies(recon, day: date) -> dict[str, dict[str, Any]]:
    response = await recon.http.get(
        "/v1/discrepancies",
        params={"date": day.isoformat(), "source": "wechatpay", "limit": 100},
        headers=recon.auth(),
    )
    assert response.status_code == 200, response.text
    return {d["outcome"]: d for d in response.json()["items"]}


async def resolve(recon, discrepancy: dict[str, Any], action: str, **extra: Any) -> Any:
    return await recon.http.post(
        f"/v1/discrepancies/{discrepancy['discrepancy_id']}/resolve",
        json={"action": action, "reason": "checked with the channel", **extra},
        headers=recon.auth(),
    )


async def resolved_events(recon, discrepancy_id: str) -> list[dict[str, Any]]:
    return [
        e for e in await recon.outbox("DiscrepancyResolved")
        if e["payload"]["discrepancy_id"] == discrepancy_id
    ]  # fmt: skip


async def test_every_action_the_second_approver_the_audit_chain_and_closing(recon) -> None:
    d = Day(date(2031, 8, 12))
    await recon.deliver(d.callback(1, 100_000, d.at(10)))  # amount mismatch (line 99,000)
    await recon.deliver(d.callback(2, 2_500_000, d.at(11)))  # internal only, above 10,000.00
    await recon.deliver(d.callback(3, 50_000, d.at(12)))  # matched
    await load(
        recon,
        [d.line(1, 99_000, d.at(10)), d.line(3, 50_000, d.at(12)), d.line(4, 7_000, d.at(13))],
        d.day,
    )
    run = await recon.run("wechatpay", d.day.isoformat())
    found = await open_discrepancies(recon, d.day)
    assert set(found) == {"amount_mismatch", "internal_only", "channel_only"}
    assert found["internal_only"]["priority"] == "high"  # 25,000.00 ≥ 10,000.00
    assert found["internal_only"]["amount_at_stake_fen"] == 2_500_000

    # channel only (长款) written off at once: +7,000 into clearing, posted once.
    written = await resolve(recon, found["channel_only"], "write_off")
    assert written.status_code == 201, written.text
    assert (written.json()["status"], written.json()["adjustment_fen"]) == ("applied", 7_000)
    events = await resolved_events(recon, found["channel_only"]["discrepancy_id"])
    assert [e["payload"]["adjustment_fen"] for e in events] == [7_000]
    again = await resolve(recon, found["channel_only"], "write_off")
    assert (again.status_code, again.json()["code"]) == (409, "discrepancy_not_open")

    # internal only (短款) above the threshold: held for a finance-approver.
    held = await resolve(recon, found["internal_only"], "accept_ours")
    assert held.status_code == 201, held.text
    assert (held.json()["status"], held.json()["adjustment_fen"]) == (
        "pending_approval",
        -2_500_000,
    )
    adjustment_id = held.json()["adjustment_id"]
    assert await resolved_events(recon, found["internal_only"]["discrepancy_id"]) == []
    by_finance = await recon.http.post(
        f"/v1/adjustments/{adjustment_id}/approve", json={}, headers=recon.auth()
    )
    assert by_finance.status_code == 403
    with pytest.raises(ApproverIsRequester):
        await adjustments.decide(
            ReconUnitOfWork(recon.runtime.sessions, recon.runtime.outbox),
            uuid.UUID(adjustment_id),
            approve=True,
            approver=held.json()["requested_by"],
            reason=None,
            corrector=GatewayCorrections("http://127.0.0.1:9", None, timeout_s=1.0),
        )
    approved = await recon.http.post(
        f"/v1/adjustments/{adjustment_id}/approve",
        json={"reason": "bank statement shows no money"},
        headers=recon.auth("finance-approver"),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "applied"
    events = await resolved_events(recon, found["internal_only"]["discrepancy_id"])
    assert [(e["payload"]["adjustment_fen"], e["payload"]["approved_by"]) for e in events] == [
        (-2_500_000, approved.json()["decided_by"])
    ]
    twice = await recon.http.post(
        f"/v1/adjustments/{adjustment_id}/approve", json={}, headers=recon.auth("finance-approver")
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "adjustment_not_pending")

    # amount mismatch: wait first (the day cannot close), then linked (no posting).
    waiting = await resolve(recon, found["amount_mismatch"], "wait")
    assert waiting.status_code == 201
    blocked = await recon.http.post(
        f"/v1/recon-days/wechatpay/{d.day.isoformat()}/close", headers=recon.auth()
    )
    assert (blocked.status_code, blocked.json()["code"]) == (409, "day_has_open_discrepancies")
    no_ref = await resolve(recon, found["amount_mismatch"], "link")
    assert no_ref.status_code == 422
    linked = await resolve(recon, found["amount_mismatch"], "link", linked_ref="pay-elsewhere")
    assert (linked.status_code, linked.json()["adjustment_fen"]) == (201, 0)
    assert await resolved_events(recon, found["amount_mismatch"]["discrepancy_id"]) == []

    # A re-run finds the same discrepancies and leaves their resolutions alone.
    rerun = await recon.run("wechatpay", d.day.isoformat())
    assert rerun["counts"] == run["counts"]
    assert await open_discrepancies(recon, d.day) == {}

    closed = await recon.http.post(
        f"/v1/recon-days/wechatpay/{d.day.isoformat()}/close", headers=recon.auth()
    )
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")
    refused = await recon.http.post(
        "/v1/recon-runs", json={"source": "wechatpay", "date": d.day.isoformat()},
        headers=recon.auth(),
    )  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (409, "day_closed")
    reopen_url = f"/v1/recon-days/wechatpay/{d.day.isoformat()}/reopen"
    assert (
        await recon.http.post(reopen_url, json={"reason": "late refund"}, headers=recon.auth())
    ).status_code == 403
    assert (
        await recon.http.post(reopen_url, json={}, headers=recon.auth("finance-approver"))
    ).status_code == 422
    reopened = await recon.http.post(
        reopen_url, json={"reason": "late refund"}, headers=recon.auth("finance-approver")
    )
    assert (reopened.status_code, reopened.json()["status"]) == (200, "reopened")

    # Every step is in the audit log, chained; the chain verifies.
    trail = await recon.http.get(
        "/v1/audit-log",
        params={"subject_id": found["internal_only"]["discrepancy_id"]},
        headers=recon.auth(),
    )
    assert [e["action"] for e in trail.json()] == ["resolve:accept_ours"]
    verified = await recon.http.get("/v1/audit-log/verify", headers=recon.auth())
    assert verified.json()["ok"] is True
    assert verified.json()["entries"] >= 7  # resolve ×4, approve, close, reopen


async def test_the_audit_log_is_append_only_and_tampering_is_found(recon) -> None:
    d = Day(date(2031, 8, 13))
    await load(recon, [d.line(1, 1_000, d.at(10))], d.day)
    await recon.run("wechatpay", d.day.isoformat())
    [only] = (await open_discrepancies(recon, d.day)).values()
    assert (await resolve(recon, only, "write_off")).status_code == 201
    seq = await recon.scalar("SELECT max(seq) FROM recon.audit_log")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with recon.runtime.engine.begin() as conn:
            await conn.execute(sa.text("UPDATE recon.audit_log SET actor = 'x' WHERE seq = :s"),
                               {"s": seq})  # fmt: skip
    async with recon.runtime.engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE recon.audit_log DISABLE TRIGGER USER"))
        await conn.execute(
            sa.text("UPDATE recon.audit_log SET reason = 'edited' WHERE seq = :s"), {"s": seq}
        )
        await conn.execute(sa.text("ALTER TABLE recon.audit_log ENABLE TRIGGER USER"))
    try:
        verified = (await recon.http.get("/v1/audit-log/verify", headers=recon.auth())).json()
        assert (verified["ok"], verified["first_broken_seq"]) == (False, seq)
    finally:
        async with recon.runtime.engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE recon.audit_log DISABLE TRIGGER USER"))
            await conn.execute(
                sa.text("UPDATE recon.audit_log SET reason = 'checked with the channel' "
                        "WHERE seq = :s"), {"s": seq},
            )  # fmt: skip
            await conn.execute(sa.text("ALTER TABLE recon.audit_log ENABLE TRIGGER USER"))
    assert (await recon.http.get("/v1/audit-log/verify", headers=recon.auth())).json()["ok"]


async def test_figures_match_rate_money_at_risk_and_ageing(recon) -> None:
    d = Day(date(2031, 8, 20))
    await recon.deliver(d.callback(1, 60_000, d.at(10)))
    await recon.deliver(d.callback(2, 40_000, d.at(11)))
    await load(recon, [d.line(1, 60_000, d.at(10)), d.line(3, 20_000_000, d.at(12))], d.day)
    await recon.run("wechatpay", d.day.isoformat())
    figures = await recon.http.get(
        "/v1/recon-figures",
        params={"source": "wechatpay", "date_from": "2031-08-20", "date_to": "2031-08-20"},
        headers=recon.auth("finance-approver"),
    )
    assert figures.status_code == 200, figures.text
    body = figures.json()
    assert (body["results"], body["matched"]) == (3, 1)
    assert body["match_rate_by_count"] == round(1 / 3, 4)
    assert (body["amount_fen"], body["matched_amount_fen"]) == (20_100_000, 60_000)
    found = await open_discrepancies(recon, d.day)
    assert found["channel_only"]["priority"] == "critical"  # 200,000.00 ≥ 100,000.00
    assert found["internal_only"]["priority"] == "normal"  # 400.00, not old
    assert body["money_at_risk_fen"] >= 20_040_000
