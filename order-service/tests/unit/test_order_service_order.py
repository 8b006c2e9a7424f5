"""Post-delivery service orders: own order, one billing, opened only for a delivered car."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from order_service.domain import (
    ServiceKind,
    ServiceOrder,
    ServiceOrderStatus,
    VehicleOrder,
    VehicleOrderStatus,
)
from order_service.domain.errors import GateClosed, IllegalTransition, InvalidAmount
from order_service.domain.events import (
    OrderCancelled,
    OrderCreated,
    ServiceOrderCompleted,
    ServiceOrderPaid,
)

T = datetime(2024, 6, 1, tzinfo=UTC)
OrderIn = Callable[..., VehicleOrder]


def _service_order(vehicle_order: VehicleOrder, price_fen: int = 300_000) -> ServiceOrder:
    ids = itertools.count(1)
    return ServiceOrder.create(
        vehicle_order=vehicle_order,
        kind=ServiceKind.WINDOW_FILM,
        description="ceramic film, all windows",
        price_fen=price_fen,
        new_id=lambda: f"svc-{next(ids)}",
        actor="store",
        at=T,
    )


def test_a_service_order_is_announced_like_an_order_of_kind_service(order_in: OrderIn) -> None:
    car = order_in(VehicleOrderStatus.DELIVERED)

    service = _service_order(car)

    assert service.status is ServiceOrderStatus.CREATED
    assert service.pull_events() == [
        OrderCreated(
            order_id="svc-1",
            occurred_at=T,
            customer_id=car.customer_id,
            order_kind="service",
            vehicle_model="Model S",
            options=(),
            price_fen=300_000,
            loan_fen=0,
            charging_pile=False,
            parent_order_id=car.id,
            service_kind="window_film",
        )
    ]


@pytest.mark.parametrize(
    "status", [VehicleOrderStatus.CREATED, VehicleOrderStatus.LOCKED, VehicleOrderStatus.FINAL_PAID]
)
def test_only_a_delivered_car_gets_service_orders(
    order_in: OrderIn, status: VehicleOrderStatus
) -> None:
    with pytest.raises(GateClosed) as caught:
        _service_order(order_in(status))

    assert caught.value.gate == "vehicle_delivered"


def test_price_must_be_positive(order_in: OrderIn) -> None:
    with pytest.raises(InvalidAmount) as caught:
        _service_order(order_in(VehicleOrderStatus.DELIVERED), price_fen=0)
    assert caught.value.field == "price_fen"


def test_paid_then_completed(order_in: OrderIn) -> None:
    service = _service_order(order_in(VehicleOrderStatus.DELIVERED))
    parent = service.parent_order_id

    paid = service.record_paid(actor="billing", at=T)
    again = service.record_paid(actor="billing", at=T)
    done = service.complete(actor="store", at=T)

    assert paid == [ServiceOrderPaid(order_id="svc-1", occurred_at=T, parent_order_id=parent)]
    assert again == []
    assert done == [
        ServiceOrderCompleted(
            order_id="svc-1", occurred_at=T, parent_order_id=parent, service_kind="window_film"
        )
    ]
    assert service.record_paid(actor="billing", at=T) == []
    assert service.status is ServiceOrderStatus.COMPLETED


def test_completion_needs_the_billing_paid(order_in: OrderIn) -> None:
    service = _service_order(order_in(VehicleOrderStatus.DELIVERED))

    with pytest.raises(GateClosed) as caught:
        service.complete(actor="store", at=T)

    assert caught.value.gate == "service_billing_paid"


@pytest.mark.parametrize("paid", [False, True])
def test_cancel_before_completion(order_in: OrderIn, paid: bool) -> None:
    service = _service_order(order_in(VehicleOrderStatus.DELIVERED))
    if paid:
        service.record_paid(actor="billing", at=T)

    events = service.cancel(actor="cust-1", at=T, reason="no longer wanted")

    assert events == [
        OrderCancelled(
            order_id="svc-1",
            occurred_at=T,
            customer_id=service.customer_id,
            reason="no longer wanted",
            cancelled_by="cust-1",
            previous_status="paid" if paid else "created",
        )
    ]


def test_a_completed_service_cannot_be_cancelled(order_in: OrderIn) -> None:
    service = _service_order(order_in(VehicleOrderStatus.DELIVERED))
    service.record_paid(actor="billing", at=T)
    service.complete(actor="store", at=T)

    with pytest.raises(IllegalTransition, match="from completed to cancelled"):
        service.cancel(actor="cust-1", at=T, reason="too late")


def test_a_cancelled_service_order_cannot_be_paid(order_in: OrderIn) -> None:
    service = _service_order(order_in(VehicleOrderStatus.DELIVERED))
    service.cancel(actor="cust-1", at=T, reason="no")

    with pytest.raises(IllegalTransition, match="from cancelled to paid"):
        service.record_paid(actor="billing", at=T)
