"""Matching rules on real PostgreSQL: the fixed priority (channel id, then our trade number,
then amount + time for cash and wire), groups of one line with several records and of
several lines with one record, the contracted fee rate, and the conservation law over
random days: every statement line ends in exactly one outcome, re-runs change nothing."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from otd_shared.events import PaymentCallback
from otd_shared.statement_files import Txn, cash_csv
from recon_service.testing.days import Day, load

pytestmark = pytest.mark.integration

MONEY_LINE_OUTCOMES = {"matched", "amount_mismatch", "status_mismatch", "fee_mismatch"}


async def results_of(recon: Any, run: dict[str, Any]) -> list[dict[str, Any]]:
    response = await recon.http.get(
        f"/v1/recon-runs/{run['run_id']}/results", params={"limit": 500}, headers=recon.auth()
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def by_ref(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["record_ref"]: r for r in results if r["record_ref"]}


async def test_the_channel_id_comes_before_our_trade_number(recon) -> None:
    d = Day(date(2032, 2, 3))
    # Record 1 carries line 1's channel id; record 2 carries line 1's trade number.
    await recon.deliver(changed(d.callback(1, 10_000, d.at(9)), out_trade_no="X1"))
    second = d.callback(2, 10_000, d.at(9))
    await recon.deliver(changed(second, out_trade_no=d.otn(1), channel_txn_id=None))
    # Line 3's channel id is unknown to us, its trade number is not.
    await recon.deliver(changed(d.callback(3, 20_000, d.at(10)), channel_txn_id=None))
    await load(recon, [d.line(1, 10_000, d.at(9)), d.line(3, 20_000, d.at(10))], d.day)

    found = by_ref(await results_of(recon, await recon.run("wechatpay", d.day.isoformat())))

    assert (found[f"pay-{d.tag}-1"]["outcome"], found[f"pay-{d.tag}-1"]["match_rule"]) == (
        "matched", "channel_txn_id",
    )  # fmt: skip
    assert found[f"pay-{d.tag}-2"]["outcome"] == "internal_only"
    assert (found[f"pay-{d.tag}-3"]["outcome"], found[f"pay-{d.tag}-3"]["match_rule"]) == (
        "matched", "out_trade_no",
    )  # fmt: skip


async def test_cash_lines_pair_by_amount_within_the_window(recon) -> None:
    d = Day(date(2032, 2, 14))
    for n, fen, at in ((1, 50_000, d.at(10)), (2, 70_000, d.at(11)), (3, 80_000, d.at(9, days=-2))):
        callback = d.callback(n, fen, at)
        await recon.deliver(
            changed(callback, channel="cash", method="cash", out_trade_no=f"O{d.tag}{n}",
                    channel_txn_id=None)
        )  # fmt: skip
    shown = ((1, 50_000, d.at(10, 30)), (2, 70_000, d.at(11, 5)), (3, 80_000, d.at(12)))
    receipts = [  # receipts whose numbers we never saw: only amount and time can pair them
        Txn(out_trade_no=f"R{d.tag}{n}", channel_txn_id=f"RC{d.tag}{n}", amount_fen=fen, at=at)
        for n, fen, at in shown
    ]
    response = await recon.upload("cash", cash_csv(receipts, d.day), statement_date=str(d.day))
    assert response.status_code == 201, response.text

    results = await results_of(recon, await recon.run("cash", d.day.isoformat()))

    found = by_ref(results)
    assert found[f"pay-{d.tag}-1"]["match_rule"] == "amount_time"
    assert found[f"pay-{d.tag}-1"]["outcome"] == "matched"
    assert found[f"pay-{d.tag}-2"]["outcome"] == "matched"
    # Two days away is outside the window: the receipt stays channel only.
    assert found[f"pay-{d.tag}-3"]["outcome"] == "internal_only"
    assert sorted(r["outcome"] for r in results if r["record_ref"] is None) == ["channel_only"]


async def test_one_line_with_several_records_and_several_lines_with_one(recon) -> None:
    d = Day(date(2032, 2, 25))
    batch = d.otn(1)  # a POS batch: one line for two swipes of one order
    for n, fen in ((1, 10_000), (2, 25_000)):
        await recon.deliver(changed(d.callback(n, fen, d.at(10, n)), out_trade_no=batch))
    await recon.deliver(d.callback(3, 60_000, d.at(11)))  # settled by the channel in two lines
    lines = [
        Txn(out_trade_no=batch, channel_txn_id="4200BATCH" + d.tag, amount_fen=35_000,
            at=d.at(10, 5)),
        Txn(out_trade_no=d.otn(3), channel_txn_id=d.txn_id(3), amount_fen=20_000, at=d.at(11)),
        Txn(out_trade_no=d.otn(3), channel_txn_id=d.txn_id(3), amount_fen=40_000, at=d.at(11, 1)),
    ]  # fmt: skip
    await load(recon, lines, d.day)

    run = await recon.run("wechatpay", d.day.isoformat())
    results = await results_of(recon, run)
    again = await results_of(recon, await recon.run("wechatpay", d.day.isoformat()))

    pairs = [r for r in results if r["record_ref"] and r["line_no"]]
    assert {r["outcome"] for r in results} == {"matched"}
    groups = {r["match_group"] for r in pairs}
    assert groups == {f"G:payment:out_trade_no:{batch}", f"G:payment:channel_txn_id:{d.txn_id(3)}"}
    one_line = [r for r in pairs if r["match_group"].endswith(batch)]
    assert len({r["line_no"] for r in one_line}) == 1
    assert len(one_line) == 2
    assert sorted(r["record_amount_fen"] for r in one_line) == [10_000, 25_000]
    one_record = [r for r in pairs if r["match_group"].endswith(d.txn_id(3))]
    assert {r["record_ref"] for r in one_record} == {f"pay-{d.tag}-3"}
    assert sorted(r["line_amount_fen"] for r in one_record) == [20_000, 40_000]
    assert sorted(map(_identity, again)) == sorted(map(_identity, results))
    figures = await recon.http.get(
        "/v1/recon-figures",
        params={
            "source": "wechatpay",
            "date_from": d.day.isoformat(),
            "date_to": d.day.isoformat(),
        },
        headers=recon.auth("finance-approver"),
    )
    # Each group counts its money once: 350.00 + 600.00, not the one side once per pair.
    assert figures.json()["matched_amount_fen"] == figures.json()["amount_fen"] == 95_000


async def test_a_fee_off_the_contracted_rate_is_a_fee_mismatch(recon_with) -> None:
    d = Day(date(2032, 3, 8))
    async with recon_with(recon_fee_rates={"wechatpay": {"app": "0.006"}}) as recon:
        for n in (1, 2, 3):
            await recon.deliver(d.callback(n, 100_050, d.at(10, n)))
        lines = [
            d.line(1, 100_050, d.at(10, 1), fee_fen=600),  # 600.3 → 600
            d.line(2, 100_050, d.at(10, 2), fee_fen=601),
            d.line(3, 100_050, d.at(10, 3), fee_fen=0),
        ]
        await load(recon, lines, d.day)
        found = by_ref(await results_of(recon, await recon.run("wechatpay", d.day.isoformat())))

    outcomes = [found[f"pay-{d.tag}-{n}"]["outcome"] for n in (1, 2, 3)]
    assert outcomes == ["matched", "fee_mismatch", "fee_mismatch"]


def test_a_fee_rate_must_be_whole_ppm() -> None:
    from pydantic import ValidationError

    from recon_service.config import ReconSettings

    with pytest.raises(ValidationError):
        ReconSettings(recon_fee_rates={"wechatpay": {"app": "0.0060001"}})
    rates = ReconSettings(recon_fee_rates={"alipay": {"app": "0.0055"}}).recon_policy()
    assert rates.fee_rate_ppm == {"alipay": {"app": 5_500}}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_conservation_law_over_random_days(recon, seed: int) -> None:
    """matched + mismatched + channel only (+ unsettled) = the statement's lines, each line in
    exactly one outcome; each record judged once; a re-run gives the same results and no new
    discrepancy."""
    rng = random.Random(seed)
    d = Day(date(2032, 4, 1) + timedelta(days=10 * seed))
    lines: list[Txn] = []
    for n in range(1, 41):
        fen = rng.choice([1_000, 2_500, 10_000, 10_000, 99_999])
        at = d.at(rng.randrange(1, 23), rng.randrange(60))
        shape = rng.choice(["pair", "pair", "off", "ours", "theirs", "failed", "split", "group"])
        if shape in ("pair", "off", "failed", "theirs", "split"):
            amount = fen + (rng.choice([-7, 13]) if shape == "off" else 0)
            if shape == "split":
                lines += [d.line(n, fen, at), d.line(n, fen * 2, at + timedelta(seconds=1))]
                fen *= 3
            else:
                lines.append(d.line(n, amount, at))
        if shape == "group":
            lines.append(d.line(n, fen * 2, at))
            await recon.deliver(d.callback(n, fen, at))
            await recon.deliver(changed(d.callback(n + 100, fen, at), out_trade_no=d.otn(n)))
        elif shape != "theirs":
            outcome = "failed" if shape == "failed" else "succeeded"
            await recon.deliver(d.callback(n, fen, at, outcome=outcome))
    await load(recon, lines, d.day)

    first = await recon.run("wechatpay", d.day.isoformat())
    results = await results_of(recon, first)
    open_first = await _open(recon, d.day)
    again = await recon.run("wechatpay", d.day.isoformat())
    rerun = await results_of(recon, again)

    per_line: dict[int, set[str]] = {}
    for r in results:
        if r["line_no"] is not None:
            per_line.setdefault(r["line_no"], set()).add(r["outcome"])
    assert sorted(per_line) == list(range(2, len(lines) + 2))  # every line, header is line 1
    assert all(len(outcomes) == 1 for outcomes in per_line.values())
    tally: dict[str, int] = {}
    for (outcome,) in per_line.values():
        tally[outcome] = tally.get(outcome, 0) + 1
    assert sum(tally.values()) == len(lines)
    assert set(tally) <= MONEY_LINE_OUTCOMES | {"channel_only", "unsettled"}
    records = [r["record_ref"] for r in results if r["record_ref"]]
    judged = {ref: {r["outcome"] for r in results if r["record_ref"] == ref} for ref in records}
    assert all(len(outcomes) == 1 for outcomes in judged.values())
    assert sorted(map(_identity, rerun)) == sorted(map(_identity, results))
    assert again["counts"] == first["counts"]
    assert await _open(recon, d.day) == open_first


def changed(callback: PaymentCallback, **fields: Any) -> PaymentCallback:
    """A callback with some fields replaced (ids shared on purpose)."""
    return callback.model_copy(update=fields)


def _identity(result: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("outcome", "line_no", "record_ref", "match_rule", "match_group", "line_amount_fen")
    return tuple(str(result[k]) for k in keys)


async def _open(recon: Any, day: date) -> set[str]:
    response = await recon.http.get(
        "/v1/discrepancies",
        params={"date": day.isoformat(), "source": "wechatpay", "limit": 500},
        headers=recon.auth(),
    )
    assert response.status_code == 200, response.text
    return {x["discrepancy_id"] for x in response.json()["items"]}
