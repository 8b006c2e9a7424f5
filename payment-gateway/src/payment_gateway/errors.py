"""Errors of payment-gateway (the channel protocol layer has its own, adapters/channels/errors.py).

otd_shared.errors.DomainError
├── NotFound                          404
│   ├── UnknownBilling                    the billing is not (yet) payable here
│   └── UnknownActivity                   no discount activity with this id
├── Conflict                          409
│   ├── IllegalTransition                 a payment/refund state change the machine forbids
│   ├── BillingNotPayable                 billing paid or cancelled
│   ├── NotRefundable                     payment not succeeded, or nothing left to refund
│   └── ActivityStateConflict             discount activity not pending / already ended
├── InvalidInput                      422
│   ├── InstallmentNotDue                 a lease installment before its advance window
│   ├── RouteRefused                      stage/channel/method/limit rules say no
│   │                                     (carries the offline options to suggest)
│   ├── IdempotencyKeyReused              same Idempotency-Key, different request
│   ├── DiscountRuleInvalid               a discount activity that cannot work as given
│   ├── ActivityOverlap                   another activity already covers the same scope
│   └── MissingIdempotencyKey             the header is required
└── ChannelUnavailable                503   channel switched off for health, or timed out

RuntimeError
└── ChannelConfigError                      startup: an enabled channel lacks keys/settings
"""

from __future__ import annotations

from otd_shared.errors import Conflict, DomainError, InvalidInput, NotFound


class UnknownBilling(NotFound):
    """No payable billing with this id (not due yet, or unknown)."""

    code = "unknown_billing"


class IllegalTransition(Conflict):
    """A state change the payment or refund state machine forbids."""

    code = "illegal_transition"


class InstallmentNotDue(InvalidInput):
    """A lease installment paid before its advance window opens."""

    code = "installment_not_due"


class BillingNotPayable(Conflict):
    """The billing is paid or cancelled."""

    code = "billing_not_payable"


class NotRefundable(Conflict):
    """The payment cannot be refunded (state or remaining amount)."""

    code = "not_refundable"


class RouteRefused(InvalidInput):
    """Routing rules refuse the channel, method or amount; suggests the offline options."""

    code = "route_refused"

    def __init__(
        self, message: str, *, reason: str, field: str | None = None, suggestions: tuple[str, ...]
    ) -> None:
        super().__init__(message, field=field)
        self.reason = reason
        self.suggestions = suggestions

    def to_body(self) -> dict[str, str]:
        body = super().to_body()
        body["reason"] = self.reason
        body["suggested_channels"] = ",".join(self.suggestions)
        return body


class IdempotencyKeyReused(InvalidInput):
    """The Idempotency-Key was used before with a different request."""

    code = "idempotency_key_reused"


class MissingIdempotencyKey(InvalidInput):
    """POST without an Idempotency-Key header."""

    code = "idempotency_key_required"


class ChannelConfigError(RuntimeError):
    """An enabled channel lacks its keys or has settings it does not take (startup only)."""


class ChannelUnavailable(DomainError):
    """The channel is out of rotation (failing) or did not answer in time."""

    http_status = 503
    code = "channel_unavailable"


class UnknownActivity(NotFound):
    """No discount activity with this id."""

    code = "unknown_activity"


class ActivityStateConflict(Conflict):
    """The discount activity is not in a state that allows this (approve twice, ended …)."""

    code = "activity_state_conflict"


class DiscountRuleInvalid(InvalidInput):
    """A discount activity whose window, rule, caps or budget cannot work as given."""

    code = "invalid_discount_activity"


class ActivityOverlap(InvalidInput):
    """Another live activity covers the same window, stage, channel and store."""

    code = "activity_overlap"
