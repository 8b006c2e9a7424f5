"""PaymentCorrected of a refund through the ledger's event handler on real PostgreSQL: a
refund the channel made larger posts the difference like the refund (Dr deposits / Cr
clearing), one it made smaller posts its reverse (Dr clearing / Cr deposits), each once; the
DiscrepancyResolved naming the correction posts no adjustment journal."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from ledger_testkit import AT, payment

from ledger_service.bootstrap import LedgerRuntime
from ledger_service.service_layer.event_handlers import LedgerEventHandlers
from ledger_service.service_layer.unit_of_work import LedgerUnitOfWork
from otd_shared.events import (
    DiscrepancyResolved,
    EventEnvelope,
    PaymentCallback,
    PaymentCorrected,
    new_envelope,
)

pytestmark = pytest.mark.integration


def _refund_corrected(
    paid: PaymentCallback, refund_id: str, before_fen: int, after_fen: int
) -> PaymentCorrected:
    return PaymentCorrected(
        correction_id=str(uuid.uuid4()), adjustment_id=str(uuid.uuid4()),
        discrepancy_id=str(uuid.uuid4()), order_id=paid.order_id, billing_id="bill-1",
        payment_id=paid.payment_id, channel="wechatpay", method="app",
        out_trade_no=paid.out_trade_no, before_status="succeeded",
        before_amount_fen=before_fen, after_amount_fen=after_fen,
        delta_fen=before_fen - after_fen, completed_at=AT, corrected_at=AT,
        reason="accepted the channel", refund_id=refund_id,
    )  # fmt: skip


async def _handle(runtime: LedgerRuntime, envelopes: list[EventEnvelope]) -> None:
    handlers = LedgerEventHandlers(runtime.ledger)
    for envelope in envelopes:
        async with LedgerUnitOfWork(runtime.sessions, runtime.outbox) as uow:
            await handlers.handle(uow, envelope)
            await uow.commit()


async def _lines(runtime: LedgerRuntime, source_ids: list[str]) -> list[tuple[str, int, int]]:
    """(account, debit, credit) of the journals of these events, in posting order."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT l.account, l.debit_fen, l.credit_fen FROM ledger.journals j "
                "JOIN ledger.journal_lines l USING (journal_id) "
                "WHERE j.source_id = ANY(:ids) ORDER BY j.seq, l.line_no"
            ),
            {"ids": source_ids},
        )
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


async def test_refund_corrections_post_their_difference_once(runtime: LedgerRuntime) -> None:
    order = str(uuid.uuid4())
    paid = payment(order, "wechatpay", 10_000)
    refund_id = f"rf-{uuid.uuid4().hex[:8]}"
    refunded = paid.model_copy(
        update={"outcome": "refunded", "amount_fen": 3_000, "refund_id": refund_id}
    )
    larger = _refund_corrected(paid, refund_id, 3_000, 3_500)
    smaller = _refund_corrected(paid, refund_id, 3_500, 2_000)
    resolved = DiscrepancyResolved(
        discrepancy_id=smaller.discrepancy_id, source="wechatpay",
        kind="amount_mismatch:accept_channel", adjustment_fen=1_500, order_id=order,
        resolved_by="finance:ann", reason="statement", adjustment_id=smaller.adjustment_id,
        payment_id=paid.payment_id, correction_id=smaller.correction_id,
    )  # fmt: skip
    envelopes = [
        new_envelope(p, producer="test", correlation_id="c")
        for p in (paid, refunded, larger, smaller, resolved)
    ]
    await _handle(runtime, [*envelopes, envelopes[3]])  # the smaller one redelivered

    deposits, clearing = f"deposits:{order}", "clearing:wechatpay"
    ids = [str(e.event_id) for e in envelopes]
    assert await _lines(runtime, ids) == [
        (clearing, 10_000, 0), (deposits, 0, 10_000),  # the payment
        (deposits, 3_000, 0), (clearing, 0, 3_000),  # the refund
        (deposits, 500, 0), (clearing, 0, 500),  # the channel refunded 5.00 more
        (clearing, 1_500, 0), (deposits, 0, 1_500),  # ... then 15.00 less: back to deposits
    ]  # fmt: skip
    assert await _lines(runtime, [str(envelopes[4].event_id)]) == []  # no adjustment journal
