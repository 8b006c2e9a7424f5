"""UnionPay ACP 5.1.0 back notification, our side and the channel side (docs/channel-formats.md
§5.1).

* Form POST in the charset named by the `encoding` field (UTF-8 or GBK).
* String to sign: every field except `signature`, empty values removed, keys sorted, `k=v`
  joined by `&`. `signature = Base64(SHA256withRSA(hex_lower(SHA-256(string)).encode()))`:
  the RSA input is the 64-character hex digest, not the string itself (`signMethod=01`).
* Only `version=5.1.0` with `signMethod=01` is accepted (5.0.0/SHA-1 and the symmetric
  `signMethod` 11/12 raise UnsupportedSignType).
* Answer: HTTP 200 (body `ok`, not checked by UnionPay); anything else is retried 5 times.

**Deviation from the real protocol.** Real 5.1.0 verification takes the key from
`signPubKeyCert` after validating that certificate against the UnionPay root/intermediate chain.
We have no UnionPay chain, so the key is *pinned*: we verify with the channel public key from
`var/keys/unionpay/` and check the certificate id from ids.json (`certId`):
* a `certId` field, when present, must equal ours;
* a `signPubKeyCert` field, when present, must hold a certificate whose public key is ours (its
  decimal serial number stands in for `certId` when that field is absent);
* a notification carrying neither is rejected (MissingField `certId`).
The sandbox sends `certId` (the 5.0.0 style field). Both fields are covered by the signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from payment_gateway.adapters.channels.contract import CallbackAnswer
from payment_gateway.adapters.channels.errors import (
    Malformed,
    MissingField,
    MoneyFormatError,
    UnknownSigningKey,
    UnsupportedSignType,
)
from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.adapters.channels.rsa_signing import same_public_key, sign_b64, verify_b64
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    Charset,
    check_body_size,
    decode_form_values,
    encode_form,
    form_field,
    join_sorted,
    normalize_charset,
    split_form,
)

VERSION: Final = "5.1.0"
SIGN_METHOD_RSA: Final = "01"
SIGNATURE_FIELD: Final = "signature"
CERT_PEM_LEN_MAX: Final = 8 * 1024
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
SUCCESS_BODY: Final = b"ok"
FAILURE_BODY: Final = b"fail"


def sign_content(fields: Iterable[tuple[str, str]]) -> str:
    """All fields but `signature`, empty values removed, sorted, `k=v&...`."""
    return join_sorted((k, v) for k, v in fields if k != SIGNATURE_FIELD and v)


def signed_digest(content: str, charset: Charset) -> bytes:
    """The bytes RSA signs: the lower-case hex SHA-256 of the content, as ASCII."""
    return hashlib.sha256(content.encode(charset)).hexdigest().encode("ascii")


def sign_fields(
    pairs: Sequence[tuple[str, str]], *, private_key: rsa.RSAPrivateKey, charset: Charset
) -> str:
    """Channel side: the `signature` value for `pairs`."""
    return sign_b64(private_key, signed_digest(sign_content(pairs), charset))


def build_notification_form(
    pairs: Sequence[tuple[str, str]], *, private_key: rsa.RSAPrivateKey
) -> bytes:
    """Channel side: sign `pairs` (which must contain `encoding`) and encode the form body."""
    charset = normalize_charset(dict(pairs).get("encoding", "UTF-8"))
    signature = sign_fields(pairs, private_key=private_key, charset=charset)
    return encode_form([*pairs, (SIGNATURE_FIELD, signature)], charset)


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


def check_signing_certificate(
    fields: Mapping[str, str], *, unionpay_public_key: rsa.RSAPublicKey, expected_cert_id: str
) -> None:
    """The pinned-key stand-in for signPubKeyCert chain validation (see module docstring)."""
    cert_id = fields.get("certId")
    pem = fields.get("signPubKeyCert")
    if pem:
        cert_serial = _pinned_certificate_serial(pem, unionpay_public_key)
        cert_id = cert_id or cert_serial
    if not cert_id:
        raise MissingField("certId")
    if cert_id != expected_cert_id:
        raise UnknownSigningKey("certId is not the UnionPay certificate we know")


def _pinned_certificate_serial(pem: str, unionpay_public_key: rsa.RSAPublicKey) -> str:
    if len(pem) > CERT_PEM_LEN_MAX:
        raise Malformed("signPubKeyCert is too long")
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise Malformed("signPubKeyCert is not a PEM certificate") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or not same_public_key(key, unionpay_public_key):
        raise UnknownSigningKey("signPubKeyCert does not hold the pinned UnionPay key")
    return str(certificate.serial_number)


def verify_notification_signature(
    fields: Mapping[str, str],
    charset: Charset,
    *,
    unionpay_public_key: rsa.RSAPublicKey,
    expected_cert_id: str,
) -> None:
    """Check version/signMethod, the pinned certificate id, then the signature."""
    signature = form_field(fields, SIGNATURE_FIELD)
    if form_field(fields, "version") != VERSION:
        raise UnsupportedSignType("only ACP version 5.1.0 is supported")
    if form_field(fields, "signMethod") != SIGN_METHOD_RSA:
        raise UnsupportedSignType("only signMethod 01 (RSA) is supported")
    check_signing_certificate(
        fields, unionpay_public_key=unionpay_public_key, expected_cert_id=expected_cert_id
    )
    digest = signed_digest(sign_content(fields.items()), charset)
    verify_b64(unionpay_public_key, signature, digest)


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


def parse_notification(fields: Mapping[str, str]) -> UnionPayNotification:
    """Type a verified notification; MissingField / Malformed name the field."""
    for name in REQUIRED_FIELDS:
        form_field(fields, name)
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
) -> UnionPayNotification:
    """Our side: decode, verify and type a back notification."""
    fields, charset = decode_notification_form(raw_body, max_body_bytes=max_body_bytes)
    verify_notification_signature(
        fields, charset, unionpay_public_key=unionpay_public_key, expected_cert_id=expected_cert_id
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
