"""The unit of work of payment-gateway: one transaction over its repositories and the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.uow import SqlUnitOfWork
from payment_gateway.adapters.callback_log import CallbackLog
from payment_gateway.adapters.cash_repo import CashRepository
from payment_gateway.adapters.correction_repo import CorrectionRepository
from payment_gateway.adapters.discount_pool import ActivityRepository, DiscountPool
from payment_gateway.adapters.idempotency import IdempotencyRepository
from payment_gateway.adapters.offline_refund_repo import OfflineRefundRepository
from payment_gateway.adapters.payable_billings import PayableBillingRepository
from payment_gateway.adapters.pos_repo import PosRepository
from payment_gateway.adapters.repository import PaymentRepository, RefundRepository
from payment_gateway.adapters.wire_repo import WireRepository


class GatewayUnitOfWork(SqlUnitOfWork):
    """Payments, refunds, billings, idempotency keys, raw callbacks, discounts, offline money
    (wires, cash, POS, the offline refunds queue), payment corrections, outbox."""

    payments: PaymentRepository
    refunds: RefundRepository
    billings: PayableBillingRepository
    idempotency: IdempotencyRepository
    callbacks: CallbackLog
    activities: ActivityRepository
    discount_pool: DiscountPool
    wires: WireRepository
    cash: CashRepository
    pos: PosRepository
    offline_refunds: OfflineRefundRepository
    corrections: CorrectionRepository

    def _open(self, session: AsyncSession) -> None:
        self.payments = PaymentRepository(session)
        self.refunds = RefundRepository(session)
        self.billings = PayableBillingRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.callbacks = CallbackLog(session)
        self.activities = ActivityRepository(session)
        self.discount_pool = DiscountPool(session)
        self.wires = WireRepository(session)
        self.cash = CashRepository(session)
        self.pos = PosRepository(session)
        self.offline_refunds = OfflineRefundRepository(session)
        self.corrections = CorrectionRepository(session)
