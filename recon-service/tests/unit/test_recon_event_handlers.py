"""recon's PaymentCallback handler against a fake unit of work (no database).

The consumer hands every handler its unit of work; the handler only uses the repositories
on it, so a fake one with an in-memory projection is enough to test what it decides.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from otd_shared.events import PaymentCallback, new_envelope
from recon_service.adapters.projection_repo import InternalRecord
from recon_service.service_layer.event_handlers import on_payment_callback, payment_handlers


class FakeProjection:
    """Upserts keyed like the real one: (kind, ref_id)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], InternalRecord] = {}

    async def upsert(self, record: InternalRecord) -> None:
        self.rows[(record.kind, record.ref_id)] = record

    async def upsert_many(self, records: list[InternalRecord]) -> None:
        for record in records:
            await self.upsert(record)


class FakeUnitOfWork:
    """What a handler may touch: the repositories. It never commits (the consumer does)."""

    def __init__(self) -> None:
        self.projection = FakeProjection()
        self.committed = False


def _callback(**overrides: Any) -> PaymentCallback:
    fields: dict[str, Any] = {
        "order_id": "o-1",
        "billing_id": "b-1",
        "payment_id": "p-1",
        "channel": "wechatpay",
        "method": "app",
        "outcome": "succeeded",
        "out_trade_no": "T1",
        "channel_txn_id": "42000001",
        "amount_fen": 500_000,
        "fee_fen": 3_000,
        "completed_at": datetime(2026, 12, 1, 16, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return PaymentCallback(**fields)


async def test_a_success_is_projected_on_its_business_date_in_shanghai() -> None:
    uow = FakeUnitOfWork()
    envelope = new_envelope(_callback(), producer="payment-gateway", correlation_id="c")
    await on_payment_callback(uow, envelope)
    record = uow.projection.rows[("payment", "p-1")]
    assert (record.amount_fen, record.fee_fen, record.status) == (500_000, 3_000, "succeeded")
    assert record.business_date.isoformat() == "2026-12-02"  # 16:30 UTC is 00:30 in Shanghai
    assert record.event_id == envelope.event_id
    assert not uow.committed


async def test_a_refund_is_keyed_by_its_refund_id_and_a_redelivery_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    refund = _callback(outcome="refunded", refund_id="r-9", amount_fen=1_000)
    envelope = new_envelope(refund, producer="payment-gateway", correlation_id="c")
    handler = payment_handlers()["PaymentCallback"]
    await handler(uow, envelope)
    await handler(uow, envelope)
    assert list(uow.projection.rows) == [("refund", "r-9")]
    assert cast(InternalRecord, uow.projection.rows[("refund", "r-9")]).refund_id == "r-9"


async def test_a_refund_without_its_refund_id_raises_for_the_consumer_to_park() -> None:
    uow = FakeUnitOfWork()
    bad = new_envelope(_callback(outcome="refunded"), producer="pg", correlation_id="c")
    with pytest.raises(ValueError, match="refund_id"):
        await on_payment_callback(uow, bad)
    assert uow.projection.rows == {}
