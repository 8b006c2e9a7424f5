"""What the sandbox knows of one channel: a `SandboxChannel`, declared once by its package.

Each channel package ``channels/<code>/`` declares ``CHANNEL: Final = SandboxChannel(...)`` in
its ``channel.py`` (the wire format is the package itself, its HTTP API ``api.py``); the
registry (`channel_sandbox.registry`) finds the packages by listing ``channels/``. Everything
channel-shaped in the neutral modules (key layout, notification signing and delivery, the
control API's scenarios, the test kit, statements) reads the descriptor, never a channel code.

`SandboxChannels` is the set the app runs with: the registry's, or the registry plus a
throwaway channel in tests. A code it does not know raises `UnknownChannel` (never a None).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from fastapi import APIRouter

from channel_sandbox.channels.base import ReadNotification, SignedNotification
from channel_sandbox.keys import KeyLayout, SandboxKeySet
from channel_sandbox.store import Order, Refund


class UnknownChannel(LookupError):
    """A channel code no sandbox channel package declares."""


class NotificationReader(Protocol):
    """The merchant's reading of a notification (test kit); RequestRejected if not genuine."""

    def __call__(
        self, keys: SandboxKeySet, headers: Mapping[str, str], body: bytes, *, now_s: int
    ) -> ReadNotification: ...


class Resigner(Protocol):
    """The same body with a fresh timestamped signature (channels that sign each retry)."""

    def __call__(
        self, keys: SandboxKeySet, signed: SignedNotification, *, now_s: int
    ) -> SignedNotification: ...


@dataclass(frozen=True, kw_only=True)
class OrderStart:
    """An order the control API creates without a create call (what the channel assigns)."""

    origin: str  # an `Origin`, or the channel's own
    channel_txn_id: str
    fields: Mapping[str, object]  # stored as the order's request fields
    alias_ids: tuple[str, ...] = ()  # further channel ids the order is found by


@dataclass(frozen=True, kw_only=True)
class SignedOrder:
    """What an app's signed order string says (Alipay app pay), once its signature checked."""

    out_trade_no: str
    amount_fen: int
    notify_url: str | None
    fields: Mapping[str, object]


def _no_options(order: Order) -> Mapping[str, object]:
    del order
    return {}


def _no_fields(order: Order, refund: Refund | None) -> Mapping[str, object]:
    del order, refund
    return {}


def _neutral_state(order: Order) -> str:
    return order.state.value


@dataclass(frozen=True, kw_only=True)
class SandboxChannel:
    """One channel as the sandbox plays it; every field is read by a neutral module.

    The callables are the channel package's own functions, built from its published format.
    """

    code: str
    """Its channel code (the package name; ``var/keys/<code>/``, ``/callbacks/<code>``)."""
    name: str
    """Its name in control API plans, e.g. ``WeChat Pay``."""
    key_layout: KeyLayout
    """The ids it issues and extra key files (`channel_sandbox.keys`)."""
    start_order: Callable[[SandboxKeySet, int, str | None], OrderStart]
    """(keys, now_s, variant) → an order the control API opens; ``variant`` is one of
    `order_variants` (the control API's ``variant``; its first when not given), or None for a
    channel that has only one kind of order."""
    order_variants: tuple[str, ...] = ()
    """The kinds of order the control API may ask for (Lakala: ``labs``, ``cashier``)."""
    new_refund_id: Callable[[int], str]
    """now_s → the channel's id of a refund the sandbox starts itself."""
    notification: Callable[..., SignedNotification]
    """``notification(keys, event, *, now_s, **options)``: a signed notification."""
    read_notification: NotificationReader
    """The merchant's reading (test kit `sandbox_reader`)."""
    retry_intervals_s: tuple[int, ...]
    """The documented wait before each retry, after the first attempt."""
    delivered_when: Callable[[int, bytes], bool]
    """(status, body) of the receiver's answer → it stops the retries."""
    success_answer: str
    """`delivered_when` in words (control API plans)."""
    merchant_ack: tuple[int, bytes]
    """What a merchant answers a notification it accepted (test kit `Receiver`)."""
    notifies_failures: bool
    """Whether a failed payment is notified (WeChat Pay notifies successes only)."""
    sync_result: Callable[[SandboxKeySet, Order], dict[str, object]]
    """What the app or terminal gets synchronously when the channel says "paid"."""
    notification_options: Callable[[Order], Mapping[str, object]] = _no_options
    """Options of `notification` for an order (Lakala: the body shape of its origin)."""
    notification_fields: Callable[[Order, Refund | None], Mapping[str, object]] = _no_fields
    """Extra fields of an order's payment (refund None) or refund notification."""
    cumulative_refunds: bool = False
    """Refund notifications carry the amount refunded so far (Alipay ``refund_fee``)."""
    resign: Resigner | None = None
    """Re-sign a retry (channels whose signature carries a timestamp); None: same bytes."""
    state: Callable[[Order], str] = _neutral_state
    """The order's state in the channel's words (queries, control API views)."""
    routers: tuple[APIRouter, ...] = ()
    """Its HTTP API (what the gateway calls, statements), mounted by `create_app`."""
    arms_before_create: bool = False
    """succeed_sync_then_fail on an unknown order waits for its create call (prepay/create)."""
    read_order_string: Callable[[SandboxKeySet, str], SignedOrder] | None = None
    """Reads the control API's ``order_string`` (RequestRejected when not genuine)."""
    fee_rate_per_10k: int | None = None
    """What it keeps of each amount in its statement, in 1/10,000; None: no statement."""


@dataclass(frozen=True)
class SandboxChannels:
    """The channels a sandbox plays, by code, in registry order."""

    by_code: Mapping[str, SandboxChannel]

    def __iter__(self) -> Iterator[SandboxChannel]:
        return iter(self.by_code.values())

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def channel(self, code: str) -> SandboxChannel:
        """The channel of `code`; UnknownChannel for a code no package declares."""
        found = self.by_code.get(code)
        if found is None:
            known = ", ".join(self.by_code)
            raise UnknownChannel(f"unknown channel {code!r} (the sandbox plays {known})")
        return found

    def codes(self) -> tuple[str, ...]:
        return tuple(self.by_code)

    def key_layouts(self) -> Mapping[str, KeyLayout]:
        """Code → its key layout (`channel_sandbox.keys.load_all`)."""
        return MappingProxyType({c.code: c.key_layout for c in self})

    def routers(self) -> tuple[APIRouter, ...]:
        """The channels' HTTP APIs."""
        return tuple(router for c in self for router in c.routers)

    def with_statements(self) -> tuple[str, ...]:
        """Codes of the channels that publish a daily statement."""
        return tuple(c.code for c in self if c.fee_rate_per_10k is not None)

    def with_channel(self, channel: SandboxChannel) -> SandboxChannels:
        """These channels plus (or with a replaced) `channel` (tests of derived lists)."""
        return SandboxChannels(MappingProxyType({**self.by_code, channel.code: channel}))
