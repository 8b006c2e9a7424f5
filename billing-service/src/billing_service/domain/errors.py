"""Errors of the billing-service domain. Each carries its HTTP status and a stable code.

    otd_shared.errors.DomainError
    ├── NotFound                         404
    │   ├── FundOrderNotFound                no fund order for that order id
    │   └── BillingNotFound                  no billing with that id in the fund order
    ├── Conflict                         409
    │   ├── IllegalTransition                names the entity and its from/to states
    │   ├── ConfigurationFrozen              repricing after the lock
    │   ├── PaymentOutcomeConflict           a payment or refund id seen before with other
    │   │                                    facts, or a failure after a success
    │   └── RefundExceedsPayment             a refund larger than what is left of its payment
    ├── InvalidInput                     422
    │   ├── InvalidField                     names the field (blank id, naive timestamp, ...)
    │   └── InvalidAmount                    names the money field (``*_fen``)
    └── InvariantViolation               500  a bug: amounts stopped adding up; never expected

IllegalTransition, InvalidField and InvalidAmount are otd_shared's (order-service raises the
same classes); they are re-exported here. A refund that arrives before its payment's success
is not an error: applying it returns ``ApplyStatus.DEFERRED`` so the service layer can park
it and retry after the next success.
"""

from __future__ import annotations

from otd_shared.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    InvalidAmount,
    InvalidField,
    NotFound,
)

__all__ = [
    "BillingNotFound",
    "ConfigurationFrozen",
    "FundOrderNotFound",
    "IllegalTransition",
    "InvalidAmount",
    "InvalidField",
    "InvariantViolation",
    "PaymentOutcomeConflict",
    "RefundExceedsPayment",
]


class FundOrderNotFound(NotFound):
    """No fund order for this order (raised by repositories and handlers, named here)."""

    code = "fund_order_not_found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"no fund order for order {order_id}")
        self.order_id = order_id


class BillingNotFound(NotFound):
    """The fund order has no billing with this id."""

    code = "billing_not_found"

    def __init__(self, billing_id: str) -> None:
        super().__init__(f"billing {billing_id} not found")
        self.billing_id = billing_id


class ConfigurationFrozen(Conflict):
    """The price may change only before the lock."""

    code = "configuration_frozen"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} is locked: the price can change only before the lock")
        self.order_id = order_id


class PaymentOutcomeConflict(Conflict):
    """An outcome contradicts one already applied (same id, other facts; failure after
    success; a payment id on two billings). Recon must look; nothing was changed."""

    code = "payment_outcome_conflict"

    def __init__(self, message: str, *, payment_id: str) -> None:
        super().__init__(message, field="payment_id")
        self.payment_id = payment_id


class RefundExceedsPayment(Conflict):
    """A refund larger than what remains of its payment; nothing was changed."""

    code = "refund_exceeds_payment"

    def __init__(self, payment_id: str, refund_fen: int, remaining_fen: int) -> None:
        super().__init__(
            f"refund of {refund_fen} fen exceeds the {remaining_fen} fen left of payment"
            f" {payment_id}",
            field="amount_fen",
        )
        self.payment_id = payment_id


class InvariantViolation(DomainError):
    """The domain's own bookkeeping broke (e.g. billings no longer add up to the price).

    Raised after a change, before anything is committed: the unit of work rolls back.
    """

    http_status = 500
    code = "invariant_violation"
