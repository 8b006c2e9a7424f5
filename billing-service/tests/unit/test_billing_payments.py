"""Payment outcomes on a billing: partial payments, duplicates, failures, refunds, overpayment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from billing_service.domain import (
    ApplyResult,
    ApplyStatus,
    BillingStatus,
    Channel,
    FundOrder,
    PaymentCorrected,
    PaymentFailed,
    PaymentSucceeded,
    RefundReduced,
)
from billing_service.domain.errors import (
    BillingNotFound,
    InvalidAmount,
    InvalidField,
    PaymentOutcomeConflict,
    RefundExceedsPayment,
)
from billing_service.domain.events import (
    BillingOverpaid,
    BillingPaid,
    BillingReopened,
    RefundRequested,
)

MakeFundOrder = Callable[..., FundOrder]
Pay = Callable[..., ApplyResult]
Refund = Callable[..., ApplyResult]


@pytest.fixture
def fund_order(make_fund_order: MakeFundOrder, t0: datetime) -> FundOrder:
    fund_order = make_fund_order()
    fund_order.lock(at=t0)  # firm billing of 5_000_000 is due
    fund_order.pull_events()
    return fund_order


# --- successes ----------------------------------------------------------------------------


def test_partial_payments_on_several_channels_add_up(fund_order: FundOrder, pay: Pay) -> None:
    firm = fund_order.firm

    first = pay(fund_order, firm.id, 2_000_000, "p-pos", Channel.UNIONPAY)
    second = pay(fund_order, firm.id, 1_000_000, "p-cash", Channel.CASH)
    last = pay(fund_order, firm.id, 2_000_000, "p-wire", Channel.WIRE)

    assert (first.status, first.events, second.events) == (ApplyStatus.APPLIED, (), ())
    assert [type(e) for e in last.events] == [BillingPaid]
    assert firm.paid_fen == 5_000_000
    assert firm.status is BillingStatus.PAID
    assert {p.channel for p in firm.book.payments.values()} == {
        Channel.UNIONPAY,
        Channel.CASH,
        Channel.WIRE,
    }


def test_the_same_success_twice_changes_nothing(fund_order: FundOrder, pay: Pay) -> None:
    pay(fund_order, fund_order.firm.id, 5_000_000, "p1")
    fund_order.pull_events()

    again = pay(fund_order, fund_order.firm.id, 5_000_000, "p1")

    assert again == ApplyResult(ApplyStatus.DUPLICATE)
    assert fund_order.firm.paid_fen == 5_000_000
    assert fund_order.pull_events() == []


def test_the_same_payment_id_with_other_facts_is_a_conflict(
    fund_order: FundOrder, pay: Pay
) -> None:
    pay(fund_order, fund_order.firm.id, 1_000_000, "p1")

    with pytest.raises(PaymentOutcomeConflict) as caught:
        pay(fund_order, fund_order.firm.id, 2_000_000, "p1")

    assert caught.value.http_status == 409
    assert fund_order.firm.paid_fen == 1_000_000


def test_a_payment_id_belongs_to_one_billing(fund_order: FundOrder, pay: Pay) -> None:
    pay(fund_order, fund_order.intent.id, 500_000, "p1")

    with pytest.raises(PaymentOutcomeConflict, match="belongs to billing"):
        pay(fund_order, fund_order.firm.id, 500_000, "p1")
    assert fund_order.firm.paid_fen == 0


@pytest.mark.parametrize("amount_fen", [0, -100])
def test_a_success_must_carry_a_positive_amount(
    fund_order: FundOrder, pay: Pay, amount_fen: int
) -> None:
    with pytest.raises(InvalidAmount) as caught:
        pay(fund_order, fund_order.firm.id, amount_fen, "p1")
    assert caught.value.field == "amount_fen"


def test_an_outcome_for_an_unknown_billing_is_not_found(fund_order: FundOrder, pay: Pay) -> None:
    with pytest.raises(BillingNotFound):
        pay(fund_order, "bill-404", 100, "p1")


def test_an_outcome_needs_an_aware_time(fund_order: FundOrder) -> None:
    outcome = PaymentSucceeded(
        payment_id="p1",
        channel=Channel.CASH,
        amount_fen=100,
        at=datetime(2024, 3, 1),  # noqa: DTZ001  (naive on purpose)
    )
    with pytest.raises(InvalidField):
        fund_order.apply_payment_outcome(fund_order.firm.id, outcome)
    assert fund_order.firm.paid_fen == 0


# --- failures -----------------------------------------------------------------------------


def test_a_failure_moves_no_money_and_repeats_harmlessly(
    fund_order: FundOrder, t0: datetime
) -> None:
    failed = PaymentFailed(payment_id="p1", channel=Channel.ALIPAY, at=t0)

    first = fund_order.apply_payment_outcome(fund_order.firm.id, failed)
    second = fund_order.apply_payment_outcome(fund_order.firm.id, failed)

    assert (first.status, second.status) == (ApplyStatus.APPLIED, ApplyStatus.DUPLICATE)
    assert fund_order.firm.paid_fen == 0
    assert fund_order.firm.status is BillingStatus.DUE


def test_a_success_after_a_failure_counts(fund_order: FundOrder, pay: Pay, t0: datetime) -> None:
    failed = PaymentFailed(payment_id="p1", channel=Channel.ALIPAY, at=t0)
    fund_order.apply_payment_outcome(fund_order.firm.id, failed)

    result = pay(fund_order, fund_order.firm.id, 1_000, "p1", Channel.ALIPAY)

    assert result.status is ApplyStatus.APPLIED
    assert fund_order.firm.paid_fen == 1_000
    # The old failure notice delivered again is still only a duplicate.
    assert fund_order.apply_payment_outcome(fund_order.firm.id, failed).status is (
        ApplyStatus.DUPLICATE
    )


def test_a_failure_after_a_success_is_a_conflict(
    fund_order: FundOrder, pay: Pay, t0: datetime
) -> None:
    pay(fund_order, fund_order.firm.id, 1_000, "p1")

    with pytest.raises(PaymentOutcomeConflict, match="failed after it succeeded"):
        fund_order.apply_payment_outcome(
            fund_order.firm.id, PaymentFailed(payment_id="p1", channel=Channel.WECHATPAY, at=t0)
        )
    assert fund_order.firm.paid_fen == 1_000


# --- refunds ------------------------------------------------------------------------------


def test_a_refund_before_its_payment_is_deferred(fund_order: FundOrder, refund: Refund) -> None:
    result = refund(fund_order, fund_order.firm.id, "p-later", "r1", 1_000)

    assert result == ApplyResult(ApplyStatus.DEFERRED)
    assert fund_order.firm.book.refunds == {}
    assert fund_order.firm.paid_fen == 0


def test_a_deferred_refund_applies_after_its_payment(
    fund_order: FundOrder, pay: Pay, refund: Refund
) -> None:
    refund(fund_order, fund_order.firm.id, "p1", "r1", 1_000)
    pay(fund_order, fund_order.firm.id, 3_000, "p1")

    result = refund(fund_order, fund_order.firm.id, "p1", "r1", 1_000)

    assert result.status is ApplyStatus.APPLIED
    assert fund_order.firm.paid_fen == 2_000


def test_a_refund_takes_a_paid_billing_back_to_partially_paid(
    fund_order: FundOrder, pay: Pay, refund: Refund, t0: datetime
) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 5_000_000, "p1")

    result = refund(fund_order, firm.id, "p1", "r1", 1_000_000)

    assert firm.status is BillingStatus.PARTIALLY_PAID
    assert firm.paid_fen == 4_000_000
    assert result.events == (
        BillingReopened(
            order_id="order-1",
            occurred_at=t0,
            billing_id=firm.id,
            stage="firm",
            amount_fen=5_000_000,
            paid_fen=4_000_000,
        ),
    )
    assert [type(e) for e in pay(fund_order, firm.id, 1_000_000, "p2").events] == [BillingPaid]


def test_the_same_refund_twice_changes_nothing(
    fund_order: FundOrder, pay: Pay, refund: Refund
) -> None:
    pay(fund_order, fund_order.firm.id, 3_000, "p1")
    refund(fund_order, fund_order.firm.id, "p1", "r1", 1_000)

    again = refund(fund_order, fund_order.firm.id, "p1", "r1", 1_000)

    assert again.status is ApplyStatus.DUPLICATE
    assert fund_order.firm.paid_fen == 2_000


def test_partial_refunds_of_one_payment_are_told_apart_by_refund_id(
    fund_order: FundOrder, pay: Pay, refund: Refund
) -> None:
    pay(fund_order, fund_order.firm.id, 3_000, "p1")

    refund(fund_order, fund_order.firm.id, "p1", "r1", 1_000)
    refund(fund_order, fund_order.firm.id, "p1", "r2", 1_000)

    assert fund_order.firm.paid_fen == 1_000


def test_the_same_refund_id_with_other_facts_is_a_conflict(
    fund_order: FundOrder, pay: Pay, refund: Refund
) -> None:
    pay(fund_order, fund_order.firm.id, 3_000, "p1")
    refund(fund_order, fund_order.firm.id, "p1", "r1", 1_000)

    with pytest.raises(PaymentOutcomeConflict):
        refund(fund_order, fund_order.firm.id, "p1", "r1", 2_000)


def test_a_refund_cannot_exceed_what_is_left_of_its_payment(
    fund_order: FundOrder, pay: Pay, refund: Refund
) -> None:
    pay(fund_order, fund_order.firm.id, 3_000, "p1")
    refund(fund_order, fund_order.firm.id, "p1", "r1", 2_000)

    with pytest.raises(RefundExceedsPayment) as caught:
        refund(fund_order, fund_order.firm.id, "p1", "r2", 1_001)

    assert caught.value.http_status == 409
    assert fund_order.firm.paid_fen == 1_000


# --- overpayment --------------------------------------------------------------------------


def test_an_overpayment_is_a_credit_refunded_to_the_customer(
    fund_order: FundOrder, pay: Pay, t0: datetime
) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 4_000_000, "p-pos", Channel.UNIONPAY)

    result = pay(fund_order, firm.id, 1_500_000, "p-wire", Channel.WIRE)

    assert result.events == (
        BillingPaid(
            order_id="order-1",
            occurred_at=t0,
            billing_id=firm.id,
            stage="firm",
            amount_fen=5_000_000,
            paid_fen=5_500_000,
        ),
        BillingOverpaid(
            order_id="order-1",
            occurred_at=t0,
            billing_id=firm.id,
            stage="firm",
            amount_fen=5_000_000,
            paid_fen=5_500_000,
            overpaid_fen=500_000,
            payment_id="p-wire",
        ),
        RefundRequested(
            order_id="order-1",
            occurred_at=t0,
            billing_id=firm.id,
            stage="firm",
            refund_request_id=f"{firm.id}-R1",
            payment_id="p-wire",
            channel="wire",
            amount_fen=500_000,
            reason="overpayment of the firm billing",
        ),
    )
    assert (firm.credit_fen, firm.book.awaiting_refund_fen) == (500_000, 500_000)
    assert firm.status is BillingStatus.PAID


def test_an_overpayment_larger_than_the_last_payment_is_split(
    fund_order: FundOrder, pay: Pay
) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 3_000_000, "p1")
    pay(fund_order, firm.id, 1_000_000, "p2")

    result = pay(fund_order, firm.id, 2_500_000, "p3")  # 1_500_000 too much; p3 is 2_500_000

    refunds = [e for e in result.events if isinstance(e, RefundRequested)]
    assert [(r.payment_id, r.amount_fen) for r in refunds] == [("p3", 1_500_000)]

    pay(fund_order, firm.id, 1_000_000, "p4")  # another 1_000_000 too much
    assert firm.book.awaiting_refund_fen == 2_500_000


def test_an_executed_refund_of_a_credit_requests_nothing_new(
    fund_order: FundOrder, pay: Pay, refund: Refund
) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 5_200_000, "p1")
    [request] = firm.refund_requests

    result = refund(fund_order, firm.id, "p1", request.refund_request_id, 200_000)

    assert result.events == ()
    assert (firm.paid_fen, firm.credit_fen, firm.book.awaiting_refund_fen) == (5_000_000, 0, 0)
    assert firm.status is BillingStatus.PAID


def test_loan_money_is_refunded_last(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order(loan_fen=10_000_000)
    fund_order.approve_loan(principal_fen=10_000_000, at=t0)
    final = fund_order.final
    pay(fund_order, final.id, 9_600_000, "p-self")
    fund_order.record_loan_disbursed(bank_reference="B1", amount_fen=10_000_000, at=t0)

    refunds = final.refund_requests

    assert [(r.payment_id, r.amount_fen) for r in refunds] == [("p-self", 100_000)]


def test_refund_request_ids_are_sequential_per_billing(fund_order: FundOrder, pay: Pay) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 5_000_001, "p1")
    pay(fund_order, firm.id, 2, "p2")

    assert [r.refund_request_id for r in firm.refund_requests] == [
        f"{firm.id}-R1",
        f"{firm.id}-R2",
    ]


# --- corrections (finance accepted the channel's figure) -----------------------------------


def _corrected(payment_id: str, before: int, after: int, at: datetime) -> PaymentCorrected:
    return PaymentCorrected(
        payment_id=payment_id,
        channel=Channel.WECHATPAY,
        counted_before_fen=before,
        amount_fen=after,
        at=at,
    )


def test_a_correction_moves_the_payment_to_the_channel_figure_once(
    fund_order: FundOrder, pay: Pay, t0: datetime
) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 4_999_000, "p1")
    fund_order.pull_events()

    done = fund_order.apply_payment_outcome(firm.id, _corrected("p1", 4_999_000, 5_000_000, t0))
    again = fund_order.apply_payment_outcome(firm.id, _corrected("p1", 4_999_000, 5_000_000, t0))

    assert done.status is ApplyStatus.APPLIED
    assert [type(e) for e in done.events] == [BillingPaid]
    assert again == ApplyResult(ApplyStatus.DUPLICATE)
    assert (firm.paid_fen, firm.status) == (5_000_000, BillingStatus.PAID)


def test_a_correction_counts_a_payment_that_failed_here(
    fund_order: FundOrder, t0: datetime
) -> None:
    firm = fund_order.firm
    fund_order.apply_payment_outcome(
        firm.id, PaymentFailed(payment_id="p2", channel=Channel.WECHATPAY, at=t0)
    )
    done = fund_order.apply_payment_outcome(firm.id, _corrected("p2", 0, 1_000_000, t0))
    assert done.status is ApplyStatus.APPLIED
    assert firm.paid_fen == 1_000_000


def test_a_correction_from_other_figures_is_a_conflict_and_changes_nothing(
    fund_order: FundOrder, pay: Pay, t0: datetime
) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 1_000_000, "p3")
    with pytest.raises(PaymentOutcomeConflict, match="counts 1000000 fen"):
        fund_order.apply_payment_outcome(firm.id, _corrected("p3", 999_000, 1_200_000, t0))
    assert firm.paid_fen == 1_000_000


def _reduced(refund_id: str, correction_id: str, fen: int, at: datetime) -> RefundReduced:
    return RefundReduced(
        payment_id="p1", refund_id=refund_id, correction_id=correction_id, amount_fen=fen, at=at
    )


def test_a_refund_made_smaller_counts_the_difference_again_once(
    fund_order: FundOrder, pay: Pay, refund: Refund, t0: datetime
) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 5_000_000, "p1")
    refund(fund_order, firm.id, "p1", "r1", 1_000_000)
    assert firm.status is BillingStatus.PARTIALLY_PAID

    done = fund_order.apply_payment_outcome(firm.id, _reduced("r1", "c1", 1_000_000, t0))
    again = fund_order.apply_payment_outcome(firm.id, _reduced("r1", "c1", 1_000_000, t0))

    assert done.status is ApplyStatus.APPLIED
    assert [type(e) for e in done.events] == [BillingPaid]
    assert again == ApplyResult(ApplyStatus.DUPLICATE)
    assert (firm.paid_fen, firm.book.payments["p1"].refunded_fen) == (5_000_000, 0)
    assert firm.book.problems() == []


@pytest.mark.parametrize(
    ("refund_id", "correction_id", "fen", "match"),
    [
        ("r1", "c2", 1_000_001, "counts 1000000 fen refunded"),
        ("r-never", "c2", 1, "never applied"),
        ("r1", "r1", 1, "already applied"),  # the correction id of another record
    ],
)
def test_a_refund_reduction_that_does_not_fit_is_a_conflict(
    fund_order: FundOrder,
    pay: Pay,
    refund: Refund,
    t0: datetime,
    refund_id: str,
    correction_id: str,
    fen: int,
    match: str,
) -> None:
    firm = fund_order.firm
    pay(fund_order, firm.id, 5_000_000, "p1")
    refund(fund_order, firm.id, "p1", "r1", 1_000_000)
    with pytest.raises(PaymentOutcomeConflict, match=match):
        fund_order.apply_payment_outcome(firm.id, _reduced(refund_id, correction_id, fen, t0))
    assert firm.paid_fen == 4_000_000
