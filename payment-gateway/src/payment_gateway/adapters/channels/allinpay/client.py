"""Allinpay 收银宝 transaction query (统一查询) for POS reservations whose result notification
did not arrive; payments still start with an order QR (pos_client.py).

`POST /apiweb/tranx/query`, a form (`cusid`, `appid`, `version=11`, `reqsn` = our order number,
`randomstr`, `signtype=RSA`, `sign`) signed with SHA1WithRSA over the sorted non-empty
parameters (`merchant_private.pem`), as the notifications are signed. The answer is JSON
signed the same way by Allinpay over its fields (verified with the Allinpay key), must be about
our cusid / appid and order, and maps:

* `retcode=SUCCESS`: `trxstatus` 0000 → succeeded (with `trxid`, `trxamt` in fen), 2000 / 2008 →
  pending, 1001 (交易不存在) → not found, 3xxx → failed, anything else → pending;
* `retcode=FAIL` (the request was refused): ChannelRefused.
An unsigned, badly signed or unreadable answer is unknown (ChannelUnreachable). [I]: the field
set follows the 收银宝 query API; docs/channel-formats.md §6.1 does not print it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Final

from payment_gateway.adapters.channels.allinpay import protocol
from payment_gateway.adapters.channels.allinpay.notification import trxstatus_outcome
from payment_gateway.adapters.channels.client_base import (
    ChannelHttp,
    ClientOptions,
    PaymentQueryResult,
)
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.adapters.channels.pos_client import PosOrderQrClient
from payment_gateway.adapters.channels.rsa_signing import sign_b64
from payment_gateway.adapters.channels.wire_format import encode_form, parse_json_object
from payment_gateway.domain.outcomes import ChannelOutcome
from payment_gateway.errors import (
    ChannelProtocolError,
    ChannelRefused,
    ChannelUnreachable,
)

QUERY_PATH: Final = "/apiweb/tranx/query"
API_VERSION: Final = "11"
NOT_FOUND_TRXSTATUS: Final = "1001"


class AllinpayPosClient(PosOrderQrClient):
    """Order QR to start; the 收银宝 query to learn what became of a reservation."""

    def __init__(self, keys: ChannelKeySet, http: ChannelHttp, options: ClientOptions) -> None:
        super().__init__(keys, http, options)
        self._keys, self._http = keys, http

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        del method
        pairs = [
            ("appid", self._keys.id("appid")),
            ("cusid", self._keys.id("cusid")),
            ("randomstr", secrets.token_hex(8)),
            ("reqsn", out_trade_no),
            ("signtype", protocol.SIGN_TYPE_RSA),
            ("version", API_VERSION),
        ]
        content = protocol.sign_content(pairs).encode(protocol.CHARSET)
        sign = sign_b64(self._keys.merchant_private_key, content, "sha1")
        body = encode_form([*pairs, ("sign", sign)], protocol.CHARSET)
        response = await self._http.request(
            "POST",
            QUERY_PATH,
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
        )
        answer = self._verified(response.content)
        if answer.get("reqsn") != out_trade_no:
            raise ChannelUnreachable("query answer is about another order")
        return query_result(answer)

    def _verified(self, raw: bytes) -> dict[str, str]:
        try:
            document = parse_json_object(raw, "query answer")
        except ChannelProtocolError:
            raise ChannelUnreachable("query answer is not a JSON object") from None
        fields = {k: v for k, v in document.items() if isinstance(v, str)}
        if fields.get("retcode") == "FAIL" and "sign" not in fields:
            raise ChannelRefused("FAIL", fields.get("retmsg", ""))
        try:
            protocol.verify_notification_signature(
                fields, allinpay_public_key=self._keys.channel_public_key
            )
        except ChannelProtocolError as exc:
            raise ChannelUnreachable(f"query answer not verified: {exc}") from None
        if fields.get("cusid") != self._keys.id("cusid") or fields.get("appid") != self._keys.id(
            "appid"
        ):
            raise ChannelUnreachable("query answer is about another merchant")
        return fields


def query_result(fields: Mapping[str, str]) -> PaymentQueryResult:
    """A verified query answer as a channel-neutral result (see the module docstring)."""
    if fields.get("retcode") != "SUCCESS":
        raise ChannelRefused(fields.get("retcode", "") or "FAIL", fields.get("retmsg", ""))
    status = fields.get("trxstatus", "")
    if status == NOT_FOUND_TRXSTATUS:
        return PaymentQueryResult(outcome=ChannelOutcome.NOT_FOUND, channel_status=status)
    outcome = trxstatus_outcome(status, NotificationKind.PAYMENT)
    match outcome:
        case Outcome.SUCCEEDED:
            try:
                amount_fen = fen_text_to_fen(fields.get("trxamt", ""))
            except ChannelProtocolError:
                raise ChannelUnreachable(
                    "query answer trxamt is not a whole number of fen"
                ) from None
            return PaymentQueryResult(
                outcome=ChannelOutcome.SUCCEEDED,
                channel_status=status,
                channel_txn_id=fields.get("trxid") or None,
                amount_fen=amount_fen,
            )
        case Outcome.FAILED:
            return PaymentQueryResult(outcome=ChannelOutcome.FAILED, channel_status=status)
        case _:
            return PaymentQueryResult(outcome=ChannelOutcome.PENDING, channel_status=status)
