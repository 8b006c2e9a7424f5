"""UnionPay and Allinpay: the control API emits genuine signed POS notifications."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from channel_sandbox.channels.base import Kind as NotificationKind
from channel_sandbox.channels.base import Outcome
from channel_sandbox.testing import Receiver, new_trade_no, wait_for

Control = Callable[..., Awaitable[httpx.Response]]


@pytest.mark.parametrize("channel", ["unionpay", "allinpay"])
async def test_pay_goes_to_the_gateway_callback_by_default(
    channel: str, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("POS")
    accepted = await control(
        channel=channel, out_trade_no=out_trade_no, action="pay", amount_fen=7_700
    )
    assert accepted.status_code == 202
    assert accepted.json()["order"]["notify_url"] == f"{receiver.base_url}/callbacks/{channel}"
    [received] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    note = received.notification
    assert (note.channel, note.kind, note.outcome, note.amount_fen) == (
        channel,
        NotificationKind.PAYMENT,
        Outcome.SUCCEEDED,
        7_700,
    )


@pytest.mark.parametrize("channel", ["unionpay", "allinpay"])
async def test_fail_and_refund_notifications(
    channel: str, receiver: Receiver, control: Control
) -> None:
    failed_no, paid_no = new_trade_no("POS"), new_trade_no("POS")
    await control(channel=channel, out_trade_no=failed_no, action="fail", amount_fen=100)
    [failed] = await wait_for(lambda: receiver.of(failed_no))  # type: ignore[misc]
    assert failed.notification.outcome is Outcome.FAILED

    await control(channel=channel, out_trade_no=paid_no, action="pay", amount_fen=1_000)
    refund = await control(
        channel=channel,
        out_trade_no=paid_no,
        action="refund",
        refund_amount_fen=400,
        out_refund_no=paid_no + "R",
    )
    assert refund.status_code == 202, refund.text
    # POS refund notifications name the refund request: out_trade_no = out_refund_no
    [refunded] = await wait_for(lambda: receiver.of(paid_no + "R"))  # type: ignore[misc]
    note = refunded.notification
    assert (note.kind, note.outcome, note.refund_amount_fen) == (
        NotificationKind.REFUND,
        Outcome.REFUNDED,
        400,
    )
