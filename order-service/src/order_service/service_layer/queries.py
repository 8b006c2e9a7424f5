"""Read-side queries of order-service (no locks, no events)."""

from __future__ import annotations

from order_service.domain import HistoryEntry, ServiceOrder, VehicleOrder
from order_service.domain.errors import OrderNotFound
from order_service.service_layer.unit_of_work import OrderUnitOfWork


async def vehicle_order(uow: OrderUnitOfWork, order_id: str) -> VehicleOrder:
    """The vehicle order, or OrderNotFound (404)."""
    async with uow:
        order = await uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


async def service_order(uow: OrderUnitOfWork, order_id: str) -> ServiceOrder:
    """The service order, or OrderNotFound (404)."""
    async with uow:
        order = await uow.orders.get_service_order(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


async def service_orders_of(uow: OrderUnitOfWork, order_id: str) -> list[ServiceOrder]:
    """The service orders of a vehicle order (OrderNotFound when the order does not exist)."""
    async with uow:
        if await uow.orders.get(order_id) is None:
            raise OrderNotFound(order_id)
        return await uow.orders.service_orders_of(order_id)


async def history(uow: OrderUnitOfWork, order_id: str) -> list[HistoryEntry]:
    """Who changed what and when, for a vehicle order (with its sub-orders) or a service
    order; OrderNotFound when neither exists."""
    async with uow:
        exists = await uow.orders.get(order_id) or await uow.orders.get_service_order(order_id)
        if exists is None:
            raise OrderNotFound(order_id)
        return await uow.orders.history(order_id)
