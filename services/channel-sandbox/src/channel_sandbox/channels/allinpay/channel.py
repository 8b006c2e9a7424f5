"""Allinpay as the sandbox plays it: POS terminal payments, their result notifications (wire
format: this package) and the transaction query (`api`). Orders come from the control API; no
statement."""

from __future__ import annotations

from typing import Final

from channel_sandbox import ids
from channel_sandbox.channels import allinpay as wire
from channel_sandbox.channels.allinpay import api
from channel_sandbox.keys import KeyLayout, SandboxKeySet
from channel_sandbox.schedules import MINUTE, exact_body
from channel_sandbox.spec import OrderStart, SandboxChannel
from channel_sandbox.store import Order, Origin


def issue_ids() -> dict[str, str]:
    """Our cusid and appid."""
    return {"cusid": "5500" + ids.digits(11), "appid": "0000" + ids.digits(4)}


def start_order(keys: SandboxKeySet, at_s: int, variant: str | None) -> OrderStart:
    """A terminal payment: its trxid."""
    del keys, variant
    return OrderStart(origin=Origin.POS, channel_txn_id=ids.allinpay_trxid(at_s), fields={})


def sync_result(keys: SandboxKeySet, order: Order) -> dict[str, object]:
    """What the terminal shows."""
    del keys
    return {"trxstatus": "0000", "trxamt": str(order.amount_fen), "trxid": order.channel_txn_id}


CHANNEL: Final = SandboxChannel(
    code=wire.CODE,
    name="Allinpay",
    key_layout=KeyLayout(issue_ids=issue_ids),
    start_order=start_order,
    new_refund_id=ids.allinpay_trxid,
    notification=wire.notification,
    read_notification=wire.read_notification,
    retry_intervals_s=(15, 15, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE),  # §6.1: 5 retries
    delivered_when=exact_body(b"success"),
    success_answer="the exact body 'success'",
    merchant_ack=(200, b"success"),
    notifies_failures=True,
    sync_result=sync_result,
    routers=(api.router,),
)
