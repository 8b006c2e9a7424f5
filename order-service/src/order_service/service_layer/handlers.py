"""Command handlers of order-service: load under the row lock, call the domain, save, emit.

Each handler is one transaction: the aggregate is loaded with ``SELECT ... FOR UPDATE``
(so API calls and consumed events on one order are serialised), changed by a domain
method (which guards the transition and records history and events), saved, and its
events written to the outbox before the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from order_service.domain import (
    DEFAULT_AMOUNT_RULES,
    OrderAmountRules,
    ServiceKind,
    ServiceOrder,
    VehicleConfiguration,
    VehicleOrder,
)
from order_service.domain.errors import IllegalTransition, InvalidField, OrderNotFound
from order_service.domain.lease import LeaseTerms, plan_schedule
from order_service.domain.vehicle_order import LOCKED_OR_LATER, VehicleOrderStatus
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.business_time import business_date

Clock = Callable[[], datetime]
VehicleChange = Callable[[VehicleOrder, datetime], object]
ServiceChange = Callable[[ServiceOrder, datetime], object]


def utc_now() -> datetime:
    """The current time, aware UTC (the domain never reads a clock itself)."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh entity id (a UUID as text)."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class CreateOrder:
    """Command: create a vehicle order with its sub-orders."""

    customer_id: str
    vehicle_model: str
    price_fen: int
    loan_fen: int
    charging_pile: bool
    actor: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateServiceOrder:
    """Command: open a post-delivery service order for a delivered car."""

    parent_order_id: str
    kind: ServiceKind
    description: str
    price_fen: int
    actor: str
    lease: LeaseTerms | None = None


async def create_order(
    uow: OrderUnitOfWork,
    command: CreateOrder,
    *,
    rules: OrderAmountRules = DEFAULT_AMOUNT_RULES,
    clock: Clock = utc_now,
) -> VehicleOrder:
    """Store the order and emit OrderCreated in the same transaction."""
    order = VehicleOrder.create(
        customer_id=command.customer_id,
        configuration=VehicleConfiguration(command.vehicle_model, command.options),
        price_fen=command.price_fen,
        loan_fen=command.loan_fen,
        charging_pile=command.charging_pile,
        new_id=new_id,
        actor=command.actor,
        at=clock(),
        rules=rules,
    )
    async with uow:
        await uow.orders.add(order)
        await uow.publish(order)
        await uow.commit()
    return order


async def change_vehicle_order(
    uow: OrderUnitOfWork, order_id: str, change: VehicleChange, *, clock: Clock = utc_now
) -> VehicleOrder:
    """Apply ``change(order, at)`` to the locked order; save and emit what it recorded."""
    async with uow:
        order = await uow.orders.get(order_id, for_update=True)
        if order is None:
            raise OrderNotFound(order_id)
        change(order, clock())
        await uow.orders.save(order)
        await uow.publish(order)
        await uow.commit()
    return order


async def change_service_order(
    uow: OrderUnitOfWork, order_id: str, change: ServiceChange, *, clock: Clock = utc_now
) -> ServiceOrder:
    """Apply ``change(order, at)`` to the locked service order; save and emit."""
    async with uow:
        order = await uow.orders.get_service_order(order_id, for_update=True)
        if order is None:
            raise OrderNotFound(order_id)
        change(order, clock())
        await uow.orders.save_service_order(order)
        await uow.publish(order)
        await uow.commit()
    return order


# --- the customer's commands (app backend) ------------------------------------------------


def change_configuration(
    configuration: VehicleConfiguration,
    price_fen: int,
    actor: str,
    rules: OrderAmountRules = DEFAULT_AMOUNT_RULES,
) -> VehicleChange:
    """Re-price before the lock (OrderRepriced); ConfigurationFrozen (409) after it."""
    return lambda order, at: order.change_configuration(
        configuration=configuration, price_fen=price_fen, actor=actor, at=at, rules=rules
    )


def lock(actor: str) -> VehicleChange:
    """intent_paid → locked (OrderLocked: the firm deposit falls due)."""
    return lambda order, at: order.lock(actor=actor, at=at)


def cancel(actor: str, reason: str) -> VehicleChange:
    """Cancel before the lock (OrderCancelled: billing refunds the deposits)."""

    def change(order: VehicleOrder, at: datetime) -> object:
        if order.status in LOCKED_OR_LATER:
            raise IllegalTransition(
                order.ENTITY,
                order.id,
                order.status,
                VehicleOrderStatus.CANCELLED,
                "a vehicle order can be cancelled only before the configuration lock; after it"
                " the firm deposit is kept under the deposit policy (see billing-service"
                f" GET /v1/orders/{order.id}/cancellation-quote)",
            )
        return order.cancel(actor=actor, at=at, reason=reason)

    return change


