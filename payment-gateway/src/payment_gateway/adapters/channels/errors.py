"""Errors of the channel protocol layer.

Exception tree::

    ChannelProtocolError                      base of everything raised here
    ├── CallbackRejected(reason_code, message) a notification (or signed message) we refuse
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
    │   └── WrongMerchant                     merchant / app id is not ours                 (403)
    ├── MoneyFormatError (also ValueError)    a money string that is not an exact amount
    ├── UnknownPaymentCode (also ValueError)  a 付款码 that no channel prefix rule matches
    └── ChannelKeyError                       var/keys layout missing or inconsistent

Messages name the field or the rule that failed and never carry key material, signatures,
decrypted payloads or the APIv3 key, so they are safe to log. They are still not sent to the
channel: each channel answers with its own fixed failure body.
"""

from __future__ import annotations

from typing import ClassVar


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


class MoneyFormatError(ChannelProtocolError, ValueError):
    """A money string that is not an exact amount in the expected unit."""


class UnknownPaymentCode(ChannelProtocolError, ValueError):
    """A scanned payment code (付款码) that matches no channel's prefix rule."""


class ChannelKeyError(ChannelProtocolError):
    """The var/keys/<channel>/ layout is missing, unreadable or inconsistent."""
