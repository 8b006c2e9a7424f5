"""The lease schedule: sums exactly, never a non-positive installment, dates one month apart;
bad terms are 422s naming the field; only a leasing service order has one."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_service.domain import ServiceKind, ServiceOrder, VehicleOrder, VehicleOrderStatus
from order_service.domain.errors import InvalidAmount, InvalidField
from order_service.domain.events import OrderCreated
from order_service.domain.lease import (
    LEASE_BACKDATE_DAYS_MAX,
    LEASE_MONTHS_MAX,
    Installment,
    LeaseTerms,
    add_months,
    plan_schedule,
)

TODAY = date(2024, 6, 1)
T = datetime(2024, 6, 1, tzinfo=UTC)
OrderIn = Callable[..., VehicleOrder]


def test_twelve_months_with_the_remainder_on_the_last() -> None:
    schedule = plan_schedule(1_000_000, LeaseTerms(12, date(2024, 7, 15)), today=TODAY)
    assert [i.amount_fen for i in schedule] == [83_333] * 11 + [83_337]
    assert [i.number for i in schedule] == list(range(1, 13))
    assert schedule[0].due_date == date(2024, 7, 15)
    assert schedule[-1].due_date == date(2025, 6, 15)


def test_month_ends_are_clamped_and_come_back() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 31), 2) == date(2024, 3, 31)
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)


def test_a_given_monthly_amount_leaves_the_rest_to_the_last() -> None:
    schedule = plan_schedule(1_000_000, LeaseTerms(3, TODAY, monthly_fen=400_000), today=TODAY)
    assert [i.amount_fen for i in schedule] == [400_000, 400_000, 200_000]


@pytest.mark.parametrize(
    ("terms", "field", "error"),
    [
        (LeaseTerms(3, TODAY, monthly_fen=500_000), "lease.monthly_fen", InvalidAmount),
        (LeaseTerms(2, TODAY, monthly_fen=1_000_000), "lease.monthly_fen", InvalidAmount),
        (LeaseTerms(3, TODAY, monthly_fen=0), "lease.monthly_fen", InvalidAmount),
        (LeaseTerms(3, TODAY, monthly_fen=-5), "lease.monthly_fen", InvalidAmount),
        (LeaseTerms(0, TODAY), "lease.months", InvalidField),
        (LeaseTerms(LEASE_MONTHS_MAX + 1, TODAY), "lease.months", InvalidField),
        (LeaseTerms(12, date(2023, 1, 1)), "lease.first_due_date", InvalidField),
        (LeaseTerms(12, date(2030, 1, 1)), "lease.first_due_date", InvalidField),
    ],
)
def test_terms_that_cannot_make_a_schedule_are_refused(
    terms: LeaseTerms, field: str, error: type[InvalidField]
) -> None:
    with pytest.raises(error) as caught:
        plan_schedule(1_000_000, terms, today=TODAY)
    assert caught.value.field == field


def test_more_months_than_fen_is_a_zero_installment() -> None:
    with pytest.raises(InvalidAmount, match="zero installment"):
        plan_schedule(5, LeaseTerms(12, TODAY), today=TODAY)


@given(
    financed_fen=st.integers(min_value=LEASE_MONTHS_MAX, max_value=10**12),
    months=st.integers(min_value=1, max_value=LEASE_MONTHS_MAX),
    offset_days=st.integers(min_value=-LEASE_BACKDATE_DAYS_MAX, max_value=366),
)
def test_every_schedule_sums_exactly_is_positive_and_strictly_increasing(
    financed_fen: int, months: int, offset_days: int
) -> None:
    first = date.fromordinal(TODAY.toordinal() + offset_days)
    schedule = plan_schedule(financed_fen, LeaseTerms(months, first), today=TODAY)
    assert sum(i.amount_fen for i in schedule) == financed_fen
    assert all(i.amount_fen > 0 for i in schedule)
    assert len(schedule) == months
    dates = [i.due_date for i in schedule]
    assert all(a < b for a, b in itertools.pairwise(dates))


def _lease(vehicle: VehicleOrder, kind: ServiceKind, schedule: tuple[Installment, ...]) -> object:
    return ServiceOrder.create(
        vehicle_order=vehicle, kind=kind, description="36-month lease", price_fen=300_000,
        new_id=lambda: "svc-1", actor="app", at=T, lease_installments=schedule,
    )  # fmt: skip


def test_a_lease_announces_its_schedule_and_only_a_lease_has_one(order_in: OrderIn) -> None:
    car = order_in(VehicleOrderStatus.DELIVERED)
    schedule = plan_schedule(300_000, LeaseTerms(3, TODAY), today=TODAY)
    lease = _lease(car, ServiceKind.LEASING, schedule)
    assert isinstance(lease, ServiceOrder)
    created = lease.pull_events()[0]
    assert isinstance(created, OrderCreated)
    assert created.lease_installments == schedule
    with pytest.raises(InvalidField, match="needs its schedule"):
        _lease(car, ServiceKind.LEASING, ())
    with pytest.raises(InvalidField, match="only a leasing"):
        _lease(car, ServiceKind.WINDOW_FILM, schedule)
    with pytest.raises(InvalidAmount, match="do not add up"):
        _lease(car, ServiceKind.LEASING, schedule[:2])
