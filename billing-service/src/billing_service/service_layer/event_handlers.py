"""Handlers of the events billing-service consumes.

Each gets the consumer's unit of work (a ``BillingUnitOfWork`` over the consumer's
transaction, in which the inbox row is written too), so its effects and the events it
emits commit together, exactly once; the consumer commits, never the handler. Every
handler loads the fund order under its row lock first (see ``FundOrderRepository``),
asks the domain, saves, and publishes what the domain recorded. Times come from the events, so a
redelivery decides the same way.

Order events (otd.orders): OrderCreated (vehicle or service), OrderRepriced, OrderLocked,
OrderCancelled, VehicleReadyForDelivery, LoanApproved, LoanRejected, LoanDisbursed. A
failure there is a bug or a configuration mismatch between the services: it raises, and
the consumer retries and then parks the event (the order waits behind it).

Payment outcomes (otd.payments): PaymentCallback and PaymentCorrected — see ``payments``;
a run of them in one partition batch goes to the batch handler at once.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from billing_service.adapters.fund_order_repo import AnyFundOrder
from billing_service.config import BillingSettings
from billing_service.domain import FundOrder, LeaseFundOrder, PlannedInstallment, ServiceFundOrder
from billing_service.domain.errors import FundOrderNotFound, IllegalTransition, InvalidField
from billing_service.service_layer.clock import utc
from billing_service.service_layer.metrics import BillingMetrics
from billing_service.service_layer.payments import (
    apply_payment_callback,
    apply_payment_callbacks,
)
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.consumer import BatchEventHandler, EventHandler
from otd_shared.events import (
    EventEnvelope,
    LoanApproved,
    LoanDisbursed,
    LoanRejected,
    OrderCancelled,
    OrderCreated,
    OrderLocked,
    OrderRepriced,
)

ID_NAMESPACE = uuid.UUID("6f1c3c2e-4b1d-4e0a-9a57-0d7c1f3b9e21")
FundChange = Callable[[AnyFundOrder, datetime], object]


def derived_ids(order_id: str) -> Callable[[], str]:
    """Billing ids derived from the order id: the same on every (re)delivery."""
    counter = itertools.count(1)
    return lambda: str(uuid.uuid5(ID_NAMESPACE, f"{order_id}/billing/{next(counter)}"))


class BillingEventHandlers:
    """Event handlers bound to settings (built in bootstrap); each gets the consumer's
    ``BillingUnitOfWork``."""

    def __init__(self, settings: BillingSettings, metrics: BillingMetrics | None = None) -> None:
        self._policy = settings.deposit_policy()
        self._lease_rules = settings.lease_rules()
        self._metrics = metrics or BillingMetrics()

    def order_handlers(self) -> dict[str, EventHandler]:
        """Handlers of the order-service topic, by event type."""
        return {
            "OrderCreated": self.on_order_created,
            "OrderRepriced": self.on_order_repriced,
            "OrderLocked": self.on_order_locked,
            "OrderCancelled": self.on_order_cancelled,
            "VehicleReadyForDelivery": self.on_vehicle_ready,
            "LoanApproved": self.on_loan_approved,
            "LoanRejected": self.on_loan_rejected,
            "LoanDisbursed": self.on_loan_disbursed,
        }

    def payment_handlers(self) -> dict[str, EventHandler]:
        """Handlers of the payment-gateway topic, by event type."""
        return {
            "PaymentCallback": self.on_payment_callback,
            "PaymentCorrected": self.on_payment_callback,
        }

    def payment_batch_handlers(self) -> dict[str, BatchEventHandler]:
        """Batch handlers of the payment-gateway topic: a run of PaymentCallbacks at once."""
        return {
            "PaymentCallback": self.on_payment_callbacks,
            "PaymentCorrected": self.on_payment_callbacks,
        }

    async def on_order_created(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """Open the fund order (three billings, or one for a service order); the first
        billing falls due now (BillingDue, pushed to the app backend)."""
        p = envelope.payload
        assert isinstance(p, OrderCreated)
        if await uow.fund_orders.exists_for_order(p.order_id):
            return
        at = utc(envelope.occurred_at)
        fund_order_id = p.fund_order_id or str(uuid.uuid5(ID_NAMESPACE, f"{p.order_id}/fund"))
        fund: AnyFundOrder
        if p.order_kind == "service" and p.lease_installments:
            fund = self._open_lease(p, fund_order_id, at)
        elif p.order_kind == "service":
            if not p.parent_order_id:
                raise InvalidField("parent_order_id", "is required for a service order")
            fund = ServiceFundOrder.open(
                fund_order_id=fund_order_id,
                order_id=p.order_id,
                parent_order_id=p.parent_order_id,
                customer_id=p.customer_id,
                price_fen=p.price_fen,
                new_id=derived_ids(p.order_id),
                at=at,
            )
        else:
            fund = FundOrder.open(
                fund_order_id=fund_order_id,
                order_id=p.order_id,
                customer_id=p.customer_id,
                price_fen=p.price_fen,
                loan_fen=p.loan_fen,
                new_id=derived_ids(p.order_id),
                at=at,
                policy=self._policy,
            )
        await uow.fund_orders.add(fund)
        await uow.publish(fund.pull_events(), fund=fund, at=at)

    def _open_lease(self, p: OrderCreated, fund_order_id: str, at: datetime) -> LeaseFundOrder:
        """A leasing service order: one billing per installment of its schedule."""
        if not p.parent_order_id:
            raise InvalidField("parent_order_id", "is required for a service order")
        return LeaseFundOrder.open(
            fund_order_id=fund_order_id,
            order_id=p.order_id,
            parent_order_id=p.parent_order_id,
            customer_id=p.customer_id,
            price_fen=p.price_fen,
            schedule=[
                PlannedInstallment(i.number, i.due_date, i.amount_fen) for i in p.lease_installments
            ],
            new_id=derived_ids(p.order_id),
            at=at,
            rules=self._lease_rules,
        )

    async def on_order_repriced(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """The final billing absorbs the new price (BillingAmountChanged, pushed)."""
        p = envelope.payload
        assert isinstance(p, OrderRepriced)
        await self._change(
            uow, envelope, lambda f, at: _vehicle(f).reprice(price_fen=p.price_fen, at=at)
        )

    async def on_order_locked(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """The firm billing falls due (BillingDue, pushed)."""
        p = envelope.payload
        assert isinstance(p, OrderLocked)
        await self._change(uow, envelope, lambda f, _: _vehicle(f).lock(at=utc(p.locked_at)))

    async def on_order_cancelled(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """Cancel every billing: refund what the deposit policy does not keep."""
        p = envelope.payload
        assert isinstance(p, OrderCancelled)
        await self._change(uow, envelope, lambda f, at: f.cancel(at=at, reason=p.reason))

    async def on_vehicle_ready(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """The final billing falls due (BillingDue with the customer's payable part)."""
        await self._change(uow, envelope, lambda f, at: _vehicle(f).mark_ready_for_delivery(at=at))

    async def on_loan_approved(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """The loan share of the final billing becomes the approved principal."""
        p = envelope.payload
        assert isinstance(p, LoanApproved)
        await self._change(
            uow,
            envelope,
            lambda f, at: _vehicle(f).approve_loan(principal_fen=p.principal_fen, at=at),
        )

    async def on_loan_rejected(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """The loan share becomes self-pay (BillingAmountChanged, pushed: the user is told)."""
        p = envelope.payload
        assert isinstance(p, LoanRejected)
        await self._change(
            uow, envelope, lambda f, at: _vehicle(f).reject_loan(at=at, reason=p.reason)
        )

    async def on_loan_disbursed(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """A ``loan`` payment of the final billing (BillingPaid when it completes it)."""
        p = envelope.payload
        assert isinstance(p, LoanDisbursed)
        await self._change(
            uow,
            envelope,
            lambda f, at: _vehicle(f).record_loan_disbursed(
                bank_reference=p.bank_reference, amount_fen=p.amount_fen, at=at
            ),
        )

    async def on_payment_callback(self, uow: BillingUnitOfWork, envelope: EventEnvelope) -> None:
        """Apply a verified payment outcome to its billing (see ``payments``)."""
        await apply_payment_callback(uow, envelope, self._metrics)

    async def on_payment_callbacks(
        self, uow: BillingUnitOfWork, envelopes: Sequence[EventEnvelope]
    ) -> None:
        """Apply a run of payment outcomes at once (see ``payments``)."""
        await apply_payment_callbacks(uow, envelopes, self._metrics)

    async def _change(
        self, uow: BillingUnitOfWork, envelope: EventEnvelope, change: FundChange
    ) -> None:
        order_id = envelope.order_id or ""
        fund = await uow.fund_orders.get_by_order(order_id, for_update=True)
        if fund is None:
            raise FundOrderNotFound(order_id)
        at = utc(envelope.occurred_at)
        change(fund, at)
        await uow.fund_orders.save(fund, at=at)
        await uow.publish(fund.pull_events(), fund=fund, at=at)


def _vehicle(fund: AnyFundOrder) -> FundOrder:
    if not isinstance(fund, FundOrder):
        raise IllegalTransition(
            fund.ENTITY, fund.id, "service", "vehicle milestone", "a service order has one billing"
        )
    return fund
