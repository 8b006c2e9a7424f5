"""Routing: which channel and method a billing stage may be paid with, and for how much.

A pure policy over configurable rules (settings → ``RoutingRules`` in bootstrap):
* the channels (methods, online or not, startable, advice label), derived from the channel
  registry (adapters/channels/registry.py) by bootstrap;
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
from typing import Final

from otd_shared.channels import CATALOGUE, ChannelCode, ChannelKind
from otd_shared.money import fen_to_yuan
from payment_gateway.errors import RouteRefused

# POS acquirers (terminals in the store): order QR reservations and their notifications.
POS_CHANNELS: Final = tuple(code for code, f in CATALOGUE.items() if f.kind is ChannelKind.POS)


@dataclass(frozen=True, kw_only=True)
class ChannelRouting:
    """What routing knows of one channel (derived from its ChannelSpec in bootstrap).

    ``methods``: the first is the default; ``queried``: open orders are queried at the
    channel's API (POS orders are settled by notification and reconciliation);
    ``offline_label``: how advice names an offline channel.
    """

    methods: tuple[str, ...]
    online: bool
    startable: bool
    queried: bool
    offline_label: str = ""


@dataclass(frozen=True)
class RoutingRules:
    """The configurable rules."""

    channels: Mapping[ChannelCode, ChannelRouting]
    stage_entries: Mapping[str, frozenset[str]]
    enabled_channels: frozenset[ChannelCode]
    online_limit_fen_default: int
    online_limit_fen_by_channel: Mapping[ChannelCode, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.online_limit_fen_default > 0
        for stage, entries in self.stage_entries.items():
            for entry in entries:
                code, _, method = entry.partition(":")
                known = next((r for c, r in self.channels.items() if c == code), None)
                if known is None or (method and method not in known.methods):
                    raise ValueError(f"routing entry {entry!r} of stage {stage!r} is unknown")
        for channel, limit in self.online_limit_fen_by_channel.items():
            if channel not in self.channels or not self.channels[channel].online or limit <= 0:
                raise ValueError(f"online limit for {channel!r} must be positive, online only")

    def limit_fen(self, channel: ChannelCode) -> int:
        """The single-payment online limit of a channel."""
        return self.online_limit_fen_by_channel.get(channel, self.online_limit_fen_default)


@dataclass(frozen=True)
class Route:
    """A channel and method the rules accept for a payment."""

    channel: ChannelCode
    method: str
    online: bool


class RoutingPolicy:
    """Decides whether a payment may be started with a channel and method."""

    def __init__(self, rules: RoutingRules) -> None:
        self._rules = rules

    @property
    def rules(self) -> RoutingRules:
        """The rules in force."""
        return self._rules

    def channel(self, channel: ChannelCode) -> ChannelRouting:
        """The routing facts of a known channel."""
        return self._rules.channels[channel]

    def is_online(self, channel: ChannelCode) -> bool:
        """Online (app, QR, web): refunded and queried through the channel's API."""
        known = self._rules.channels.get(channel)
        return known is not None and known.online

    def allows(self, stage: str, channel: ChannelCode, method: str) -> bool:
        """Does the stage allow this channel and method?"""
        entries = self._rules.stage_entries.get(stage, frozenset())
        return channel in entries or f"{channel}:{method}" in entries

    def stage_channels(self, stage: str) -> tuple[ChannelCode, ...]:
        """The enabled channels a stage allows (any method), in a fixed order."""
        return tuple(
            channel
            for channel, known in self._rules.channels.items()
            if channel in self._rules.enabled_channels
            and any(self.allows(stage, channel, method) for method in known.methods)
        )

    def offline_options(self, stage: str) -> tuple[ChannelCode, ...]:
        """The offline channels (POS, cash, wire) the stage allows and that are enabled."""
        return tuple(
            c
            for c in self.stage_channels(stage)
            if not self.channel(c).online and self.channel(c).offline_label
        )

    def route(
        self, *, stage: str, channel: ChannelCode, method: str | None, amount_fen: int
    ) -> Route:
        """The route for the payment, or RouteRefused saying why and what to use instead."""
        assert amount_fen > 0
        known = self._rules.channels.get(channel)
        if known is None or not known.startable:
            raise RouteRefused(
                f"{channel} payments are not started here: cash is recorded by the store "
                "cashier, wire transfers arrive through the bank link",
                reason="channel_not_startable",
                field="channel",
                suggestions=self.stage_channels(stage),
            )
        chosen = method or known.methods[0]
        if chosen not in known.methods:
            offered = ", ".join(known.methods)
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
        route = Route(channel, chosen, known.online)
        if route.online and amount_fen > self._rules.limit_fen(channel):
            raise self._over_limit(stage, channel, amount_fen)
        return route

    def route_recorded(self, *, stage: str, channel: ChannelCode) -> Route:
        """The route of a payment we record ourselves (a cash receipt, a wire claim) or a POS
        reservation: the channel must be enabled and the stage must allow it; no online limit
        applies."""
        known = self._rules.channels.get(channel)
        method = known.methods[0] if known is not None else ""
        allowed_here = known is not None and self.allows(stage, channel, method)
        if channel not in self._rules.enabled_channels or not allowed_here:
            allowed = ", ".join(self.stage_channels(stage)) or "none"
            raise RouteRefused(
                f"the {stage} billing cannot be paid with {channel}; allowed: {allowed}",
                reason="stage_not_allowed",
                field="billing_id",
                suggestions=self.stage_channels(stage),
            )
        return Route(channel, method, online=False)

    def _over_limit(self, stage: str, channel: ChannelCode, amount_fen: int) -> RouteRefused:
        limit_fen = self._rules.limit_fen(channel)
        offline = self.offline_options(stage)
        head = (
            f"{fen_to_yuan(amount_fen)} CNY exceeds the single-payment online limit of "
            f"{fen_to_yuan(limit_fen)} CNY on {channel}"
        )
        if offline:
            words = "; ".join(self.channel(c).offline_label for c in offline)
            advice = f"; pay it offline: {words}, or in several online payments"
        else:
            advice = f"; split it into online payments of at most {fen_to_yuan(limit_fen)} CNY"
        return RouteRefused(
            head + advice, reason="over_online_limit", field="amount_fen", suggestions=offline
        )
