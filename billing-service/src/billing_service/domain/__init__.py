"""The billing-service domain: fund orders, billings, payments applied, refunds owed.

Plain Python only (no FastAPI, SQLAlchemy or Kafka). Entry points for the service layer:
``FundOrder.open`` and ``ServiceFundOrder.open``; every other change is a method on those
aggregates that returns what it recorded (and keeps the events until ``pull_events``), plus
the pure ``reminders_due`` / ``next_reminder_at``.
"""

from billing_service.domain.billing import Billing, BillingStage, BillingStatus
from billing_service.domain.fund_base import CancellationResult, FundOrderBase
from billing_service.domain.fund_order import FundOrder, LoanShare, LoanShareStatus
from billing_service.domain.lease_fund_order import (
    LeaseFundOrder,
    LeaseRules,
    PlannedInstallment,
    ScheduleChange,
)
from billing_service.domain.outcomes import (
    ApplyResult,
    ApplyStatus,
    Channel,
    PaymentCorrected,
    PaymentFailed,
    PaymentOutcome,
    PaymentRefunded,
    PaymentSucceeded,
    RefundReduced,
)
from billing_service.domain.payments import AppliedPayment, AppliedRefund
from billing_service.domain.policy import (
    DEFAULT_DEPOSIT_POLICY,
    STANDARD_REMINDERS,
    DepositPolicy,
    ReminderSchedule,
)
from billing_service.domain.reminders import next_reminder_at, reminders_due
from billing_service.domain.service_fund_order import ServiceFundOrder

__all__ = [
    "DEFAULT_DEPOSIT_POLICY",
    "STANDARD_REMINDERS",
    "AppliedPayment",
    "AppliedRefund",
    "ApplyResult",
    "ApplyStatus",
    "Billing",
    "BillingStage",
    "BillingStatus",
    "CancellationResult",
    "Channel",
    "DepositPolicy",
    "FundOrder",
    "FundOrderBase",
    "LeaseFundOrder",
    "LeaseRules",
    "LoanShare",
    "LoanShareStatus",
    "PaymentFailed",
    "PaymentCorrected",
    "PaymentOutcome",
    "PaymentRefunded",
    "PaymentSucceeded",
    "PlannedInstallment",
    "RefundReduced",
    "ReminderSchedule",
    "ScheduleChange",
    "ServiceFundOrder",
    "next_reminder_at",
    "reminders_due",
]
