"""The wire channel: its `ChannelSpec` (see ../spec.py and docs/adding-a-channel.md).

Offline: arrives through the bank link (POST /v1/wires); no keys, no notifications.
"""

from __future__ import annotations

from typing import Final

from otd_shared.channels import ChannelCode, facts_of
from payment_gateway.adapters.channels.spec import ChannelSpec

SPEC: Final = ChannelSpec(
    facts=facts_of(ChannelCode.WIRE),
    methods=("bank_transfer",),
    startable=False,
    offline_label="bank transfer (wire)",
)
