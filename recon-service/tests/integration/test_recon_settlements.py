"""The settlement query: per source and day the latest statement's settled payments,
refunds and fees, the net to our bank, matched against the bank statement's credit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from recon_service.testing.days import Day, load

pytestmark = pytest.mark.integration
WECHAT_PAYER = "财付通支付科技有限公司"


def bank_statement(value_date: date, credits: list[tuple[str, int, str]]) -> bytes:
    rows = [
        "value_date,bank_account,payer_name,payer_account_last4,amount_fen,bank_reference,remark"
    ]
    for payer, fen, ref in credits:
        rows.append(f"{value_date.isoformat()},31001234567890,{payer},0001,{fen},{ref},settlement")
    return ("\n".join(rows) + "\n").encode("utf-8")


async def settlements(recon, day: date) -> dict[str, dict[str, object]]:
    response = await recon.http.get(
        "/v1/settlements",
        params={"date_from": day.isoformat(), "date_to": day.isoformat()},
        headers=recon.auth("finance-approver"),
    )
    assert response.status_code == 200, response.text
    return {r["source"]: r for r in response.json()}


async def test_the_net_of_a_day_and_the_bank_credit_that_settles_it(recon) -> None:
    d = Day(date(2031, 10, 8))
    await load(
        recon,
        [
            d.line(1, 100_000, d.at(10), fee_fen=600),
            d.line(2, 100_000, d.at(11), fee_fen=600),
            d.line(1, 20_000, d.at(15), refund=True, out_refund_no="R1", fee_fen=120),
        ],
        d.day,
    )
    before_bank = (await settlements(recon, d.day))["wechatpay"]
    assert (before_bank["payment_count"], before_bank["payment_fen"]) == (2, 200_000)
    assert (before_bank["refund_count"], before_bank["refund_fen"]) == (1, 20_000)
    assert before_bank["fee_fen"] == 1_080
    assert (before_bank["gross_fen"], before_bank["net_fen"]) == (180_000, 178_920)
    assert before_bank["bank_status"] == "missing"

    value_date = d.day + timedelta(days=1)
    short = await recon.upload(
        "wire", bank_statement(value_date, [(WECHAT_PAYER, 178_900, "B1")]), filename="b.csv"
    )
    assert short.status_code == 201, short.text
    assert (await settlements(recon, d.day))["wechatpay"]["bank_status"] == "short"
    full = await recon.upload(
        "wire",
        bank_statement(value_date, [(WECHAT_PAYER, 178_900, "B1"), (WECHAT_PAYER, 20, "B2")]),
        filename="b2.csv",
    )
    assert full.status_code == 201, full.text  # a corrected bank statement: version 2
    found = (await settlements(recon, d.day))["wechatpay"]
    assert (found["bank_status"], found["bank_received_fen"]) == ("matched", 178_920)
    assert found["bank_difference_fen"] == 0
