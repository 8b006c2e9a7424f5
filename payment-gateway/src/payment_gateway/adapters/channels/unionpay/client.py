"""UnionPay ACP transaction query (交易状态查询, `txnType=00`) for POS reservations whose
back notification did not arrive; payments still start with an order QR (pos_client.py).

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
    PaymentQueryResult,
)
from payment_gateway.adapters.channels.contract import channel_time
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.adapters.channels.pos_client import PosOrderQrClient
from payment_gateway.adapters.channels.rsa_signing import sign_b64
from payment_gateway.adapters.channels.unionpay import certs, protocol
from payment_gateway.adapters.channels.wire_format import Charset, encode_form
from payment_gateway.domain.outcomes import ChannelOutcome
from payment_gateway.errors import (
    ChannelProtocolError,
    ChannelRefused,
    ChannelUnreachable,
    MoneyFormatError,
)

QUERY_PATH: Final = "/gateway/api/queryTrans.do"
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
        now_s = self._options.now_s()
        pairs = [
            ("accessType", "0"),
            ("bizType", "000000"),
            ("certId", self._keys.id("certId")),
            ("encoding", "UTF-8"),
            ("merId", self._keys.id("merId")),
            ("orderId", out_trade_no),
            ("signMethod", protocol.SIGN_METHOD_RSA),
            ("txnSubType", "00"),
            ("txnTime", channel_time(now_s).strftime("%Y%m%d%H%M%S")),
            ("txnType", "00"),
            ("version", protocol.VERSION),
        ]
        body = _signed_request(pairs, self._keys.merchant_private_key)
        response = await self._http.request(
            "POST", QUERY_PATH, content=body, headers={"Content-Type": CONTENT_TYPE}
        )
        fields = self._verified(response.content, now_s=now_s)
        if fields.get("merId") != self._keys.id("merId") or fields.get("orderId") != out_trade_no:
            raise ChannelUnreachable("query answer is about another merchant or order")
        return query_result(fields)

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
