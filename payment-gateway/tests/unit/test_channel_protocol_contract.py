"""One contract suite for every channel's notification protocol (docs/channel-formats.md).

Each channel is driven through `ChannelProtocol` with real RSA keys made by `generate_dev_keys`:
the channel side signs a genuine notification, our side must accept it, and must reject every
variation in the table below (tampering, wrong keys, stale clocks, missing or duplicated fields,
bad charsets, size limits, ...). A `Harness` per channel knows where that channel keeps its
signature and how to re-sign a modified message, so structural checks are also exercised
behind a *valid* signature.

The channel side is the channel sandbox's modules (`channel_sandbox.channels.<channel>`, written
from the published format) and the neutral primitives of `otd_shared.channel_wire`: nothing
here signs with gateway code, so a field order, charset or digest the gateway gets wrong fails.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote_plus

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channel_sandbox.channels import alipay, allinpay, lakala, unionpay
from channel_sandbox.channels import wechatpay as wechat
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from channel_sandbox.testing import sign_notification
from otd_shared import channel_wire as wire
from otd_shared.channel_wire import rsa_sign_b64 as sign_b64
from payment_gateway.adapters.channels.contract import (
    ChannelProtocol,
    NotificationKind,
    NotificationLimits,
    Outcome,
    check_merchant_ids,
)
from payment_gateway.adapters.channels.keys import ChannelKeySet, generate_dev_keys, load_key_set
from payment_gateway.adapters.channels.registry import build_channel_protocol
from payment_gateway.adapters.channels.wechatpay.aead import decrypt_resource
from payment_gateway.errors import (
    BadCharset,
    BadSignature,
    BodyTooLarge,
    CallbackRejected,
    DecryptionFailed,
    DuplicateField,
    Malformed,
    MissingField,
    SignatureProbe,
    StaleTimestamp,
    UnknownSigningKey,
    UnsupportedSignType,
    UnsupportedStatus,
    WrongMerchant,
)
from payment_gateway.testing.notifications import (
    NotificationEvent,
    SignedNotification,
    sandbox_event,
)

NOW_S = 1_735_700_000
MAX_BODY_BYTES = 64 * 1024
REJECTION_CASES_MIN = 30
Pairs = list[tuple[str, object]]


# ---------------------------------------------------------------- harnesses


class Harness(ABC):
    """How the suite reaches into one channel's format."""

    name: ClassVar[str]
    channel_code: ClassVar[str]
    required_fields: ClassVar[tuple[str, ...]]
    amount_field: ClassVar[str]
    order_field: ClassVar[str] = "out_trade_no"
    bad_amounts: ClassVar[tuple[object, ...]]
    sandbox_options: ClassVar[dict[str, str]] = {}
    """The channel module's own notification options (Lakala's body `shape`)."""

    def __init__(
        self, keys: ChannelKeySet, side: SandboxKeySet, foreign_key: rsa.RSAPrivateKey
    ) -> None:
        self.keys = keys  # our side: what the gateway verifies with
        self.side = side  # the channel's side: what the sandbox signs with
        self.foreign_key = foreign_key
        self.channel: ChannelProtocol = build_channel_protocol(self.channel_code, keys)
        self._genuine: SignedNotification | None = None

    def sign_event(self, event: NotificationEvent, *, now_s: int = NOW_S) -> SignedNotification:
        """`event` as the channel notifies it, rendered and signed by the sandbox."""
        return sign_notification(
            self.side, sandbox_event(event), now_s=now_s, **self.sandbox_options
        )

    def side_with(self, key: rsa.RSAPrivateKey | None) -> SandboxKeySet:
        """The channel's keys, signing with `key` instead when given."""
        return self.side if key is None else replace(self.side, channel_private_key=key)

    def event(self) -> NotificationEvent:
        return NotificationEvent(
            out_trade_no="ORD20240101000001",
            channel_txn_id="4200001234202401011234567890",
            amount_fen=12_345,
        )

    def refund_event(self) -> NotificationEvent:
        return NotificationEvent(
            kind=NotificationKind.REFUND,
            outcome=Outcome.REFUNDED,
            out_trade_no="ORD20240101000001",
            channel_txn_id="4200001234202401011234567890",
            amount_fen=12_345,
            out_refund_no="RF20240102000001",
            channel_refund_id="50300000000000000000000000001",
            refund_amount_fen=345,
        )

    def genuine(self) -> SignedNotification:
        """The genuine notification (made once, so every case mutates the same message)."""
        if self._genuine is None:
            self._genuine = self.sign_event(self.event())
        return self._genuine

    @property
    def channel_key(self) -> rsa.RSAPrivateKey:
        return self.side.channel_private_key

    @abstractmethod
    def fields(self) -> Pairs:
        """The genuine notification's signed top-level fields (decrypted for WeChat)."""

    @abstractmethod
    def sign_fields(self, pairs: Pairs, key: rsa.RSAPrivateKey | None = None) -> SignedNotification:
        """Sign `pairs` exactly as given (duplicates included) as the channel would."""

    @abstractmethod
    def signature_of(self, signed: SignedNotification) -> str: ...

    @abstractmethod
    def with_signature(self, signed: SignedNotification, signature: str) -> SignedNotification: ...

    @abstractmethod
    def add_field_after_signing(self, signed: SignedNotification) -> SignedNotification: ...

    @abstractmethod
    def tamper_value(self, signed: SignedNotification) -> SignedNotification:
        """Change one character of a signed value without touching the signature."""

    def with_amount(self, value: object) -> Pairs:
        return [(k, value if k == self.amount_field else v) for k, v in self.fields()]

    def other_order(self) -> Pairs:
        return [(k, "ORD-OTHER-000001" if k == self.order_field else v) for k, v in self.fields()]

    @classmethod
    def specific_cases(cls) -> list[Case]:
        return []


