"""Allinpay 收银宝 (VSP) result notification, our side (docs/channel-formats.md §6.1).

* Form POST, every value UTF-8 URL-encoded. Allinpay adds fields over time: all parameters are
  read and signed, unknown ones are kept.
* String to sign (official `SybUtil`): every non-empty parameter except `sign` (so `signtype`
  is included), sorted, `k=v` joined by `&`, UTF-8.
* `signtype=RSA`: SHA1WithRSA with Allinpay's public key. `MD5` (also the default when
  `signtype` is absent) and `SM2` raise UnsupportedSignType: we hold no MD5 app key and no SM2
  implementation, and accepting a weaker scheme than configured would defeat the check.
* `trxamt` is in fen. Answer: the body `success`; anything else is retried 5 times.

Allinpay's side (signing the notification) is the channel sandbox's
(`channel_sandbox.channels.allinpay`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from payment_gateway.adapters.channels.contract import CallbackAnswer
from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.adapters.channels.rsa_signing import verify_b64
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    check_body_size,
    decode_form_values,
    form_field,
    join_sorted,
    split_form,
)
from payment_gateway.errors import (
    Malformed,
    MoneyFormatError,
    UnsupportedSignType,
)

CHARSET: Final = "utf-8"
SIGN_TYPE_RSA: Final = "RSA"
DEFAULT_SIGN_TYPE: Final = "MD5"  # what Allinpay assumes when signtype is absent
# cusid is listed by the docs but not verified in our sources (App. C): optional here, and
# reported in merchant_ids when present.
REQUIRED_FIELDS: Final = ("appid", "trxid", "cusorderid", "trxamt", "trxstatus")
SUCCESS_BODY: Final = b"success"
FAILURE_BODY: Final = b"fail"


def sign_content(pairs: Iterable[tuple[str, str]]) -> str:
    """Non-empty parameters except `sign`, sorted, `k=v&...`."""
    return join_sorted((k, v) for k, v in pairs if k != "sign" and v)


def decode_notification_form(
    raw_body: bytes, *, max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT
) -> dict[str, str]:
    """Split and UTF-8-decode the form (duplicates rejected)."""
    check_body_size(raw_body, max_body_bytes)
    return dict(decode_form_values(split_form(raw_body), CHARSET))


def verify_notification_signature(
    fields: Mapping[str, str], *, allinpay_public_key: rsa.RSAPublicKey
) -> None:
    """Verify `sign` (signtype RSA only) over the sorted non-empty parameters."""
    sign = form_field(fields, "sign")
    sign_type = fields.get("signtype") or DEFAULT_SIGN_TYPE
    if sign_type != SIGN_TYPE_RSA:
        raise UnsupportedSignType("only signtype RSA (SHA1WithRSA) is supported, not MD5 or SM2")
    content = sign_content(fields.items()).encode(CHARSET)
    verify_b64(allinpay_public_key, sign, content, "sha1")


@dataclass(frozen=True, kw_only=True)
class AllinpayNotification:
    """A verified result notification; amounts in fen."""

    appid: str
    trxid: str
    cusorderid: str
    trxstatus: str
    trxamt_fen: int
    cusid: str | None = None
    trxcode: str = ""
    chnltrxid: str = ""
    fee_fen: int | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


def _fen(fields: Mapping[str, str], name: str) -> int | None:
    text = fields.get(name)
    if not text:
        return None
    try:
        return fen_text_to_fen(text)
    except MoneyFormatError:
        raise Malformed(f"{name} is not a whole number of fen") from None


def _optional_fee_fen(fields: Mapping[str, str]) -> int | None:
    # `fee` is not verified in the docs (docs/channel-formats.md App. C): informative, never fatal.
    try:
        return _fen(fields, "fee")
    except Malformed:
        return None


def parse_notification(fields: Mapping[str, str]) -> AllinpayNotification:
    """Type a verified notification; every parameter stays in `fields`."""
    for name in REQUIRED_FIELDS:
        form_field(fields, name)
    amount_fen = _fen(fields, "trxamt")
    if amount_fen is None:  # unreachable after the required check; keeps the type exact
        raise Malformed("trxamt is missing")
    return AllinpayNotification(
        appid=fields["appid"],
        cusid=fields.get("cusid") or None,
        trxid=fields["trxid"],
        cusorderid=fields["cusorderid"],
        trxstatus=fields["trxstatus"],
        trxamt_fen=amount_fen,
        trxcode=fields.get("trxcode", ""),
        chnltrxid=fields.get("chnltrxid", ""),
        fee_fen=_optional_fee_fen(fields),
        fields=dict(fields),
    )


def verify_notification(
    raw_body: bytes,
    *,
    allinpay_public_key: rsa.RSAPublicKey,
    max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
) -> AllinpayNotification:
    """Our side: decode, verify and type a result notification."""
    fields = decode_notification_form(raw_body, max_body_bytes=max_body_bytes)
    verify_notification_signature(fields, allinpay_public_key=allinpay_public_key)
    return parse_notification(fields)


def success_answer() -> CallbackAnswer:
    """HTTP 200 `success`."""
    return CallbackAnswer(status_code=200, body=SUCCESS_BODY, media_type="text/plain")


def failure_answer(status_code: int = 400) -> CallbackAnswer:
    """Anything but `success` makes Allinpay retry (15s/15s/5m/10m/15m)."""
    return CallbackAnswer(status_code=status_code, body=FAILURE_BODY, media_type="text/plain")
