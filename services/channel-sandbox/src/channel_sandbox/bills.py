"""The statements the sandbox's channels publish: built from the payments and refunds the
sandbox saw on a business day (Asia/Shanghai), in each channel's real layout
(``otd_shared.statement_files``: WeChat trade bill, UnionPay ZM in its zip, the assumed
Lakala CSV).

Fees are what the channel keeps at its rate (``FEE_RATE_PER_10K``), rounded half up to the
fen; a refund returns the fee of the amount refunded.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Final

from channel_sandbox.store import Order, OrderStore, PayState
from otd_shared.statement_files import (
    BUSINESS_TZ,
    Txn,
    lakala_csv,
    unionpay_zm,
    wechat_bill,
)

# What each channel keeps, in 1/10,000 of the amount (0.60 %, 0.38 %, 0.50 %).
FEE_RATE_PER_10K: Final[Mapping[str, int]] = MappingProxyType(
    {"wechatpay": 60, "lakala": 38, "unionpay": 50}
)
BILL_CHANNELS: Final = tuple(FEE_RATE_PER_10K)


def fee_fen(channel: str, amount_fen: int) -> int:
    """The channel's fee on an amount, half up."""
    return (amount_fen * FEE_RATE_PER_10K[channel] + 5_000) // 10_000


def local_day(at_s: int) -> date:
    """The Asia/Shanghai business day of a Unix instant."""
    return datetime.fromtimestamp(at_s, UTC).astimezone(BUSINESS_TZ).date()


def day_txns(store: OrderStore, channel: str, day: date) -> list[Txn]:
    """Payments paid and refunds that succeeded on ``day``, in time order."""
    found = [t for order in store.orders() if order.channel == channel for t in _txns(order, day)]
    return sorted(found, key=lambda t: (t.at, t.out_trade_no, t.refund))


def _txns(order: Order, day: date) -> Iterator[Txn]:
    if order.state is PayState.PAID and order.paid_s is not None and local_day(order.paid_s) == day:
        yield Txn(
            out_trade_no=order.out_trade_no,
            channel_txn_id=order.channel_txn_id,
            amount_fen=order.amount_fen,
            at=datetime.fromtimestamp(order.paid_s, UTC),
            fee_fen=fee_fen(order.channel, order.amount_fen),
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
                fee_fen=fee_fen(order.channel, refund.amount_fen),
            )


def wechat_trade_bill(txns: list[Txn], *, gzip: bool) -> tuple[bytes, str]:
    """The ALL trade bill and the SHA-1 of its UNCOMPRESSED bytes (the API's hash_value)."""
    plain = wechat_bill(txns)
    digest = hashlib.sha1(plain, usedforsecurity=False).hexdigest()
    return (wechat_bill(txns, gz=True) if gzip else plain), digest


def unionpay_zip(txns: list[Txn], mer_id: str, day: date) -> tuple[bytes, str]:
    """The file-transfer zip holding ``INN<yyMMdd>88ZM_<merId>`` and its file name."""
    buffer = io.BytesIO()
    stamp = (day.year, day.month, day.day, 9, 0, 0)  # generated once, at 09:00 the next day
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (("ZM", unionpay_zm(txns)), ("ZME", b"")):
            info = zipfile.ZipInfo(f"INN{day:%y%m%d}88{name}_{mer_id}", date_time=stamp)
            archive.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue(), f"{mer_id}_{day:%Y%m%d}.zip"


def lakala_bill(txns: list[Txn]) -> bytes:
    """The assumed Lakala statement CSV (docs/recon.md)."""
    return lakala_csv(txns)
