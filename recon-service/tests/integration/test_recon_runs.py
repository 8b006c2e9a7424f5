"""POST /v1/recon-runs on real PostgreSQL: every outcome, refunds paired exactly, the day cut
carried over and caught up, a re-run giving the same result and no new discrepancies."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from recon_service.testing.days import Day, load

pytestmark = pytest.mark.integration

COUNTED = (
    "matched", "amount_mismatch", "status_mismatch", "fee_mismatch", "channel_only",
    "internal_only",
)  # fmt: skip


async def test_every_outcome_of_one_day(recon) -> None:
    d = Day(date(2031, 3, 10))
    refund_at = d.at(15)
    for payload in (
        d.callback(1, 100_000, d.at(10)),  # matched, with two partial refunds
        d.callback(2, 100_000, d.at(10, 5)),  # amount mismatch
        d.callback(3, 100_000, d.at(10, 10), outcome="failed"),  # status mismatch
        d.callback(4, 100_000, d.at(10, 15), fee_fen=500),  # fee mismatch
        d.callback(6, 100_000, d.at(11)),  # internal only (短款)
        d.callback(7, 100_000, d.at(23, 30)),  # near the cut: carried over
        d.callback(8, 100_000, d.at(0, 0, 20, days=1)),  # booked by the channel on the day
        d.callback(9, 100_000, d.at(9, days=-5)),  # outside the window
        d.callback(1, 300, refund_at, outcome="refunded", refund_id=f"ref-{d.tag}-a"),
        d.callback(1, 200, refund_at, outcome="refunded", refund_id=f"ref-{d.tag}-b"),
        d.callback(11, 5_000, d.at(12), outcome="failed"),  # failed and not on the bill: nothing
    ):
        await recon.deliver(payload)
    statement = [
        d.line(1, 100_000, d.at(10)),
        d.line(2, 99_900, d.at(10, 5)),
        d.line(3, 100_000, d.at(10, 10)),
        d.line(4, 100_000, d.at(10, 15), fee_fen=600),
        d.line(5, 100_000, d.at(10, 20)),  # channel only (长款)
        d.line(8, 100_000, d.at(23, 59, 50)),
        d.line(1, 200, refund_at, refund=True, out_refund_no="R-b"),
        d.line(1, 300, refund_at, refund=True, out_refund_no="R-a"),
    ]
    await load(recon, statement, d.day)

    run = await recon.run("wechatpay", d.day.isoformat())

    assert run["counts"] == {
        "matched": 4, "amount_mismatch": 1, "status_mismatch": 1, "fee_mismatch": 1,
        "channel_only": 1, "internal_only": 1, "carried_over": 1,
    }  # fmt: skip
    assert run["source"] == "wechatpay"
    assert run["date"] == d.day.isoformat()
    results = await recon.http.get(
        f"/v1/recon-runs/{run['run_id']}/results", params={"limit": 100}, headers=recon.auth()
    )
    by_ref = {r["record_ref"]: r for r in results.json()["items"] if r["record_ref"]}
    assert by_ref[f"ref-{d.tag}-a"]["outcome"] == "matched"
    assert by_ref[f"ref-{d.tag}-a"]["line_amount_fen"] == 300
    assert by_ref[f"pay-{d.tag}-2"]["outcome"] == "amount_mismatch"
    assert by_ref[f"pay-{d.tag}-3"]["outcome"] == "status_mismatch"
    assert by_ref[f"pay-{d.tag}-7"]["outcome"] == "carried_over"
    assert by_ref[f"pay-{d.tag}-8"]["outcome"] == "matched"
    assert f"pay-{d.tag}-9" not in by_ref
    assert f"pay-{d.tag}-11" not in by_ref
    # A matched result is stored without what its line and record say, and read back whole.
    matched = [r for r in results.json()["items"] if r["outcome"] == "matched"]
    orders = dict(await recon.rows("SELECT ref_id, order_id FROM recon.internal_records"))
    for item in matched:
        assert item["order_id"] == orders[item["record_ref"]]
        assert (item["line_status"], item["record_status"]) == ("succeeded", "succeeded")
    assert by_ref[f"pay-{d.tag}-1"]["match_key"] == by_ref[f"pay-{d.tag}-2"]["match_key"][:-1] + "1"
    assert {r["match_key"][:2] for r in matched} <= {"o:", "t:", "r:"}
    stored = await recon.rows(
        "SELECT match_key, order_id, line_status, record_status, discrepancy_key"
        " FROM recon.recon_results WHERE run_id = :id AND outcome = 'matched'",
        id=uuid.UUID(run["run_id"]),
    )
    assert [tuple(row) for row in stored] == [(None,) * 5] * 4
    # Only matched results are read back: a channel-only line has no record to show.
    (channel_only,) = [r for r in results.json()["items"] if r["outcome"] == "channel_only"]
    assert (channel_only["record_status"], channel_only["order_id"]) == (None, None)
    assert channel_only["line_status"] == "succeeded"
    events = [
        e for e in await recon.outbox("ReconCompleted") if e["payload"]["run_id"] == run["run_id"]
    ]
    assert events[0]["payload"]["counts"] == run["counts"]
    assert events[0]["payload"]["settled_fen"] == run["settled_fen"]


async def _run_a_day_of_three_outcomes(
    recon, d: Day
) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """A matched line, a channel-only line and an internal-only payment, reconciled: the run
    and its open discrepancy keys."""
    await recon.deliver(d.callback(1, 100_000, d.at(10)))
    await recon.deliver(d.callback(2, 100_000, d.at(11)))
    await load(recon, [d.line(1, 100_000, d.at(10)), d.line(3, 7_000, d.at(12))], d.day)
    first = await recon.run("wechatpay", d.day.isoformat())
    return first, await discrepancy_keys(recon, d.day)


async def test_a_rerun_gives_the_same_result_and_no_new_discrepancies(recon) -> None:
    d = Day(date(2031, 4, 10))
    first, open_first = await _run_a_day_of_three_outcomes(recon, d)
    # A record of another day in the window arrives: the day is redone, with the same outcome.
    await recon.deliver(d.callback(4, 100_000, d.at(11, days=1)))
    again = await recon.run("wechatpay", d.day.isoformat())
    open_again = await discrepancy_keys(recon, d.day)
    total = await recon.scalar(
        "SELECT count(*) FROM recon.discrepancies WHERE recon_date = :d", d=d.day
    )

    assert again["run_id"] != first["run_id"]
    assert (first["unchanged"], again["unchanged"]) == (False, False)
    assert again["counts"] == first["counts"]
    assert [first["counts"][k] for k in ("matched", "channel_only", "internal_only")] == [1, 1, 1]
    assert open_again == open_first
    assert len(open_first) == total == 2


async def test_a_rerun_with_nothing_changed_answers_the_current_run(recon) -> None:
    d = Day(date(2031, 4, 12))
    first, open_first = await _run_a_day_of_three_outcomes(recon, d)

    again = await recon.run("wechatpay", d.day.isoformat())

    assert (again["run_id"], again["unchanged"]) == (first["run_id"], True)
    assert first["unchanged"] is False
    assert again["counts"] == first["counts"]
    assert await discrepancy_keys(recon, d.day) == open_first
    runs = await recon.scalar(
        "SELECT count(*) FROM recon.recon_runs WHERE recon_date = :d AND source = 'wechatpay'",
        d=d.day,
    )
    completed = [
        e for e in await recon.outbox("ReconCompleted")
        if e["payload"]["recon_date"] == d.day.isoformat()
    ]  # fmt: skip
    assert (runs, len(completed)) == (1, 1)


async def test_a_rerun_is_redone_when_a_neighbouring_day_or_the_statement_changed(recon) -> None:
    d = Day(date(2031, 4, 14))
    await recon.deliver(d.callback(1, 100_000, d.at(23, 50)))  # near the cut
    await load(recon, [d.line(2, 5_000, d.at(12))], d.day)
    first = await recon.run("wechatpay", d.day.isoformat())
    assert first["counts"]["carried_over"] == 1
    # The next day's run judges the record: the first day's results read it, so it is redone.
    await load(recon, [d.line(1, 100_000, d.at(0, 5, days=1))], d.day + timedelta(days=1))
    await recon.run("wechatpay", (d.day + timedelta(days=1)).isoformat())
    after_next = await recon.run("wechatpay", d.day.isoformat())
    assert (after_next["unchanged"], after_next["run_id"] != first["run_id"]) == (False, True)
    assert after_next["counts"]["carried_over"] == 0
    assert (await recon.run("wechatpay", d.day.isoformat()))["unchanged"] is True
    # A corrected statement (a new version) is redone.
    await load(recon, [d.line(2, 5_000, d.at(12)), d.line(3, 6_000, d.at(13))], d.day)
    corrected = await recon.run("wechatpay", d.day.isoformat())
    assert (corrected["unchanged"], corrected["counts"]["channel_only"]) == (False, 2)


async def test_a_rerun_under_another_policy_is_redone(recon_with) -> None:
    d = Day(date(2031, 4, 16))
    async with recon_with() as recon:
        await recon.deliver(d.callback(1, 100_000, d.at(10)))
        await load(recon, [d.line(1, 99_990, d.at(10))], d.day)
        strict = await recon.run("wechatpay", d.day.isoformat())
    async with recon_with(recon_amount_tolerance_fen={"wechatpay": 10}) as tolerant:
        again = await tolerant.run("wechatpay", d.day.isoformat())
    assert strict["counts"]["amount_mismatch"] == 1
    assert (again["unchanged"], again["counts"]["amount_mismatch"]) == (False, 0)


async def test_a_late_callback_clears_the_discrepancy_on_rerun(recon) -> None:
    d = Day(date(2031, 5, 10))
    await load(recon, [d.line(1, 100_000, d.at(10))], d.day)
    first = await recon.run("wechatpay", d.day.isoformat())
    await recon.deliver(d.callback(1, 100_000, d.at(10, 1)))

    again = await recon.run("wechatpay", d.day.isoformat())

    assert (first["counts"]["channel_only"], again["counts"]["matched"]) == (1, 1)
    assert await discrepancy_keys(recon, d.day) == set()
    cleared = await recon.http.get(
        "/v1/discrepancies",
        params={"date": d.day.isoformat(), "status": "cleared", "source": "wechatpay"},
        headers=recon.auth("finance-approver"),
    )
    assert [x["outcome"] for x in cleared.json()["items"]] == ["channel_only"]


async def test_near_the_cut_a_record_carries_over_up_to_three_days(recon) -> None:
    d = Day(date(2031, 6, 10))
    await recon.deliver(d.callback(1, 100_000, d.at(23, 40)))  # appears the next day
    await recon.deliver(d.callback(2, 100_000, d.at(23, 50)))  # never appears
    outcomes = []
    for offset in range(4):
        day = d.day + timedelta(days=offset)
        # A statement is never empty: a day without our payments has another merchant line.
        filler = [d.line(90 + offset, 500, d.at(12, days=offset))]
        lines = [d.line(1, 100_000, d.at(0, 5, days=1))] if offset == 1 else filler
        await load(recon, lines, day)
        run = await recon.run("wechatpay", day.isoformat())
        outcomes.append(
            (
                run["counts"]["matched"],
                run["counts"]["carried_over"],
                run["counts"]["internal_only"],
            )
        )
    fifth = d.day + timedelta(days=4)
    await load(recon, [d.line(99, 500, d.at(12, days=4))], fifth)
    after = await recon.run("wechatpay", fifth.isoformat())

    assert outcomes == [(0, 2, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1)]
    assert after["counts"]["internal_only"] == 0  # judged once, on the third day after
    rerun_first = await recon.run("wechatpay", d.day.isoformat())
    assert rerun_first["counts"]["carried_over"] == 0  # both were judged by later days


async def test_runs_need_a_statement_and_a_known_source(recon) -> None:
    missing = await recon.http.post(
        "/v1/recon-runs", json={"source": "cash", "date": "2031-07-01"}, headers=recon.auth()
    )
    unknown = await recon.http.post(
        "/v1/recon-runs", json={"source": "paypal", "date": "2031-07-01"}, headers=recon.auth()
    )
    approver = await recon.http.post(
        "/v1/recon-runs",
        json={"source": "cash", "date": "2031-07-01"},
        headers=recon.auth("finance-approver"),
    )
    not_found = await recon.http.get(f"/v1/recon-runs/{uuid.uuid4()}", headers=recon.auth())

    assert (missing.status_code, missing.json()["code"]) == (409, "statement_missing")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_source")
    assert approver.status_code == 403
    assert not_found.status_code == 404


async def test_redelivered_and_late_outcomes_keep_the_projection_right(recon) -> None:
    d = Day(date(2031, 1, 20))  # alone: no other test reconciles a day near it
    event_id = uuid.uuid4()
    await recon.deliver(d.callback(1, 100_000, d.at(10), outcome="failed"))
    await recon.deliver(d.callback(1, 100_000, d.at(10, 30)), event_id=event_id)
    await recon.deliver(d.callback(1, 100_000, d.at(10, 30)), event_id=event_id)
    await recon.deliver(d.callback(1, 100_000, d.at(11), outcome="failed"))  # never undoes

    status, completed = await recon.scalar(
        "SELECT ARRAY[status, completed_at::text] FROM recon.internal_records WHERE ref_id = :ref",
        ref=f"pay-{d.tag}-1",
    )
    assert status == "succeeded"
    assert completed.startswith("2031-01-20 02:30:00")


async def discrepancy_keys(recon, day: date) -> set[tuple[str, str]]:
    response = await recon.http.get(
        "/v1/discrepancies",
        params={"date": day.isoformat(), "source": "wechatpay", "limit": 500},
        headers=recon.auth(),
    )
    assert response.status_code == 200, response.text
    return {(x["outcome"], x["discrepancy_id"]) for x in response.json()["items"]}


async def test_recon_daily_runs_every_source_in_order(recon) -> None:
    from recon_service.entrypoints.cli import daily

    d = Day(date(2031, 10, 10))
    await recon.deliver(d.callback(1, 100_000, d.at(10)))
    await load(recon, [d.line(1, 100_000, d.at(10))], d.day)

    reports = await daily(recon.runtime, d.day)

    assert [r["source"] for r in reports] == [
        "wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire",
    ]  # fmt: skip
    assert reports[0]["status"] == "reconciled"
    assert reports[0]["counts"]["matched"] == 1  # type: ignore[index]
    assert {r["status"] for r in reports[1:]} == {"statement_missing"}


async def test_runs_are_listed_by_source_and_day_latest_first(recon) -> None:
    d = Day(date(2031, 9, 10))
    await recon.deliver(d.callback(1, 100_000, d.at(10)))
    await load(recon, [d.line(1, 100_000, d.at(10))], d.day)
    first = await recon.run("wechatpay", d.day.isoformat())
    await recon.deliver(d.callback(2, 100_000, d.at(11, days=1)))  # the day is redone
    second = await recon.run("wechatpay", d.day.isoformat())

    response = await recon.http.get(
        "/v1/recon-runs",
        params={"source": "wechatpay", "date": d.day.isoformat()},
        headers=recon.auth("finance-approver"),
    )
    other_day = await recon.http.get(
        "/v1/recon-runs", params={"date": "2031-09-11"}, headers=recon.auth()
    )
    refused = await recon.http.get("/v1/recon-runs", headers=recon.auth("cashier"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    assert [r["run_id"] for r in body["items"]] == [second["run_id"], first["run_id"]]
    assert body["items"][0]["counts"]["matched"] == 1
    assert other_day.json()["total"] == 0
    assert refused.status_code == 403


async def test_conservation_rules_kept_and_a_tolerance_per_source(recon_with) -> None:
    """matched + mismatched + channel-only (+ unsettled) = statement lines; every pair keeps
    the rule that paired it; a tolerance of 5 fen matches a 3-fen difference."""
    d = Day(date(2031, 11, 3))
    async with recon_with(recon_amount_tolerance_fen={"wechatpay": 5}) as recon:
        await recon.deliver(d.callback(1, 100_000, d.at(10)))
        await recon.deliver(d.callback(2, 100_000, d.at(10, 5)))  # 3 fen off: within 5
        await recon.deliver(d.callback(3, 100_000, d.at(10, 10)))  # 900 fen off
        await recon.deliver(d.callback(4, 100_000, d.at(11)))  # internal only
        lines = [
            d.line(1, 100_000, d.at(10)),
            d.line(2, 99_997, d.at(10, 5)),
            d.line(3, 99_100, d.at(10, 10)),
            d.line(5, 4_000, d.at(12)),  # channel only
        ]
        await load(recon, lines, d.day)
        run = await recon.run("wechatpay", d.day.isoformat())
        results = (
            await recon.http.get(
                f"/v1/recon-runs/{run['run_id']}/results",
                params={"limit": 100},
                headers=recon.auth(),
            )
        ).json()["items"]
    on_lines = [r for r in results if r["line_no"] is not None]
    assert len(on_lines) == len(lines)  # the conservation law
    counts = run["counts"]
    assert (counts["matched"], counts["amount_mismatch"], counts["channel_only"]) == (2, 1, 1)
    assert counts["internal_only"] == 1
    pairs = [r for r in results if r["record_ref"] and r["line_no"]]
    assert {r["match_rule"] for r in pairs} == {"channel_txn_id"}  # the first rule
    assert all(r["match_rule"] is None for r in results if not (r["record_ref"] and r["line_no"]))
