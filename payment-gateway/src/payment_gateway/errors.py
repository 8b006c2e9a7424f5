"""Errors of payment-gateway, all in one module.

Domain errors carry their HTTP status (the shared app maps them)::

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

Channel notifications we refuse (answered in the channel's own failure format, never with
our text; `reason_code` goes to metrics and the stored raw request)::

    ChannelProtocolError
    ├── CallbackRejected(reason_code, message)
    │   ├── BadSignature                      signature missing, malformed or not matching  (401)
    │   │   ├── UnknownSigningKey             serial / certId / key id we do not know       (401)
    │   │   └── SignatureProbe                WeChat `WECHATPAY/SIGNTEST/` probe            (401)
    │   ├── StaleTimestamp                    outside the allowed clock window              (401)
    │   ├── UnsupportedSignType               MD5, SM2, signMethod 11/12, ...               (401)
    │   ├── MissingField                      a required header, parameter or JSON field    (400)
    │   ├── Malformed                         not parseable in the channel's format         (400)
    │   │   ├── DuplicateField                the same key twice (form, JSON, header)       (400)
    │   │   └── DecryptionFailed              WeChat AEAD resource does not decrypt         (400)
    │   ├── BadCharset                        undeclared, unknown or wrong character set    (400)
    │   ├── BodyTooLarge                      body over the named size limit               (413)
    │   ├── UnsupportedStatus                 a transaction type/status we cannot map       (422)
    │   ├── UnsupportedCurrency               not CNY (UnionPay currencyCode other than 156) (422)
    │   ├── WrongMerchant                     merchant / app id is not ours                 (403)
    │   ├── UnknownOrder                      no payment/refund of ours by that number      (404)
    │   ├── AmountMismatch                    amount is not the payment's / refund's        (422)
    │   └── OutcomePending                    settles nothing yet (in process)              (422)
    ├── MoneyFormatError (also ValueError)    a money string that is not an exact amount
    ├── UnknownPaymentCode (also ValueError)  a 付款码 that no channel prefix rule matches
    └── ChannelKeyError                       var/keys layout missing or inconsistent

Calls to a channel's API that gave no usable answer (the scheduler and the payment service
decide what they mean)::

    ChannelCallError
    ├── ChannelUnreachable   timeout, connection error, 5xx / 429, an answer that is unsigned,
    │                        badly signed or not in the channel's format → the outcome is
    │                        UNKNOWN (never failed); counts against the channel's health
    ├── ChannelRefused       the channel answered, signed, with a business refusal (code)
    └── OperationNotOffered  the channel has no such API (e.g. POS orders are not queried)

Startup::

    RuntimeError
    └── ChannelConfigError   an enabled channel lacks its keys, or has settings it does not take

Messages name the field or the rule that failed and never carry key material, signatures,
decrypted payloads or the APIv3 key, so they are safe to log.
"""

from __future__ import annotations

from typing import ClassVar, Final

from otd_shared.errors import Conflict, DomainError, InvalidInput, NotFound

ERROR_TEXT_CHARS_MAX: Final = 200

# --- domain errors (HTTP) ---------------------------------------------------------------


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


# --- channel notifications we refuse ----------------------------------------------------


class ChannelProtocolError(Exception):
    """Base of every error raised by the channel protocol layer."""


class CallbackRejected(ChannelProtocolError):
    """A notification or signed message that must not be acted upon.

    `reason_code` is a short stable token for metrics and logs (e.g. `bad_signature`);
    `http_status` is the status our callback endpoint should use in its failure answer.
    Subclasses fix the reason code and take only the message.
    """

    reason_code_default: ClassVar[str] = "rejected"
    http_status: ClassVar[int] = 400

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason_code}: {self.message}"


class _FixedReason(CallbackRejected):
    """A rejection whose reason code is the class default."""

    def __init__(self, message: str) -> None:
        super().__init__(self.reason_code_default, message)


class BadSignature(_FixedReason):
    reason_code_default = "bad_signature"
    http_status = 401


class UnknownSigningKey(BadSignature):
    reason_code_default = "unknown_signing_key"


class SignatureProbe(BadSignature):
    reason_code_default = "signature_probe"


class StaleTimestamp(_FixedReason):
    reason_code_default = "stale_timestamp"
    http_status = 401


class UnsupportedSignType(_FixedReason):
    reason_code_default = "unsupported_sign_type"
    http_status = 401


class MissingField(_FixedReason):
    reason_code_default = "missing_field"

    def __init__(self, field: str, *, where: str = "field") -> None:
        super().__init__(f"required {where} {field!r} is missing or empty")
        self.field = field


class Malformed(_FixedReason):
    reason_code_default = "malformed"


class DuplicateField(Malformed):
    reason_code_default = "duplicate_field"

    def __init__(self, field: str, *, where: str = "field") -> None:
        super().__init__(f"{where} {field!r} occurs more than once")
        self.field = field


class DecryptionFailed(Malformed):
    reason_code_default = "decryption_failed"


class BadCharset(_FixedReason):
    reason_code_default = "bad_charset"


class BodyTooLarge(_FixedReason):
    reason_code_default = "body_too_large"
    http_status = 413


class UnsupportedStatus(_FixedReason):
    reason_code_default = "unsupported_status"
    http_status = 422


class WrongMerchant(_FixedReason):
    reason_code_default = "wrong_merchant"
    http_status = 403


class UnsupportedCurrency(_FixedReason):
    reason_code_default = "unsupported_currency"
    http_status = 422


class UnknownOrder(_FixedReason):
    """No payment (or refund) of ours has this number on this channel."""

    reason_code_default = "unknown_order"
    http_status = 404


class AmountMismatch(_FixedReason):
    """The notification's amount is not the payment's (or the refund's)."""

    reason_code_default = "amount_mismatch"
    http_status = 422


class OutcomePending(_FixedReason):
    """A notification that settles nothing (in process): the channel will tell us again."""

    reason_code_default = "outcome_pending"
    http_status = 422


class MoneyFormatError(ChannelProtocolError, ValueError):
    """A money string that is not an exact amount in the expected unit."""


class UnknownPaymentCode(ChannelProtocolError, ValueError):
    """A scanned payment code (付款码) that matches no channel's prefix rule."""


class ChannelKeyError(ChannelProtocolError):
    """The var/keys/<channel>/ layout is missing, unreadable or inconsistent."""


# --- channel API calls ------------------------------------------------------------------


class ChannelCallError(Exception):
    """A call to a channel API did not give a usable answer."""


class ChannelUnreachable(ChannelCallError):
    """No trustworthy answer: the outcome is unknown."""


class ChannelRefused(ChannelCallError):
    """A verified business refusal from the channel."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}"[:ERROR_TEXT_CHARS_MAX])
        self.code = code[:64]
        self.message = message[:ERROR_TEXT_CHARS_MAX]


class OperationNotOffered(ChannelCallError):
    """The channel offers no API for this operation."""


# --- startup ----------------------------------------------------------------------------


class ChannelConfigError(RuntimeError):
    """An enabled channel lacks its keys or has settings it does not take (startup only)."""


class CorrectionRefused(Conflict):
    """A payment correction the rules refuse (domain/correction.py names the codes)."""

    code = "correction_refused"

    def __init__(self, code: str, message: str, *, http_status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class CorrectionConflict(Conflict):
    """The adjustment or the discrepancy was already used by another correction."""

    code = "correction_conflict"
