"""The unit of work of payment-gateway: one transaction over its repositories and the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.uow import SqlUnitOfWork
from payment_gateway.adapters.callback_log import CallbackLog
from payment_gateway.adapters.idempotency import IdempotencyRepository
from payment_gateway.adapters.payable_billings import PayableBillingRepository
from payment_gateway.adapters.repository import PaymentRepository, RefundRepository


class GatewayUnitOfWork(SqlUnitOfWork):
    """Payments, refunds, billings, idempotency keys, raw callbacks, outbox."""

    payments: PaymentRepository
    refunds: RefundRepository
    billings: PayableBillingRepository
    idempotency: IdempotencyRepository
    callbacks: CallbackLog

    def _open(self, session: AsyncSession) -> None:
        self.payments = PaymentRepository(session)
        self.refunds = RefundRepository(session)
        self.billings = PayableBillingRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.callbacks = CallbackLog(session)
