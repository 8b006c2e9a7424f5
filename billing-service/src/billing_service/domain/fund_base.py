"""What every fund order shares: its billings, payment outcomes, cancellation, invariants.

A fund order (资金单) holds every money movement of one order as billings. Two kinds exist:
the vehicle FundOrder (intent, firm, final) and the ServiceFundOrder of a post-delivery
service order (one ``service`` billing). Each public change ends with ``check_invariants``,
so a change that breaks the bookkeeping raises before the unit of work can commit it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from billing_service.domain.billing import Billing
from billing_service.domain.errors import (
    BillingNotFound,
    IllegalTransition,
    InvariantViolation,
    PaymentOutcomeConflict,
)
from billing_service.domain.events import BillingEvent, RefundRequested
from billing_service.domain.outcomes import ApplyResult, PaymentOutcome
from otd_shared.checks import require_text, require_utc


@dataclass(frozen=True, kw_only=True)
class CancellationResult:
    """What a cancellation decided, with ``reason`` worded for the API and the customer."""

    cancelled_at: datetime
    refund_fen: int
    retained_fen: int
    reason: str
    refund_requests: tuple[RefundRequested, ...]


@dataclass(kw_only=True)
class FundOrderBase:
    """Billings of one order, and the operations that do not depend on their stages."""

    ENTITY: ClassVar[str] = "fund_order"

    id: str
    order_id: str
    customer_id: str
    price_fen: int
    opened_at: datetime
    cancellation: CancellationResult | None = None
    pending_events: list[BillingEvent] = field(default_factory=list, compare=False, repr=False)

    @property
    def billings(self) -> tuple[Billing, ...]:
        raise NotImplementedError

    @property
    def is_cancelled(self) -> bool:
        return self.cancellation is not None

    @property
    def status(self) -> str:
        """``open``, ``paid`` once every billing is paid, or ``cancelled``."""
        if self.is_cancelled:
            return "cancelled"
        return "paid" if all(b.is_settled for b in self.live_billings) else "open"

    @property
    def live_billings(self) -> tuple[Billing, ...]:
        """The billings that make up the price (a lease drops installments a payoff replaced)."""
        return tuple(b for b in self.billings if not b.superseded)

    def billing(self, billing_id: str) -> Billing:
        """The billing with this id; BillingNotFound (404) otherwise."""
        for billing in self.billings:
            if billing.id == billing_id:
                return billing
        raise BillingNotFound(billing_id)

    def pull_events(self) -> list[BillingEvent]:
        """Hand the recorded events to the unit of work (for its outbox) and forget them."""
        events, self.pending_events = self.pending_events, []
        return events

    def _emit(self, events: list[BillingEvent]) -> list[BillingEvent]:
        self.pending_events.extend(events)
        return events

    # --- payment outcomes ---------------------------------------------------------------

    def apply_payment_outcome(self, billing_id: str, outcome: PaymentOutcome) -> ApplyResult:
        """Apply a verified outcome to one billing, idempotently by payment/refund id.

        A payment id already applied to another billing of this order is a conflict.
        Outcomes are applied even after a cancellation: late money is refunded, never kept.
        """
        billing = self.billing(billing_id)
        self._refuse_payment_of_other_billing(billing, outcome.payment_id)
        result = billing.apply(outcome)
        self._emit(list(result.events))
        self.check_invariants()
        return result

    def _refuse_payment_of_other_billing(self, billing: Billing, payment_id: str) -> None:
        for other in self.billings:
            if other is not billing and other.book.holds(payment_id):
                raise PaymentOutcomeConflict(
                    f"payment {payment_id} belongs to billing {other.id}, not {billing.id}",
                    payment_id=payment_id,
                )

    # --- cancellation -------------------------------------------------------------------

    def cancel(self, *, at: datetime, reason: str) -> CancellationResult:
        """Cancel every billing, refund what is refundable, keep what the policy retains.

        Cancelling again returns the first result and records nothing new.
        """
        if self.cancellation is not None:
            return self.cancellation
        require_utc(at)
        reason = require_text(reason, "reason")
        events: list[BillingEvent] = []
        for billing in self.billings:
            retain_fen = self._retained_on_cancel(billing)
            events.extend(billing.cancel(retain_fen=retain_fen, at=at, reason=reason))
        refunds = tuple(e for e in events if isinstance(e, RefundRequested))
        self.cancellation = CancellationResult(
            cancelled_at=at,
            refund_fen=sum(r.amount_fen for r in refunds),
            retained_fen=sum(b.retained_fen for b in self.billings),
            reason=self._cancellation_reason(sum(r.amount_fen for r in refunds)),
            refund_requests=refunds,
        )
        self._emit(events)
        self.check_invariants()
        return self.cancellation

    def _retained_on_cancel(self, billing: Billing) -> int:
        """What the policy keeps of ``billing``'s paid money on cancellation (default none)."""
        return 0

    def _cancellation_reason(self, refund_fen: int) -> str:
        return f"order cancelled: {refund_fen} fen paid is refunded in full"

    def _refuse_when_cancelled(self, to_state: str) -> None:
        if self.is_cancelled:
            raise IllegalTransition(
                self.ENTITY, self.id, "cancelled", to_state, "the order is cancelled"
            )

    # --- invariants ---------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Raise InvariantViolation unless the billings add up to the price and each
        billing's own bookkeeping holds."""
        for billing in self.billings:
            billing.check_invariants()
        billed_fen = sum(billing.amount_fen for billing in self.live_billings)
        if billed_fen != self.price_fen:
            raise InvariantViolation(
                f"fund order {self.id}: billings add up to {billed_fen} fen,"
                f" the price is {self.price_fen} fen"
            )
        self._check_own_invariants()

    def _check_own_invariants(self) -> None:
        """Invariants of a concrete fund order kind."""
