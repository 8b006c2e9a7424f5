"""Channel code → `ChannelProtocol`: one line per channel (CONVENTIONS.md "A channel is one
package and one registry line"). Unknown codes raise; nothing is looked up by name.

    keys = load_key_set(repo_root / "var" / "keys", "alipay")
    channel = build_channel_protocol("alipay", keys)
    verified = channel.verify_notification(request.headers, raw_body, now_s=int(time.time()))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

from payment_gateway.adapters.channels.alipay.notification import AlipayChannel
from payment_gateway.adapters.channels.allinpay.notification import AllinpayChannel
from payment_gateway.adapters.channels.contract import ChannelProtocol, NotificationLimits
from payment_gateway.adapters.channels.errors import ChannelKeyError
from payment_gateway.adapters.channels.keys import ChannelKeySet, load_key_set
from payment_gateway.adapters.channels.lakala.notification import LakalaChannel
from payment_gateway.adapters.channels.unionpay.notification import UnionPayChannel
from payment_gateway.adapters.channels.wechatpay.notification import WechatPayChannel

ChannelFactory = Callable[[ChannelKeySet, NotificationLimits], ChannelProtocol]

CHANNEL_FACTORIES: Final[Mapping[str, ChannelFactory]] = MappingProxyType(
    {
        "wechatpay": lambda keys, limits: WechatPayChannel(
            keys, max_body_bytes=limits.max_body_bytes, clock_skew_max_s=limits.clock_skew_max_s
        ),
        "alipay": lambda keys, limits: AlipayChannel(keys, max_body_bytes=limits.max_body_bytes),
        "lakala": lambda keys, limits: LakalaChannel(
            keys, max_body_bytes=limits.max_body_bytes, clock_skew_max_s=limits.clock_skew_max_s
        ),
        "unionpay": lambda keys, limits: UnionPayChannel(
            keys, max_body_bytes=limits.max_body_bytes
        ),
        "allinpay": lambda keys, limits: AllinpayChannel(
            keys, max_body_bytes=limits.max_body_bytes
        ),
    }
)


def build_channel_protocol(
    channel: str, keys: ChannelKeySet, limits: NotificationLimits | None = None
) -> ChannelProtocol:
    """The ChannelProtocol of `channel`; ChannelKeyError for unknown codes or foreign keys."""
    factory = CHANNEL_FACTORIES.get(channel)
    if factory is None:
        raise ChannelKeyError(f"unknown channel code {channel!r}")
    if keys.channel != channel:
        raise ChannelKeyError(f"key set of {keys.channel!r} given for {channel!r}")
    return factory(keys, limits or NotificationLimits())


def load_channel_protocol(
    keys_dir: Path, channel: str, limits: NotificationLimits | None = None
) -> ChannelProtocol:
    """Load `keys_dir/<channel>/` and build its ChannelProtocol."""
    return build_channel_protocol(channel, load_key_set(keys_dir, channel), limits)
