"""Routing: which channel and method a billing stage may be paid with, and for how much.

A pure policy over configurable rules (settings → ``RoutingRules`` in bootstrap):
* stage → allowed entries, each ``"channel"`` (every method) or ``"channel:method"``;
  default intent: online only; firm and final (and service): offline plus online;
* per-channel enable switches;
* the single-payment online limit (default 50,000.00 CNY, overridable per channel): an online
  payment above it is refused with a message that suggests the stage's offline options.
Channel health (out of rotation while failing) is the service layer's call, not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from otd_shared.money import fen_to_yuan
from payment_gateway.errors import RouteRefused

ONLINE_CHANNELS: Final = ("wechatpay", "alipay", "lakala")
POS_CHANNELS: Final = ("unionpay", "allinpay")
OFFLINE_CHANNELS: Final = ("unionpay", "allinpay", "cash", "wire")
# The first method is the channel's default.
CHANNEL_METHODS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "wechatpay": ("app",),
        "alipay": ("app",),
        "lakala": ("app_quick_pay", "wechat_qr", "alipay_qr", "web_banking", "web_quick_pay"),
        "unionpay": ("pos_order_qr",),
        "allinpay": ("pos_order_qr",),
        "cash": ("cash_receipt",),
        "wire": ("bank_transfer",),
    }
)
# cash is recorded by the store cashier and wire arrives through the bank link: neither is
# started by POST /v1/payments.
STARTABLE_CHANNELS: Final = (*ONLINE_CHANNELS, *POS_CHANNELS)
_OFFLINE_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "unionpay": "POS card terminal (unionpay)",
        "allinpay": "POS card terminal (allinpay)",
        "cash": "cash at the store cashier (cash)",
        "wire": "bank transfer (wire)",
    }
)


@dataclass(frozen=True)
class RoutingRules:
    """The configurable rules."""

    stage_entries: Mapping[str, frozenset[str]]
    enabled_channels: frozenset[str]
    online_limit_fen_default: int
    online_limit_fen_by_channel: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.online_limit_fen_default > 0
        for stage, entries in self.stage_entries.items():
            for entry in entries:
                channel, _, method = entry.partition(":")
                if channel not in CHANNEL_METHODS or (
                    method and method not in CHANNEL_METHODS[channel]
                ):
                    raise ValueError(f"routing entry {entry!r} of stage {stage!r} is unknown")
        for channel, limit in self.online_limit_fen_by_channel.items():
            if channel not in ONLINE_CHANNELS or limit <= 0:
                raise ValueError(f"online limit for {channel!r} must be positive, online only")

    def limit_fen(self, channel: str) -> int:
        """The single-payment online limit of a channel."""
        return self.online_limit_fen_by_channel.get(channel, self.online_limit_fen_default)


@dataclass(frozen=True)
class Route:
    """A channel and method the rules accept for a payment."""

    channel: str
    method: str

    @property
    def online(self) -> bool:
        """Online (app, QR, web) as opposed to a terminal or the counter."""
        return self.channel in ONLINE_CHANNELS


class RoutingPolicy:
    """Decides whether a payment may be started with a channel and method."""

    def __init__(self, rules: RoutingRules) -> None:
        self._rules = rules

    @property
    def rules(self) -> RoutingRules:
        """The rules in force."""
        return self._rules

    def allows(self, stage: str, channel: str, method: str) -> bool:
        """Does the stage allow this channel and method?"""
        entries = self._rules.stage_entries.get(stage, frozenset())
        return channel in entries or f"{channel}:{method}" in entries

    def stage_channels(self, stage: str) -> tuple[str, ...]:
        """The enabled channels a stage allows (any method), in a fixed order."""
        return tuple(
            channel
            for channel, methods in CHANNEL_METHODS.items()
            if channel in self._rules.enabled_channels
            and any(self.allows(stage, channel, method) for method in methods)
        )

    def offline_options(self, stage: str) -> tuple[str, ...]:
        """The offline channels (POS, cash, wire) the stage allows and that are enabled."""
        return tuple(c for c in self.stage_channels(stage) if c in OFFLINE_CHANNELS)

    def route(self, *, stage: str, channel: str, method: str | None, amount_fen: int) -> Route:
        """The route for the payment, or RouteRefused saying why and what to use instead."""
        assert amount_fen > 0
        if channel not in STARTABLE_CHANNELS:
            raise RouteRefused(
                f"{channel} payments are not started here: cash is recorded by the store "
                "cashier, wire transfers arrive through the bank link",
                reason="channel_not_startable",
                field="channel",
                suggestions=self.stage_channels(stage),
            )
        chosen = method or CHANNEL_METHODS[channel][0]
        if chosen not in CHANNEL_METHODS[channel]:
            offered = ", ".join(CHANNEL_METHODS[channel])
            raise RouteRefused(
                f"{channel} offers the methods {offered}, not {chosen!r}",
                reason="unknown_method",
                field="method",
                suggestions=(channel,),
            )
        others = tuple(c for c in self.stage_channels(stage) if c != channel)
        if channel not in self._rules.enabled_channels:
            raise RouteRefused(
                f"{channel} is switched off; use {', '.join(others) or 'another channel'}",
                reason="channel_disabled",
                field="channel",
                suggestions=others,
            )
        if not self.allows(stage, channel, chosen):
            allowed = ", ".join(self.stage_channels(stage)) or "none"
            raise RouteRefused(
                f"the {stage} billing cannot be paid with {channel} ({chosen}); allowed: {allowed}",
                reason="stage_not_allowed",
                field="channel",
                suggestions=self.stage_channels(stage),
            )
        route = Route(channel, chosen)
        if route.online and amount_fen > self._rules.limit_fen(channel):
            raise self._over_limit(stage, channel, amount_fen)
        return route

    def _over_limit(self, stage: str, channel: str, amount_fen: int) -> RouteRefused:
        limit_fen = self._rules.limit_fen(channel)
        offline = self.offline_options(stage)
        head = (
            f"{fen_to_yuan(amount_fen)} CNY exceeds the single-payment online limit of "
            f"{fen_to_yuan(limit_fen)} CNY on {channel}"
        )
        if offline:
            words = "; ".join(_OFFLINE_WORDS[c] for c in offline)
            advice = f"; pay it offline: {words}, or in several online payments"
        else:
            advice = f"; split it into online payments of at most {fen_to_yuan(limit_fen)} CNY"
        return RouteRefused(
            head + advice, reason="over_online_limit", field="amount_fen", suggestions=offline
        )
