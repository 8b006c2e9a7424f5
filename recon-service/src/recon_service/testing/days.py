"""A business day of one channel for recon's integration tests: our callbacks and the
statement lines of the same payments (``Day``), and ``load`` of a WeChat bill of lines."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from otd_shared.events import PaymentCallback, PaymentCorrected
from otd_shared.statement_files import Txn, wechat_bill
from recon_service.domain import BUSINESS_TZ


class Day:
    """Payments of one business day on one channel, internal and on the statement."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.tag = uuid.uuid4().hex[:6].upper()

    def at(self, hh: int, mm: int = 0, ss: int = 0, *, days: int = 0) -> datetime:
        local = datetime.combine(self.day + timedelta(days=days), datetime.min.time())
        return local.replace(hour=hh, minute=mm, second=ss, tzinfo=BUSINESS_TZ)

    def otn(self, n: int) -> str:
        return f"P{self.day:%y%m%d}{self.tag}{n:014d}"

    def txn_id(self, n: int) -> str:
        return f"42000{self.day:%Y%m%d}{n:015d}"

    def line(self, n: int, fen: int, at: datetime, **kw: Any) -> Txn:
        return Txn(
            out_trade_no=self.otn(n), channel_txn_id=self.txn_id(n), amount_fen=fen, at=at, **kw
        )

    def callback(
        self, n: int, fen: int, at: datetime, outcome: str = "succeeded", **kw: Any
    ) -> PaymentCallback:
        return PaymentCallback(
            order_id=f"order-{self.tag}-{n}",
            billing_id=f"bill-{self.tag}-{n}",
            payment_id=f"pay-{self.tag}-{n}",
            channel="wechatpay",
            method="app",
            outcome=outcome,
            out_trade_no=self.otn(n),
            channel_txn_id=self.txn_id(n),
            amount_fen=fen,
            completed_at=at.astimezone(UTC),
            **kw,
        )

    def corrected(
        self, n: int, before_fen: int, after_fen: int, at: datetime, before_status: str
    ) -> PaymentCorrected:
        """The gateway corrected payment ``n`` to the channel's ``after_fen``."""
        counted = before_fen if before_status == "succeeded" else 0
        return PaymentCorrected(
            correction_id=str(uuid.uuid4()),
            adjustment_id=str(uuid.uuid4()),
            discrepancy_id=str(uuid.uuid4()),
            order_id=f"order-{self.tag}-{n}",
            billing_id=f"bill-{self.tag}-{n}",
            payment_id=f"pay-{self.tag}-{n}",
            channel="wechatpay",
            method="app",
            out_trade_no=self.otn(n),
            channel_txn_id=self.txn_id(n),
            before_status=before_status,
            before_amount_fen=before_fen,
            after_amount_fen=after_fen,
            delta_fen=after_fen - counted,
            completed_at=at.astimezone(UTC),
            corrected_at=at.astimezone(UTC) + timedelta(days=2),
            reason="accepted the channel",
        )


async def load(recon: Any, txns: list[Txn], day: date) -> None:
    """Upload a WeChat bill of ``txns`` as the day's statement."""
    response = await recon.upload("wechatpay", wechat_bill(txns), statement_date=day.isoformat())
    assert response.status_code in (200, 201), response.text