def _json_object(pairs: Sequence[tuple[str, object]]) -> bytes:
    """A compact JSON object that keeps duplicate keys (json.dumps cannot)."""
    members = (
        f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False, separators=(',', ':'))}"
        for k, v in pairs
    )
    return ("{" + ",".join(members) + "}").encode()


def _form_pairs(body: bytes, charset: wire.Charset = "utf-8") -> list[tuple[str, str]]:
    return wire.decode_form(body, charset)


def _replace_form_field(body: bytes, name: str, value: str) -> bytes:
    prefix, sep, _ = body.rpartition(f"&{name}=".encode())
    assert sep, f"{name} must be the last form field"
    return prefix + sep + quote_plus(value).encode()


def _strings(pairs: Pairs) -> list[tuple[str, str]]:
    return [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in pairs]


class WechatHarness(Harness):
    name = "wechatpay"
    channel_code = "wechatpay"
    required_fields = ("mchid", "appid", "out_trade_no", "transaction_id", "trade_state", "amount")
    amount_field = "amount"
    bad_amounts = (
        {"total": "100", "currency": "CNY"},
        {"total": 1.5, "currency": "CNY"},
        {"total": -1, "currency": "CNY"},
        {"total": True, "currency": "CNY"},
        {"currency": "CNY"},
    )

    def fields(self) -> Pairs:
        envelope = json.loads(self.genuine().body)
        resource = envelope["resource"]
        plaintext = decrypt_resource(
            self.keys.require_apiv3_key(),
            nonce=resource["nonce"],
            associated_data=resource["associated_data"],
            ciphertext_b64=resource["ciphertext"],
        )
        return list(json.loads(plaintext).items())

    def sign_plaintext(
        self,
        plaintext: bytes,
        key: rsa.RSAPrivateKey | None = None,
        *,
        apiv3_key: bytes | None = None,
        original_type: str = "transaction",
        event_type: str = "TRANSACTION.SUCCESS",
    ) -> SignedNotification:
        return wechat.envelope_notification(
            self.side_with(key),
            plaintext,
            original_type=original_type,
            event_type=event_type,
            summary="支付成功",
            now_s=NOW_S,
            apiv3_key=apiv3_key,
        )

    def sign_fields(self, pairs: Pairs, key: rsa.RSAPrivateKey | None = None) -> SignedNotification:
        return self.sign_plaintext(_json_object(pairs), key)

    def sign_body(
        self, body: bytes, *, now_s: int = NOW_S, nonce: str | None = None
    ) -> SignedNotification:
        headers = wechat.platform_headers(self.side, body, now_s=now_s, nonce=nonce)
        return SignedNotification(headers=headers, body=body)

    def signature_of(self, signed: SignedNotification) -> str:
        return signed.headers[wechat.HEADER_SIGNATURE]

    def with_signature(self, signed: SignedNotification, signature: str) -> SignedNotification:
        return _with_header(signed, wechat.HEADER_SIGNATURE, signature)

    def add_field_after_signing(self, signed: SignedNotification) -> SignedNotification:
        return replace(signed, body=signed.body[:-1] + b',"extra":"1"}')

    def tamper_value(self, signed: SignedNotification) -> SignedNotification:
        marker = b'"ciphertext":"'
        at = signed.body.index(marker) + len(marker) + 10
        swapped = b"B" if signed.body[at : at + 1] == b"A" else b"A"
        return replace(signed, body=signed.body[:at] + swapped + signed.body[at + 1 :])

    @classmethod
    def specific_cases(cls) -> list[Case]:
        def drop(name: str) -> Builder:
            return lambda h: _without_header(h.genuine(), name)

        def body_of(
            h: Harness, envelope_change: Callable[[dict[str, object]], None]
        ) -> SignedNotification:
            assert isinstance(h, WechatHarness)
            envelope = json.loads(h.genuine().body)
            envelope_change(envelope)
            return h.sign_body(wire.dump_json_compact(envelope))

        def resource_field(name: str, value: object) -> Callable[[dict[str, object]], None]:
            def change(envelope: dict[str, object]) -> None:
                resource = envelope["resource"]
                assert isinstance(resource, dict)
                resource[name] = value

            return change

        def wx(h: Harness) -> WechatHarness:
            assert isinstance(h, WechatHarness)
            return h

        return [
            *(
                Case(f"missing-header-{name}", drop(name), MissingField)
                for name in (
                    wechat.HEADER_TIMESTAMP,
                    wechat.HEADER_NONCE,
                    wechat.HEADER_SIGNATURE,
                    wechat.HEADER_SERIAL,
                )
            ),
            Case(
                "unknown-serial",
                lambda h: _with_header(h.genuine(), wechat.HEADER_SERIAL, "0" * 40),
                UnknownSigningKey,
            ),
            Case(
                "signtest-probe",
                lambda h: _with_header(
                    h.genuine(), wechat.HEADER_SIGNATURE, "WECHATPAY/SIGNTEST/abcdef=="
                ),
                SignatureProbe,
            ),
            Case(
                "stale-timestamp",
                lambda h: wx(h).sign_body(h.genuine().body, now_s=NOW_S - 301),
                StaleTimestamp,
            ),
            Case(
                "future-timestamp",
                lambda h: wx(h).sign_body(h.genuine().body, now_s=NOW_S + 301),
                StaleTimestamp,
            ),
            Case(
                "non-numeric-timestamp",
                lambda h: _with_header(h.genuine(), wechat.HEADER_TIMESTAMP, "17357e5"),
                Malformed,
            ),
            Case(
                "other-signature-type",
                lambda h: _with_header(
                    h.genuine(), wechat.HEADER_SIGNATURE_TYPE, "WECHATPAY2-SM2-WITH-SM3"
                ),
                UnsupportedSignType,
            ),
            Case(
                "duplicate-header-case-variants",
                lambda h: SignedNotification(
                    headers={**h.genuine().headers, "wechatpay-nonce": "x" * 32},
                    body=h.genuine().body,
                ),
                DuplicateField,
            ),
            Case(
                "nonce-with-space",
                lambda h: wx(h).sign_body(h.genuine().body, nonce="a b"),
                Malformed,
            ),
            Case(
                "reserialised-json",
                lambda h: replace(
                    h.genuine(), body=json.dumps(json.loads(h.genuine().body), indent=1).encode()
                ),
                BadSignature,
            ),
            Case(
                "sha1-signature",
                lambda h: h.with_signature(
                    h.genuine(),
                    sign_b64(
                        h.channel_key,
                        wechat.platform_message(
                            h.genuine().headers[wechat.HEADER_TIMESTAMP],
                            h.genuine().headers[wechat.HEADER_NONCE],
                            h.genuine().body,
                        ),
                        "sha1",
                    ),
                ),
                BadSignature,
            ),
            Case(
                "wrong-apiv3-key",
                lambda h: wx(h).sign_plaintext(_json_object(h.fields()), apiv3_key=b"X" * 32),
                DecryptionFailed,
            ),
            Case(
                "ciphertext-tampered-then-signed",
                lambda h: body_of(
                    h, resource_field("ciphertext", base64.b64encode(b"x" * 40).decode())
                ),
                DecryptionFailed,
            ),
            Case(
                "wrong-algorithm",
                lambda h: body_of(h, resource_field("algorithm", "AES_CBC")),
                Malformed,
            ),
            Case(
                "resource-type-mismatch",
                lambda h: wx(h).sign_plaintext(
                    _json_object(h.fields()),
                    original_type="refund",
                    event_type="TRANSACTION.SUCCESS",
                ),
                UnsupportedStatus,
            ),
            Case(
                "unknown-event-type",
                lambda h: wx(h).sign_plaintext(
                    _json_object(h.fields()), event_type="PROFITSHARING.SUCCESS"
                ),
                UnsupportedStatus,
            ),
            Case("body-json-array-signed", lambda h: wx(h).sign_body(b"[1,2,3]"), Malformed),
            Case("body-nan-signed", lambda h: wx(h).sign_body(b'{"id":NaN}'), Malformed),
            Case(
                "envelope-duplicate-key-signed",
                lambda h: wx(h).sign_body(h.genuine().body[:-1] + b',"id":"dup"}'),
                DuplicateField,
            ),
            Case("resource-not-json", lambda h: wx(h).sign_plaintext(b"not json"), Malformed),
            Case(
                "refund-resource-missing-refund-id",
                lambda h: wx(h).sign_plaintext(
                    _json_object(
                        [
                            ("mchid", h.keys.id("mchid")),
                            ("out_trade_no", "ORD1"),
                            ("out_refund_no", "RF1"),
                            ("refund_status", "SUCCESS"),
                            ("amount", {"total": 100, "refund": 100}),
                        ]
                    ),
                    original_type="refund",
                    event_type="REFUND.SUCCESS",
                ),
                MissingField,
            ),
        ]


