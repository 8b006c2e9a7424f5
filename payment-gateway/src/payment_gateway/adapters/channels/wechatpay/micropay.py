"""WeChat Pay 付款码支付 (micropay), API v2 — the customer's payment code, scanned at the till.

Calls (XML over HTTPS, signed HMAC-SHA256 with the API v2 key, see `v2`):

* ``POST /pay/micropay`` (appid, mch_id, nonce_str, sign_type, body, out_trade_no, total_fee
  in fen, fee_type CNY, spbill_create_ip, auth_code): ``result_code=SUCCESS`` paid (the caller
  confirms it by query); ``err_code=USERPAYING`` the customer is entering a password (query
  until paid or timed out); ``SYSTEMERROR`` / ``BANKERROR`` unknown (query); any other
  ``err_code`` (``AUTHCODEEXPIRE``, ``AUTH_CODE_INVALID``, ``NOTENOUGH`` …) refused.
* ``POST /pay/orderquery`` (out_trade_no): ``trade_state`` → ours (client.TRADE_STATES);
  ``err_code=ORDERNOTEXIST`` not found.
* ``POST /secapi/pay/reverse`` (out_trade_no): 撤销, called when "user paying" outlives our
  wait: an unpaid order is closed, a paid one refunded; ``recall=Y`` (or no answer) means
  call again (the scheduler does on its next round). WeChat asks for at least 15 s between
  the charge and a reverse; PAYMENT_CODE_WAIT_S is longer.

Every answer with ``return_code=SUCCESS`` must carry a valid ``sign`` and our appid and
mch_id; an unsigned, badly signed or foreign answer is unknown (ChannelUnreachable), never
paid. ``return_code=FAIL`` answers are unsigned communication errors: unknown too.

``/secapi/pay/reverse`` requires the merchant's API client certificate (mutual TLS): it goes
through ``ChannelHttp.mutual_tls``, the channel's base URL on an httpx client that presents
``apiclient_cert.pem`` with our merchant key (bootstrap builds it once, with the shared
client's timeouts and limits); the other calls take the shared client. Without that client,
or when the server refuses the handshake (no or another certificate), the reverse is
ChannelUnreachable: the payment stays open for the queries and reconciliation, never paid.
The channel sandbox checks the certificate when its secapi listener runs TLS
(docs/offline-payments.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Final, NoReturn

from payment_gateway.adapters.channels.client_base import (
    ChannelHttp,
    ClientOptions,
    PaymentCodeCharge,
    PaymentQueryResult,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.wechatpay import v2
from payment_gateway.domain.outcomes import ChannelOutcome
from payment_gateway.errors import ChannelRefused, ChannelUnreachable

MICROPAY_PATH: Final = "/pay/micropay"
ORDER_QUERY_PATH: Final = "/pay/orderquery"
SECAPI_PREFIX: Final = "/secapi/"  # calls that need our API client certificate
REVERSE_PATH: Final = SECAPI_PREFIX + "pay/reverse"
SUCCESS: Final = "SUCCESS"
USER_PAYING: Final = "USERPAYING"
ORDER_NOT_EXIST: Final = "ORDERNOTEXIST"
UNKNOWN_ERR_CODES: Final = frozenset({"SYSTEMERROR", "BANKERROR"})
SPBILL_CREATE_IP: Final = "127.0.0.1"  # the till's IP; WeChat only records it [I]
CONTENT_TYPE: Final = "text/xml; charset=utf-8"


class MicropayApi:
    """The three v2 calls of a payment code."""

    def __init__(
        self,
        keys: ChannelKeySet,
        http: ChannelHttp,
        options: ClientOptions,
        trade_states: Mapping[str, ChannelOutcome],
    ) -> None:
        self._http = http
        self._secapi = http.mutual_tls
        self._key = keys.require_apiv2_key()
        self._appid = keys.id("appid")
        self._mchid = keys.id("mchid")
        self._trade_states = trade_states
        del options

    async def pay(self, charge: PaymentCodeCharge) -> PaymentQueryResult:
        """Charge the code (see the module docstring)."""
        answer = await self._call(
            MICROPAY_PATH,
            {
                "body": charge.description,
                "out_trade_no": charge.out_trade_no,
                "total_fee": str(charge.amount_fen),
                "fee_type": "CNY",
                "spbill_create_ip": SPBILL_CREATE_IP,
                "auth_code": charge.auth_code,
            },
        )
        if answer.get("result_code") != SUCCESS:
            code = answer.get("err_code", "")
            if code == USER_PAYING:
                return PaymentQueryResult(outcome=ChannelOutcome.PENDING, channel_status=code)
            _raise_error(answer)
        _require_order(answer, charge.out_trade_no)
        return PaymentQueryResult(
            outcome=ChannelOutcome.SUCCEEDED,
            channel_status=SUCCESS,
            channel_txn_id=answer.get("transaction_id") or None,
            amount_fen=_fen(answer.get("total_fee")),
        )

    async def query(self, out_trade_no: str) -> PaymentQueryResult:
        """``/pay/orderquery`` by our order number."""
        answer = await self._call(ORDER_QUERY_PATH, {"out_trade_no": out_trade_no})
        if answer.get("result_code") != SUCCESS:
            if answer.get("err_code") == ORDER_NOT_EXIST:
                return PaymentQueryResult(outcome=ChannelOutcome.NOT_FOUND, channel_status="NONE")
            _raise_error(answer)
        _require_order(answer, out_trade_no)
        state = answer.get("trade_state", "")
        if not state:
            raise ChannelUnreachable("orderquery answer without trade_state")
        return PaymentQueryResult(
            outcome=self._trade_states.get(state, ChannelOutcome.PENDING),
            channel_status=state,
            channel_txn_id=answer.get("transaction_id") or None,
            amount_fen=_fen(answer.get("total_fee")),
        )

    async def reverse(self, out_trade_no: str) -> None:
        """撤销: done when WeChat says so without asking to call again."""
        answer = await self._call(REVERSE_PATH, {"out_trade_no": out_trade_no})
        if answer.get("result_code") != SUCCESS:
            if answer.get("err_code") == ORDER_NOT_EXIST:
                return  # never reached WeChat: nothing to reverse
            _raise_error(answer)
        if answer.get("recall") == "Y":
            raise ChannelUnreachable("reverse: WeChat asks to call again (recall=Y)")

    async def _call(self, path: str, fields: Mapping[str, str]) -> dict[str, str]:
        request = {
            "appid": self._appid,
            "mch_id": self._mchid,
            "nonce_str": secrets.token_hex(16),
            "sign_type": v2.SIGN_TYPE_HMAC_SHA256,
            **fields,
        }
        request[v2.SIGN_FIELD] = v2.sign(request, self._key, v2.SIGN_TYPE_HMAC_SHA256)
        response = await self._http_for(path).request(
            "POST", path, content=v2.dump_xml(request), headers={"Content-Type": CONTENT_TYPE}
        )
        if response.status_code != 200:
            raise ChannelUnreachable(f"{path}: HTTP {response.status_code}")
        return self._verified(response.content, path)

    def _http_for(self, path: str) -> ChannelHttp:
        """The client-certificate client for ``/secapi/`` paths, the shared one otherwise."""
        if not path.startswith(SECAPI_PREFIX):
            return self._http
        if self._secapi is None:
            raise ChannelUnreachable(f"{path}: no API client certificate configured")
        return self._secapi

    def _verified(self, raw: bytes, path: str) -> dict[str, str]:
        try:
            answer = v2.parse_xml(raw)
        except v2.V2FormatError as exc:
            raise ChannelUnreachable(f"{path}: {exc}") from None
        if answer.get("return_code") != SUCCESS:
            message = answer.get("return_msg", "")[:64]
            raise ChannelUnreachable(f"{path}: return_code FAIL ({message})")
        if not v2.verify(answer, self._key, v2.SIGN_TYPE_HMAC_SHA256):
            raise ChannelUnreachable(f"{path}: answer sign missing or wrong")
        if answer.get("appid") != self._appid or answer.get("mch_id") != self._mchid:
            raise ChannelUnreachable(f"{path}: answer is about another appid or mch_id")
        return answer


def _raise_error(answer: Mapping[str, str]) -> NoReturn:
    code = answer.get("err_code", "") or "UNKNOWN"
    if code in UNKNOWN_ERR_CODES:
        raise ChannelUnreachable(f"WeChat {code}: outcome unknown, query")
    raise ChannelRefused(code, answer.get("err_code_des", ""))


def _require_order(answer: Mapping[str, str], out_trade_no: str) -> None:
    if answer.get("out_trade_no", out_trade_no) != out_trade_no:
        raise ChannelUnreachable("answer is about another order")


def _fen(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ChannelUnreachable("total_fee is not a whole number of fen")
    return int(value)
