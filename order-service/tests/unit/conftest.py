"""Fixtures of the order-service domain tests: ids, times and orders in a chosen state."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from order_service.domain import VehicleConfiguration, VehicleOrder, VehicleOrderStatus

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
PRICE_FEN = 25_000_000
ACTOR = "app-backend"

OrderFactory = Callable[..., VehicleOrder]


@pytest.fixture
def t0() -> datetime:
    return T0


@pytest.fixture
def new_id() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"id-{next(counter)}"


@pytest.fixture
def make_order(new_id: Callable[[], str]) -> OrderFactory:
    """A new order; keyword arguments override the defaults of VehicleOrder.create."""

    def make(**overrides: Any) -> VehicleOrder:
        arguments: dict[str, Any] = {
            "customer_id": "cust-1",
            "configuration": VehicleConfiguration("Model S", ("white", "awd")),
            "price_fen": PRICE_FEN,
            "loan_fen": 0,
            "charging_pile": False,
            "new_id": new_id,
            "actor": ACTOR,
            "at": T0,
            **overrides,
        }
        return VehicleOrder.create(**arguments)

    return make


def advance(order: VehicleOrder, target: VehicleOrderStatus) -> VehicleOrder:
    """Drive ``order`` along the happy path until it reaches ``target``; drop the events."""
    steps: list[tuple[VehicleOrderStatus, Callable[[datetime], object]]] = [
        (
            VehicleOrderStatus.INTENT_PAID,
            lambda at: order.record_billing_paid(stage="intent", actor="billing", at=at),
        ),
        (VehicleOrderStatus.LOCKED, lambda at: order.lock(actor="cust-1", at=at)),
        (VehicleOrderStatus.READY_FOR_DELIVERY, lambda at: _build_and_ship(order, at)),
        (
            VehicleOrderStatus.FINAL_PAID,
            lambda at: order.record_billing_paid(stage="final", actor="billing", at=at),
        ),
        (VehicleOrderStatus.DELIVERED, lambda at: order.deliver(actor="store", at=at)),
    ]
    for hours, (status, step) in enumerate(steps, start=1):
        if order.status is target:
            break
        step(T0 + timedelta(hours=hours))
        assert order.status is status
    order.pull_events()
    return order


def _build_and_ship(order: VehicleOrder, at: datetime) -> None:
    order.record_billing_paid(stage="firm", actor="billing", at=at)
    order.schedule_production(actor="factory", at=at)
    order.record_vehicle_built(vin="LSVAU2180N2183294", actor="factory", at=at)
    order.record_vehicle_shipped(actor="logistics", at=at)
    order.record_arrival_at_delivery_centre(delivery_centre="SH-Pudong", actor="logistics", at=at)


@pytest.fixture
def order_in(make_order: OrderFactory) -> Callable[..., VehicleOrder]:
    """An order driven to ``status`` (other keyword arguments go to VehicleOrder.create)."""

    def make(status: VehicleOrderStatus, **overrides: Any) -> VehicleOrder:
        return advance(make_order(**overrides), status)

    return make


@pytest.fixture
def drive() -> Callable[[VehicleOrder, VehicleOrderStatus], VehicleOrder]:
    """``advance`` as a fixture, for tests that build their order themselves."""
    return advance