class LakalaHarness(Harness):
    name = "lakala"
    channel_code = "lakala"
    required_fields = (
        "pay_order_no",
        "out_order_no",
        "merchant_no",
        "order_status",
        "total_amount",
    )
    amount_field = "total_amount"
    order_field = "out_order_no"
    bad_amounts = ("12.34", 1.5, -1, "-1", True, "１２")

    def fields(self) -> Pairs:
        return list(json.loads(self.genuine().body).items())

    def sign_body(
        self, body: bytes, key: rsa.RSAPrivateKey | None = None, *, now_s: int = NOW_S
    ) -> SignedNotification:
        authorization = lakala.notification_authorization(self.side_with(key), body, now_s=now_s)
        return SignedNotification(headers={"Authorization": authorization}, body=body)

    def sign_fields(self, pairs: Pairs, key: rsa.RSAPrivateKey | None = None) -> SignedNotification:
        return self.sign_body(_json_object(pairs), key)

    def _auth(self, signed: SignedNotification) -> dict[str, str]:
        scheme, _, rest = signed.headers["Authorization"].partition(" ")
        assert scheme == lakala.AUTH_SCHEME
        return wire.parse_auth_params(rest)

    def with_auth(self, signed: SignedNotification, **params: str) -> SignedNotification:
        merged = {**self._auth(signed), **params}
        value = f"{lakala.AUTH_SCHEME} {wire.format_auth_params(merged.items())}"
        return _with_header(signed, "Authorization", value)

    def signature_of(self, signed: SignedNotification) -> str:
        return self._auth(signed)["signature"]

    def with_signature(self, signed: SignedNotification, signature: str) -> SignedNotification:
        return self.with_auth(signed, signature=signature)

    def add_field_after_signing(self, signed: SignedNotification) -> SignedNotification:
        return replace(signed, body=signed.body[:-1] + b',"extra":"1"}')

    def tamper_value(self, signed: SignedNotification) -> SignedNotification:
        return replace(signed, body=signed.body.replace(b"ORD20240101000001", b"ORD20240101000002"))

    @classmethod
    def specific_cases(cls) -> list[Case]:
        def lk(h: Harness) -> LakalaHarness:
            assert isinstance(h, LakalaHarness)
            return h

        def auth_without(name: str) -> Builder:
            def build(h: Harness) -> SignedNotification:
                params = {k: v for k, v in lk(h)._auth(h.genuine()).items() if k != name}
                value = f"{lakala.AUTH_SCHEME} {wire.format_auth_params(params.items())}"
                return _with_header(h.genuine(), "Authorization", value)

            return build

        return [
            Case(
                "missing-authorization",
                lambda h: _without_header(h.genuine(), "Authorization"),
                MissingField,
            ),
            *(
                Case(f"authorization-without-{name}", auth_without(name), MissingField)
                for name in ("timestamp", "nonce_str", "signature")
            ),
            Case(
                "wrong-scheme",
                lambda h: _with_header(
                    h.genuine(),
                    "Authorization",
                    h.genuine()
                    .headers["Authorization"]
                    .replace(lakala.AUTH_SCHEME, "WECHATPAY2-SHA256-RSA2048"),
                ),
                Malformed,
            ),
            Case(
                "duplicate-authorization-param",
                lambda h: _with_header(
                    h.genuine(),
                    "Authorization",
                    h.genuine().headers["Authorization"] + ',nonce_str="x"',
                ),
                DuplicateField,
            ),
            Case(
                "unquoted-authorization-param",
                lambda h: _with_header(
                    h.genuine(), "Authorization", h.genuine().headers["Authorization"] + ",a=b"
                ),
                Malformed,
            ),
            Case(
                "stale-timestamp",
                lambda h: lk(h).sign_body(h.genuine().body, now_s=NOW_S - 301),
                StaleTimestamp,
            ),
            Case(
                "future-timestamp",
                lambda h: lk(h).sign_body(h.genuine().body, now_s=NOW_S + 301),
                StaleTimestamp,
            ),
            Case(
                "non-numeric-timestamp",
                lambda h: lk(h).with_auth(h.genuine(), timestamp="-1"),
                Malformed,
            ),
            Case(
                "reserialised-json",
                lambda h: replace(
                    h.genuine(), body=json.dumps(json.loads(h.genuine().body)).encode()
                ),
                BadSignature,
            ),
            Case(
                "neither-status-signed",
                lambda h: lk(h).sign_body(b'{"merchant_no":"1"}'),
                MissingField,
            ),
            Case(
                "both-statuses-signed",
                lambda h: h.sign_fields([*h.fields(), ("trade_state", "SUCCESS")]),
                Malformed,
            ),
            Case("body-json-array-signed", lambda h: lk(h).sign_body(b"[]"), Malformed),
            Case("body-not-utf8-signed", lambda h: lk(h).sign_body(b'{"a":"\xff"}'), Malformed),
            Case("body-nan-signed", lambda h: lk(h).sign_body(b'{"total_amount":NaN}'), Malformed),
            Case(
                "sha1-signature",
                lambda h: h.with_signature(
                    h.genuine(),
                    sign_b64(
                        h.channel_key,
                        lakala.notification_message(
                            lk(h)._auth(h.genuine())["timestamp"],
                            lk(h)._auth(h.genuine())["nonce_str"],
                            h.genuine().body,
                        ),
                        "sha1",
                    ),
                ),
                BadSignature,
            ),
        ]


