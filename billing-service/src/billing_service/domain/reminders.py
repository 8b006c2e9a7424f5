"""When to remind a customer of an unpaid billing: pure functions of a billing and ``now``.

A schedule (e.g. STANDARD_REMINDERS: +1d, +3d, +7d after ``due_at``) names reminder steps
1, 2, 3, ... The caller remembers which steps it sent for a billing and passes them in. At
most one reminder is returned: the latest step whose time has come, unless it or a later
one was sent already. After an outage the customer gets one reminder, not a burst; the
earlier steps it skipped count as superseded.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from billing_service.domain.billing import Billing, BillingStatus
from billing_service.domain.events import BillingReminderDue
from billing_service.domain.policy import STANDARD_REMINDERS, ReminderSchedule
from otd_shared.checks import require_utc

_UNPAID = (BillingStatus.DUE, BillingStatus.PARTIALLY_PAID)


def reminders_due(
    billing: Billing,
    now: datetime,
    schedule: ReminderSchedule = STANDARD_REMINDERS,
    sent_steps: Collection[int] = (),
) -> list[BillingReminderDue]:
    """The reminder to send for ``billing`` at ``now`` (empty when none is due)."""
    require_utc(now, "now")
    if billing.due_at is None or not _still_owed(billing):
        return []
    step = _latest_step_reached(billing.due_at, now, schedule)
    if step == 0 or any(sent >= step for sent in sent_steps):
        return []
    return [
        BillingReminderDue(
            order_id=billing.order_id,
            occurred_at=now,
            billing_id=billing.id,
            customer_id=billing.customer_id,
            stage=billing.stage.value,
            schedule=schedule.name,
            step=step,
            due_at=billing.due_at,
            remind_at=billing.due_at + schedule.offsets[step - 1],
            customer_payable_fen=billing.customer_payable_fen,
        )
    ]


def next_reminder_at(
    billing: Billing,
    schedule: ReminderSchedule = STANDARD_REMINDERS,
    sent_steps: Collection[int] = (),
) -> datetime | None:
    """When the next unsent step falls due, for a scheduler to wake up (None: no more)."""
    if billing.due_at is None or not _still_owed(billing):
        return None
    last_sent = max(sent_steps, default=0)
    if last_sent >= len(schedule.offsets):
        return None
    return billing.due_at + schedule.offsets[last_sent]


def _still_owed(billing: Billing) -> bool:
    return billing.status in _UNPAID and billing.customer_payable_fen > 0


def _latest_step_reached(due_at: datetime, now: datetime, schedule: ReminderSchedule) -> int:
    return sum(1 for offset in schedule.offsets if due_at + offset <= now)
