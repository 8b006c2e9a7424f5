"""Instant discounts in reconciliation, on real PostgreSQL: the discount payment (channel
``discount``, paid by the marketing budget) is on no statement and is not projected, so the
channel's statement is compared with what the channel charged, never the billing amount."""

from __future__ import annotations

from datetime import date

import pytest

from recon_service.testing.days import Day, load

pytestmark = pytest.mark.integration

BILLING_FEN = 100_000
DISCOUNT_FEN = 350


async def test_a_discounted_payment_matches_the_charged_amount_and_the_discount_is_skipped(
    recon,
) -> None:
    d = Day(date(2031, 4, 2))
    charged = d.callback(1, BILLING_FEN - DISCOUNT_FEN, d.at(10))
    discount = charged.model_copy(
        update={
            "payment_id": f"disc-{d.tag}-1",
            "channel": "discount",
            "method": "instant",
            "out_trade_no": f"D{d.tag}1",
            "channel_txn_id": "",
            "amount_fen": DISCOUNT_FEN,
        }
    )
    for payload in (charged, discount):
        await recon.deliver(payload)
    projected = await recon.scalar(
        "SELECT array_agg(channel || ':' || amount_fen) FROM recon.internal_records"
        " WHERE order_id = :o",
        o=charged.order_id,
    )
    assert projected == [f"wechatpay:{BILLING_FEN - DISCOUNT_FEN}"]

    await load(recon, [d.line(1, BILLING_FEN - DISCOUNT_FEN, d.at(10))], d.day)
    run = await recon.run("wechatpay", d.day.isoformat())

    assert {k: v for k, v in run["counts"].items() if v} == {"matched": 1}
    assert run["gross_fen"] == BILLING_FEN - DISCOUNT_FEN
