"""UnionPay ACP back-end calls of a POS merchant: the transaction query (交易状态查询,
`txnType=00`) for reservations whose back notification did not arrive, and the refund (退货,
`txnType=04`, `POST /gateway/api/backTransReq.do` with `origQryId` = the payment's queryId,
`orderId` = our refund number, `txnAmt`, `backUrl`; `respCode` 00 = accepted, the outcome
comes by the refund notification or by querying the refund's orderId). Payments still start
with an order QR (pos_client.py), or with the customer's 云闪付 payment code (被扫):

* 二维码消费 (C2B): ``txnType=01``, ``txnSubType=06``, ``bizType=000000``,
  ``channelType=08``, ``qrNo`` = the scanned code (1–20 digits), ``txnAmt`` in fen,
  ``currencyCode=156``, ``backUrl``, to ``backTransReq.do`` (field set from public copies of
  the ACP demo, [V-3p]). A back-end transaction: ``respCode`` 00 (or 03/04/05) is "accepted",
  never "paid"; the back notification or the query (``txnType=00``) tells the outcome. Any
  other ``respCode`` is a refusal. An unpaid code order is not reversed here: ACP has no
  close for it [I], so it is queried until UnionPay reports it failed (or reconciliation).

`POST /gateway/api/queryTrans.do`, a form signed by us like a notification (5.1.0: the SHA-256
hex digest under SHA256withRSA with `merchant_private.pem`; `certId` names the key: the dev
layout has no merchant certificate, ids.json's certId stands in [I]). The answer is verified
exactly as a notification is (signPubKeyCert through the configured chain, or certId), must be
about our merId and order, and maps:

* `respCode=00`: `origRespCode` 00 / A6 → succeeded (with `queryId` and `txnAmt`, CNY only),
  03 / 04 / 05 → pending, anything else → failed;
* `respCode=34` (查无此交易): not found (nobody swiped yet);
* `respCode` 03 / 04 / 05 (the query itself in process): unknown;
* any other `respCode`: refused (ChannelRefused, e.g. 11 bad signature).
An unsigned, badly signed or unreadable answer is unknown (ChannelUnreachable), never failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from payment_gateway.adapters.channels.client_base import (
    ChannelHttp,
    ClientOptions,
    PaymentCodeCharge,
    PaymentQueryResult,
    RefundAnswer,
    RefundOrder,
)
from payment_gateway.adapters.channels.contract import channel_time
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.adapters.channels.pos_client import PosOrderQrClient
from payment_gateway.adapters.channels.rsa_signing import sign_b64
from payment_gateway.adapters.channels.unionpay import certs, protocol
from payment_gateway.adapters.channels.wire_format import Charset, encode_form
from payment_gateway.domain.outcomes import ChannelOutcome, RefundOutcome
from payment_gateway.errors import (
    ChannelProtocolError,
    ChannelRefused,
    ChannelUnreachable,
    MoneyFormatError,
)

QUERY_PATH: Final = "/gateway/api/queryTrans.do"
BACK_TRANS_PATH: Final = "/gateway/api/backTransReq.do"
CONTENT_TYPE: Final = "application/x-www-form-urlencoded; charset=UTF-8"
CHARSET: Final[Charset] = "utf-8"
SUCCESS_ORIG_CODES: Final = frozenset({"00", "A6"})
PENDING_CODES: Final = frozenset({"03", "04", "05"})
NOT_FOUND_CODE: Final = "34"


class UnionPayPosClient(PosOrderQrClient):
    """Order QR to start; the ACP query to learn what became of a reservation."""

    def __init__(self, keys: ChannelKeySet, http: ChannelHttp, options: ClientOptions) -> None:
        super().__init__(keys, http, options)
        self._keys, self._http, self._options = keys, http, options
        self._chain = certs.TrustChain.of_pems(keys.certificates)

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        del method
        return query_result(await self._query(out_trade_no))

    async def pay_with_code(self, charge: PaymentCodeCharge) -> PaymentQueryResult:
        """二维码消费 (被扫) with the customer's code: accepted (pending) or ChannelRefused."""
        fields = await self._call(
            BACK_TRANS_PATH,
            charge.out_trade_no,
            txn_type="01",
            txn_sub_type="06",
            biz_type="000000",
            extra=[
                ("backUrl", charge.notify_url),
                ("channelType", "08"),
                ("currencyCode", protocol.CNY_NUMERIC),
                ("qrNo", charge.auth_code),
                ("txnAmt", str(charge.amount_fen)),
            ],
        )
        code, query_id = _accepted(fields)
        return PaymentQueryResult(
            outcome=ChannelOutcome.PENDING,
            channel_status=f"accepted:{code}",
            channel_txn_id=query_id,
        )

    async def refund(self, order: RefundOrder) -> RefundAnswer:
        """退货 (txnType 04) of the payment named by its queryId; accepted is never final."""
        if not order.channel_txn_id:
            raise ChannelRefused("no_query_id", "the payment has no UnionPay queryId")
        fields = await self._call(
            BACK_TRANS_PATH,
            order.out_refund_no,
            txn_type="04",
            txn_sub_type="00",
            biz_type="000201",
            extra=[
                ("backUrl", order.notify_url),
                ("origQryId", order.channel_txn_id),
                ("txnAmt", str(order.refund_amount_fen)),
            ],
        )
        code, query_id = _accepted(fields)
        return RefundAnswer(
            outcome=RefundOutcome.PROCESSING, channel_status=code, channel_refund_id=query_id
        )

    async def query_refund(self, order: RefundOrder) -> RefundAnswer:
        """The refund's own transaction, queried by its orderId (our refund number)."""
        result = query_result(await self._query(order.out_refund_no))
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

    async def _query(self, order_id: str) -> dict[str, str]:
        return await self._call(
            QUERY_PATH, order_id, txn_type="00", txn_sub_type="00", biz_type="000000"
        )

    async def _call(
        self,
        path: str,
        order_id: str,
        *,
        txn_type: str,
        txn_sub_type: str,
        biz_type: str,
        extra: Sequence[tuple[str, str]] = (),
    ) -> dict[str, str]:
        """A signed back-end request and its verified answer about our merId and order."""
        now_s = self._options.now_s()
        pairs = [
            ("accessType", "0"),
            ("bizType", biz_type),
            ("certId", self._keys.id("certId")),
            ("encoding", "UTF-8"),
            ("merId", self._keys.id("merId")),
            ("orderId", order_id),
            ("signMethod", protocol.SIGN_METHOD_RSA),
            ("txnSubType", txn_sub_type),
            ("txnTime", channel_time(now_s).strftime("%Y%m%d%H%M%S")),
            ("txnType", txn_type),
            ("version", protocol.VERSION),
            *extra,
        ]
        body = _signed_request(pairs, self._keys.merchant_private_key)
        response = await self._http.request(
            "POST", path, content=body, headers={"Content-Type": CONTENT_TYPE}
        )
        fields = self._verified(response.content, now_s=now_s)
        if fields.get("merId") != self._keys.id("merId") or fields.get("orderId") != order_id:
            raise ChannelUnreachable("answer is about another merchant or order")
        return fields

    def _verified(self, raw: bytes, *, now_s: int) -> dict[str, str]:
        try:
            fields, charset = protocol.decode_notification_form(raw)
            protocol.verify_notification_signature(
                fields,
                charset,
                unionpay_public_key=self._keys.channel_public_key,
                expected_cert_id=self._keys.id("certId"),
                chain=self._chain,
                now=channel_time(now_s),
            )
        except ChannelProtocolError as exc:
            raise ChannelUnreachable(f"query answer not verified: {exc}") from None
        return fields


