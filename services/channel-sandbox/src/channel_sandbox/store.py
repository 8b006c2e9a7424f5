"""The sandbox's in-memory view of the channels' orders, refunds and notification deliveries.

Everything here is plain data mutated from the one event loop of the process (no locks: no
mutation spans an `await`). Limits keep memory bounded in long local runs: the oldest orders are
evicted past `order_count_max`, and per-order logs keep only their latest entries.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from channel_sandbox.channels.base import SignedNotification

ORDER_LOG_LEN_MAX: Final = 100
RECENT_DELIVERIES_MAX: Final = 1000
ANSWER_TEXT_LEN_MAX: Final = 200
OUT_TRADE_NO_LEN_MAX: Final = 64
AMOUNT_FEN_MAX: Final = 10**12  # ten billion yuan: far above any online or POS payment


class PayState(StrEnum):
    """Channel-neutral payment state; each channel renders it in its own vocabulary."""

    PENDING = "pending"  # created (prepay / cashier order / opened), not paid
    PAID = "paid"
    FAILED = "failed"  # the payment was attempted and failed (PAYERROR, FAIL, ...)
    CLOSED = "closed"  # closed unpaid by the merchant


class Origin(StrEnum):
    """How the order reached the channel; decides response and notification shapes.

    The origins of today's channels; `Order.origin` is any string, so a new channel may name
    its own in its package."""

    WECHAT_APP = "wechat_app"
    ALIPAY_APP = "alipay_app"
    LAKALA_LABS = "lakala_labs"  # 聚合扫码 preorder
    LAKALA_CASHIER = "lakala_cashier"  # 收银台 order
    POS = "pos"  # UnionPay / Allinpay terminals (control API only)


class DeliveryStatus(StrEnum):
    SCHEDULED = "scheduled"
    DELIVERING = "delivering"
    DELIVERED = "delivered"  # the documented success answer was received
    GAVE_UP = "gave_up"  # the documented schedule is exhausted
    CANCELLED = "cancelled"  # the sandbox shut down first


@dataclass
class Refund:
    """One refund request of an order."""

    out_refund_no: str
    refund_id: str
    amount_fen: int
    created_s: int
    notify_url: str | None
    reason: str = ""
    succeeded_s: int | None = None
    abnormal: bool = False  # the channel gave up on it (WeChat ABNORMAL); it never succeeds

    @property
    def succeeded(self) -> bool:
        return self.succeeded_s is not None


@dataclass
class Attempt:
    """One HTTP POST of a notification and what the receiver answered."""

    number: int
    at_s: float
    elapsed_ms: int
    status_code: int | None
    answer: str
    accepted: bool
    error: str | None = None


@dataclass
class Delivery:
    """One notification on its way to a notify URL, retried until accepted or given up."""

    delivery_id: str
    channel: str
    out_trade_no: str
    subject: str  # "payment" or "refund <out_refund_no>"
    label: str  # the channel status it announces, e.g. TRANSACTION.SUCCESS, TRADE_CLOSED
    url: str
    signed: SignedNotification
    signed_at_s: float
    copy_of: str | None = None  # pay_twice: the delivery whose exact bytes this one repeats
    status: DeliveryStatus = DeliveryStatus.SCHEDULED
    attempts: list[Attempt] = field(default_factory=list)
    first_attempt_done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


@dataclass
class Order:
    """One order as the channel sees it."""

    channel: str
    out_trade_no: str
    amount_fen: int
    origin: str  # an Origin, or a new channel's own
    channel_txn_id: str
    notify_url: str | None
    created_s: int
    state: PayState = PayState.PENDING
    paid_s: int | None = None
    closed_s: int | None = None
    sync_success: bool = False  # succeed_sync_then_fail: synchronous answers say "paid"
    refuses_refunds: bool = False  # refuse_refunds: every later refund request is refused
    request: dict[str, object] = field(default_factory=dict)  # fields of the create call
    refunds: dict[str, Refund] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=ORDER_LOG_LEN_MAX))

    @property
    def refunded_fen(self) -> int:
        """Sum of the refunds that succeeded."""
        return sum(refund.amount_fen for refund in self.refunds.values() if refund.succeeded)

    @property
    def requested_refund_fen(self) -> int:
        """Sum of every refund accepted so far (processing or done; abnormal ones free theirs)."""
        return sum(refund.amount_fen for refund in self.refunds.values() if not refund.abnormal)

    @property
    def fully_refunded(self) -> bool:
        return self.refunded_fen >= self.amount_fen > 0

    def note(self, text: str) -> None:
        """Append a line to the order's bounded log."""
        self.log.append(text)


