"""The fund order of a lease (a ``leasing`` service order): one billing per installment.

    opened ── each installment: scheduled (BillingScheduled: payable from the advance window)
              └─ on its date: due (BillingDue, pushed) ─ paid (BillingPaid)
                               └─ grace period over, still unpaid: overdue (InstallmentOverdue)
    early payoff ── every unpaid rest moves into one ``payoff`` billing, due at once;
                    unpaid installments are superseded (cancelled), partly paid ones shrink
                    to what was paid, and every installment left falls due (it is paid)

The installments always add up to the price (the financed amount): a payoff moves money
between billings and never changes the sum of the live ones. Every change of the schedule is
kept as a ``ScheduleChange`` (the repository appends them to ``lease_schedule_changes``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from billing_service.domain.billing import Billing, BillingStage
from billing_service.domain.errors import IllegalTransition, InvalidField
from billing_service.domain.events import (
    BillingEvent,
    BillingScheduled,
    FundOrderOpened,
    InstallmentOverdue,
)
from billing_service.domain.fund_base import FundOrderBase
from otd_shared.business_time import start_of_business_day
from otd_shared.checks import require_fen, require_text, require_utc

PAYOFF_REASON = "superseded by early payoff"


@dataclass(frozen=True)
class LeaseRules:
    """Named settings of leases: grace after a due date, and how early one may pay."""

    grace_days: int = 5
    advance_window_days: int = 30

    def __post_init__(self) -> None:
        assert 0 <= self.grace_days <= 90
        assert 0 <= self.advance_window_days <= 366


@dataclass(frozen=True)
class PlannedInstallment:
    """One line of the schedule order-service announced."""

    number: int
    due_date: date
    amount_fen: int


@dataclass(frozen=True)
class ScheduleChange:
    """One recorded change of a lease's schedule (append-only)."""

    at: datetime
    change: str  # opened | fell_due | overdue | paid_off
    billing_id: str | None
    detail: str
    actor: str


