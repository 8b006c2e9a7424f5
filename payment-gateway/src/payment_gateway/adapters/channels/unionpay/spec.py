"""The unionpay channel: its `ChannelSpec` (see ../spec.py and docs/adding-a-channel.md)."""

from __future__ import annotations

from typing import Final

from otd_shared.channels import ChannelCode, facts_of
from payment_gateway.adapters.channels.key_files import KeySpec, dev_digits
from payment_gateway.adapters.channels.spec import ChannelSpec
from payment_gateway.adapters.channels.unionpay import certs
from payment_gateway.adapters.channels.unionpay.client import UnionPayPosClient
from payment_gateway.adapters.channels.unionpay.notification import UnionPayChannel


def _new_dev_ids() -> dict[str, str]:
    return {"merId": "777290058" + dev_digits(6), "certId": "6" + dev_digits(10)}


SPEC: Final = ChannelSpec(
    facts=facts_of(ChannelCode.UNIONPAY),
    methods=("pos_order_qr",),
    startable=True,
    keys=KeySpec(
        required_ids=("merId", "certId"),
        new_dev_ids=_new_dev_ids,
        certificate_files=certs.CHAIN_FILES,
        make_dev_certificates=certs.ensure_dev_chain,
    ),
    protocol=lambda keys, limits: UnionPayChannel(keys, max_body_bytes=limits.max_body_bytes),
    client=UnionPayPosClient,
    calls_api=True,  # its transaction query
    refunds_at_channel=True,  # its refund call (client.py)
    offline_label="POS card terminal (unionpay)",
)
