"""The statements the sandbox's channels publish: the payments and refunds the sandbox saw on
a business day (Asia/Shanghai), with the fee each channel keeps. Each channel lays them out in
its own real layout (``otd_shared.statement_files``) in its statement endpoint.

Fees are what the channel keeps at its rate (`SandboxChannel.fee_rate_per_10k`), rounded half
up to the fen; a refund returns the fee of the amount refunded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

from channel_sandbox.spec import SandboxChannel
from channel_sandbox.store import Order, OrderStore, PayState
from otd_shared.statement_files import BUSINESS_TZ, Txn


def fee_fen(rate_per_10k: int, amount_fen: int) -> int:
    """The fee at `rate_per_10k` (1/10,000 of the amount) on an amount, half up."""
    return (amount_fen * rate_per_10k + 5_000) // 10_000


def local_day(at_s: int) -> date:
    """The Asia/Shanghai business day of a Unix instant."""
    return datetime.fromtimestamp(at_s, UTC).astimezone(BUSINESS_TZ).date()


def day_txns(store: OrderStore, channel: SandboxChannel, day: date) -> list[Txn]:
    """Payments paid and refunds that succeeded on ``day``, in time order."""
    if channel.fee_rate_per_10k is None:
        raise ValueError(f"{channel.code} publishes no statement")
    rate = channel.fee_rate_per_10k
    found = [t for o in store.orders() if o.channel == channel.code for t in _txns(o, day, rate)]
    return sorted(found, key=lambda t: (t.at, t.out_trade_no, t.refund))


def _txns(order: Order, day: date, rate: int) -> Iterator[Txn]:
    if order.state is PayState.PAID and order.paid_s is not None and local_day(order.paid_s) == day:
        yield Txn(
            out_trade_no=order.out_trade_no,
            channel_txn_id=order.channel_txn_id,
            amount_fen=order.amount_fen,
            at=datetime.fromtimestamp(order.paid_s, UTC),
            fee_fen=fee_fen(rate, order.amount_fen),
        )
    for refund in order.refunds.values():
        if refund.succeeded_s is not None and local_day(refund.succeeded_s) == day:
            yield Txn(
                out_trade_no=order.out_trade_no,
                channel_txn_id=order.channel_txn_id,
                amount_fen=refund.amount_fen,
                at=datetime.fromtimestamp(refund.succeeded_s, UTC),
                refund=True,
                out_refund_no=refund.out_refund_no,
                fee_fen=fee_fen(rate, refund.amount_fen),
            )
