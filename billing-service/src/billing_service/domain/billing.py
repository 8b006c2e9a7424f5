"""One billing (账单): an amount the customer owes for one stage, and the money applied to it.

Facts are stored, status is derived, so the two can never disagree:

    status = cancelled        once cancelled (with the order)
           | paid             paid_fen >= amount_fen
           | partially_paid   0 < paid_fen < amount_fen
           | due              nothing paid, due_at reached
           | pending          nothing paid, not yet due

``paid_fen`` is the sum of successful payments minus their refunds. Money above what the
billing may keep (the amount, or what the deposit policy retains after a cancellation) is a
credit owed to the customer, and every change ends by requesting refunds for any credit not
yet being refunded, so no money is silently kept or dropped.

Events come from comparing a snapshot taken before a change with the state after it:
BillingDue when it falls due, BillingPaid when it is due and fully paid (also when payments
arrived before it fell due), BillingReopened when a refund or a higher amount takes a paid
billing below its amount, BillingOverpaid when the overpayment grows, RefundRequested for
new credit. Repeating a change that changed nothing therefore emits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from billing_service.domain.errors import IllegalTransition, InvalidAmount, InvariantViolation
from billing_service.domain.events import (
    BillingAmountChanged,
    BillingCancelled,
    BillingDue,
    BillingEvent,
    BillingOverpaid,
    BillingPaid,
    BillingReopened,
    RefundRequested,
)
from billing_service.domain.outcomes import (
    ApplyResult,
    ApplyStatus,
    PaymentCorrected,
    PaymentOutcome,
    PaymentSucceeded,
    RefundReduced,
)
from billing_service.domain.payments import AppliedPayment, PaymentBook
from otd_shared.checks import require_fen, require_utc


class BillingStage(StrEnum):
    INTENT = "intent"
    FIRM = "firm"
    FINAL = "final"
    SERVICE = "service"
    INSTALLMENT = "installment"
    PAYOFF = "payoff"


class BillingStatus(StrEnum):
    PENDING = "pending"
    DUE = "due"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class _Snapshot:
    amount_fen: int
    self_pay_fen: int
    due: bool
    settled: bool
    overpaid_fen: int


@dataclass(kw_only=True)
class Billing:
    """The amount of one stage, its due date, and the payments and refunds applied to it.

    For the final billing, ``loan_share_fen`` is the part the bank is expected to pay;
    the customer's own part is ``self_pay_fen`` (price − deposits − loan principal).
    """

    id: str
    order_id: str
    customer_id: str
    stage: BillingStage
    amount_fen: int
    loan_share_fen: int = 0
    due_at: datetime | None = None
    cancelled_at: datetime | None = None
    retained_fen: int = 0
    # Lease installments only: number 1…, when it falls due by the schedule, when it was
    # marked overdue, and whether an early payoff replaced it (then it is cancelled).
    installment_no: int = 0
    scheduled_due_at: datetime | None = None
    overdue_at: datetime | None = None
    superseded: bool = False
    book: PaymentBook = field(default_factory=PaymentBook)
    refund_requests: list[RefundRequested] = field(default_factory=list)

    # --- derived amounts --------------------------------------------------------------

    @property
    def paid_fen(self) -> int:
        """Successful payments minus their refunds."""
        return self.book.paid_fen

    @property
    def self_pay_fen(self) -> int:
        return self.amount_fen - self.loan_share_fen

    @property
    def is_due(self) -> bool:
        return self.due_at is not None

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def status(self) -> BillingStatus:
        if self.is_cancelled:
            return BillingStatus.CANCELLED
        if self.paid_fen >= self.amount_fen:
            return BillingStatus.PAID
        if self.paid_fen > 0:
            return BillingStatus.PARTIALLY_PAID
        return BillingStatus.DUE if self.is_due else BillingStatus.PENDING

    @property
    def is_settled(self) -> bool:
        """Due and paid: the state BillingPaid announces."""
        return self.is_due and self.status is BillingStatus.PAID

    @property
    def outstanding_fen(self) -> int:
        """What the billing still lacks (0 once cancelled)."""
        return 0 if self.is_cancelled else max(0, self.amount_fen - self.paid_fen)

    @property
    def customer_payable_fen(self) -> int:
        """What the customer must still pay: the outstanding amount minus a loan still expected."""
        loan_expected_fen = max(0, self.loan_share_fen - self.book.loan_paid_fen)
        return max(0, self.outstanding_fen - loan_expected_fen)

    @property
    def overpaid_fen(self) -> int:
        return max(0, self.paid_fen - self.amount_fen)

    @property
    def credit_fen(self) -> int:
        """Money owed back to the customer: whatever exceeds what this billing may keep."""
        keepable_fen = self.retained_fen if self.is_cancelled else self.amount_fen
        return max(0, self.paid_fen - keepable_fen)

    # --- changes ----------------------------------------------------------------------

    def apply(self, outcome: PaymentOutcome) -> ApplyResult:
        """Apply a verified payment outcome once; see ApplyStatus for the other results."""
        require_utc(outcome.at)
        before = self._snapshot()
        status = self.book.record(outcome)
        if status is not ApplyStatus.APPLIED:
            return ApplyResult(status)
        counted = isinstance(outcome, PaymentSucceeded | PaymentCorrected | RefundReduced)
        payment_id = outcome.payment_id if counted else None
        events = self._events_since(before, at=outcome.at, payment_id=payment_id)
        return ApplyResult(status, tuple(events))

    def fall_due(self, *, at: datetime) -> list[BillingEvent]:
        """pending → due (BillingDue, and BillingPaid if it was already paid); once only."""
        if self.is_due:
            return []
        if self.is_cancelled:
            raise IllegalTransition("billing", self.id, self.status, BillingStatus.DUE)
        before = self._snapshot()
        self.due_at = require_utc(at, "due_at")
        return self._events_since(before, at=at)

    def set_amount(
        self, *, amount_fen: int, loan_share_fen: int, at: datetime, reason: str
    ) -> list[BillingEvent]:
        """Change the amount and/or the loan share, keeping every payment applied."""
        require_fen(amount_fen, "amount_fen")
        require_fen(loan_share_fen, "loan_share_fen", minimum_fen=0)
        if loan_share_fen > amount_fen:
            raise InvalidAmount("loan_share_fen", f"must not exceed the amount {amount_fen} fen")
        if (amount_fen, loan_share_fen) == (self.amount_fen, self.loan_share_fen):
            return []
        if self.is_cancelled:
            raise IllegalTransition("billing", self.id, self.status, "repriced")
        before = self._snapshot()
        self.amount_fen, self.loan_share_fen = amount_fen, loan_share_fen
        return self._events_since(
            before, at=require_utc(at), change_reason=reason, refund_reason=f"overpaid: {reason}"
        )

    def cancel(self, *, retain_fen: int, at: datetime, reason: str) -> list[BillingEvent]:
        """→ cancelled, keeping ``retain_fen`` of the paid money; the rest is asked back."""
        if self.is_cancelled:
            return []
        if not 0 <= retain_fen <= min(self.paid_fen, self.amount_fen):
            raise InvariantViolation(f"billing {self.id} cannot retain {retain_fen} fen")
        before = self._snapshot()
        self.cancelled_at, self.retained_fen = require_utc(at), retain_fen
        cancelled = BillingCancelled(
            order_id=self.order_id,
            occurred_at=at,
            billing_id=self.id,
            stage=self.stage.value,
            paid_fen=self.paid_fen,
            retained_fen=retain_fen,
            refund_fen=self.credit_fen,
            reason=reason,
        )
        return [cancelled, *self._events_since(before, at=at, refund_reason=reason)]

    # --- events -----------------------------------------------------------------------

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(
            amount_fen=self.amount_fen,
            self_pay_fen=self.self_pay_fen,
            due=self.is_due,
            settled=self.is_settled,
            overpaid_fen=self.overpaid_fen,
        )

    def _events_since(
        self,
        before: _Snapshot,
        *,
        at: datetime,
        payment_id: str | None = None,
        change_reason: str = "",
        refund_reason: str | None = None,
    ) -> list[BillingEvent]:
        events: list[BillingEvent] = []
        if (before.amount_fen, before.self_pay_fen) != (self.amount_fen, self.self_pay_fen):
            events.append(self._amount_changed(before, at=at, reason=change_reason))
        if self.is_due and not before.due:
            events.append(self.due_event(at=at))
        if not self.is_cancelled:
            events.extend(self._payment_state_events(before, at=at, payment_id=payment_id))
        events.extend(self._request_refunds(at=at, reason=refund_reason or self._refund_reason()))
        return events

    def _payment_state_events(
        self, before: _Snapshot, *, at: datetime, payment_id: str | None
    ) -> list[BillingEvent]:
        events: list[BillingEvent] = []
        if self.is_settled and not before.settled:
            events.append(self._paid_state_event(BillingPaid, at=at))
        elif before.settled and not self.is_settled:
            events.append(self._paid_state_event(BillingReopened, at=at))
        if self.overpaid_fen > before.overpaid_fen:
            events.append(
                BillingOverpaid(
                    order_id=self.order_id,
                    occurred_at=at,
                    billing_id=self.id,
                    stage=self.stage.value,
                    amount_fen=self.amount_fen,
                    paid_fen=self.paid_fen,
                    overpaid_fen=self.overpaid_fen,
                    payment_id=payment_id,
                )
            )
        return events

    def _paid_state_event(
        self, event_class: type[BillingPaid] | type[BillingReopened], *, at: datetime
    ) -> BillingEvent:
        return event_class(
            order_id=self.order_id,
            occurred_at=at,
            billing_id=self.id,
            stage=self.stage.value,
            amount_fen=self.amount_fen,
            paid_fen=self.paid_fen,
        )

    def due_event(self, *, at: datetime) -> BillingDue:
        """The BillingDue announcing this billing (also what a re-push would send)."""
        if self.due_at is None:
            raise InvariantViolation(f"billing {self.id} is not due")
        return BillingDue(
            order_id=self.order_id,
            occurred_at=at,
            billing_id=self.id,
            customer_id=self.customer_id,
            stage=self.stage.value,
            amount_fen=self.amount_fen,
            outstanding_fen=self.outstanding_fen,
            customer_payable_fen=self.customer_payable_fen,
            due_at=self.due_at,
        )

    def _amount_changed(self, before: _Snapshot, *, at: datetime, reason: str) -> BillingEvent:
        return BillingAmountChanged(
            order_id=self.order_id,
            occurred_at=at,
            billing_id=self.id,
            stage=self.stage.value,
            amount_fen=self.amount_fen,
            previous_amount_fen=before.amount_fen,
            self_pay_fen=self.self_pay_fen,
            previous_self_pay_fen=before.self_pay_fen,
            reason=reason,
        )

    def _refund_reason(self) -> str:
        if self.is_cancelled:
            return f"payment to the cancelled {self.stage} billing"
        return f"overpayment of the {self.stage} billing"

    # --- refunds ----------------------------------------------------------------------

    def _request_refunds(self, *, at: datetime, reason: str) -> list[BillingEvent]:
        """Ask back any credit not already being refunded."""
        wanted_fen = self.credit_fen - self.book.awaiting_refund_fen
        shares = self.book.allocate_refund(wanted_fen)
        for payment, amount_fen in shares:
            payment.ask_back(amount_fen)
        return [
            self._refund_request(p, amount_fen, at=at, reason=reason) for p, amount_fen in shares
        ]

    def _refund_request(
        self, payment: AppliedPayment, amount_fen: int, *, at: datetime, reason: str
    ) -> RefundRequested:
        request = RefundRequested(
            order_id=self.order_id,
            occurred_at=at,
            billing_id=self.id,
            stage=self.stage.value,
            refund_request_id=f"{self.id}-R{len(self.refund_requests) + 1}",
            payment_id=payment.payment_id,
            channel=payment.channel.value,
            amount_fen=amount_fen,
            reason=reason,
        )
        self.refund_requests.append(request)
        return request

    # --- invariants -------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Raise InvariantViolation if the billing's own bookkeeping is inconsistent."""
        problems = [*amount_problems(self), *self.book.problems()]
        if problems:
            raise InvariantViolation(f"billing {self.id}: " + "; ".join(problems))


def amount_problems(billing: Billing) -> list[str]:
    """What is inconsistent in a billing's amounts (empty when all is well)."""
    problems = []
    if billing.amount_fen < 1:
        problems.append(f"amount_fen {billing.amount_fen} is not positive")
    if not 0 <= billing.loan_share_fen <= billing.amount_fen:
        problems.append(f"loan_share_fen {billing.loan_share_fen} outside the amount")
    if not 0 <= billing.retained_fen <= billing.amount_fen:
        problems.append(f"retained_fen {billing.retained_fen} outside the amount")
    if billing.paid_fen < 0:
        problems.append(f"paid_fen {billing.paid_fen} is negative")
    return problems
