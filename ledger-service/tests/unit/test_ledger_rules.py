"""Posting rules: one test (or more) per event kind, plus the registry and business dates."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ledger_service.domain.accounts import AccountType
from ledger_service.domain.business_date import business_date_of
from ledger_service.domain.chart import CLEARING_CHANNELS, Channel
from ledger_service.domain.errors import InvalidEvent, InvalidLeg
from ledger_service.domain.events import (
    CashDeposited,
    LedgerEvent,
    LoanDisbursed,
    OrderDelivered,
    PaymentSucceeded,
    PayoutVia,
    ReconAdjusted,
    RefundOwed,
    RefundSucceeded,
    ServiceCompleted,
    SettlementReported,
    WireClaimed,
    WireReceived,
)
from ledger_service.domain.rules import POSTING_RULES, PostingProposal, propose

# 2024-05-01 02:00 UTC is 10:00 in Shanghai.
AT = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
DAY = date(2024, 5, 1)


def legs_of(proposal: PostingProposal | None) -> list[tuple[str, int, int]]:
    assert proposal is not None
    return [(leg.account, leg.debit_fen, leg.credit_fen) for leg in proposal.journal.legs]


def types_of(proposal: PostingProposal | None) -> dict[str, AccountType]:
    assert proposal is not None
    return {account.code: account.type for account in proposal.accounts}


def payment(channel: Channel, **overrides: typing.Any) -> PaymentSucceeded:
    event = PaymentSucceeded(
        event_id="evt-pay", order_id="ORD-1", channel=channel, amount_fen=5_000_000, occurred_at=AT
    )
    return dataclasses.replace(event, **overrides)


# --- business dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2024, 3, 31, 15, 59, 59, tzinfo=UTC), date(2024, 3, 31)),
        (datetime(2024, 3, 31, 16, 0, tzinfo=UTC), date(2024, 4, 1)),
        (datetime(2024, 12, 31, 16, 30, tzinfo=UTC), date(2025, 1, 1)),
        (datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=9))), date(2024, 5, 1)),
    ],
)
def test_business_date_is_the_shanghai_day(instant: datetime, expected: date) -> None:
    assert business_date_of(instant) == expected


def test_business_date_refuses_naive_timestamps() -> None:
    with pytest.raises(InvalidEvent, match="no timezone"):
        business_date_of(datetime(2024, 5, 1, 2, 0))  # noqa: DTZ001 - the case under test


def test_late_evening_utc_payment_books_on_next_shanghai_day() -> None:
    late = payment(Channel.ALIPAY, occurred_at=datetime(2024, 5, 1, 17, 0, tzinfo=UTC))
    proposal = propose(late)
    assert proposal is not None
    assert proposal.journal.business_date == date(2024, 5, 2)


# --- payments ----------------------------------------------------------------------------


@pytest.mark.parametrize("channel", sorted(CLEARING_CHANNELS))
def test_online_and_pos_payment_debits_clearing(channel: Channel) -> None:
    proposal = propose(payment(channel, fee_fen=3_000))
    assert legs_of(proposal) == [
        (f"clearing:{channel.value}", 5_000_000, 0),
        ("deposits:ORD-1", 0, 5_000_000),
    ]
    assert proposal is not None
    assert proposal.journal.source_id == "evt-pay"
    assert proposal.journal.business_date == DAY
    assert types_of(proposal) == {
        f"clearing:{channel.value}": AccountType.ASSET,
        "deposits:ORD-1": AccountType.LIABILITY,
    }


def test_cash_payment_debits_the_store_till() -> None:
    proposal = propose(payment(Channel.CASH, store_id="store-SH01"))
    assert legs_of(proposal) == [
        ("cash:store-SH01", 5_000_000, 0),
        ("deposits:ORD-1", 0, 5_000_000),
    ]
    assert types_of(proposal)["cash:store-SH01"] is AccountType.ASSET


def test_cash_payment_without_store_is_invalid() -> None:
    with pytest.raises(InvalidEvent, match="store id") as caught:
        propose(payment(Channel.CASH))
    assert caught.value.http_status == 422


@pytest.mark.parametrize("channel", [Channel.WIRE, Channel.LOAN])
def test_wire_and_loan_payments_post_through_their_own_events(channel: Channel) -> None:
    assert propose(payment(channel)) is None


@pytest.mark.parametrize("amount", [0, -1])
def test_payment_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(InvalidEvent, match="amount_fen must be > 0"):
        propose(payment(Channel.WECHATPAY, amount_fen=amount))


def test_payment_amount_must_be_integer() -> None:
    with pytest.raises(InvalidEvent, match="integer fen"):
        propose(payment(Channel.WECHATPAY, amount_fen=1.0))


def test_payment_above_leg_limit_is_rejected_by_the_leg() -> None:
    with pytest.raises(InvalidLeg, match="limit"):
        propose(payment(Channel.WECHATPAY, amount_fen=10**13))


# --- loan ----------------------------------------------------------------------------------


def test_loan_disbursement_is_receivable_from_the_lender() -> None:
    event = LoanDisbursed(
        event_id="evt-loan",
        order_id="ORD-1",
        loan_order_id="L-1",
        amount_fen=10_000_000,
        occurred_at=AT,
    )
    proposal = propose(event)
    assert legs_of(proposal) == [
        ("loan_receivable", 10_000_000, 0),
        ("deposits:ORD-1", 0, 10_000_000),
    ]
    assert types_of(proposal)["loan_receivable"] is AccountType.ASSET


def test_loan_money_landing_in_the_bank_settles_the_receivable() -> None:
    event = SettlementReported(
        event_id="evt-loan-bank",
        channel=Channel.LOAN,
        statement_date=DAY,
        gross_fen=10_000_000,
        fee_fen=0,
        bank_account_id="ICBC-001",
        occurred_at=AT,
    )
    assert legs_of(propose(event)) == [
        ("bank:ICBC-001", 10_000_000, 0),
        ("loan_receivable", 0, 10_000_000),
    ]


# --- refunds -------------------------------------------------------------------------------


def refund_owed(channel: Channel | None) -> RefundOwed:
    return RefundOwed(
        event_id="evt-owed", order_id="ORD-1", amount_fen=200, occurred_at=AT, channel=channel
    )


@pytest.mark.parametrize("channel", [Channel.CASH, Channel.WIRE, Channel.LOAN, None])
def test_offline_refund_owed_becomes_payable(channel: Channel | None) -> None:
    proposal = propose(refund_owed(channel))
    assert legs_of(proposal) == [("deposits:ORD-1", 200, 0), ("refunds_payable", 0, 200)]
    assert types_of(proposal)["refunds_payable"] is AccountType.LIABILITY


@pytest.mark.parametrize("channel", sorted(CLEARING_CHANNELS))
def test_online_refund_owed_has_no_ledger_effect_yet(channel: Channel) -> None:
    assert propose(refund_owed(channel)) is None


def refund(channel: Channel, **overrides: typing.Any) -> RefundSucceeded:
    event = RefundSucceeded(
        event_id="evt-refund", order_id="ORD-1", channel=channel, amount_fen=200, occurred_at=AT
    )
    return dataclasses.replace(event, **overrides)


@pytest.mark.parametrize("channel", sorted(CLEARING_CHANNELS))
def test_channel_refund_leaves_clearing(channel: Channel) -> None:
    assert legs_of(propose(refund(channel))) == [
        ("deposits:ORD-1", 200, 0),
        (f"clearing:{channel.value}", 0, 200),
    ]


def test_cash_refund_pays_the_payable_from_the_till() -> None:
    assert legs_of(propose(refund(Channel.CASH, store_id="S1"))) == [
        ("refunds_payable", 200, 0),
        ("cash:S1", 0, 200),
    ]


@pytest.mark.parametrize("channel", [Channel.WIRE, Channel.LOAN])
def test_bank_refund_pays_the_payable_from_the_bank(channel: Channel) -> None:
    assert legs_of(propose(refund(channel, bank_account_id="ICBC-001"))) == [
        ("refunds_payable", 200, 0),
        ("bank:ICBC-001", 0, 200),
    ]


def test_bank_refund_needs_the_bank_account() -> None:
    with pytest.raises(InvalidEvent, match="bank account"):
        propose(refund(Channel.WIRE))


BANK, TILL = PayoutVia.BANK_TRANSFER, PayoutVia.TILL


@pytest.mark.parametrize(
    ("channel", "via", "debit", "credit"),
    [
        # A POS refund the acquirer refused, paid by finance: no payable was owed for it.
        (Channel.UNIONPAY, BANK, "deposits:ORD-1", "bank:ICBC-001"),
        (Channel.ALLINPAY, BANK, "deposits:ORD-1", "bank:ICBC-001"),
        (Channel.WECHATPAY, BANK, "deposits:ORD-1", "bank:ICBC-001"),
        # A cash payment whose store is unknown is paid back by transfer: not from a till.
        (Channel.CASH, BANK, "refunds_payable", "bank:ICBC-001"),
        (Channel.WIRE, BANK, "refunds_payable", "bank:ICBC-001"),
        (Channel.LOAN, BANK, "refunds_payable", "bank:ICBC-001"),
        (Channel.CASH, TILL, "refunds_payable", "cash:S1"),
        (Channel.UNIONPAY, TILL, "deposits:ORD-1", "cash:S1"),
    ],
)
def test_a_payout_by_hand_leaves_the_bank_or_the_till_it_names(
    channel: Channel, via: PayoutVia, debit: str, credit: str
) -> None:
    event = refund(channel, payout_via=via, store_id="S1", bank_account_id="ICBC-001")
    assert legs_of(propose(event)) == [(debit, 200, 0), (credit, 0, 200)]


@pytest.mark.parametrize("channel", [Channel.UNIONPAY, Channel.CASH, Channel.WIRE])
def test_payout_via_channel_keeps_the_rule_of_events_without_it(channel: Channel) -> None:
    extra: dict[str, typing.Any] = {"store_id": "S1", "bank_account_id": "ICBC-001"}
    without = propose(refund(channel, **extra))
    assert legs_of(propose(refund(channel, payout_via=PayoutVia.CHANNEL, **extra))) == legs_of(
        without
    )


def test_a_till_payout_needs_the_store_and_a_discount_is_never_paid_by_hand() -> None:
    with pytest.raises(InvalidEvent, match="store"):
        propose(refund(Channel.UNIONPAY, payout_via=TILL))
    with pytest.raises(InvalidEvent, match="discount"):
        propose(refund(Channel.DISCOUNT, payout_via=BANK, bank_account_id="ICBC-001"))


# --- settlement ----------------------------------------------------------------------------


def settlement(
    gross_fen: int, fee_fen: int, channel: Channel = Channel.WECHATPAY
) -> SettlementReported:
    return SettlementReported(
        event_id="evt-settle",
        channel=channel,
        statement_date=date(2024, 4, 30),
        gross_fen=gross_fen,
        fee_fen=fee_fen,
        bank_account_id="CMB-002",
        occurred_at=AT,
    )


def test_settlement_debits_bank_net_and_fees_credits_clearing_gross() -> None:
    proposal = propose(settlement(1_000_000, 6_000))
    assert legs_of(proposal) == [
        ("bank:CMB-002", 994_000, 0),
        ("fees:wechatpay", 6_000, 0),
        ("clearing:wechatpay", 0, 1_000_000),
    ]
    assert types_of(proposal)["fees:wechatpay"] is AccountType.EXPENSE
    assert proposal is not None
    assert "2024-04-30" in proposal.journal.description


def test_settlement_without_fee_has_two_legs() -> None:
    assert len(legs_of(propose(settlement(1_000, 0)))) == 2


def test_net_negative_settlement_flips_sides() -> None:
    # Refunds exceeded payments: the channel debits our bank; a fee refund comes back too.
    assert legs_of(propose(settlement(-50_000, -300))) == [
        ("bank:CMB-002", 0, 49_700),
        ("fees:wechatpay", 0, 300),
        ("clearing:wechatpay", 50_000, 0),
    ]


def test_empty_settlement_has_no_effect() -> None:
    assert propose(settlement(0, 0)) is None


@pytest.mark.parametrize("channel", [Channel.CASH, Channel.WIRE])
def test_offline_channels_do_not_settle(channel: Channel) -> None:
    with pytest.raises(InvalidEvent, match="does not settle"):
        propose(settlement(100, 0, channel))


# --- wires and cash ------------------------------------------------------------------------


def test_unidentified_wire_goes_to_suspense_then_claim_moves_it() -> None:
    received = WireReceived(
        event_id="evt-wire",
        wire_id="W-1",
        bank_account_id="ICBC-001",
        amount_fen=8_000_000,
        occurred_at=AT,
    )
    assert legs_of(propose(received)) == [
        ("bank:ICBC-001", 8_000_000, 0),
        ("suspense", 0, 8_000_000),
    ]
    claimed = WireClaimed(
        event_id="evt-claim", wire_id="W-1", order_id="ORD-1", amount_fen=8_000_000, occurred_at=AT
    )
    proposal = propose(claimed)
    assert legs_of(proposal) == [("suspense", 8_000_000, 0), ("deposits:ORD-1", 0, 8_000_000)]
    assert types_of(proposal)["suspense"] is AccountType.LIABILITY


def test_wire_matched_on_arrival_credits_the_order() -> None:
    received = WireReceived(
        event_id="evt-wire",
        wire_id="W-2",
        bank_account_id="ICBC-001",
        amount_fen=8_000_000,
        occurred_at=AT,
        matched_order_id="ORD-9",
    )
    assert legs_of(propose(received)) == [
        ("bank:ICBC-001", 8_000_000, 0),
        ("deposits:ORD-9", 0, 8_000_000),
    ]


def test_cash_deposit_moves_till_to_bank() -> None:
    event = CashDeposited(
        event_id="evt-dep",
        store_id="store-SH01",
        bank_account_id="ICBC-001",
        amount_fen=300_000,
        occurred_at=AT,
    )
    assert legs_of(propose(event)) == [
        ("bank:ICBC-001", 300_000, 0),
        ("cash:store-SH01", 0, 300_000),
    ]


# --- delivery ------------------------------------------------------------------------------


def delivered(balance_fen: int) -> OrderDelivered:
    return OrderDelivered(
        event_id="evt-delivered", order_id="ORD-1", occurred_at=AT, deposit_balance_fen=balance_fen
    )


def test_delivery_recognises_the_whole_deposit_balance() -> None:
    proposal = propose(delivered(25_000_000))
    assert legs_of(proposal) == [("deposits:ORD-1", 25_000_000, 0), ("revenue", 0, 25_000_000)]
    assert types_of(proposal)["revenue"] is AccountType.REVENUE


def test_delivery_without_deposits_has_no_effect() -> None:
    assert propose(delivered(0)) is None


def test_delivery_with_negative_deposit_balance_is_invalid() -> None:
    with pytest.raises(InvalidEvent, match="negative"):
        propose(delivered(-1))


def completed(balance_fen: int, kind: str = "window_film") -> ServiceCompleted:
    return ServiceCompleted(
        event_id="evt-done", order_id="SVC-1", service_kind=kind, occurred_at=AT,
        deposit_balance_fen=balance_fen,
    )  # fmt: skip


def test_a_completed_service_order_is_revenue_of_its_kind() -> None:
    proposal = propose(completed(300_000))
    assert legs_of(proposal) == [
        ("deposits:SVC-1", 300_000, 0),
        ("service_revenue:window_film", 0, 300_000),
    ]
    assert types_of(proposal)["service_revenue:window_film"] is AccountType.REVENUE
    assert legs_of(propose(completed(5, "leasing")))[1] == ("service_revenue:leasing", 0, 5)


def test_a_service_order_completed_without_payments_posts_nothing_and_never_negative() -> None:
    assert propose(completed(0)) is None
    with pytest.raises(InvalidEvent, match="negative"):
        propose(completed(-1))
    with pytest.raises(InvalidEvent, match="service kind"):
        propose(completed(1, "bad:kind"))


# --- recon adjustments ---------------------------------------------------------------------


def adjustment(
    adjustment_fen: int, channel: Channel = Channel.ALIPAY, **extra: typing.Any
) -> ReconAdjusted:
    event = ReconAdjusted(
        event_id="evt-adj",
        discrepancy_id="D-1",
        channel=channel,
        adjustment_fen=adjustment_fen,
        occurred_at=AT,
        reason="statement shows it",
        kind="channel_only",
    )
    return dataclasses.replace(event, **extra)


def test_channel_only_difference_increases_clearing() -> None:
    proposal = propose(adjustment(1_234))
    assert legs_of(proposal) == [("clearing:alipay", 1_234, 0), ("recon_differences", 0, 1_234)]
    assert types_of(proposal)["recon_differences"] is AccountType.EXPENSE
    assert proposal is not None
    assert "D-1" in proposal.journal.description


def test_internal_only_difference_decreases_clearing() -> None:
    assert legs_of(propose(adjustment(-99))) == [
        ("recon_differences", 99, 0),
        ("clearing:alipay", 0, 99),
    ]


def test_cash_adjustment_touches_the_store_till() -> None:
    assert legs_of(propose(adjustment(-50, Channel.CASH, store_id="S1"))) == [
        ("recon_differences", 50, 0),
        ("cash:S1", 0, 50),
    ]


def test_zero_adjustment_has_no_effect() -> None:
    assert propose(adjustment(0)) is None


# --- registry ------------------------------------------------------------------------------


def test_every_rule_input_has_exactly_one_rule() -> None:
    assert set(POSTING_RULES) == set(typing.get_args(LedgerEvent))


def test_unregistered_input_raises() -> None:
    @dataclasses.dataclass(frozen=True)
    class Stranger:
        event_id: str

    with pytest.raises(InvalidEvent, match="no posting rule for Stranger"):
        propose(Stranger("x"))  # type: ignore[arg-type]  # the case under test


def test_rule_descriptions_are_single_line_and_bounded() -> None:
    long_reason = "line one\nline two " + "x" * 1000
    proposal = propose(adjustment(5, reason=long_reason))
    assert proposal is not None
    assert "\n" not in proposal.journal.description
    assert len(proposal.journal.description) <= 500


# --- instant discounts (paid by the marketing budget) ------------------------------------


def test_an_instant_discount_is_marketing_expense_credited_to_the_deposit() -> None:
    proposal = propose(payment(Channel.DISCOUNT, amount_fen=300))
    assert legs_of(proposal) == [("marketing_expense", 300, 0), ("deposits:ORD-1", 0, 300)]
    assert types_of(proposal)["marketing_expense"] is AccountType.EXPENSE


def test_a_reversed_instant_discount_leaves_the_deposit_back_to_marketing() -> None:
    assert legs_of(propose(refund(Channel.DISCOUNT))) == [
        ("deposits:ORD-1", 200, 0),
        ("marketing_expense", 0, 200),
    ]
