"""The installment schedule of a leasing service order (融资租赁分期).

A lease finances the service order's price over ``months`` monthly installments. Every
installment but the last is ``monthly_fen`` (by default the price divided by the months,
rounded down); the last takes the remainder, so the schedule always sums exactly to the
financed amount. Due dates are business dates (Asia/Shanghai), one calendar month apart on
the first due date's day of month (clamped to shorter months: Jan 31 → Feb 28 → Mar 31).

order-service computes and validates the schedule once, at creation, and announces it in
OrderCreated; billing-service owns it from then on (installment billings, due dates,
overdue marks, early payoff).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from order_service.domain.errors import InvalidAmount, InvalidField

LEASE_MONTHS_MIN: Final = 1
LEASE_MONTHS_MAX: Final = 60
# A contract signed at the store may be registered a little late: its first installment may
# lie up to this far in the past (it is then due, and possibly overdue, at once).
LEASE_BACKDATE_DAYS_MAX: Final = 90
LEASE_FIRST_DUE_AHEAD_DAYS_MAX: Final = 366


@dataclass(frozen=True)
class LeaseTerms:
    """What the app backend asks for: months, the first due date, optionally the monthly amount."""

    months: int
    first_due_date: date
    monthly_fen: int | None = None


@dataclass(frozen=True)
class Installment:
    """One installment: number 1…months, due date, amount in fen."""

    number: int
    due_date: date
    amount_fen: int


def plan_schedule(financed_fen: int, terms: LeaseTerms, *, today: date) -> tuple[Installment, ...]:
    """The schedule of ``terms`` for ``financed_fen``; InvalidField/InvalidAmount (422) when
    the months are out of range, the first date is too far off, or the amounts do not add up."""
    _check_months(terms.months)
    _check_first_due_date(terms.first_due_date, today)
    monthly_fen = _monthly_fen(financed_fen, terms)
    last_fen = financed_fen - monthly_fen * (terms.months - 1)
    if last_fen <= 0:
        raise InvalidAmount(
            "lease.monthly_fen",
            f"{terms.months} installments of {monthly_fen} fen exceed the financed"
            f" {financed_fen} fen: the schedule does not add up",
        )
    amounts = [monthly_fen] * (terms.months - 1) + [last_fen]
    schedule = tuple(
        Installment(number=n, due_date=add_months(terms.first_due_date, n - 1), amount_fen=fen)
        for n, fen in enumerate(amounts, start=1)
    )
    assert sum(i.amount_fen for i in schedule) == financed_fen
    return schedule


def add_months(start: date, months: int) -> date:
    """``start`` moved by whole calendar months, its day clamped to the target month's end."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _check_months(months: int) -> None:
    if not LEASE_MONTHS_MIN <= months <= LEASE_MONTHS_MAX:
        raise InvalidField(
            "lease.months", f"must be {LEASE_MONTHS_MIN}–{LEASE_MONTHS_MAX}, got {months}"
        )


def _check_first_due_date(first_due_date: date, today: date) -> None:
    earliest = today - timedelta(days=LEASE_BACKDATE_DAYS_MAX)
    latest = today + timedelta(days=LEASE_FIRST_DUE_AHEAD_DAYS_MAX)
    if not earliest <= first_due_date <= latest:
        raise InvalidField(
            "lease.first_due_date",
            f"must lie between {earliest} and {latest}, got {first_due_date}",
        )


def _monthly_fen(financed_fen: int, terms: LeaseTerms) -> int:
    if terms.monthly_fen is None:
        monthly_fen = financed_fen // terms.months
        if monthly_fen <= 0:
            raise InvalidAmount(
                "price_fen", f"{financed_fen} fen over {terms.months} months is a zero installment"
            )
        return monthly_fen
    if terms.monthly_fen <= 0:
        raise InvalidAmount("lease.monthly_fen", f"must be positive, got {terms.monthly_fen}")
    return terms.monthly_fen
