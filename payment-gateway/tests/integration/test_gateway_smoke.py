"""Smoke: a WeChat app payment from the cashier to a verified notification."""

from __future__ import annotations

import pytest

from payment_gateway.testing.harness import Harness
from payment_gateway.testing.notifications import NotificationEvent

pytestmark = pytest.mark.integration


async def test_wechat_payment_paid_by_notification(harness: Harness) -> None:
    created = await harness.paying("wechatpay", 12_345)
    assert set(created["pay_params"]) >= {"appid", "partnerid", "prepayid", "package", "sign"}
    order = harness.sandbox.pay("wechatpay", created["out_trade_no"])
    signed = harness.sign(
        "wechatpay",
        NotificationEvent(
            out_trade_no=created["out_trade_no"],
            channel_txn_id=order.channel_txn_id,
            amount_fen=12_345,
        ),
    )
    answer = await harness.notify("wechatpay", dict(signed.headers), signed.body)
    assert answer.status_code == 204, answer.text
    assert (await harness.payment(created["payment_id"]))["status"] == "succeeded"
    events = await harness.callbacks_events(created["payment_id"])
    assert len(events) == 1
    assert events[0]["outcome"] == "succeeded"