OrderKey = tuple[str, str]


class OrderStore:
    """Orders by (channel, out_trade_no), plus secondary ids, bounded by count."""

    def __init__(self, order_count_max: int) -> None:
        assert order_count_max > 0
        self._orders: OrderedDict[OrderKey, Order] = OrderedDict()
        self._by_channel_id: dict[tuple[str, str], OrderKey] = {}
        self._aliases: dict[OrderKey, tuple[str, ...]] = {}
        self._refund_owner: dict[tuple[str, str], OrderKey] = {}
        self._order_count_max = order_count_max
        self.armed_sync_then_fail: dict[OrderKey, int] = {}  # key → delay_ms, before creation
        self.armed_refund_failures: set[tuple[str, str]] = set()  # (channel, out_refund_no)
        self.recent_deliveries: deque[Delivery] = deque(maxlen=RECENT_DELIVERIES_MAX)

    def get(self, channel: str, out_trade_no: str) -> Order | None:
        return self._orders.get((channel, out_trade_no))

    def by_channel_id(self, channel: str, channel_id: str) -> Order | None:
        """An order by a channel-side id (transaction id, trade_no, log_no, pay_order_no)."""
        key = self._by_channel_id.get((channel, channel_id))
        return self._orders.get(key) if key is not None else None

    def add(self, order: Order, *alias_ids: str) -> Order:
        key = (order.channel, order.out_trade_no)
        assert key not in self._orders, "orders are created once"
        self._orders[key] = order
        self._aliases[key] = (order.channel_txn_id, *alias_ids)
        for channel_id in self._aliases[key]:
            self._by_channel_id[(order.channel, channel_id)] = key
        while len(self._orders) > self._order_count_max:
            self._evict_oldest()
        return order

    def index_refund(self, order: Order, out_refund_no: str) -> None:
        """Make a refund findable by (channel, out_refund_no)."""
        self._refund_owner[(order.channel, out_refund_no)] = (order.channel, order.out_trade_no)

    def order_of_refund(self, channel: str, out_refund_no: str) -> Order | None:
        key = self._refund_owner.get((channel, out_refund_no))
        return self._orders.get(key) if key is not None else None

    def remove(self, channel: str, out_trade_no: str) -> None:
        """Forget one order (as if the channel never had it)."""
        order = self._orders.pop((channel, out_trade_no), None)
        if order is None:
            return
        for channel_id in self._aliases.pop((channel, out_trade_no), ()):
            self._by_channel_id.pop((channel, channel_id), None)
        for out_refund_no in order.refunds:
            self._refund_owner.pop((channel, out_refund_no), None)

    def orders(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def record_delivery(self, order: Order, delivery: Delivery) -> None:
        order.deliveries.append(delivery)
        self.recent_deliveries.append(delivery)

    def clear(self) -> None:
        self._orders.clear()
        self._by_channel_id.clear()
        self._aliases.clear()
        self._refund_owner.clear()
        self.armed_sync_then_fail.clear()
        self.armed_refund_failures.clear()
        self.recent_deliveries.clear()

    def _evict_oldest(self) -> None:
        key, order = self._orders.popitem(last=False)
        for channel_id in self._aliases.pop(key, ()):
            self._by_channel_id.pop((order.channel, channel_id), None)
        for out_refund_no in order.refunds:
            self._refund_owner.pop((order.channel, out_refund_no), None)
