"""Kafka payloads → posting-rule inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger_service.config import LedgerSettings
from ledger_service.domain import events as rule
from ledger_service.domain.chart import Channel
from ledger_service.domain.errors import InvalidEvent
from ledger_service.service_layer.event_handlers import CONSUMED_EVENT_TYPES
from ledger_service.service_layer.event_mapping import to_ledger_event
from otd_shared.events import (
    DiscrepancyResolved,
    EventPayload,
    LoanDisbursed,
    OrderLocked,
    PaymentCallback,
    PaymentCorrected,
    ReconCompleted,
    RefundRequested,
    WireClaimed,
    WireReceived,
    new_envelope,
)

AT = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
SETTINGS = LedgerSettings(
    default_bank_account_id="ICBC-MAIN",
    settlement_bank_accounts={"alipay": "CMB-ALI"},
    recon_cash_store_id="STORE-HQ",
)


def mapped(payload: EventPayload) -> rule.LedgerEvent | None:
    envelope = new_envelope(payload, producer="t", correlation_id="c", occurred_at=AT)
    event = to_ledger_event(envelope, SETTINGS)
    versioned = isinstance(payload, ReconCompleted) and payload.statement_version is not None
    if event is not None and not versioned:
        assert event.event_id == str(envelope.event_id)  # the source id of the journal
    return event


def callback(
    outcome: str, channel: str = "wechatpay", fen: int = 500, **extra: object
) -> PaymentCallback:
    return PaymentCallback.model_validate(
        {
            "order_id": "ORD-1",
            "billing_id": "B-1",
            "payment_id": "P-1",
            "channel": channel,
            "method": "app",
            "outcome": outcome,
            "out_trade_no": "T-1",
            "amount_fen": fen,
            "completed_at": datetime(2024, 5, 1, 16, 30, tzinfo=UTC),
            **extra,
        }
    )


def test_payment_callbacks() -> None:
    paid = mapped(callback("succeeded", fee_fen=3, store_id=None))
    assert isinstance(paid, rule.PaymentSucceeded)
    assert (paid.channel, paid.amount_fen, paid.fee_fen) == (Channel.WECHATPAY, 500, 3)
    assert paid.occurred_at == datetime(2024, 5, 1, 16, 30, tzinfo=UTC)  # completed_at
    refunded = mapped(callback("refunded", channel="wire", refund_id="R-1"))
    assert isinstance(refunded, rule.RefundSucceeded)
    assert (refunded.bank_account_id, refunded.refund_id) == ("ICBC-MAIN", "R-1")
    assert mapped(callback("failed")) is None
    assert mapped(callback("succeeded", fen=0)) is None
    cash = mapped(callback("succeeded", channel="cash"))
    assert isinstance(cash, rule.PaymentSucceeded)
    assert cash.store_id == "UNASSIGNED"
    till = mapped(callback("refunded", channel="cash", store_id="S-9"))
    assert isinstance(till, rule.RefundSucceeded)
    assert till.store_id == "S-9"


def test_payout_via_is_carried_and_a_till_payout_without_store_uses_the_visible_till() -> None:
    old = mapped(callback("refunded", channel="unionpay", refund_id="R-1"))
    assert isinstance(old, rule.RefundSucceeded)
    assert old.payout_via is None
    bank = mapped(callback("refunded", channel="unionpay", payout_via="bank_transfer"))
    assert isinstance(bank, rule.RefundSucceeded)
    assert (bank.payout_via, bank.bank_account_id) == (rule.PayoutVia.BANK_TRANSFER, "ICBC-MAIN")
    till = mapped(callback("refunded", channel="wire", payout_via="till"))
    assert isinstance(till, rule.RefundSucceeded)
    assert (till.payout_via, till.store_id) == (rule.PayoutVia.TILL, "UNASSIGNED")


def test_wires_loans_refunds() -> None:
    received = mapped(
        WireReceived(
            wire_id="W", bank_account="ICBC-9", payer_account_last4="1234", amount_fen=9,
            matched_order_id="ORD-2", received_at=AT,
        )
    )  # fmt: skip
    assert isinstance(received, rule.WireReceived)
    assert (received.bank_account_id, received.matched_order_id) == ("ICBC-9", "ORD-2")
    claimed = mapped(
        WireClaimed(wire_id="W", order_id="ORD-2", billing_id="B", amount_fen=9, claimed_by="c")
    )
    assert isinstance(claimed, rule.WireClaimed)
    assert claimed.occurred_at == AT
    loan = mapped(
        LoanDisbursed(order_id="ORD-3", loan_order_id="L", amount_fen=7, bank_reference="ref")
    )
    assert isinstance(loan, rule.LoanDisbursed)
    assert (loan.loan_order_id, loan.bank_reference) == ("L", "ref")
    owed = mapped(
        RefundRequested(
            order_id="ORD-4", billing_id="B", refund_request_id="RQ", amount_fen=5, reason="x"
        )
    )
    assert isinstance(owed, rule.RefundOwed)
    assert owed.channel is None


def test_recon_events() -> None:
    settled = mapped(
        ReconCompleted(
            run_id="R", source="alipay", recon_date=date(2024, 4, 30), counts={},
            settled_fen=994, fee_fen=6, gross_fen=1_000,
        )
    )  # fmt: skip
    assert isinstance(settled, rule.SettlementReported)
    assert (settled.bank_account_id, settled.gross_fen, settled.fee_fen) == ("CMB-ALI", 1_000, 6)
    older = mapped(
        ReconCompleted(
            run_id="R", source="alipay", recon_date=date(2024, 4, 30), counts={},
            settled_fen=994, fee_fen=6,
        )
    )  # fmt: skip
    assert isinstance(older, rule.SettlementReported)
    assert older.gross_fen == 1_000, "an unversioned producer's settled_fen is the net"
    versioned = mapped(
        ReconCompleted(
            run_id="R2", source="alipay", recon_date=date(2024, 4, 30), counts={},
            settled_fen=994, fee_fen=6, gross_fen=1_000, statement_version=2,
        )
    )  # fmt: skip
    assert isinstance(versioned, rule.SettlementReported)
    assert versioned.event_id == "settlement:alipay:2024-04-30:v2"
    assert settled.statement_date == date(2024, 4, 30)
    cash_recon = ReconCompleted(run_id="R", source="cash", recon_date=date(2024, 4, 30), counts={})
    assert mapped(cash_recon) is None  # cash reaches the bank through deposits
    cash = mapped(
        DiscrepancyResolved(
            discrepancy_id="D", source="cash", kind="short", adjustment_fen=-5, resolved_by="f",
            reason="till count",
        )
    )  # fmt: skip
    assert isinstance(cash, rule.ReconAdjusted)
    assert (cash.store_id, cash.bank_account_id) == ("STORE-HQ", None)
    wire = mapped(
        DiscrepancyResolved(
            discrepancy_id="D", source="wire", kind="long", adjustment_fen=5, resolved_by="f",
            reason="bank fee",
        )
    )  # fmt: skip
    assert isinstance(wire, rule.ReconAdjusted)
    assert wire.bank_account_id == "ICBC-MAIN"


def test_unconsumed_events_map_to_nothing_and_the_consumed_set_is_complete() -> None:
    assert mapped(OrderLocked(order_id="O", locked_at=AT)) is None
    assert set(CONSUMED_EVENT_TYPES) == {
        "PaymentCallback", "WireReceived", "WireClaimed", "LoanDisbursed", "RefundRequested",
        "ReconCompleted", "DiscrepancyResolved", "OrderDelivered", "ServiceOrderCompleted",
        "PaymentCorrected",
    }  # fmt: skip


def corrected(delta_fen: int, channel: str = "wechatpay") -> PaymentCorrected:
    return PaymentCorrected(
        correction_id="C", adjustment_id="A", discrepancy_id="D", order_id="O", billing_id="B",
        payment_id="P", channel=channel, method="app", out_trade_no="T",
        before_status="succeeded", before_amount_fen=499_000,
        after_amount_fen=499_000 + delta_fen, delta_fen=delta_fen, completed_at=AT,
        corrected_at=AT, reason="r",
    )  # fmt: skip


def test_a_payment_correction_books_its_difference_once_and_the_adjustment_nothing() -> None:
    up = mapped(corrected(1_000))
    assert isinstance(up, rule.PaymentSucceeded)
    assert (up.channel, up.amount_fen, up.order_id) == (Channel.WECHATPAY, 1_000, "O")
    down = mapped(corrected(-1_000, channel="cash"))
    assert isinstance(down, rule.PaymentReversed)
    assert (down.amount_fen, down.store_id, down.reversal_id) == (1_000, "STORE-HQ", "C")
    adjustment = DiscrepancyResolved(
        discrepancy_id="D", source="wechatpay", kind="amount_mismatch:accept_channel",
        adjustment_fen=1_000, resolved_by="f", reason="r", adjustment_id="A",
        payment_id="P", correction_id="C",
    )  # fmt: skip
    assert mapped(adjustment) is None
    assert isinstance(
        mapped(adjustment.model_copy(update={"correction_id": None})), rule.ReconAdjusted
    )


def test_a_refund_made_smaller_posts_the_reverse_of_a_refund() -> None:
    smaller = corrected(1_000).model_copy(
        update={"refund_id": "R", "before_amount_fen": 3_000, "after_amount_fen": 2_000}
    )
    back = mapped(smaller)
    assert isinstance(back, rule.PaymentSucceeded)  # Dr clearing / Cr deposits
    assert (back.channel, back.amount_fen, back.order_id) == (Channel.WECHATPAY, 1_000, "O")
    larger = mapped(smaller.model_copy(update={"after_amount_fen": 3_500, "delta_fen": -500}))
    assert isinstance(larger, rule.PaymentReversed)  # Dr deposits / Cr clearing
    assert (larger.amount_fen, larger.reversal_id) == (500, "C")


def test_a_bad_channel_is_a_domain_error() -> None:
    event = DiscrepancyResolved.model_construct(
        discrepancy_id="D", source="paypal", kind="k", adjustment_fen=1, resolved_by="f",
        reason="r", event_type="DiscrepancyResolved", order_id=None, approved_by=None,
    )  # fmt: skip
    envelope = new_envelope(event, producer="t", correlation_id="c")
    with pytest.raises(InvalidEvent, match="paypal"):
        to_ledger_event(envelope, SETTINGS)
