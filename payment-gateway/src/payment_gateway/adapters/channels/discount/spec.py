"""The discount channel: its `ChannelSpec` (see ../spec.py and docs/adding-a-channel.md).

Offline: a marketing-funded instant discount drawn by the gateway; no keys, no notifications.
"""

from __future__ import annotations

from typing import Final

from otd_shared.channels import ChannelCode, facts_of
from payment_gateway.adapters.channels.spec import ChannelSpec

SPEC: Final = ChannelSpec(
    facts=facts_of(ChannelCode.DISCOUNT),
    methods=("instant_discount",),
    startable=False,
)
