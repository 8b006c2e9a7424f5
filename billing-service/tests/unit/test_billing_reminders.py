"""Reminders of unpaid billings: a named schedule, a pure function of billing and time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from billing_service.domain import (
    STANDARD_REMINDERS,
    ApplyResult,
    FundOrder,
    ReminderSchedule,
    next_reminder_at,
    reminders_due,
)
from billing_service.domain.errors import InvalidField
from billing_service.domain.events import BillingReminderDue

MakeFundOrder = Callable[..., FundOrder]
Pay = Callable[..., ApplyResult]
DAY = timedelta(days=1)


def test_no_reminder_before_the_first_step(make_fund_order: MakeFundOrder, t0: datetime) -> None:
    intent = make_fund_order().intent

    assert reminders_due(intent, t0 + DAY - timedelta(seconds=1)) == []


def test_the_first_step_reminds_with_what_is_still_payable(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    pay(fund_order, fund_order.intent.id, 100_000, "p1")
    now = t0 + DAY

    assert reminders_due(fund_order.intent, now) == [
        BillingReminderDue(
            order_id="order-1",
            occurred_at=now,
            billing_id=fund_order.intent.id,
            customer_id="cust-1",
            stage="intent",
            schedule="standard",
            step=1,
            due_at=t0,
            remind_at=t0 + DAY,
            customer_payable_fen=400_000,
        )
    ]


@pytest.mark.parametrize(
    ("days", "sent", "expected_step"),
    [
        (1, (), 1),
        (2, (1,), None),
        (3, (1,), 2),
        (5, (1, 2), None),
        (7, (1, 2), 3),
        (30, (1, 2, 3), None),
        (8, (), 3),  # after an outage: one reminder, the latest step
        (8, (3,), None),
    ],
)
def test_each_step_is_sent_once(
    make_fund_order: MakeFundOrder,
    t0: datetime,
    days: int,
    sent: tuple[int, ...],
    expected_step: int | None,
) -> None:
    reminders = reminders_due(make_fund_order().intent, t0 + days * DAY, sent_steps=sent)

    assert [r.step for r in reminders] == ([] if expected_step is None else [expected_step])


def test_paid_pending_and_cancelled_billings_are_not_reminded(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    pay(fund_order, fund_order.intent.id, 500_000, "p1")
    later = t0 + 10 * DAY

    assert reminders_due(fund_order.intent, later) == []  # paid
    assert reminders_due(fund_order.firm, later) == []  # pending: not yet due
    fund_order.cancel(at=t0, reason="bye")
    assert reminders_due(fund_order.intent, later) == []


def test_a_final_billing_the_loan_will_cover_is_not_reminded(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order(loan_fen=10_000_000)
    fund_order.lock(at=t0)
    fund_order.mark_ready_for_delivery(at=t0)
    pay(fund_order, fund_order.final.id, 9_500_000, "p-self")

    assert fund_order.final.customer_payable_fen == 0
    assert reminders_due(fund_order.final, t0 + 3 * DAY) == []


def test_a_custom_schedule(make_fund_order: MakeFundOrder, t0: datetime) -> None:
    hourly = ReminderSchedule("pos-hourly", (timedelta(hours=1), timedelta(hours=2)))

    [reminder] = reminders_due(make_fund_order().intent, t0 + timedelta(hours=2), hourly)

    assert (reminder.schedule, reminder.step) == ("pos-hourly", 2)


def test_next_reminder_at_tells_a_scheduler_when_to_wake(
    make_fund_order: MakeFundOrder, t0: datetime
) -> None:
    intent = make_fund_order().intent

    assert next_reminder_at(intent) == t0 + DAY
    assert next_reminder_at(intent, sent_steps=(1,)) == t0 + 3 * DAY
    assert next_reminder_at(intent, sent_steps=(1, 2, 3)) is None
    assert next_reminder_at(make_fund_order().firm) is None


@pytest.mark.parametrize(
    "offsets",
    [(), (timedelta(0),), (-DAY,), (3 * DAY, DAY), (DAY, DAY)],
)
def test_a_schedule_must_be_positive_and_increasing(offsets: tuple[timedelta, ...]) -> None:
    with pytest.raises(InvalidField):
        ReminderSchedule("bad", offsets)


def test_the_standard_schedule_is_one_three_seven_days() -> None:
    assert STANDARD_REMINDERS.offsets == (DAY, 3 * DAY, 7 * DAY)


def test_now_must_be_aware(make_fund_order: MakeFundOrder) -> None:
    with pytest.raises(InvalidField):
        reminders_due(make_fund_order().intent, datetime(2024, 3, 5))  # noqa: DTZ001