@dataclass(kw_only=True)
class LeaseFundOrder(FundOrderBase):
    """Money of one lease; ``order_id`` is the leasing service order's id."""

    parent_order_id: str
    installments: list[Billing]
    payoff: Billing | None = None
    changes: list[ScheduleChange] = field(default_factory=list, compare=False, repr=False)

    @property
    def billings(self) -> tuple[Billing, ...]:
        return (*self.installments, *((self.payoff,) if self.payoff else ()))

    @classmethod
    def open(
        cls,
        *,
        fund_order_id: str,
        order_id: str,
        parent_order_id: str,
        customer_id: str,
        price_fen: int,
        schedule: Sequence[PlannedInstallment],
        new_id: Callable[[], str],
        at: datetime,
        rules: LeaseRules,
    ) -> LeaseFundOrder:
        """Open one billing per installment; those already due (a back-dated contract) fall
        due at once, and those past their grace period are overdue at once."""
        _check_schedule(schedule, price_fen)
        order = cls(
            id=require_text(fund_order_id, "fund_order_id"),
            order_id=require_text(order_id, "order_id"),
            parent_order_id=require_text(parent_order_id, "parent_order_id"),
            customer_id=require_text(customer_id, "customer_id"),
            price_fen=require_fen(price_fen, "price_fen"),
            opened_at=require_utc(at),
            installments=[_installment(order_id, customer_id, p, new_id()) for p in schedule],
        )
        opened = FundOrderOpened(
            order_id=order_id,
            occurred_at=at,
            fund_order_id=order.id,
            customer_id=customer_id,
            price_fen=price_fen,
            billing_ids=tuple(b.id for b in order.installments),
        )
        scheduled = [order._scheduled(b, at=at, rules=rules) for b in order.installments]
        order._note(at, "opened", None, f"{len(schedule)} installments, {price_fen} fen", "billing")
        order._emit([opened, *scheduled])
        order.advance(at=at, rules=rules)
        order.check_invariants()
        return order

    def pull_changes(self) -> list[ScheduleChange]:
        """Hand the recorded schedule changes to the repository and forget them."""
        changes, self.changes = self.changes, []
        return changes

    # --- the schedule moves on ----------------------------------------------------------

    def advance(self, *, at: datetime, rules: LeaseRules) -> list[BillingEvent]:
        """Installments whose date came fall due; due ones unpaid after the grace period
        become overdue. Idempotent: a second call at the same time records nothing."""
        require_utc(at)
        events: list[BillingEvent] = []
        for billing in self._open_installments():
            events += self._fall_due_if_scheduled(billing, at=at)
            events += self._mark_overdue_if_late(billing, at=at, rules=rules)
        self._emit(events)
        self.check_invariants()
        return events

    def needs_attention(self, *, at: datetime, rules: LeaseRules) -> bool:
        """Whether ``advance`` at ``at`` would change something (for the job's selection)."""
        grace = timedelta(days=rules.grace_days)
        return any(
            (not b.is_due and _scheduled_at(b) <= at)
            or (b.overdue_at is None and b.outstanding_fen > 0 and _scheduled_at(b) + grace <= at)
            for b in self._open_installments()
        )

    def pay_off(self, *, billing_id: str, at: datetime, actor: str) -> Billing:
        """Move every unpaid rest into one payoff billing that falls due now (BillingDue);
        409 when the lease is cancelled, already paid off or nothing is left to pay."""
        require_utc(at)
        self._refuse_when_cancelled("paid off")
        if self.payoff is not None:
            raise IllegalTransition(
                self.ENTITY, self.id, "paid_off", "paid_off", "already paid off"
            )
        remaining = [b for b in self._open_installments() if b.outstanding_fen > 0]
        remaining_fen = sum(b.outstanding_fen for b in remaining)
        if remaining_fen == 0:
            raise IllegalTransition(self.ENTITY, self.id, self.status, "paid_off", "nothing left")
        events: list[BillingEvent] = []
        for billing in remaining:
            events += self._hand_over_to_payoff(billing, at=at)
        # Nothing stays scheduled: what was paid ahead is due (and paid) from now on.
        for billing in self._open_installments():
            events += billing.fall_due(at=at)
        self.payoff = Billing(
            id=require_text(billing_id, "billing_id"),
            order_id=self.order_id,
            customer_id=self.customer_id,
            stage=BillingStage.PAYOFF,
            amount_fen=remaining_fen,
        )
        events += self.payoff.fall_due(at=at)
        detail = f"{remaining_fen} fen of {len(remaining)} installments due at once"
        self._note(at, "paid_off", self.payoff.id, detail, actor)
        self._emit(events)
        self.check_invariants()
        return self.payoff

    # --- helpers ------------------------------------------------------------------------

    def _open_installments(self) -> list[Billing]:
        return [b for b in self.installments if not b.is_cancelled]

    def _fall_due_if_scheduled(self, billing: Billing, *, at: datetime) -> list[BillingEvent]:
        scheduled_at = _scheduled_at(billing)
        if billing.is_due or scheduled_at > at:
            return []
        self._note(at, "fell_due", billing.id, f"installment {billing.installment_no}", "billing")
        return billing.fall_due(at=scheduled_at)

    def _mark_overdue_if_late(
        self, billing: Billing, *, at: datetime, rules: LeaseRules
    ) -> list[BillingEvent]:
        overdue_at = _scheduled_at(billing) + timedelta(days=rules.grace_days)
        if billing.overdue_at is not None or billing.outstanding_fen == 0 or overdue_at > at:
            return []
        billing.overdue_at = overdue_at
        detail = f"installment {billing.installment_no}: {billing.outstanding_fen} fen unpaid"
        self._note(at, "overdue", billing.id, detail, "billing")
        return [
            InstallmentOverdue(
                order_id=self.order_id,
                occurred_at=at,
                billing_id=billing.id,
                customer_id=self.customer_id,
                installment_no=billing.installment_no,
                due_at=_scheduled_at(billing),
                overdue_at=overdue_at,
                outstanding_fen=billing.outstanding_fen,
            )
        ]

    def _hand_over_to_payoff(self, billing: Billing, *, at: datetime) -> list[BillingEvent]:
        """An unpaid installment is superseded; a partly paid one keeps what was paid."""
        if billing.paid_fen == 0:
            billing.superseded = True
            return billing.cancel(retain_fen=0, at=at, reason=PAYOFF_REASON)
        return billing.set_amount(
            amount_fen=billing.paid_fen, loan_share_fen=0, at=at, reason=PAYOFF_REASON
        )

    def _scheduled(self, billing: Billing, *, at: datetime, rules: LeaseRules) -> BillingScheduled:
        due_at = _scheduled_at(billing)
        return BillingScheduled(
            order_id=self.order_id,
            occurred_at=at,
            billing_id=billing.id,
            customer_id=self.customer_id,
            stage=billing.stage.value,
            installment_no=billing.installment_no,
            amount_fen=billing.amount_fen,
            due_at=due_at,
            payable_from=due_at - timedelta(days=rules.advance_window_days),
        )

    def _note(
        self, at: datetime, change: str, billing_id: str | None, detail: str, actor: str
    ) -> None:
        self.changes.append(ScheduleChange(at, change, billing_id, detail, actor))

    def _check_own_invariants(self) -> None:
        numbers = [b.installment_no for b in self.installments]
        assert numbers == list(range(1, len(numbers) + 1)), numbers
        assert all(b.scheduled_due_at is not None for b in self.installments)


def _scheduled_at(billing: Billing) -> datetime:
    assert billing.scheduled_due_at is not None, billing.id
    return billing.scheduled_due_at


def _installment(
    order_id: str, customer_id: str, planned: PlannedInstallment, billing_id: str
) -> Billing:
    return Billing(
        id=require_text(billing_id, "billing_id"),
        order_id=order_id,
        customer_id=customer_id,
        stage=BillingStage.INSTALLMENT,
        amount_fen=require_fen(planned.amount_fen, "amount_fen"),
        installment_no=planned.number,
        scheduled_due_at=start_of_business_day(planned.due_date),
    )


def _check_schedule(schedule: Sequence[PlannedInstallment], price_fen: int) -> None:
    if not schedule:
        raise InvalidField("lease_installments", "a lease needs at least one installment")
    if [p.number for p in schedule] != list(range(1, len(schedule) + 1)):
        raise InvalidField("lease_installments", "installments must be numbered 1, 2, …")
    if any(a.due_date >= b.due_date for a, b in zip(schedule, schedule[1:], strict=False)):
        raise InvalidField("lease_installments", "due dates must strictly increase")
    if sum(p.amount_fen for p in schedule) != price_fen:
        raise InvalidField("lease_installments", f"installments do not add up to {price_fen} fen")
