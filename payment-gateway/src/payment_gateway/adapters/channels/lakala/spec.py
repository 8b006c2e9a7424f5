"""The lakala channel: its `ChannelSpec` (see ../spec.py and docs/adding-a-channel.md)."""

from __future__ import annotations

import secrets
from typing import Final

from otd_shared.channels import ChannelCode, facts_of
from payment_gateway.adapters.channels.key_files import KeySpec, dev_digits
from payment_gateway.adapters.channels.lakala.client import TRADE_STATES, LakalaClient
from payment_gateway.adapters.channels.lakala.notification import LakalaChannel
from payment_gateway.adapters.channels.spec import ChannelSpec, RefundMatch


def _new_dev_ids() -> dict[str, str]:
    return {
        "appid": "OP" + dev_digits(8),
        "serial_no": secrets.token_hex(8),
        "merchant_no": "822" + dev_digits(12),
    }


SPEC: Final = ChannelSpec(
    facts=facts_of(ChannelCode.LAKALA),
    methods=("app_quick_pay", "wechat_qr", "alipay_qr", "web_banking", "web_quick_pay"),
    startable=True,
    keys=KeySpec(required_ids=("appid", "serial_no", "merchant_no"), new_dev_ids=_new_dev_ids),
    protocol=lambda keys, limits: LakalaChannel(
        keys, max_body_bytes=limits.max_body_bytes, clock_skew_max_s=limits.clock_skew_max_s
    ),
    client=LakalaClient,
    calls_api=True,
    payment_statuses=TRADE_STATES,
    refund_match=RefundMatch.REFUND_NO_OR_PAYMENT_AMOUNT,  # formats §6.2: names the payment
)