def _accepted(fields: Mapping[str, str]) -> tuple[str, str | None]:
    """A back-end transaction's answer: accepted (respCode 00 or in process) with its
    queryId, else ChannelRefused. Accepted is never final."""
    code = fields.get("respCode", "")
    if code == "00" or code in PENDING_CODES:
        return code, fields.get("queryId") or None
    raise ChannelRefused(code or "no_code", fields.get("respMsg", ""))


def _signed_request(pairs: Sequence[tuple[str, str]], key: rsa.RSAPrivateKey) -> bytes:
    """Our request form, signed with our key as ACP 5.1.0 signs (hex SHA-256 digest)."""
    digest = protocol.signed_digest(protocol.sign_content(pairs), CHARSET, "sha256")
    signature = sign_b64(key, digest, "sha256")
    return encode_form([*pairs, (protocol.SIGNATURE_FIELD, signature)], CHARSET)


def query_result(fields: Mapping[str, str]) -> PaymentQueryResult:
    """A verified query answer as a channel-neutral result (see the module docstring)."""
    code = fields.get("respCode", "")
    if code == NOT_FOUND_CODE:
        return PaymentQueryResult(outcome=ChannelOutcome.NOT_FOUND, channel_status=code)
    if code in PENDING_CODES:
        return PaymentQueryResult(outcome=ChannelOutcome.UNKNOWN, channel_status=code)
    if code != "00":
        raise ChannelRefused(code, fields.get("respMsg", ""))
    orig = fields.get("origRespCode", "")
    if orig in PENDING_CODES:
        return PaymentQueryResult(outcome=ChannelOutcome.PENDING, channel_status=orig)
    if orig not in SUCCESS_ORIG_CODES:
        return PaymentQueryResult(outcome=ChannelOutcome.FAILED, channel_status=orig or code)
    currency = fields.get("currencyCode", protocol.CNY_NUMERIC)
    if currency != protocol.CNY_NUMERIC:
        raise ChannelUnreachable(f"query answer currency {currency[:8]!r} is not CNY")
    try:
        amount_fen = fen_text_to_fen(fields.get("txnAmt", ""))
    except MoneyFormatError:
        raise ChannelUnreachable("query answer txnAmt is not a whole number of fen") from None
    return PaymentQueryResult(
        outcome=ChannelOutcome.SUCCEEDED,
        channel_status=orig,
        channel_txn_id=fields.get("queryId") or None,
        amount_fen=amount_fen,
    )