def deliver(actor: str) -> VehicleChange:
    """final_paid → delivered; GateClosed (409) while the final billing is unpaid."""
    return lambda order, at: order.deliver(actor=actor, at=at)


# --- factory and logistics ----------------------------------------------------------------


def schedule_production(actor: str) -> VehicleChange:
    """waiting → scheduled; GateClosed (409) until the firm deposit is paid."""
    return lambda order, at: order.schedule_production(actor=actor, at=at)


def record_built(vin: str, actor: str) -> VehicleChange:
    """scheduled → built, with the VIN."""
    return lambda order, at: order.record_vehicle_built(vin=vin, actor=actor, at=at)


def record_shipped(actor: str) -> VehicleChange:
    """built → shipped."""
    return lambda order, at: order.record_vehicle_shipped(actor=actor, at=at)


def record_arrived(delivery_centre: str, actor: str) -> VehicleChange:
    """shipped → at_delivery_centre; the order becomes ready_for_delivery."""
    return lambda order, at: order.record_arrival_at_delivery_centre(
        delivery_centre=delivery_centre, actor=actor, at=at
    )


# --- installer ----------------------------------------------------------------------------


def pile_surveyed(actor: str) -> VehicleChange:
    """Charging pile requested → surveyed."""
    return lambda order, at: order.record_pile_survey(actor=actor, at=at)


def pile_installed(actor: str) -> VehicleChange:
    """Charging pile surveyed → installed."""
    return lambda order, at: order.record_pile_installed(actor=actor, at=at)


def pile_not_needed(actor: str, reason: str) -> VehicleChange:
    """Charging pile requested or surveyed → not_needed."""
    return lambda order, at: order.mark_pile_not_needed(actor=actor, at=at, reason=reason)


# --- bank ---------------------------------------------------------------------------------


def loan_submitted(bank_code: str, actor: str) -> VehicleChange:
    """Loan intent_collected → submitted."""
    return lambda order, at: order.submit_loan(bank_code=bank_code, actor=actor, at=at)


def loan_approved(principal_fen: int, actor: str) -> VehicleChange:
    """Loan submitted → approved (LoanApproved: billing sets the loan share)."""
    return lambda order, at: order.approve_loan(principal_fen=principal_fen, actor=actor, at=at)


def loan_rejected(reason: str, actor: str) -> VehicleChange:
    """Loan submitted → rejected (LoanRejected: the share becomes self-pay)."""
    return lambda order, at: order.reject_loan(reason=reason, actor=actor, at=at)


def loan_disbursed(amount_fen: int, bank_reference: str, actor: str) -> VehicleChange:
    """Loan approved → disbursed (LoanDisbursed: a loan payment of the final billing)."""
    return lambda order, at: order.record_loan_disbursed(
        amount_fen=amount_fen, bank_reference=bank_reference, actor=actor, at=at
    )


# --- service orders -----------------------------------------------------------------------


async def create_service_order(
    uow: OrderUnitOfWork, command: CreateServiceOrder, *, clock: Clock = utc_now
) -> ServiceOrder:
    """Open a service order for a delivered car (OrderCreated, order_kind=service)."""
    async with uow:
        parent = await uow.orders.get(command.parent_order_id, for_update=True)
        if parent is None:
            raise InvalidField("parent_order_id", f"names no order ({command.parent_order_id})")
        at = clock()
        schedule = (
            ()
            if command.lease is None
            else plan_schedule(command.price_fen, command.lease, today=business_date(at))
        )
        order = ServiceOrder.create(
            vehicle_order=parent,
            kind=command.kind,
            description=command.description,
            price_fen=command.price_fen,
            new_id=new_id,
            actor=command.actor,
            at=at,
            lease_installments=schedule,
        )
        await uow.orders.add_service_order(order)
        await uow.publish(order)
        await uow.commit()
    return order


def complete_service(actor: str) -> ServiceChange:
    """paid → completed; GateClosed (409) while its billing is unpaid."""
    return lambda order, at: order.complete(actor=actor, at=at)


def cancel_service(actor: str, reason: str) -> ServiceChange:
    """created or paid → cancelled (billing refunds what was paid)."""
    return lambda order, at: order.cancel(actor=actor, at=at, reason=reason)
