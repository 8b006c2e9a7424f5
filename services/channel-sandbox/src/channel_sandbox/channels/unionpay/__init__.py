"""UnionPay ACP back notifications (后台通知) as UnionPay sends them (docs/channel-formats.md §5.1).

* Form POST in the charset named by `encoding` (UTF-8 here unless a field says GBK).
* String to sign: every field except `signature`, empty values removed, keys sorted, `k=v`
  joined by `&`, encoded in that charset before it is hashed.
* `version=5.1.0`, `signMethod=01`: signature = Base64(SHA256withRSA(hex(SHA-256(string))))
  — RSA signs the 64-character lower-case hex digest as ASCII, not the string. The
  verification key travels in `signPubKeyCert` (PEM, validated against the UnionPay chain;
  what the sandbox sends by default, with `var/keys/unionpay/channel_cert.pem`), or is named
  by `certId` (the option `key_id="certId"`).
* `version=5.0.0`: the same with SHA-1 (hex digest, SHA1withRSA); the key is named by `certId`.
* `txnAmt` is fen. A refund (`txnType=04`) names the refund request: `orderId` is the
  merchant's refund number, `queryId` the refund's id, `origQryId` the payment's.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

from channel_sandbox.channels.base import (
    NotificationEvent,
    Outcome,
    ReadNotification,
    RequestRejected,
    SignedNotification,
    read_terminal_result,
)
from channel_sandbox.keys import SandboxKeySet
from otd_shared.channel_wire import (
    Charset,
    HashName,
    WireFormatError,
    canonical_query,
    channel_time,
    decode_form,
    encode_form,
    normalize_charset,
    rsa_sign_b64,
    rsa_verify_b64,
)

CODE: Final = "unionpay"
CONTENT_TYPE: Final = "application/x-www-form-urlencoded; charset=UTF-8"
AcpVersion = Literal["5.1.0", "5.0.0"]
KeyId = Literal["signPubKeyCert", "certId"]
_HASHES: Final[Mapping[str, HashName]] = {"5.1.0": "sha256", "5.0.0": "sha1"}
_RESP: Final[Mapping[Outcome, tuple[str, str]]] = {
    Outcome.SUCCEEDED: ("00", "success"),
    Outcome.REFUNDED: ("00", "success"),
    Outcome.PENDING: ("05", "处理中"),
    Outcome.FAILED: ("01", "交易失败"),
}


def sign_content(pairs: Iterable[tuple[str, str]]) -> str:
    """Every field but `signature`, empties removed, sorted, `k=v&...`."""
    return canonical_query((k, v) for k, v in pairs if k != "signature" and v)


def digest_text(content: str, version: str, charset: Charset = "utf-8") -> bytes:
    """What RSA signs: the lower-case hex SHA-1 (5.0.0) or SHA-256 (5.1.0, default) digest of
    the content in `charset`."""
    algorithm = hashlib.sha1 if _HASHES.get(version) == "sha1" else hashlib.sha256
    return algorithm(content.encode(charset)).hexdigest().encode("ascii")


def signature(
    keys: SandboxKeySet,
    pairs: Iterable[tuple[str, str]],
    version: str,
    charset: Charset = "utf-8",
) -> str:
    """The `signature` field for `pairs` under `version`."""
    digest = digest_text(sign_content(pairs), version, charset)
    return rsa_sign_b64(keys.channel_private_key, digest, _HASHES.get(version, "sha256"))


def form_charset(fields: Mapping[str, str]) -> Charset:
    """The charset the `encoding` field names (UTF-8 when absent)."""
    return normalize_charset(fields.get("encoding", "UTF-8"))


def notification_fields(
    keys: SandboxKeySet,
    event: NotificationEvent,
    now_s: int,
    *,
    version: AcpVersion = "5.1.0",
    sign_cert_pem: str | None = None,
    trace_no: str | None = None,
) -> dict[str, str]:
    """The fields of a back notification, without `signature`.

    The key is identified by `signPubKeyCert` when `sign_cert_pem` is given (5.1.0 only),
    else by `certId`.
    """
    moment = channel_time(now_s)
    resp_code, resp_msg = _RESP[event.outcome]
    fields = {
        "accNo": "6226********0048",
        "accessType": "0",
        "bizType": "000201",
        "currencyCode": "156",
        "encoding": "UTF-8",
        "merId": keys.id("merId"),
        "respCode": resp_code,
        "respMsg": resp_msg,
        "settleCurrencyCode": "156",
        "settleDate": moment.strftime("%m%d"),
        "signMethod": "01",
        "traceNo": trace_no or f"{secrets.randbelow(1_000_000):06d}",
        "traceTime": moment.strftime("%m%d%H%M%S"),
        "txnTime": moment.strftime("%Y%m%d%H%M%S"),
        "version": version,
    }
    if sign_cert_pem is not None:
        if version != "5.1.0":
            raise ValueError("signPubKeyCert exists in ACP 5.1.0 only")
        fields["signPubKeyCert"] = sign_cert_pem
    else:
        fields["certId"] = keys.id("certId")
    return fields | _transaction_fields(event) | event.text_extras("UnionPay")


def _transaction_fields(event: NotificationEvent) -> dict[str, str]:
    if event.refund is not None:
        amount = str(event.refund.amount_fen)
        return {
            "orderId": event.refund.out_refund_no,
            "queryId": event.refund.refund_id,
            "origQryId": event.channel_txn_id,
            "txnAmt": amount,
            "settleAmt": amount,
            "txnType": "04",
            "txnSubType": "00",
        }
    amount = str(event.amount_fen)
    return {
        "orderId": event.out_trade_no,
        "queryId": event.channel_txn_id,
        "txnAmt": amount,
        "settleAmt": amount,
        "txnType": "01",
        "txnSubType": "01",
    }


def signed_form(
    keys: SandboxKeySet, fields: Mapping[str, str] | Sequence[tuple[str, str]]
) -> SignedNotification:
    """Sign `fields` under their `version` (5.1.0 when absent) and encode the form in the
    charset their `encoding` names (UTF-8 when absent)."""
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    named = dict(pairs)
    version, charset = named.get("version", "5.1.0"), form_charset(named)
    signed = [*pairs, ("signature", signature(keys, pairs, version, charset))]
    content_type = CONTENT_TYPE.replace("UTF-8", charset.upper())
    return SignedNotification(
        headers={"Content-Type": content_type}, body=encode_form(signed, charset)
    )


def notification(
    keys: SandboxKeySet,
    event: NotificationEvent,
    *,
    now_s: int,
    version: AcpVersion = "5.1.0",
    key_id: KeyId = "signPubKeyCert",
    sign_cert_pem: str | None = None,
) -> SignedNotification:
    """A signed back notification: ACP 5.1.0 carrying the signing certificate in
    `signPubKeyCert` (the key set's `channel_cert.pem`, issued by the dev CA) by default;
    `key_id="certId"` (or 5.0.0, or a key set without a certificate) names the key by certId."""
    pem = sign_cert_pem or keys.sign_cert_pem
    if version != "5.1.0" or key_id == "certId":
        pem = sign_cert_pem  # only an explicit certificate (tests of refusals) goes along
    fields = notification_fields(
        keys, event, now_s, version=version, sign_cert_pem=form_pem(pem) if pem else None
    )
    return signed_form(keys, fields)


def form_pem(pem: str) -> str:
    """A PEM certificate as UnionPay puts it in a form field: CRLF line breaks, no trailing
    break."""
    return pem.strip().replace("\r\n", "\n").replace("\n", "\r\n")


# ---------------------------------------------------------------- the merchant's reading (tests)


def read_notification(
    keys: SandboxKeySet, headers: Mapping[str, str], body: bytes, *, now_s: int
) -> ReadNotification:
    """Verify and read a back notification as a merchant would; RequestRejected otherwise."""
    del headers, now_s
    try:
        charset = _declared_charset(body)
        fields = dict(decode_form(body, charset))
    except WireFormatError as exc:
        raise RequestRejected(str(exc)) from None
    version = fields.get("version", "")
    if version not in _HASHES:
        raise RequestRejected("unknown ACP version")
    digest = digest_text(sign_content(fields.items()), version, charset)
    if not rsa_verify_b64(
        keys.channel_public_key, fields.get("signature", ""), digest, _HASHES[version]
    ):
        raise RequestRejected("signature does not verify")
    is_refund = fields["txnType"] in ("04", "31")
    return read_terminal_result(
        CODE,
        fields,
        is_refund=is_refund,
        success=fields["respCode"] in ("00", "A6"),
        status=fields["respCode"],
        order_no=fields["orderId"],
        payment_id=fields.get("origQryId", "") if is_refund else fields["queryId"],
        amount_fen=int(fields["txnAmt"]),
    )


def _declared_charset(body: bytes) -> Charset:
    """The charset the form's (ASCII) `encoding` field names, UTF-8 when it names none."""
    for segment in body.split(b"&"):
        name, _, value = segment.partition(b"=")
        if name == b"encoding":
            return normalize_charset(value.decode("ascii", "replace"))
    return "utf-8"
