"""UnionPay ACP 5.1.0 back notification, our side (docs/channel-formats.md §5.1).

* Form POST in the charset named by the `encoding` field (UTF-8 or GBK).
* String to sign: every field except `signature`, empty values removed, keys sorted, `k=v`
  joined by `&`. `signature = Base64(SHA256withRSA(hex_lower(SHA-256(string)).encode()))`:
  the RSA input is the 64-character hex digest, not the string itself (`signMethod=01`).
* `version=5.1.0`, `signMethod=01`, with `signPubKeyCert`: the key is the certificate's, and
  the certificate must chain to the configured UnionPay root and intermediate and be valid
  now (certs.py); a `certId` beside it must be its serial. Rotation needs no configuration.
* `version=5.1.0` or `5.0.0` with `certId` and no certificate (the 5.0.0 form): the key is the
  configured UnionPay public key and `certId` must be its certificate's id (ids.json);
  5.0.0 signs with SHA-1 (`hex(SHA-1)` under SHA1withRSA).
* Anything else (other versions, the symmetric `signMethod` 11/12) raises UnsupportedSignType.
* Answer: HTTP 200 (body `ok`, not checked by UnionPay); anything else is retried 5 times.

UnionPay's side (signing the notification) is the channel sandbox's
(`channel_sandbox.channels.unionpay`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from payment_gateway.adapters.channels.contract import CallbackAnswer
from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.adapters.channels.rsa_signing import HashName, verify_b64
from payment_gateway.adapters.channels.unionpay.certs import (
    TrustChain,
    UntrustedCertificate,
    load_pem_certificate,
    verify_sign_cert,
)
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    Charset,
    check_body_size,
    decode_form_values,
    form_field,
    join_sorted,
    normalize_charset,
    split_form,
)
from payment_gateway.errors import (
    Malformed,
    MissingField,
    MoneyFormatError,
    UnknownSigningKey,
    UnsupportedCurrency,
    UnsupportedSignType,
)

VERSION: Final = "5.1.0"
VERSION_CERT_ID: Final = "5.0.0"
SIGN_METHOD_RSA: Final = "01"
SIGNATURE_FIELD: Final = "signature"
REQUIRED_FIELDS: Final = (
    "version",
    "encoding",
    "signMethod",
    "signature",
    "merId",
    "orderId",
    "txnType",
    "txnAmt",
    "respCode",
    "queryId",
)
CURRENCY_FIELDS: Final = ("currencyCode", "settleCurrencyCode")
CNY_NUMERIC: Final = "156"
SUCCESS_BODY: Final = b"ok"
FAILURE_BODY: Final = b"fail"


def sign_content(fields: Iterable[tuple[str, str]]) -> str:
    """All fields but `signature`, empty values removed, sorted, `k=v&...`."""
    return join_sorted((k, v) for k, v in fields if k != SIGNATURE_FIELD and v)


def signed_digest(content: str, charset: Charset, hash_name: HashName = "sha256") -> bytes:
    """The bytes RSA signs: the lower-case hex SHA-256 (5.0.0: SHA-1) of the content, as
    ASCII."""
    data = content.encode(charset)
    digest = hashlib.sha256(data) if hash_name == "sha256" else hashlib.sha1(data)  # noqa: S324
    return digest.hexdigest().encode("ascii")


def decode_notification_form(
    raw_body: bytes, *, max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT
) -> tuple[dict[str, str], Charset]:
    """Split and decode the form with the charset named by its `encoding` field."""
    check_body_size(raw_body, max_body_bytes)
    form = split_form(raw_body)
    declared = dict(form).get("encoding")
    if not declared:
        raise MissingField("encoding")
    charset = normalize_charset(declared.decode("ascii", errors="replace"))
    return dict(decode_form_values(form, charset)), charset


def verification_key(
    fields: Mapping[str, str],
    *,
    unionpay_public_key: rsa.RSAPublicKey,
    expected_cert_id: str,
    chain: TrustChain | None,
    now: datetime,
) -> tuple[rsa.RSAPublicKey, HashName]:
    """The key and hash that must verify this notification (see the module docstring)."""
    version = form_field(fields, "version")
    if form_field(fields, "signMethod") != SIGN_METHOD_RSA:
        raise UnsupportedSignType("only signMethod 01 (RSA) is supported")
    if version not in (VERSION, VERSION_CERT_ID):
        raise UnsupportedSignType("only ACP versions 5.1.0 and 5.0.0 are supported")
    pem = fields.get("signPubKeyCert")
    if pem:
        if version != VERSION:
            raise Malformed("signPubKeyCert exists in ACP 5.1.0 only")
        if chain is None:
            raise UntrustedCertificate("no UnionPay root and intermediate are configured")
        certificate = load_pem_certificate(pem)
        key = verify_sign_cert(certificate, chain, now=now)
        cert_id = fields.get("certId")
        if cert_id and cert_id != str(certificate.serial_number):
            raise UnknownSigningKey("certId is not the serial of signPubKeyCert")
        return key, "sha256"
    cert_id = fields.get("certId")
    if not cert_id:
        raise MissingField("certId")
    if cert_id != expected_cert_id:
        raise UnknownSigningKey("certId is not the UnionPay certificate we know")
    return unionpay_public_key, "sha256" if version == VERSION else "sha1"


def verify_notification_signature(
    fields: Mapping[str, str],
    charset: Charset,
    *,
    unionpay_public_key: rsa.RSAPublicKey,
    expected_cert_id: str,
    chain: TrustChain | None = None,
    now: datetime | None = None,
) -> None:
    """Check version/signMethod, find the signing key (certificate chain or certId), then the
    signature."""
    signature = form_field(fields, SIGNATURE_FIELD)
    key, hash_name = verification_key(
        fields,
        unionpay_public_key=unionpay_public_key,
        expected_cert_id=expected_cert_id,
        chain=chain,
        now=now or datetime.now(UTC),
    )
    digest = signed_digest(sign_content(fields.items()), charset, hash_name)
    verify_b64(key, signature, digest, hash_name)


@dataclass(frozen=True, kw_only=True)
class UnionPayNotification:
    """A verified back notification; `txn_amt_fen` is `txnAmt` (already in fen)."""

    mer_id: str
    order_id: str
    query_id: str
    txn_type: str
    txn_sub_type: str
    resp_code: str
    txn_amt_fen: int
    orig_qry_id: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


def _check_currency(fields: Mapping[str, str]) -> None:
    """CNY only: ``currencyCode`` and ``settleCurrencyCode`` are ISO 4217 numeric, 156 = CNY
    (formats §5.1); anything else would be booked in the wrong currency."""
    for name in CURRENCY_FIELDS:
        value = fields.get(name)
        if value is not None and value != CNY_NUMERIC:
            raise UnsupportedCurrency(f"{name} {value[:8]!r} is not {CNY_NUMERIC} (CNY)")


def parse_notification(fields: Mapping[str, str]) -> UnionPayNotification:
    """Type a verified notification; MissingField / Malformed name the field."""
    for name in REQUIRED_FIELDS:
        form_field(fields, name)
    _check_currency(fields)
    try:
        amount_fen = fen_text_to_fen(fields["txnAmt"])
    except MoneyFormatError:
        raise Malformed("txnAmt is not a whole number of fen") from None
    return UnionPayNotification(
        mer_id=fields["merId"],
        order_id=fields["orderId"],
        query_id=fields["queryId"],
        txn_type=fields["txnType"],
        txn_sub_type=fields.get("txnSubType", ""),
        resp_code=fields["respCode"],
        txn_amt_fen=amount_fen,
        orig_qry_id=fields.get("origQryId") or None,
        fields=dict(fields),
    )


def verify_notification(
    raw_body: bytes,
    *,
    unionpay_public_key: rsa.RSAPublicKey,
    expected_cert_id: str,
    max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
    chain: TrustChain | None = None,
    now: datetime | None = None,
) -> UnionPayNotification:
    """Our side: decode, verify and type a back notification."""
    fields, charset = decode_notification_form(raw_body, max_body_bytes=max_body_bytes)
    verify_notification_signature(
        fields,
        charset,
        unionpay_public_key=unionpay_public_key,
        expected_cert_id=expected_cert_id,
        chain=chain,
        now=now,
    )
    return parse_notification(fields)


def success_answer() -> CallbackAnswer:
    """HTTP 200 `ok`."""
    return CallbackAnswer(status_code=200, body=SUCCESS_BODY, media_type="text/plain")


def failure_answer(status_code: int = 400) -> CallbackAnswer:
    """Any non-200 status makes UnionPay resend (0, 1, 2, 4 minutes)."""
    if status_code in (200, 302):
        raise ValueError("200 and 302 count as delivered for UnionPay")
    return CallbackAnswer(status_code=status_code, body=FAILURE_BODY, media_type="text/plain")
