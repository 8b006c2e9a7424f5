"""The wechatpay channel: its `ChannelSpec` (see ../spec.py and docs/adding-a-channel.md)."""

from __future__ import annotations

import secrets
from typing import Final

from otd_shared.channels import ChannelCode, facts_of
from payment_gateway.adapters.channels.key_files import KeySpec, dev_digits
from payment_gateway.adapters.channels.spec import ChannelSpec
from payment_gateway.adapters.channels.wechatpay.client import TRADE_STATES, WechatPayClient
from payment_gateway.adapters.channels.wechatpay.client_cert import ensure_dev_client_cert
from payment_gateway.adapters.channels.wechatpay.notification import WechatPayChannel


def _new_dev_ids() -> dict[str, str]:
    return {
        "mchid": "19" + dev_digits(8),
        "appid": "wx" + secrets.token_hex(8),
        "serial": secrets.token_hex(20).upper(),
        "merchant_serial": secrets.token_hex(20).upper(),
    }


SPEC: Final = ChannelSpec(
    facts=facts_of(ChannelCode.WECHATPAY),
    methods=("app",),
    startable=True,
    keys=KeySpec(
        required_ids=("mchid", "appid", "serial"),
        new_dev_ids=_new_dev_ids,
        apiv3_key=True,
        apiv2_key=True,  # micropay (付款码) is API v2 only
        client_certificate=True,  # /secapi/pay/reverse: mutual TLS
        make_dev_certificates=ensure_dev_client_cert,
    ),
    protocol=lambda keys, limits: WechatPayChannel(
        keys, max_body_bytes=limits.max_body_bytes, clock_skew_max_s=limits.clock_skew_max_s
    ),
    client=WechatPayClient,
    calls_api=True,
    payment_statuses=TRADE_STATES,
)
