"""Allinpay 收银宝 (VSP) result notifications as Allinpay sends them (docs/channel-formats.md §6.1).

* Form POST, every value UTF-8 URL-encoded.
* String to sign (official `SybUtil`): every non-empty parameter except `sign` (so `signtype`
  is signed too), sorted (TreeMap), `k=v` joined by `&`; `signtype=RSA` is SHA1WithRSA with the
  Allinpay key.
* `trxamt` is fen; `trxstatus` 0000 is success, 3xxx failure. `cusorderid` is the merchant's
  order number (`reqsn`); refunds (撤销/退货, e.g. `trxcode` VSP503) name the refund request in
  `cusorderid` and the original transaction in `srctrxid`.
* Answer that stops retries: the body `success`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

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
    WireFormatError,
    canonical_query,
    channel_time,
    decode_form,
    encode_form,
    rsa_sign_b64,
    rsa_verify_b64,
)

CODE: Final = "allinpay"
CONTENT_TYPE: Final = "application/x-www-form-urlencoded; charset=UTF-8"
PAYMENT_TRXCODE: Final = "VSP501"  # WeChat payment
REFUND_TRXCODE: Final = "VSP503"  # WeChat refund
REFUND_TRXCODES: Final = frozenset(
    {"VSP502", "VSP503", "VSP512", "VSP513", "VSP552", "VSP553", "VSP002", "VSP003"}
)
_TRXSTATUS: Final[Mapping[Outcome, str]] = {
    Outcome.SUCCEEDED: "0000",
    Outcome.REFUNDED: "0000",
    Outcome.PENDING: "2008",
    Outcome.FAILED: "3045",
}


def sign_content(pairs: Iterable[tuple[str, str]]) -> str:
    """Non-empty parameters except `sign`, sorted, `k=v&...`."""
    return canonical_query((k, v) for k, v in pairs if k != "sign" and v)


def notification_fields(
    keys: SandboxKeySet, event: NotificationEvent, now_s: int
) -> dict[str, str]:
    """The notification's parameters (without `sign`)."""
    moment = channel_time(now_s)
    fields = {
        "appid": keys.id("appid"),
        "cusid": keys.id("cusid"),
        "trxcode": PAYMENT_TRXCODE,
        "trxid": event.channel_txn_id,
        "chnltrxid": "4200001234" + event.channel_txn_id[-18:],
        "cusorderid": event.out_trade_no,
        "outtrxid": "",
        "initamt": str(event.amount_fen),
        "trxamt": str(event.amount_fen),
        "trxdate": moment.strftime("%Y%m%d"),
        "paytime": moment.strftime("%Y%m%d%H%M%S"),
        "trxstatus": _TRXSTATUS[event.outcome],
        "termno": "",
        "acct": "oSandbox",
        "fee": "0",
        "signtype": "RSA",
    }
    if event.refund is not None:
        fields |= {
            "trxcode": REFUND_TRXCODE,
            "trxid": event.refund.refund_id,
            "srctrxid": event.channel_txn_id,
            "cusorderid": event.refund.out_refund_no,
            "trxamt": str(event.refund.amount_fen),
        }
    return fields | event.text_extras("Allinpay")


def signed_form(
    keys: SandboxKeySet, fields: Mapping[str, str] | Sequence[tuple[str, str]]
) -> SignedNotification:
    """Sign `fields` with SHA1WithRSA and encode the form."""
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    sign = rsa_sign_b64(keys.channel_private_key, sign_content(pairs).encode("utf-8"), "sha1")
    body = encode_form([*pairs, ("sign", sign)])
    return SignedNotification(headers={"Content-Type": CONTENT_TYPE}, body=body)


def notification(
    keys: SandboxKeySet, event: NotificationEvent, *, now_s: int
) -> SignedNotification:
    """A signed result notification."""
    return signed_form(keys, notification_fields(keys, event, now_s))


# ---------------------------------------------------------------- the merchant's reading (tests)


def read_notification(
    keys: SandboxKeySet, headers: Mapping[str, str], body: bytes, *, now_s: int
) -> ReadNotification:
    """Verify and read a notification as a merchant would; RequestRejected otherwise."""
    del headers, now_s
    try:
        fields = dict(decode_form(body, "utf-8"))
    except WireFormatError as exc:
        raise RequestRejected(str(exc)) from None
    content = sign_content(fields.items()).encode("utf-8")
    if not rsa_verify_b64(keys.channel_public_key, fields.get("sign", ""), content, "sha1"):
        raise RequestRejected("sign does not verify")
    is_refund = fields.get("trxcode", "") in REFUND_TRXCODES
    return read_terminal_result(
        CODE,
        fields,
        is_refund=is_refund,
        success=fields["trxstatus"] == "0000",
        status=fields["trxstatus"],
        order_no=fields["cusorderid"],
        payment_id=fields.get("srctrxid", "") if is_refund else fields["trxid"],
        amount_fen=int(fields["trxamt"]),
    )
