"""Channel code → its server API client: one line per channel (see registry.py for the
notification side). Unknown codes raise; nothing is looked up by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from payment_gateway.adapters.channels.alipay.client import AlipayClient
from payment_gateway.adapters.channels.client_base import ChannelClient, ChannelHttp, ClientOptions
from payment_gateway.adapters.channels.errors import ChannelKeyError
from payment_gateway.adapters.channels.keys import ChannelKeySet
from payment_gateway.adapters.channels.lakala.client import LakalaClient
from payment_gateway.adapters.channels.pos_client import PosOrderQrClient
from payment_gateway.adapters.channels.wechatpay.client import WechatPayClient

ClientFactory = Callable[[ChannelKeySet, ChannelHttp, ClientOptions], ChannelClient]

CLIENT_FACTORIES: Final[Mapping[str, ClientFactory]] = MappingProxyType(
    {
        "wechatpay": WechatPayClient,
        "alipay": AlipayClient,
        "lakala": LakalaClient,
        "unionpay": PosOrderQrClient,
        "allinpay": PosOrderQrClient,
    }
)


def build_channel_client(
    channel: str, keys: ChannelKeySet, http: ChannelHttp, options: ClientOptions
) -> ChannelClient:
    """The client of ``channel``; ChannelKeyError for unknown codes or foreign keys."""
    factory = CLIENT_FACTORIES.get(channel)
    if factory is None:
        raise ChannelKeyError(f"unknown channel code {channel!r}")
    if keys.channel != channel:
        raise ChannelKeyError(f"key set of {keys.channel!r} given for {channel!r}")
    return factory(keys, http, options)
