"""UnionPay as the sandbox plays it: POS terminal payments, back notifications (wire format:
this package), the transaction query (`api`) and the daily ZM statement (`statement`). Orders
come from the control API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from channel_sandbox import ids
from channel_sandbox.channels import unionpay as wire
from channel_sandbox.channels.unionpay import api, statement
from channel_sandbox.keys import KeyLayout, SandboxKeySet
from channel_sandbox.schedules import MINUTE, status_in
from channel_sandbox.spec import OrderStart, SandboxChannel
from channel_sandbox.store import Order, Origin, Refund


def issue_ids() -> dict[str, str]:
    """Our merId and the certId of the channel's signing certificate."""
    return {"merId": "777290058" + ids.digits(6), "certId": "6" + ids.digits(10)}


def start_order(keys: SandboxKeySet, at_s: int, variant: str | None) -> OrderStart:
    """A terminal payment: its queryId."""
    del keys, variant
    return OrderStart(origin=Origin.POS, channel_txn_id=ids.unionpay_query_id(at_s), fields={})


def notification_fields(order: Order, refund: Refund | None) -> Mapping[str, object]:
    """A payment-code (被扫) order notifies as the QR consumption it was: bizType 000000,
    txnSubType 06 (card payments keep the consumption's 000201 / 01)."""
    if refund is None and order.origin == api.CODE_ORIGIN:
        return {"bizType": "000000", "txnSubType": "06"}
    return {}


def sync_result(keys: SandboxKeySet, order: Order) -> dict[str, object]:
    """What the terminal shows."""
    del keys
    return {"respCode": "00", "respMsg": "success", "txnAmt": str(order.amount_fen)}


CHANNEL: Final = SandboxChannel(
    code=wire.CODE,
    name="UnionPay",
    key_layout=KeyLayout(issue_ids=issue_ids),
    start_order=start_order,
    new_refund_id=ids.unionpay_query_id,
    notification=wire.notification,
    read_notification=wire.read_notification,
    retry_intervals_s=(0, MINUTE, 2 * MINUTE, 4 * MINUTE),  # §5.1: 5 sends at 0, 1, 2, 4 min
    delivered_when=status_in(200, 302),
    success_answer="HTTP 200",
    merchant_ack=(200, b"ok"),
    notifies_failures=True,
    sync_result=sync_result,
    notification_fields=notification_fields,
    routers=(api.router, statement.router),
    fee_rate_per_10k=50,  # 0.50 %
)
