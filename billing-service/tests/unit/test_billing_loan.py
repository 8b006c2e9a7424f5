"""The loan share of the final billing: approval, rejection, disbursement as a payment."""

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
    LoanShareStatus,
)
from billing_service.domain.errors import IllegalTransition, InvalidAmount
from billing_service.domain.events import BillingAmountChanged, BillingPaid

MakeFundOrder = Callable[..., FundOrder]
Pay = Callable[..., ApplyResult]


@pytest.fixture
def fund_order(make_fund_order: MakeFundOrder) -> FundOrder:
    return make_fund_order(loan_fen=10_000_000)


def test_approval_sets_the_loan_share_to_the_principal(fund_order: FundOrder, t0: datetime) -> None:
    events = fund_order.approve_loan(principal_fen=8_000_000, at=t0)

    assert events == [
        BillingAmountChanged(
            order_id="order-1",
            occurred_at=t0,
            billing_id=fund_order.final.id,
            stage="final",
            amount_fen=19_500_000,
            previous_amount_fen=19_500_000,
            self_pay_fen=11_500_000,
            previous_self_pay_fen=9_500_000,
            reason="loan approved",
        )
    ]
    assert (fund_order.loan.status, fund_order.final.loan_share_fen) == (
        LoanShareStatus.APPROVED,
        8_000_000,
    )


def test_approval_again_changes_nothing(fund_order: FundOrder, t0: datetime) -> None:
    fund_order.approve_loan(principal_fen=8_000_000, at=t0)

    assert fund_order.approve_loan(principal_fen=8_000_000, at=t0) == []


def test_rejection_moves_the_loan_share_to_self_pay(fund_order: FundOrder, t0: datetime) -> None:
    [event] = fund_order.reject_loan(at=t0, reason="income too low")

    assert isinstance(event, BillingAmountChanged)
    assert (event.self_pay_fen, event.previous_self_pay_fen) == (19_500_000, 9_500_000)
    assert event.reason == "self-pay: income too low"
    assert fund_order.final.amount_fen == 19_500_000
    assert fund_order.final.loan_share_fen == 0
    assert fund_order.reject_loan(at=t0) == []


def test_rejection_raises_what_the_customer_must_pay(fund_order: FundOrder, t0: datetime) -> None:
    fund_order.lock(at=t0)
    fund_order.mark_ready_for_delivery(at=t0)
    assert fund_order.final.customer_payable_fen == 9_500_000

    fund_order.reject_loan(at=t0)

    assert fund_order.final.customer_payable_fen == 19_500_000


def test_disbursement_is_a_loan_payment_of_the_final_billing(
    fund_order: FundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order.approve_loan(principal_fen=10_000_000, at=t0)
    fund_order.lock(at=t0)
    fund_order.mark_ready_for_delivery(at=t0)
    pay(fund_order, fund_order.final.id, 9_500_000, "p-self", Channel.UNIONPAY)

    result = fund_order.record_loan_disbursed(bank_reference="ICBC-1", amount_fen=10_000_000, at=t0)

    assert [type(e) for e in result.events] == [BillingPaid]
    payment = fund_order.final.book.payments["loan-ICBC-1"]
    assert (payment.channel, payment.amount_fen) == (Channel.LOAN, 10_000_000)
    assert fund_order.final.status is BillingStatus.PAID
    assert fund_order.loan.status is LoanShareStatus.DISBURSED


def test_disbursement_again_changes_nothing(fund_order: FundOrder, t0: datetime) -> None:
    fund_order.approve_loan(principal_fen=10_000_000, at=t0)
    fund_order.record_loan_disbursed(bank_reference="ICBC-1", amount_fen=10_000_000, at=t0)

    again = fund_order.record_loan_disbursed(bank_reference="ICBC-1", amount_fen=10_000_000, at=t0)

    assert again == ApplyResult(ApplyStatus.DUPLICATE)
    assert fund_order.final.paid_fen == 10_000_000


def test_a_second_disbursement_is_refused(fund_order: FundOrder, t0: datetime) -> None:
    fund_order.approve_loan(principal_fen=10_000_000, at=t0)
    fund_order.record_loan_disbursed(bank_reference="ICBC-1", amount_fen=10_000_000, at=t0)

    with pytest.raises(IllegalTransition):
        fund_order.record_loan_disbursed(bank_reference="ICBC-2", amount_fen=1, at=t0)


def test_disbursement_before_approval_is_refused(fund_order: FundOrder, t0: datetime) -> None:
    with pytest.raises(IllegalTransition, match="from requested to disbursed"):
        fund_order.record_loan_disbursed(bank_reference="B", amount_fen=10_000_000, at=t0)
    assert fund_order.final.paid_fen == 0


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_decided_loan_cannot_be_decided_otherwise(
    fund_order: FundOrder, t0: datetime, action: str
) -> None:
    if action == "approve":
        fund_order.reject_loan(at=t0)
        with pytest.raises(IllegalTransition, match="from rejected to approved"):
            fund_order.approve_loan(principal_fen=1_000, at=t0)
    else:
        fund_order.approve_loan(principal_fen=1_000, at=t0)
        with pytest.raises(IllegalTransition, match="from approved to rejected"):
            fund_order.reject_loan(at=t0)


def test_an_order_without_a_loan_refuses_loan_events(
    make_fund_order: MakeFundOrder, t0: datetime
) -> None:
    fund_order = make_fund_order(loan_fen=0)

    with pytest.raises(IllegalTransition, match="from none to approved"):
        fund_order.approve_loan(principal_fen=1_000, at=t0)
    with pytest.raises(IllegalTransition, match="from none to rejected"):
        fund_order.reject_loan(at=t0)


@pytest.mark.parametrize("principal_fen", [0, -1, 19_500_001])
def test_the_principal_must_fit_the_final_billing(
    fund_order: FundOrder, t0: datetime, principal_fen: int
) -> None:
    with pytest.raises(InvalidAmount) as caught:
        fund_order.approve_loan(principal_fen=principal_fen, at=t0)

    assert caught.value.field == "principal_fen"
    assert fund_order.loan.status is LoanShareStatus.REQUESTED