class LakalaLabsHarness(LakalaHarness):
    name = "lakala-labs"
    required_fields = ("merchant_no", "out_trade_no", "trade_no", "trade_state", "total_amount")
    order_field = "out_trade_no"
    sandbox_options: ClassVar[dict[str, str]] = {"shape": "labs"}


class FormHarness(Harness):
    """Shared by the three form channels; the signature is the last form field."""

    signature_field: ClassVar[str]
    charset: ClassVar[wire.Charset] = "utf-8"

    def fields(self) -> Pairs:
        unsigned = {self.signature_field, "sign_type"}
        return [
            (k, v) for k, v in _form_pairs(self.genuine().body, self.charset) if k not in unsigned
        ]

    def signature_of(self, signed: SignedNotification) -> str:
        return dict(_form_pairs(signed.body, self.charset))[self.signature_field]

    def with_signature(self, signed: SignedNotification, signature: str) -> SignedNotification:
        return replace(
            signed, body=_replace_form_field(signed.body, self.signature_field, signature)
        )

    def add_field_after_signing(self, signed: SignedNotification) -> SignedNotification:
        return replace(signed, body=signed.body + b"&extra=1")

    def tamper_value(self, signed: SignedNotification) -> SignedNotification:
        return replace(signed, body=signed.body.replace(b"ORD20240101000001", b"ORD20240101000002"))

    @classmethod
    def form_cases(cls) -> list[Case]:
        return [
            Case(
                "form-field-without-equals",
                lambda h: replace(h.genuine(), body=b"junk&" + h.genuine().body),
                Malformed,
            ),
            Case(
                "form-bad-percent-escape",
                lambda h: replace(h.genuine(), body=b"x=%G1&" + h.genuine().body),
                Malformed,
            ),
            Case(
                "form-non-ascii-key",
                lambda h: replace(h.genuine(), body=b"%E4%B8%AD=1&" + h.genuine().body),
                Malformed,
            ),
            Case(
                "form-empty-segment",
                lambda h: replace(h.genuine(), body=h.genuine().body.replace(b"&", b"&&", 1)),
                Malformed,
            ),
            Case(
                "form-trailing-crlf",
                lambda h: replace(h.genuine(), body=h.genuine().body + b"\r\n"),
                BadSignature,
            ),
        ]


