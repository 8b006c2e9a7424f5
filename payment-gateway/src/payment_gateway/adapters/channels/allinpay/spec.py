"""The allinpay channel: its `ChannelSpec` (see ../spec.py and docs/adding-a-channel.md)."""

from __future__ import annotations

from typing import Final

from otd_shared.channels import ChannelCode, facts_of
from payment_gateway.adapters.channels.allinpay.client import AllinpayPosClient
from payment_gateway.adapters.channels.allinpay.notification import AllinpayChannel
from payment_gateway.adapters.channels.key_files import KeySpec, dev_digits
from payment_gateway.adapters.channels.spec import ChannelSpec


def _new_dev_ids() -> dict[str, str]:
    return {"cusid": "5500" + dev_digits(11), "appid": "0000" + dev_digits(4)}


SPEC: Final = ChannelSpec(
    facts=facts_of(ChannelCode.ALLINPAY),
    methods=("pos_order_qr",),
    startable=True,
    keys=KeySpec(required_ids=("cusid", "appid"), new_dev_ids=_new_dev_ids),
    protocol=lambda keys, limits: AllinpayChannel(keys, max_body_bytes=limits.max_body_bytes),
    client=AllinpayPosClient,
    calls_api=True,  # its transaction query
    refunds_at_channel=True,  # its refund call (client.py)
    offline_label="POS card terminal (allinpay)",
)
