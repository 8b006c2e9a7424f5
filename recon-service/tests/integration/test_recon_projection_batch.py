"""recon's PaymentCallback batch handler on real PostgreSQL: a mixed run (a failure then a
late success, a success then a late failure, a refund, a discount, a duplicate) ends in the
same projection rows as the same callbacks one by one, in one statement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from otd_shared.events import EventEnvelope, PaymentCallback, new_envelope
from recon_service.service_layer.event_handlers import on_payment_callback, on_payment_callbacks
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

if TYPE_CHECKING:
    from conftest import ReconHarness

pytestmark = pytest.mark.integration


def _run(tag: str) -> list[EventEnvelope]:
    def callback(pay: str, outcome: str, **more: Any) -> PaymentCallback:
        return PaymentCallback(
            order_id=f"order-{tag}",
            billing_id=f"bill-{tag}",
            payment_id=f"{pay}-{tag}",
            channel=more.pop("channel", "alipay"),
            method="app",
            outcome=outcome,  # type: ignore[arg-type]  # valid outcomes
            out_trade_no=f"{pay}{tag}",
            channel_txn_id=f"2031{pay}{tag}",
            amount_fen=more.pop("amount_fen", 10_000),
            completed_at=datetime(2031, 9, 1, 2, 0, tzinfo=UTC),
            **more,
        )

    callbacks = [
        callback("late", "failed"),
        callback("late", "succeeded", amount_fen=12_000),  # money arrived after all
        callback("final", "succeeded"),
        callback("final", "failed"),  # changes nothing: succeeded is final
        callback("final", "refunded", refund_id=f"ref-{tag}", amount_fen=500),
        callback("disc", "succeeded", channel="discount"),  # on no statement
        callback("final", "refunded", refund_id=f"ref-{tag}", amount_fen=500),
    ]
    return [new_envelope(c, producer="payment-gateway", correlation_id=tag) for c in callbacks]


async def _rows(recon: ReconHarness, tag: str) -> list[Any]:
    rows = await recon.scalar(
        "SELECT array_agg(kind || ':' || replace(ref_id, :tag, '') || ':' || status || ':'"
        " || amount_fen ORDER BY kind, ref_id) FROM recon.internal_records"
        " WHERE order_id = :order",
        tag=tag,
        order=f"order-{tag}",
    )
    return list(rows or [])


async def test_a_mixed_run_ends_as_one_by_one(recon: ReconHarness) -> None:
    one, batch = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    for envelope in _run(one):
        async with ReconUnitOfWork(recon.runtime.sessions, recon.runtime.outbox) as uow:
            await on_payment_callback(uow, envelope)
            await uow.commit()
    async with ReconUnitOfWork(recon.runtime.sessions, recon.runtime.outbox) as uow:
        await on_payment_callbacks(uow, _run(batch))
        await uow.commit()

    assert await _rows(recon, batch) == await _rows(recon, one)
    assert await _rows(recon, batch) == [
        "payment:final-:succeeded:10000",
        "payment:late-:succeeded:12000",
        "refund:ref-:succeeded:500",
    ]
