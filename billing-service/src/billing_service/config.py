"""Settings of billing-service (environment variables, see docs/orders-and-billing.md).

Deposit amounts and their refundability after the lock are the deposit policy (new fund
orders keep the policy they were opened under). The app-backend webhook needs a URL and
a secret together; without a URL pushes are recorded as ``skipped``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field, SecretStr, model_validator

from billing_service.domain import DepositPolicy, LeaseRules, ReminderSchedule
from otd_shared.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    """billing-service settings; money in fen, durations with their unit in the name."""

    service_name: str = "billing-service"
    port: int = 8002
    intent_deposit_fen: int = Field(default=500_000, gt=0)
    firm_deposit_fen: int = Field(default=5_000_000, gt=0)
    deposit_policy_name: str = Field(default="standard", min_length=1, max_length=64)
    intent_refundable_after_lock: bool = False
    firm_refundable_after_lock: bool = False

    billing_webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    billing_webhook_secret: SecretStr | None = None
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_delay_s_min: float = Field(default=1.0, gt=0, le=3600)
    webhook_retry_delay_s_max: float = Field(default=600.0, gt=0, le=86_400)
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    webhook_batch_size: int = Field(default=50, ge=1, le=1000)
    webhook_lease_s: float = Field(default=60.0, gt=0, le=3600)
    # The sender wakes on billing's outbox NOTIFY and at the next due retry, and polls every
    # webhook_safety_poll_ms (a lost NOTIFY, a manual resend); without LISTEN every
    # webhook_poll_interval_ms.
    webhook_poll_interval_ms: int = Field(default=500, ge=10, le=60_000)
    webhook_safety_poll_ms: int = Field(default=5000, ge=10, le=600_000)

    reminder_schedule_name: str = Field(default="standard", min_length=1, max_length=64)
    reminder_offsets_s: tuple[int, ...] = (86_400, 3 * 86_400, 7 * 86_400)
    reminder_poll_interval_s: float = Field(default=60.0, gt=0, le=86_400)
    reminder_batch_size: int = Field(default=100, ge=1, le=5000)

    lease_grace_days: int = Field(default=5, ge=0, le=90)
    lease_advance_window_days: int = Field(default=30, ge=0, le=366)
    lease_poll_interval_s: float = Field(default=60.0, gt=0, le=86_400)
    lease_batch_size: int = Field(default=100, ge=1, le=5000)

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> Self:
        if self.billing_webhook_url and self.billing_webhook_secret is None:
            raise ValueError("BILLING_WEBHOOK_SECRET is required when BILLING_WEBHOOK_URL is set")
        return self

    def deposit_policy(self) -> DepositPolicy:
        """The policy new fund orders are opened under."""
        return DepositPolicy(
            name=self.deposit_policy_name,
            intent_fen=self.intent_deposit_fen,
            firm_fen=self.firm_deposit_fen,
            intent_refundable_after_lock=self.intent_refundable_after_lock,
            firm_refundable_after_lock=self.firm_refundable_after_lock,
        )

    def reminder_schedule(self) -> ReminderSchedule:
        """The named schedule unpaid billings are reminded on."""
        return ReminderSchedule(
            self.reminder_schedule_name,
            tuple(timedelta(seconds=s) for s in self.reminder_offsets_s),
        )

    def lease_rules(self) -> LeaseRules:
        """Grace period and advance payment window of lease installments."""
        return LeaseRules(self.lease_grace_days, self.lease_advance_window_days)
