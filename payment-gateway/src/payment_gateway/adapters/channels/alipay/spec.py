"""The alipay channel: its `ChannelSpec` (see ../spec.py and docs/adding-a-channel.md)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from otd_shared.channels import ChannelCode, facts_of
from payment_gateway.adapters.channels.alipay.client import TRADE_STATUSES, AlipayClient
from payment_gateway.adapters.channels.alipay.notification import AlipayChannel
from payment_gateway.adapters.channels.key_files import KeySpec, dev_digits
from payment_gateway.adapters.channels.spec import ChannelSpec


def _new_dev_ids() -> dict[str, str]:
    return {"app_id": "2021" + dev_digits(12), "seller_id": "2088" + dev_digits(12)}


SPEC: Final = ChannelSpec(
    facts=facts_of(ChannelCode.ALIPAY),
    methods=("app",),
    startable=True,
    keys=KeySpec(required_ids=("app_id", "seller_id"), new_dev_ids=_new_dev_ids),
    protocol=lambda keys, limits: AlipayChannel(keys, max_body_bytes=limits.max_body_bytes),
    client=AlipayClient,
    calls_api=True,
    payment_statuses=TRADE_STATUSES,
    required_merchant_ids=("app_id", "seller_id"),
    merchant_id_aliases=MappingProxyType({"auth_app_id": "app_id"}),
    cumulative_refunds=True,  # refund_fee is the payment's refunded total (formats §3.2)
)
