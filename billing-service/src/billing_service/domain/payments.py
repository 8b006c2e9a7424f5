"""The money of one billing: successful payments, the refunds executed against them, and the
failures seen, each recorded once by its id (payment_id, refund_id)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never

from billing_service.domain.errors import PaymentOutcomeConflict, RefundExceedsPayment
from billing_service.domain.outcomes import (
    ApplyStatus,
    Channel,
    PaymentCorrected,
    PaymentFailed,
    PaymentOutcome,
    PaymentRefunded,
    PaymentSucceeded,
    RefundReduced,
)
from otd_shared.checks import require_fen, require_text


@dataclass(kw_only=True)
class AppliedPayment:
    """A successful payment and what has been refunded or asked back of it.

    ``refund_requested_fen`` is the cumulative amount asked back, counting refunds that
    already happened; the part not yet refunded is ``awaiting_refund_fen``.
    """

    payment_id: str
    channel: Channel
    amount_fen: int
    received_at: datetime
    refunded_fen: int = 0
    refund_requested_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.amount_fen - self.refunded_fen

    @property
    def awaiting_refund_fen(self) -> int:
        return max(0, self.refund_requested_fen - self.refunded_fen)

    @property
    def requestable_fen(self) -> int:
        """What may still be asked back: neither refunded nor already requested."""
        return self.amount_fen - max(self.refunded_fen, self.refund_requested_fen)

    def ask_back(self, amount_fen: int) -> None:
        self.refund_requested_fen = max(self.refund_requested_fen, self.refunded_fen) + amount_fen


@dataclass(frozen=True, kw_only=True)
class AppliedRefund:
    """A refund the channel executed for one payment (negative: a refund the channel made
    smaller, recorded under the correction's id)."""

    refund_id: str
    payment_id: str
    amount_fen: int
    refunded_at: datetime


@dataclass(kw_only=True)
class PaymentBook:
    """What was paid to one billing and what went back; ``paid_fen`` is the net of it."""

    payments: dict[str, AppliedPayment] = field(default_factory=dict)
    refunds: dict[str, AppliedRefund] = field(default_factory=dict)
    failed_payment_ids: set[str] = field(default_factory=set)

    @property
    def paid_fen(self) -> int:
        return sum(payment.net_fen for payment in self.payments.values())

    @property
    def loan_paid_fen(self) -> int:
        return sum(p.net_fen for p in self.payments.values() if p.channel is Channel.LOAN)

    @property
    def awaiting_refund_fen(self) -> int:
        return sum(payment.awaiting_refund_fen for payment in self.payments.values())

    def holds(self, payment_id: str) -> bool:
        """Whether an outcome of this payment was recorded here."""
        return payment_id in self.payments or payment_id in self.failed_payment_ids

    def record(self, outcome: PaymentOutcome) -> ApplyStatus:
        """Record an outcome once by its id; raise on a contradiction, change nothing then."""
        require_text(outcome.payment_id, "payment_id")
        match outcome:
            case PaymentSucceeded():
                return self._record_success(outcome)
            case PaymentFailed():
                return self._record_failure(outcome)
            case PaymentRefunded():
                return self._record_refund(outcome)
            case PaymentCorrected():
                return self._record_correction(outcome)
            case RefundReduced():
                return self._record_refund_reduction(outcome)
            case _:
                assert_never(outcome)

    def _record_success(self, outcome: PaymentSucceeded) -> ApplyStatus:
        require_fen(outcome.amount_fen, "amount_fen")
        known = self.payments.get(outcome.payment_id)
        if known is not None:
            if (known.channel, known.amount_fen) == (outcome.channel, outcome.amount_fen):
                return ApplyStatus.DUPLICATE
            raise PaymentOutcomeConflict(
                f"payment {outcome.payment_id} already succeeded with {known.amount_fen} fen"
                f" on {known.channel}",
                payment_id=outcome.payment_id,
            )
        return self._add_payment(outcome)

    def _add_payment(self, outcome: PaymentSucceeded | PaymentCorrected) -> ApplyStatus:
        self.payments[outcome.payment_id] = AppliedPayment(
            payment_id=outcome.payment_id,
            channel=outcome.channel,
            amount_fen=outcome.amount_fen,
            received_at=outcome.at,
        )
        return ApplyStatus.APPLIED

    def _record_correction(self, outcome: PaymentCorrected) -> ApplyStatus:
        """The payment now counts the channel's figure; a payment not counted before (it
        failed, or no success reached us) is counted from now."""
        require_fen(outcome.amount_fen, "amount_fen")
        known = self.payments.get(outcome.payment_id)
        counted = 0 if known is None else known.amount_fen
        if known is not None and known.amount_fen == outcome.amount_fen:
            return ApplyStatus.DUPLICATE
        if counted != outcome.counted_before_fen:
            raise PaymentOutcomeConflict(
                f"payment {outcome.payment_id} counts {counted} fen here, the correction"
                f" expected {outcome.counted_before_fen} fen",
                payment_id=outcome.payment_id,
            )
        if known is None:
            return self._add_payment(outcome)
        if outcome.amount_fen < max(known.refunded_fen, known.refund_requested_fen):
            raise RefundExceedsPayment(known.payment_id, known.refunded_fen, outcome.amount_fen)
        known.amount_fen = outcome.amount_fen
        return ApplyStatus.APPLIED

    def _record_failure(self, outcome: PaymentFailed) -> ApplyStatus:
        # A failure seen before stays a duplicate even if the payment later succeeded
        # (an active query can overrule an early failure notice; the money counts).
        if outcome.payment_id in self.failed_payment_ids:
            return ApplyStatus.DUPLICATE
        if outcome.payment_id in self.payments:
            raise PaymentOutcomeConflict(
                f"payment {outcome.payment_id} reported failed after it succeeded",
                payment_id=outcome.payment_id,
            )
        self.failed_payment_ids.add(outcome.payment_id)
        return ApplyStatus.APPLIED

    def _record_refund(self, outcome: PaymentRefunded) -> ApplyStatus:
        require_text(outcome.refund_id, "refund_id")
        require_fen(outcome.amount_fen, "amount_fen")
        if self._seen_refund("refund", outcome.refund_id, outcome.payment_id, outcome.amount_fen):
            return ApplyStatus.DUPLICATE
        payment = self.payments.get(outcome.payment_id)
        if payment is None:
            return ApplyStatus.DEFERRED
        if outcome.amount_fen > payment.net_fen:
            raise RefundExceedsPayment(payment.payment_id, outcome.amount_fen, payment.net_fen)
        payment.refunded_fen += outcome.amount_fen
        self.refunds[outcome.refund_id] = AppliedRefund(
            refund_id=outcome.refund_id,
            payment_id=outcome.payment_id,
            amount_fen=outcome.amount_fen,
            refunded_at=outcome.at,
        )
        return ApplyStatus.APPLIED

    def _seen_refund(self, what: str, key: str, payment_id: str, amount_fen: int) -> bool:
        """True when the refund row ``key`` is already here with these figures (a duplicate),
        False when it is new; PaymentOutcomeConflict when it is here with other figures."""
        known = self.refunds.get(key)
        if known is None:
            return False
        if (known.payment_id, known.amount_fen) == (payment_id, amount_fen):
            return True
        raise PaymentOutcomeConflict(
            f"{what} {key} already applied to payment {known.payment_id}"
            f" with {known.amount_fen} fen",
            payment_id=payment_id,
        )

    def _record_refund_reduction(self, outcome: RefundReduced) -> ApplyStatus:
        """A refund the channel made smaller: what it did not refund counts on the payment
        again, recorded as a negative refund under the correction's id (the refunds of a
        payment still add up to its refunded amount). What was asked back shrinks with it,
        so credit the customer is still owed is asked back anew, never left as "awaiting" a
        refund nobody makes. Never deferred: its refund was applied here first (a refund of
        it waiting for its payment is a conflict for finance)."""
        require_text(outcome.correction_id, "correction_id")
        require_fen(outcome.amount_fen, "amount_fen")
        if self._seen_refund(
            "correction", outcome.correction_id, outcome.payment_id, -outcome.amount_fen
        ):
            return ApplyStatus.DUPLICATE
        refund = self.refunds.get(outcome.refund_id)
        payment = self.payments.get(outcome.payment_id)
        if refund is None or payment is None or refund.payment_id != payment.payment_id:
            raise PaymentOutcomeConflict(
                f"refund {outcome.refund_id} of payment {outcome.payment_id} was never applied"
                " here: it cannot be made smaller",
                payment_id=outcome.payment_id,
            )
        if outcome.amount_fen > payment.refunded_fen:
            raise PaymentOutcomeConflict(
                f"payment {payment.payment_id} counts {payment.refunded_fen} fen refunded, not"
                f" the {outcome.amount_fen} fen the correction gives back",
                payment_id=outcome.payment_id,
            )
        payment.refunded_fen -= outcome.amount_fen
        payment.refund_requested_fen = max(0, payment.refund_requested_fen - outcome.amount_fen)
        self.refunds[outcome.correction_id] = AppliedRefund(
            refund_id=outcome.correction_id,
            payment_id=outcome.payment_id,
            amount_fen=-outcome.amount_fen,
            refunded_at=outcome.at,
        )
        return ApplyStatus.APPLIED

    def allocate_refund(self, wanted_fen: int) -> list[tuple[AppliedPayment, int]]:
        """Split ``wanted_fen`` over payments that can still be asked back: the customer's
        own payments newest first, loan disbursements last (money goes back where it came
        from). Instant discounts are never paid out: the gateway reverses one itself when
        its channel payment is refunded in full."""
        newest_first = [p for p in self.payments.values() if p.channel is not Channel.DISCOUNT][
            ::-1
        ]
        candidates = sorted(newest_first, key=lambda payment: payment.channel is Channel.LOAN)
        shares = []
        for payment in candidates:
            amount_fen = min(wanted_fen, payment.requestable_fen)
            if amount_fen > 0:
                shares.append((payment, amount_fen))
                wanted_fen -= amount_fen
        return shares

    def problems(self) -> list[str]:
        """What is inconsistent between payments and refunds (empty when all is well)."""
        problems = []
        refunded_by_payment: dict[str, int] = {}
        for refund in self.refunds.values():
            refunded_by_payment[refund.payment_id] = (
                refunded_by_payment.get(refund.payment_id, 0) + refund.amount_fen
            )
        for payment in self.payments.values():
            if refunded_by_payment.get(payment.payment_id, 0) != payment.refunded_fen:
                problems.append(f"payment {payment.payment_id} refunds do not add up")
            if not 0 <= payment.refunded_fen <= payment.amount_fen:
                problems.append(f"payment {payment.payment_id} refunded beyond its amount")
            if not 0 <= payment.refund_requested_fen <= payment.amount_fen:
                problems.append(f"payment {payment.payment_id} asked back beyond its amount")
        if set(refunded_by_payment) - set(self.payments):
            problems.append("a refund names a payment that was never applied")
        return problems
