"""The fund order of a vehicle order: intent, firm and final billings.

    intent = policy.intent_fen                   due at creation
    firm   = policy.firm_fen                     due at the lock (OrderLocked)
    final  = price − intent − firm               due when the car is ready for delivery
             of which loan_share_fen is expected from the bank (LoanDisbursed counts as a
             ``loan`` payment) and self_pay_fen = price − intent − firm − loan principal
             is the customer's part

Decision: the final billing's ``amount_fen`` includes the loan share, so the three billing
amounts always add up to the price, a loan disbursement is an ordinary payment of the final
billing, and PAID means the whole final sum arrived. A rejected loan sets the loan share to
0: the same amount becomes self-pay.

Every change that arrives as an event (lock, ready, reprice, loan decisions, payment
outcomes, cancellation) is idempotent: repeating it records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing_service.domain.billing import Billing, BillingStage
from billing_service.domain.errors import (
    ConfigurationFrozen,
    IllegalTransition,
    InvalidAmount,
    InvariantViolation,
)
from billing_service.domain.events import BillingEvent, FundOrderOpened
from billing_service.domain.fund_base import FundOrderBase
from billing_service.domain.outcomes import ApplyResult, ApplyStatus, Channel, PaymentSucceeded
from billing_service.domain.policy import DEFAULT_DEPOSIT_POLICY, DepositPolicy
from otd_shared.checks import require_fen, require_text, require_utc

NewId = Callable[[], str]
LOAN_PAYMENT_ID_PREFIX = "loan-"


class LoanShareStatus(StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISBURSED = "disbursed"


@dataclass(kw_only=True)
class LoanShare:
    """The loan as billing sees it: how much of the final billing the bank should pay."""

    status: LoanShareStatus
    requested_fen: int
    principal_fen: int | None = None
    bank_reference: str | None = None

    @property
    def share_fen(self) -> int:
        if self.status is LoanShareStatus.REQUESTED:
            return self.requested_fen
        if self.status in (LoanShareStatus.APPROVED, LoanShareStatus.DISBURSED):
            return self.principal_fen or 0
        return 0


@dataclass(kw_only=True)
class FundOrder(FundOrderBase):
    """Money of one vehicle order; amounts follow DESIGN §1 under ``policy``."""

    policy: DepositPolicy
    intent: Billing
    firm: Billing
    final: Billing
    loan: LoanShare
    locked_at: datetime | None = None

    @property
    def billings(self) -> tuple[Billing, ...]:
        return (self.intent, self.firm, self.final)

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        fund_order_id: str,
        order_id: str,
        customer_id: str,
        price_fen: int,
        loan_fen: int = 0,
        new_id: NewId,
        at: datetime,
        policy: DepositPolicy = DEFAULT_DEPOSIT_POLICY,
    ) -> FundOrder:
        """Open the fund order of a new vehicle order; the intent billing falls due at ``at``.

        ``new_id`` names the intent, firm and final billings, in that order. Raises
        InvalidAmount (422) unless the price exceeds both deposits and covers the loan.
        """
        final_fen = _final_fen(price_fen=price_fen, policy=policy)
        _check_loan_fits(loan_fen, final_fen=final_fen)
        order = cls(
            id=require_text(fund_order_id, "fund_order_id"),
            order_id=require_text(order_id, "order_id"),
            customer_id=require_text(customer_id, "customer_id"),
            price_fen=price_fen,
            opened_at=require_utc(at),
            policy=policy,
            intent=_billing(
                new_id(), order_id, customer_id, BillingStage.INTENT, policy.intent_fen
            ),
            firm=_billing(new_id(), order_id, customer_id, BillingStage.FIRM, policy.firm_fen),
            final=_billing(new_id(), order_id, customer_id, BillingStage.FINAL, final_fen),
            loan=LoanShare(
                status=LoanShareStatus.REQUESTED if loan_fen else LoanShareStatus.NONE,
                requested_fen=loan_fen,
            ),
        )
        order.final.loan_share_fen = order.loan.share_fen
        order._emit([order._opened_event(at), *order.intent.fall_due(at=at)])
        order.check_invariants()
        return order

    def _opened_event(self, at: datetime) -> FundOrderOpened:
        return FundOrderOpened(
            order_id=self.order_id,
            occurred_at=at,
            fund_order_id=self.id,
            customer_id=self.customer_id,
            price_fen=self.price_fen,
            billing_ids=tuple(b.id for b in self.billings),
        )

    # --- order milestones ---------------------------------------------------------------

    def lock(self, *, at: datetime) -> list[BillingEvent]:
        """OrderLocked: the firm billing falls due (and the price freezes)."""
        if self.is_locked:
            return []
        self._refuse_when_cancelled("locked")
        self.locked_at = require_utc(at)
        return self._finish(self.firm.fall_due(at=at))

    def mark_ready_for_delivery(self, *, at: datetime) -> list[BillingEvent]:
        """VehicleReadyForDelivery: the final billing falls due."""
        if self.final.is_due:
            return []
        self._refuse_when_cancelled("ready_for_delivery")
        if not self.is_locked:
            raise IllegalTransition(
                self.ENTITY, self.id, "open", "ready_for_delivery", "the order is not locked"
            )
        return self._finish(self.final.fall_due(at=at))

    def reprice(self, *, price_fen: int, at: datetime) -> list[BillingEvent]:
        """OrderRepriced before the lock: the final billing absorbs the difference."""
        if price_fen == self.price_fen:
            return []
        self._refuse_when_cancelled("repriced")
        if self.is_locked:
            raise ConfigurationFrozen(self.order_id)
        final_fen = _final_fen(price_fen=price_fen, policy=self.policy)
        if self.loan.share_fen > final_fen:
            raise InvalidAmount(
                "price_fen", f"must cover the deposits and the loan of {self.loan.share_fen} fen"
            )
        events = self.final.set_amount(
            amount_fen=final_fen,
            loan_share_fen=self.final.loan_share_fen,
            at=at,
            reason=f"repriced from {self.price_fen} to {price_fen} fen",
        )
        self.price_fen = price_fen
        return self._finish(events)

    # --- loan ---------------------------------------------------------------------------

    def approve_loan(self, *, principal_fen: int, at: datetime) -> list[BillingEvent]:
        """LoanApproved: the loan share of the final billing becomes the principal."""
        if self.loan.principal_fen == principal_fen and self.loan.status in (
            LoanShareStatus.APPROVED,
            LoanShareStatus.DISBURSED,
        ):
            return []
        self._refuse_when_cancelled("loan_approved")
        self._require_loan(LoanShareStatus.REQUESTED, to_state="approved")
        require_fen(principal_fen, "principal_fen")
        if principal_fen > self.final.amount_fen:
            raise InvalidAmount(
                "principal_fen", f"must not exceed the final billing of {self.final.amount_fen} fen"
            )
        self.loan.status, self.loan.principal_fen = LoanShareStatus.APPROVED, principal_fen
        return self._finish(self._update_loan_share(at=at, reason="loan approved"))

    def reject_loan(self, *, at: datetime, reason: str = "loan rejected") -> list[BillingEvent]:
        """LoanRejected: the loan share moves back to self-pay on the final billing."""
        if self.loan.status is LoanShareStatus.REJECTED:
            return []
        self._refuse_when_cancelled("loan_rejected")
        self._require_loan(LoanShareStatus.REQUESTED, to_state="rejected")
        self.loan.status = LoanShareStatus.REJECTED
        return self._finish(self._update_loan_share(at=at, reason=f"self-pay: {reason}"))

    def record_loan_disbursed(
        self, *, bank_reference: str, amount_fen: int, at: datetime
    ) -> ApplyResult:
        """LoanDisbursed: a ``loan`` payment of the final billing, idempotent by reference.

        Applied even after a cancellation (the money then goes back to the bank).
        """
        if self.loan.status is LoanShareStatus.DISBURSED:
            if self.loan.bank_reference == bank_reference:
                return ApplyResult(ApplyStatus.DUPLICATE)
            raise IllegalTransition(
                "loan", self.id, "disbursed", "disbursed", f"already disbursed as {bank_reference}"
            )
        self._require_loan(LoanShareStatus.APPROVED, to_state="disbursed")
        payment = PaymentSucceeded(
            payment_id=LOAN_PAYMENT_ID_PREFIX + require_text(bank_reference, "bank_reference"),
            channel=Channel.LOAN,
            amount_fen=amount_fen,
            at=at,
        )
        result = self.apply_payment_outcome(self.final.id, payment)
        self.loan.status, self.loan.bank_reference = LoanShareStatus.DISBURSED, bank_reference
        return result

    def _require_loan(self, expected: LoanShareStatus, *, to_state: str) -> None:
        if self.loan.status is not expected:
            raise IllegalTransition("loan", self.id, self.loan.status, to_state)

    def _update_loan_share(self, *, at: datetime, reason: str) -> list[BillingEvent]:
        return self.final.set_amount(
            amount_fen=self.final.amount_fen,
            loan_share_fen=self.loan.share_fen,
            at=at,
            reason=reason,
        )

    # --- cancellation policy ------------------------------------------------------------

    def _retained_on_cancel(self, billing: Billing) -> int:
        if not self.is_locked or billing.stage is BillingStage.FINAL:
            return 0
        refundable = {
            BillingStage.INTENT: self.policy.intent_refundable_after_lock,
            BillingStage.FIRM: self.policy.firm_refundable_after_lock,
        }[billing.stage]
        return 0 if refundable else min(billing.paid_fen, billing.amount_fen)

    def _cancellation_reason(self, refund_fen: int) -> str:
        if not self.is_locked:
            head = "cancelled before the configuration lock: deposits are refundable"
        else:
            head = "cancelled after the configuration lock"
        kept = [
            f"{b.stage} deposit of {b.retained_fen} fen kept (not refundable after the lock"
            f" under policy '{self.policy.name}')"
            for b in self.billings
            if b.retained_fen
        ]
        return "; ".join([head, *kept, f"{refund_fen} fen to be refunded"])

    # --- invariants ---------------------------------------------------------------------

    def _finish(self, events: list[BillingEvent]) -> list[BillingEvent]:
        self.check_invariants()
        return self._emit(events)

    def _check_own_invariants(self) -> None:
        if self.final.loan_share_fen != self.loan.share_fen:
            raise InvariantViolation(
                f"fund order {self.id}: final loan share {self.final.loan_share_fen} fen,"
                f" loan {self.loan.share_fen} fen"
            )
        if (self.intent.amount_fen, self.firm.amount_fen) != (
            self.policy.intent_fen,
            self.policy.firm_fen,
        ):
            raise InvariantViolation(f"fund order {self.id}: deposits differ from the policy")


def _final_fen(*, price_fen: int, policy: DepositPolicy) -> int:
    require_fen(price_fen, "price_fen")
    final_fen = price_fen - policy.deposits_fen
    if final_fen < 1:
        raise InvalidAmount(
            "price_fen", f"must exceed the intent and firm deposits ({policy.deposits_fen} fen)"
        )
    return final_fen


def _check_loan_fits(loan_fen: int, *, final_fen: int) -> None:
    require_fen(loan_fen, "loan_fen", minimum_fen=0)
    if loan_fen > final_fen:
        raise InvalidAmount(
            "loan_fen", f"must not exceed the price minus the deposits ({final_fen} fen)"
        )


def _billing(
    billing_id: str, order_id: str, customer_id: str, stage: BillingStage, amount_fen: int
) -> Billing:
    return Billing(
        id=require_text(billing_id, "billing_id"),
        order_id=order_id,
        customer_id=customer_id,
        stage=stage,
        amount_fen=amount_fen,
    )