class AlipayHarness(FormHarness):
    name = "alipay"
    channel_code = "alipay"
    signature_field = "sign"
    required_fields = (
        "notify_id",
        "app_id",
        "trade_no",
        "out_trade_no",
        "trade_status",
        "total_amount",
    )
    amount_field = "total_amount"
    bad_amounts = ("123.456", "1e2", "-1.00", "abc", "１.00", " 1.00", "")

    def sign_fields(self, pairs: Pairs, key: rsa.RSAPrivateKey | None = None) -> SignedNotification:
        return alipay.signed_form(self.side_with(key), _strings(pairs), charset=self.charset)

    @classmethod
    def specific_cases(cls) -> list[Case]:
        def retyped(sign_type: str) -> Builder:
            def build(h: Harness) -> SignedNotification:
                signed = h.genuine()
                return replace(
                    signed,
                    body=signed.body.replace(b"sign_type=RSA2", f"sign_type={sign_type}".encode()),
                )

            return build

        def charset_field(value: str, header: str | None) -> Builder:
            def build(h: Harness) -> SignedNotification:
                pairs = [(k, value if k == "charset" else v) for k, v in h.fields()]
                signed = h.sign_fields(pairs)
                headers = {"Content-Type": header} if header else {}
                return SignedNotification(headers=headers, body=signed.body)

            return build

        def gbk_declared_utf8(h: Harness) -> SignedNotification:
            replaced = {"subject": "测试订单", "charset": "utf-8"}
            pairs = [(k, replaced.get(k, v)) for k, v in h.fields()]
            signed = alipay.signed_form(h.side, _strings(pairs), charset="gbk")
            return SignedNotification(
                headers={"Content-Type": "application/x-www-form-urlencoded"}, body=signed.body
            )

        return [
            *cls.form_cases(),
            Case(
                "missing-sign-type",
                lambda h: replace(
                    h.genuine(), body=h.genuine().body.replace(b"&sign_type=RSA2", b"")
                ),
                MissingField,
            ),
            Case("sign-type-md5", retyped("MD5"), UnsupportedSignType),
            Case("sign-type-rsa-with-rsa2-signature", retyped("RSA"), BadSignature),
            Case("charset-unknown", charset_field("big5", None), BadCharset),
            Case(
                "charset-conflicts-with-content-type",
                charset_field("utf-8", "application/x-www-form-urlencoded; charset=GBK"),
                BadCharset,
            ),
            Case("gbk-bytes-declared-utf8", gbk_declared_utf8, BadCharset),
            Case(
                "charset-undeclared",
                lambda h: SignedNotification(
                    headers={},
                    body=h.sign_fields([(k, v) for k, v in h.fields() if k != "charset"]).body,
                ),
                MissingField,
            ),
            Case(
                "empty-field-added-after-signing",
                lambda h: replace(h.genuine(), body=b"extra=&" + h.genuine().body),
                BadSignature,
            ),
            Case(
                "sha1-signature-declared-rsa2",
                lambda h: h.with_signature(
                    h.genuine(),
                    sign_b64(
                        h.channel_key,
                        alipay.notification_sign_content(_strings(h.fields())).encode(),
                        "sha1",
                    ),
                ),
                BadSignature,
            ),
        ]


class AlipayGbkHarness(AlipayHarness):
    name = "alipay-gbk"
    charset = "gbk"

    def event(self) -> NotificationEvent:
        return replace(super().event(), extra_fields={"charset": "gbk", "subject": "测试订单"})


