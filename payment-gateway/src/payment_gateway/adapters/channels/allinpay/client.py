"""Allinpay 收银宝 calls of a POS merchant: the transaction query (统一查询) for reservations
whose result notification did not arrive, and the refund (`POST /apiweb/tranx/refund`:
`reqsn` = our refund number, `oldreqsn` = the payment's, `trxamt`; answered like a query, a
synchronous success is confirmed by querying the refund's `reqsn`). Payments still start
with an order QR (pos_client.py).

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
from collections.abc import Mapping, Sequence
from typing import Final

from payment_gateway.adapters.channels.allinpay import protocol
from payment_gateway.adapters.channels.allinpay.notification import trxstatus_outcome
from payment_gateway.adapters.channels.client_base import (
    ChannelHttp,
    ClientOptions,
    PaymentQueryResult,
    RefundAnswer,
    RefundOrder,
)
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.adapters.channels.pos_client import PosOrderQrClient
from payment_gateway.adapters.channels.rsa_signing import sign_b64
from payment_gateway.adapters.channels.wire_format import encode_form, parse_json_object
from payment_gateway.domain.outcomes import ChannelOutcome, RefundOutcome
from payment_gateway.errors import (
    ChannelProtocolError,
    ChannelRefused,
    ChannelUnreachable,
)

QUERY_PATH: Final = "/apiweb/tranx/query"
REFUND_PATH: Final = "/apiweb/tranx/refund"
API_VERSION: Final = "11"
NOT_FOUND_TRXSTATUS: Final = "1001"


class AllinpayPosClient(PosOrderQrClient):
    """Order QR to start; the 收银宝 query to learn what became of a reservation."""

    def __init__(self, keys: ChannelKeySet, http: ChannelHttp, options: ClientOptions) -> None:
        super().__init__(keys, http, options)
        self._keys, self._http = keys, http

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        del method
        return query_result(await self._call(QUERY_PATH, out_trade_no))

    async def refund(self, order: RefundOrder) -> RefundAnswer:
        """退货 of the payment (`oldreqsn` = its order number): a synchronous success is not
        final (the scheduler confirms it by querying the refund's `reqsn`)."""
        extra = [("oldreqsn", order.out_trade_no), ("trxamt", str(order.refund_amount_fen))]
        answer = await self._call(REFUND_PATH, order.out_refund_no, extra=extra)
        result = query_result(answer)
        if result.outcome is ChannelOutcome.FAILED:
            raise ChannelRefused(result.channel_status, answer.get("errmsg", ""))
        return RefundAnswer(
            outcome=RefundOutcome.PROCESSING,
            channel_status=result.channel_status,
            channel_refund_id=answer.get("trxid") or None,
        )

    async def query_refund(self, order: RefundOrder) -> RefundAnswer:
        """The refund's own transaction, queried by its `reqsn` (our refund number)."""
        result = query_result(await self._call(QUERY_PATH, order.out_refund_no))
        outcome = {
            ChannelOutcome.SUCCEEDED: RefundOutcome.SUCCEEDED,
            ChannelOutcome.FAILED: RefundOutcome.FAILED,
            ChannelOutcome.NOT_FOUND: RefundOutcome.NOT_FOUND,
            ChannelOutcome.PENDING: RefundOutcome.PROCESSING,
        }.get(result.outcome, RefundOutcome.UNKNOWN)
        if outcome is RefundOutcome.SUCCEEDED and result.amount_fen != order.refund_amount_fen:
            raise ChannelUnreachable("refund query amount is not the refund's")
        return RefundAnswer(
            outcome=outcome,
            channel_status=result.channel_status,
            channel_refund_id=result.channel_txn_id,
        )

    async def _call(
        self, path: str, reqsn: str, *, extra: Sequence[tuple[str, str]] = ()
    ) -> dict[str, str]:
        """A signed request about `reqsn` and its verified answer about the same order."""
        pairs = [
            ("appid", self._keys.id("appid")),
            ("cusid", self._keys.id("cusid")),
            ("randomstr", secrets.token_hex(8)),
            ("reqsn", reqsn),
            ("signtype", protocol.SIGN_TYPE_RSA),
            ("version", API_VERSION),
            *extra,
        ]
        content = protocol.sign_content(pairs).encode(protocol.CHARSET)
        sign = sign_b64(self._keys.merchant_private_key, content, "sha1")
        body = encode_form([*pairs, ("sign", sign)], protocol.CHARSET)
        response = await self._http.request(
            "POST",
            path,
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
        )
        answer = self._verified(response.content)
        if answer.get("reqsn") != reqsn:
            raise ChannelUnreachable("answer is about another order")
        return answer

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
