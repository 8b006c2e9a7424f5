"""WeChat Pay as the sandbox plays it: APIv3 APP pay (wire format: this package; API: `api`)
and the API v2 付款码 micropay (`micropay`, its XML and signature: `v2`)."""

from __future__ import annotations

import secrets
from typing import Final

from channel_sandbox import ids
from channel_sandbox.channels import wechatpay as wire
from channel_sandbox.channels.wechatpay import api, micropay, statement
from channel_sandbox.keys import KeyLayout, SandboxKeySet
from channel_sandbox.schedules import HOUR, MINUTE, any_2xx
from channel_sandbox.spec import OrderStart, SandboxChannel
from channel_sandbox.store import Order, Origin


def issue_ids() -> dict[str, str]:
    """mchid, appid, the platform certificate's serial and our merchant certificate's."""
    return {
        "mchid": "19" + ids.digits(8),
        "appid": "wx" + secrets.token_hex(8),
        "serial": secrets.token_hex(20).upper(),  # platform certificate
        "merchant_serial": secrets.token_hex(20).upper(),  # our merchant certificate
    }


def start_order(keys: SandboxKeySet, at_s: int, variant: str | None) -> OrderStart:
    """An APP order as if prepaid: its transaction id, appid and prepay_id."""
    del variant
    return OrderStart(
        origin=Origin.WECHAT_APP,
        channel_txn_id=ids.wechat_transaction_id(at_s),
        fields={"appid": keys.id("appid"), "prepay_id": ids.wechat_prepay_id(at_s)},
    )


def sync_result(keys: SandboxKeySet, order: Order) -> dict[str, object]:
    """The OpenSDK `PayResp` the app gets."""
    del keys
    return {"errCode": 0, "errStr": "", "prepayId": str(order.request.get("prepay_id", ""))}


CHANNEL: Final = SandboxChannel(
    code=wire.CODE,
    name="WeChat Pay",
    key_layout=KeyLayout(issue_ids=issue_ids, apiv3_key=True, apiv2_key=True),
    start_order=start_order,
    new_refund_id=ids.wechat_refund_id,
    notification=wire.notification,
    read_notification=wire.read_notification,
    # §1.7: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (15 retries, 24h4m)
    retry_intervals_s=(15, 15, 30, 3 * MINUTE, 10 * MINUTE, 20 * MINUTE, 30 * MINUTE)
    + (30 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 3 * HOUR, 3 * HOUR, 6 * HOUR, 6 * HOUR),
    delivered_when=any_2xx,
    success_answer="a 2xx answer",
    merchant_ack=(204, b""),
    notifies_failures=False,  # §1.5: successful payments only
    sync_result=sync_result,
    resign=wire.resign,  # WeChat signs every retry
    state=api.wechat_trade_state,
    routers=(api.router, micropay.router, statement.router),
    arms_before_create=True,
    fee_rate_per_10k=60,  # 0.60 %
)