class UnionPayHarness(FormHarness):
    name = "unionpay"
    channel_code = "unionpay"
    signature_field = "signature"
    required_fields = (
        "version", "encoding", "signMethod", "merId", "orderId", "txnType", "txnAmt", "respCode",
        "queryId", "certId",
    )  # fmt: skip
    amount_field = "txnAmt"
    order_field = "orderId"
    bad_amounts = ("1.00", "-1", "abc", "1e3", "")
    # The certId form (the sandbox's default 5.1.0 form carries signPubKeyCert, whose dev
    # chain is not valid at NOW_S; that form is covered by the vectors and the POS suite).
    sandbox_options: ClassVar[dict[str, str]] = {"key_id": "certId"}

    def sign_fields(self, pairs: Pairs, key: rsa.RSAPrivateKey | None = None) -> SignedNotification:
        return unionpay.signed_form(self.side_with(key), _strings(pairs))

    @classmethod
    def specific_cases(cls) -> list[Case]:
        def set_field(name: str, value: str) -> Builder:
            return lambda h: h.sign_fields([(k, value if k == name else v) for k, v in h.fields()])

        def unknown_encoding(h: Harness) -> SignedNotification:
            pairs = [(k, "ISO-8859-1" if k == "encoding" else v) for k, v in _strings(h.fields())]
            signature = unionpay.signature(h.side, pairs, "5.1.0")
            body = wire.encode_form([*pairs, ("signature", signature)], "utf-8")
            return SignedNotification(headers={}, body=body)

        def raw_string_signature(h: Harness) -> SignedNotification:
            content = unionpay.sign_content(_strings(h.fields())).encode()
            return h.with_signature(h.genuine(), sign_b64(h.channel_key, content))

        def sha256_as_500(h: Harness) -> SignedNotification:
            pairs = [(k, "5.0.0" if k == "version" else v) for k, v in _strings(h.fields())]
            signature = unionpay.signature(h.side, pairs, "5.1.0")  # SHA-256 declared as 5.0.0
            return SignedNotification(
                headers={}, body=wire.encode_form([*pairs, ("signature", signature)], "utf-8")
            )

        return [
            *cls.form_cases(),
            Case("wrong-cert-id", set_field("certId", "69629715588"), UnknownSigningKey),
            Case("version-4.0.0", set_field("version", "4.0.0"), UnsupportedSignType),
            Case("version-5.0.0-signed-sha256", sha256_as_500, BadSignature),
            Case("sign-method-11", set_field("signMethod", "11"), UnsupportedSignType),
            Case("encoding-unknown", unknown_encoding, BadCharset),
            Case("unknown-txn-type", set_field("txnType", "99"), UnsupportedStatus),
            Case("signature-over-string-not-digest", raw_string_signature, BadSignature),
            Case(
                "foreign-sign-pub-key-cert",
                lambda h: h.sign_fields(
                    [*h.fields(), ("signPubKeyCert", _self_signed_pem(h.foreign_key))]
                ),
                UnknownSigningKey,
            ),
            Case(
                "sign-pub-key-cert-garbage",
                lambda h: h.sign_fields(
                    [*h.fields(), ("signPubKeyCert", "-----BEGIN CERTIFICATE-----junk")]
                ),
                Malformed,
            ),
        ]


class AllinpayHarness(FormHarness):
    name = "allinpay"
    channel_code = "allinpay"
    signature_field = "sign"
    required_fields = ("appid", "trxid", "cusorderid", "trxamt", "trxstatus")
    amount_field = "trxamt"
    order_field = "cusorderid"
    bad_amounts = ("1.00", "-5", "abc", "0x10")

    def fields(self) -> Pairs:
        return [(k, v) for k, v in _form_pairs(self.genuine().body) if k != "sign"]

    def sign_fields(self, pairs: Pairs, key: rsa.RSAPrivateKey | None = None) -> SignedNotification:
        return allinpay.signed_form(self.side_with(key), _strings(pairs))

    @classmethod
    def specific_cases(cls) -> list[Case]:
        def sign_type(value: str | None) -> Builder:
            def build(h: Harness) -> SignedNotification:
                pairs = [(k, v) for k, v in h.fields() if k != "signtype"]
                if value is not None:
                    pairs.append(("signtype", value))
                content = allinpay.sign_content(_strings(pairs)).encode()
                signature = sign_b64(h.channel_key, content, "sha1")
                return SignedNotification(
                    headers={},
                    body=wire.encode_form([*_strings(pairs), ("sign", signature)], "utf-8"),
                )

            return build

        def sha256_signature(h: Harness) -> SignedNotification:
            content = allinpay.sign_content(_strings(h.fields())).encode()
            return h.with_signature(h.genuine(), sign_b64(h.channel_key, content, "sha256"))

        def latin1_value(h: Harness) -> SignedNotification:
            signed = h.sign_fields([*h.fields(), ("trxreserved", "x")])
            return replace(
                signed, body=signed.body.replace(b"trxreserved=x", b"trxreserved=%B2%E2")
            )

        return [
            *cls.form_cases(),
            Case("signtype-md5", sign_type("MD5"), UnsupportedSignType),
            Case("signtype-sm2", sign_type("SM2"), UnsupportedSignType),
            Case("signtype-absent-means-md5", sign_type(None), UnsupportedSignType),
            Case("sha256-signature", sha256_signature, BadSignature),
            Case("non-utf8-value", latin1_value, BadCharset),
        ]


