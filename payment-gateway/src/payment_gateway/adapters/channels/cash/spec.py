"""The cash channel: its `ChannelSpec` (see ../spec.py and docs/adding-a-channel.md).

Offline: recorded by the store cashier (POST /v1/cash-receipts); no keys, no notifications.
"""

from __future__ import annotations

from typing import Final

from otd_shared.channels import ChannelCode, facts_of
from payment_gateway.adapters.channels.spec import ChannelSpec

SPEC: Final = ChannelSpec(
    facts=facts_of(ChannelCode.CASH),
    methods=("cash_receipt",),
    startable=False,
    offline_label="cash at the store cashier (cash)",
)
