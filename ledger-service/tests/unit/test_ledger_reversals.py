"""PaymentReversed: an offline payment taken back (cash receipt reversed, wire unclaimed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from ledger_service.config import LedgerSettings
from ledger_service.domain.chart import Channel
from ledger_service.domain.errors import InvalidEvent
from ledger_service.domain.events import PaymentReversed, PaymentSucceeded, WireClaimed
from ledger_service.domain.rules import propose
from ledger_service.service_layer.event_mapping import payment_callback
from otd_shared.events import PaymentCallback, new_envelope

AT = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def _legs(event: object) -> list[tuple[str, int, int]]:
    proposal = propose(event)  # type: ignore[arg-type]
    assert proposal is not None
    return [(leg.account, leg.debit_fen, leg.credit_fen) for leg in proposal.journal.legs]


def _reversed(channel: Channel, store_id: str | None = None) -> PaymentReversed:
    return PaymentReversed(
        event_id="evt-rev",
        order_id="ORD-1",
        channel=channel,
        amount_fen=300_000,
        occurred_at=AT,
        payment_id="pay-1",
        reversal_id="rev-1",
        store_id=store_id,
    )


def test_cash_reversal_takes_the_money_back_out_of_the_till() -> None:
    receipt = PaymentSucceeded(
        event_id="evt-pay", order_id="ORD-1", channel=Channel.CASH, amount_fen=300_000,
        occurred_at=AT, store_id="S001",
    )  # fmt: skip
    assert _legs(receipt) == [("cash:S001", 300_000, 0), ("deposits:ORD-1", 0, 300_000)]
    assert _legs(_reversed(Channel.CASH, "S001")) == [
        ("deposits:ORD-1", 300_000, 0),
        ("cash:S001", 0, 300_000),
    ]


def test_wire_unclaim_puts_the_money_back_in_suspense() -> None:
    claim = WireClaimed(
        event_id="evt-claim", wire_id="w-1", order_id="ORD-1", amount_fen=300_000, occurred_at=AT
    )
    assert _legs(claim) == [("suspense", 300_000, 0), ("deposits:ORD-1", 0, 300_000)]
    assert _legs(_reversed(Channel.WIRE)) == [
        ("deposits:ORD-1", 300_000, 0),
        ("suspense", 0, 300_000),
    ]


def test_loan_payments_cannot_be_reversed() -> None:
    with pytest.raises(InvalidEvent, match="cannot be reversed"):
        propose(_reversed(Channel.LOAN))


def test_a_reversed_callback_maps_to_a_reversal_with_its_id() -> None:
    callback = PaymentCallback(
        order_id="ORD-1", billing_id=str(uuid.uuid4()), payment_id="pay-1", channel="cash",
        method="cash_receipt", outcome="reversed", out_trade_no="P1", amount_fen=300_000,
        refund_id="rev-1", store_id="S001", reason="typo", completed_at=AT,
    )  # fmt: skip
    envelope = new_envelope(callback, producer="test", correlation_id="c")
    mapped = payment_callback(envelope, callback, LedgerSettings())
    assert isinstance(mapped, PaymentReversed)
    assert (mapped.reversal_id, mapped.store_id, mapped.amount_fen) == ("rev-1", "S001", 300_000)