HARNESSES: dict[str, type[Harness]] = {
    cls.name: cls
    for cls in (
        WechatHarness,
        AlipayHarness,
        AlipayGbkHarness,
        LakalaHarness,
        LakalaLabsHarness,
        UnionPayHarness,
        AllinpayHarness,
    )
}


# ---------------------------------------------------------------- helpers and the case table


Builder = Callable[[Harness], SignedNotification]


@dataclass(frozen=True)
class Case:
    name: str
    build: Builder
    expected: type[CallbackRejected]


def _with_header(signed: SignedNotification, name: str, value: str) -> SignedNotification:
    headers = {k: v for k, v in signed.headers.items() if k.lower() != name.lower()}
    return SignedNotification(headers={**headers, name: value}, body=signed.body)


def _without_header(signed: SignedNotification, name: str) -> SignedNotification:
    headers = {k: v for k, v in signed.headers.items() if k.lower() != name.lower()}
    return SignedNotification(headers=headers, body=signed.body)


def _self_signed_pem(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not unionpay")])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(69629715588)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _generic_cases(harness: type[Harness]) -> Iterator[Case]:
    yield Case("empty-body", lambda h: replace(h.genuine(), body=b""), Malformed)
    yield Case("whitespace-body", lambda h: replace(h.genuine(), body=b" \r\n"), Malformed)
    yield Case(
        "garbage-bytes",
        lambda h: replace(h.genuine(), body=bytes(range(256)) * 3),
        CallbackRejected,
    )
    yield Case(
        "oversized-body",
        lambda h: replace(h.genuine(), body=b"a" * (MAX_BODY_BYTES + 1)),
        BodyTooLarge,
    )
    yield Case(
        "oversized-genuine-padded",
        lambda h: replace(h.genuine(), body=h.genuine().body + b" " * MAX_BODY_BYTES),
        BodyTooLarge,
    )
    yield Case("tampered-value", lambda h: h.tamper_value(h.genuine()), BadSignature)
    yield Case(
        "truncated-body",
        lambda h: replace(h.genuine(), body=h.genuine().body[:-1]),
        CallbackRejected,
    )
    yield Case(
        "field-added-after-signing", lambda h: h.add_field_after_signing(h.genuine()), BadSignature
    )
    yield Case(
        "signed-with-merchant-key",
        lambda h: h.sign_fields(h.fields(), h.side.require_merchant_private_key()),
        BadSignature,
    )
    yield Case(
        "signed-with-foreign-key", lambda h: h.sign_fields(h.fields(), h.foreign_key), BadSignature
    )
    yield Case(
        "truncated-signature",
        lambda h: h.with_signature(h.genuine(), h.signature_of(h.genuine())[:-4]),
        BadSignature,
    )
    yield Case(
        "signature-one-char-changed",
        lambda h: h.with_signature(h.genuine(), _flip_b64(h.signature_of(h.genuine()))),
        BadSignature,
    )
    yield Case(
        "signature-base64-garbage",
        lambda h: h.with_signature(h.genuine(), "!!not*base64!!"),
        BadSignature,
    )
    yield Case("signature-empty", lambda h: h.with_signature(h.genuine(), ""), MissingField)
    yield Case(
        "signature-too-long", lambda h: h.with_signature(h.genuine(), "A" * 2000), BadSignature
    )
    yield Case(
        "signature-from-other-notification",
        lambda h: h.with_signature(h.genuine(), h.signature_of(h.sign_fields(h.other_order()))),
        BadSignature,
    )
    yield Case(
        "duplicate-field-signed",
        lambda h: h.sign_fields([*h.fields(), h.fields()[0]]),
        DuplicateField,
    )
    for name in harness.required_fields:
        yield Case(f"missing-{name}-signed", _without_field(name), MissingField)
    for index, amount in enumerate(harness.bad_amounts):
        yield Case(f"bad-amount-{index}-signed", _with_bad_amount(amount), CallbackRejected)


def _without_field(name: str) -> Builder:
    return lambda h: h.sign_fields([(k, v) for k, v in h.fields() if k != name])


def _with_bad_amount(amount: object) -> Builder:
    return lambda h: h.sign_fields(h.with_amount(amount))


def _flip_b64(text: str) -> str:
    middle = len(text) // 2
    return text[:middle] + ("B" if text[middle] == "A" else "A") + text[middle + 1 :]


def _all_cases() -> Iterator[tuple[str, Case]]:
    for name, harness in HARNESSES.items():
        for case in [*_generic_cases(harness), *harness.specific_cases()]:
            yield name, case


ALL_CASES = list(_all_cases())


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contract-keys")
    generate_dev_keys(path)
    return path


@pytest.fixture(scope="session")
def foreign_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def harnesses(keys_dir: Path, foreign_key: rsa.RSAPrivateKey) -> dict[str, Harness]:
    return {
        name: cls(
            load_key_set(keys_dir, cls.channel_code),
            load_channel_keys(keys_dir, cls.channel_code),
            foreign_key,
        )
        for name, cls in HARNESSES.items()
    }


# ---------------------------------------------------------------- the suite


def test_every_channel_has_enough_rejection_cases() -> None:
    for name in HARNESSES:
        count = sum(1 for harness_name, _ in ALL_CASES if harness_name == name)
        assert count >= REJECTION_CASES_MIN, f"{name} has only {count} rejection cases"


@pytest.mark.parametrize("name", list(HARNESSES))
def test_genuine_payment_is_accepted(harnesses: dict[str, Harness], name: str) -> None:
    harness = harnesses[name]
    verified = harness.channel.verify_notification(
        harness.genuine().headers, harness.genuine().body, now_s=NOW_S
    )
    event = harness.event()
    assert verified.channel == harness.channel_code
    assert verified.kind is NotificationKind.PAYMENT
    assert verified.outcome is Outcome.SUCCEEDED
    assert verified.out_trade_no == event.out_trade_no
    assert verified.amount_fen == event.amount_fen
    assert verified.channel_txn_id == event.channel_txn_id
    assert verified.currency == "CNY"
    check_merchant_ids(verified, harness.channel.expected_merchant_ids)


@pytest.mark.parametrize("name", list(HARNESSES))
def test_genuine_refund_is_accepted(harnesses: dict[str, Harness], name: str) -> None:
    harness = harnesses[name]
    event = harness.refund_event()
    signed = harness.sign_event(event)
    verified = harness.channel.verify_notification(signed.headers, signed.body, now_s=NOW_S)
    assert verified.kind is NotificationKind.REFUND
    assert verified.outcome is Outcome.REFUNDED
    if verified.refund_amount_fen is not None:
        assert verified.refund_amount_fen == event.refund_amount_fen
    check_merchant_ids(verified, harness.channel.expected_merchant_ids)


@pytest.mark.parametrize("name", list(HARNESSES))
def test_lower_case_header_names_are_accepted(harnesses: dict[str, Harness], name: str) -> None:
    harness = harnesses[name]
    signed = harness.genuine()
    lowered = {k.lower(): v for k, v in signed.headers.items()}
    verified = harness.channel.verify_notification(lowered, signed.body, now_s=NOW_S)
    assert verified.out_trade_no == harness.event().out_trade_no


@pytest.mark.parametrize("name", list(HARNESSES))
def test_redelivery_verifies_identically(harnesses: dict[str, Harness], name: str) -> None:
    harness = harnesses[name]
    signed = harness.genuine()
    first = harness.channel.verify_notification(signed.headers, signed.body, now_s=NOW_S)
    again = harness.channel.verify_notification(signed.headers, signed.body, now_s=NOW_S + 200)
    assert first == again


@pytest.mark.parametrize("name", list(HARNESSES))
def test_other_merchant_is_flagged(harnesses: dict[str, Harness], name: str) -> None:
    harness = harnesses[name]
    signed = harness.genuine()
    verified = harness.channel.verify_notification(signed.headers, signed.body, now_s=NOW_S)
    expected = {key: value + "0" for key, value in harness.channel.expected_merchant_ids.items()}
    with pytest.raises(WrongMerchant):
        check_merchant_ids(verified, expected)


@pytest.mark.parametrize("name", list(HARNESSES))
def test_answers_use_the_channel_format_and_leak_nothing(
    harnesses: dict[str, Harness], name: str
) -> None:
    channel = harnesses[name].channel
    success = channel.success_answer()
    assert 200 <= success.status_code < 300
    error = BadSignature("signature does not verify over secret-looking-detail")
    failure = channel.failure_answer(error)
    assert failure.status_code >= 400
    assert b"secret-looking-detail" not in failure.body
    assert failure.body != success.body


@pytest.mark.parametrize(("name", "case"), ALL_CASES, ids=[f"{n}-{c.name}" for n, c in ALL_CASES])
def test_rejects(harnesses: dict[str, Harness], name: str, case: Case) -> None:
    harness = harnesses[name]
    signed = case.build(harness)
    with pytest.raises(case.expected) as caught:
        harness.channel.verify_notification(signed.headers, signed.body, now_s=NOW_S)
    assert caught.value.reason_code
    assert harness.signature_of(harness.genuine()) not in str(caught.value)


def test_body_limit_is_configurable(keys_dir: Path) -> None:
    channel = build_channel_protocol(
        "alipay", load_key_set(keys_dir, "alipay"), NotificationLimits(max_body_bytes=100)
    )
    event = NotificationEvent(out_trade_no="ORD1", channel_txn_id="T1", amount_fen=1)
    signed = sign_notification(
        load_channel_keys(keys_dir, "alipay"), sandbox_event(event), now_s=NOW_S
    )
    with pytest.raises(BodyTooLarge):
        channel.verify_notification(signed.headers, signed.body, now_s=NOW_S)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amount_fen=st.integers(min_value=1, max_value=5_000_000_00),
    out_trade_no=st.from_regex(r"[A-Za-z0-9_\-]{6,32}", fullmatch=True),
    name=st.sampled_from(sorted(HARNESSES)),
)
def test_round_trip_any_amount_and_order_number(
    harnesses: dict[str, Harness], amount_fen: int, out_trade_no: str, name: str
) -> None:
    harness = harnesses[name]
    event = replace(harness.event(), amount_fen=amount_fen, out_trade_no=out_trade_no)
    signed = harness.sign_event(event)
    verified = harness.channel.verify_notification(signed.headers, signed.body, now_s=NOW_S)
    assert (verified.amount_fen, verified.out_trade_no) == (amount_fen, out_trade_no)
