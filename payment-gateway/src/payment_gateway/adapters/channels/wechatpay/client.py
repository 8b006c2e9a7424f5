"""WeChat Pay APIv3 server API, our side (agreed paths, docs/channel-formats.md §1).

* ``POST /v3/pay/transactions/app`` → ``{"prepay_id"}``; the app gets the signed parameters
  (``build_app_pay_params``) — the app pays, WeChat notifies.
* ``GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…`` → the transaction.
* ``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close`` ``{"mchid"}`` → 204.
* ``POST /v3/refund/domestic/refunds`` and ``GET /v3/refund/domestic/refunds/{out_refund_no}``.
* Payment codes (method ``bar_code``) are charged, queried and reversed through API v2
  (``micropay.py``: XML, the API v2 key); their refunds take the v3 refund call like any
  other WeChat payment.

Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 …`` (merchant key, our certificate
serial ``merchant_serial``); answers carry ``Wechatpay-*`` headers signed with the platform
key, verified before anything in them is used (2xx answers must be signed).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final
from urllib.parse import quote

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.client_base import (
    PAYMENT_CODE_METHOD,
    ChannelHttp,
    ClientOptions,
    PaymentCodeCharge,
    PaymentQueryResult,
    RefundAnswer,
    RefundOrder,
    StartPayment,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.wechatpay import protocol
from payment_gateway.adapters.channels.wechatpay.micropay import MicropayApi
from payment_gateway.adapters.channels.wire_format import dump_json_compact, parse_json_object
from payment_gateway.domain.outcomes import ChannelOutcome, RefundOutcome
from payment_gateway.errors import CallbackRejected, ChannelRefused, ChannelUnreachable

CHANNEL: Final = ChannelCode.WECHATPAY
TRADE_STATES: Final[Mapping[str, ChannelOutcome]] = MappingProxyType(
    {
        "SUCCESS": ChannelOutcome.SUCCEEDED,
        "REFUND": ChannelOutcome.SUCCEEDED,  # 转入退款: it was paid
        "NOTPAY": ChannelOutcome.PENDING,
        "USERPAYING": ChannelOutcome.PENDING,
        "ACCEPT": ChannelOutcome.PENDING,
        "CLOSED": ChannelOutcome.CLOSED,
        "REVOKED": ChannelOutcome.CLOSED,
        "PAYERROR": ChannelOutcome.FAILED,
    }
)
REFUND_STATES: Final[Mapping[str, RefundOutcome]] = MappingProxyType(
    {
        "SUCCESS": RefundOutcome.SUCCEEDED,
        "PROCESSING": RefundOutcome.PROCESSING,
        "CLOSED": RefundOutcome.FAILED,
        "ABNORMAL": RefundOutcome.FAILED,
    }
)
NOT_FOUND_CODES: Final = frozenset({"ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS", "NOT_FOUND"})


class WechatPayClient:
    """WeChat Pay APIv3 calls signed with our merchant key."""

    def __init__(self, keys: ChannelKeySet, http: ChannelHttp, options: ClientOptions) -> None:
        self._keys = keys
        self._http = http
        self._options = options
        self._mchid = keys.id("mchid")
        self._appid = keys.id("appid")
        self._merchant_serial = keys.id("merchant_serial")
        self._platform_keys = MappingProxyType({keys.id("serial"): keys.channel_public_key})
        self._micropay = MicropayApi(keys, http, options, TRADE_STATES)

    @property
    def channel(self) -> ChannelCode:
        return CHANNEL

    async def start_payment(self, order: StartPayment) -> dict[str, str]:
        body = {
            "appid": self._appid,
            "mchid": self._mchid,
            "description": order.description,
            "out_trade_no": order.out_trade_no,
            "notify_url": order.notify_url,
            "amount": {"total": order.amount_fen, "currency": "CNY"},
        }
        status, data = await self._call("POST", "/v3/pay/transactions/app", body)
        if status != 200:
            raise _refusal(status, data)
        prepay_id = data.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise ChannelUnreachable("prepay answer without prepay_id")
        params = protocol.build_app_pay_params(
            appid=self._appid,
            mchid=self._mchid,
            prepay_id=prepay_id,
            private_key=self._keys.merchant_private_key,
            timestamp_s=self._options.now_s(),
        )
        return params.as_dict()

    async def pay_with_code(self, charge: PaymentCodeCharge) -> PaymentQueryResult:
        """付款码: API v2 micropay (micropay.py)."""
        return await self._micropay.pay(charge)

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        if method == PAYMENT_CODE_METHOD:
            return await self._micropay.query(out_trade_no)
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}"
        status, data = await self._call("GET", f"{path}?mchid={quote(self._mchid, safe='')}", None)
        if status == 404 or (status >= 400 and data.get("code") in NOT_FOUND_CODES):
            return PaymentQueryResult(outcome=ChannelOutcome.NOT_FOUND, channel_status="NOT_FOUND")
        if status != 200:
            raise _refusal(status, data)
        if (
            data.get("mchid", self._mchid) != self._mchid
            or data.get("out_trade_no") != out_trade_no
        ):
            raise ChannelUnreachable("query answer is about another merchant or order")
        trade_state = _text(data, "trade_state")
        amount = data.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        return PaymentQueryResult(
            outcome=TRADE_STATES.get(trade_state, ChannelOutcome.PENDING),
            channel_status=trade_state,
            channel_txn_id=_optional_text(data, "transaction_id"),
            amount_fen=total if isinstance(total, int) and not isinstance(total, bool) else None,
        )

    async def close_payment(self, out_trade_no: str, method: str) -> None:
        if method == PAYMENT_CODE_METHOD:  # a payment code is reversed (撤销), not closed
            await self._micropay.reverse(out_trade_no)
            return
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        status, data = await self._call("POST", path, {"mchid": self._mchid})
        if status not in (200, 204):
            raise _refusal(status, data)

    async def refund(self, order: RefundOrder) -> RefundAnswer:
        body = {
            "out_trade_no": order.out_trade_no,
            "out_refund_no": order.out_refund_no,
            "reason": order.reason,
            "notify_url": order.notify_url,
            "amount": {
                "refund": order.refund_amount_fen,
                "total": order.payment_amount_fen,
                "currency": "CNY",
            },
        }
        status, data = await self._call("POST", "/v3/refund/domestic/refunds", body)
        if status != 200:
            raise _refusal(status, data)
        return _refund_answer(data, order)

    async def query_refund(self, order: RefundOrder) -> RefundAnswer:
        path = f"/v3/refund/domestic/refunds/{quote(order.out_refund_no, safe='')}"
        status, data = await self._call("GET", path, None)
        if status == 404 or (status >= 400 and data.get("code") in NOT_FOUND_CODES):
            return RefundAnswer(outcome=RefundOutcome.NOT_FOUND, channel_status="NOT_FOUND")
        if status != 200:
            raise _refusal(status, data)
        return _refund_answer(data, order)

    async def _call(
        self, method: str, path: str, body: Mapping[str, object] | None
    ) -> tuple[int, dict[str, object]]:
        content = dump_json_compact(dict(body)) if body is not None else b""
        authorization = protocol.build_authorization(
            method,
            path,
            content,
            mchid=self._mchid,
            serial_no=self._merchant_serial,
            private_key=self._keys.merchant_private_key,
            timestamp_s=self._options.now_s(),
        )
        headers = {"Authorization": authorization, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = await self._http.request(
            method, path, content=content if body is not None else None, headers=headers
        )
        signed = protocol.HEADER_SIGNATURE in response.headers
        if response.status_code < 300 or signed:
            try:
                protocol.verify_signed_headers(
                    response.headers,
                    response.content,
                    platform_keys=self._platform_keys,
                    now_s=self._options.now_s(),
                    clock_skew_max_s=self._options.clock_skew_max_s,
                )
            except CallbackRejected as exc:
                raise ChannelUnreachable(f"answer signature: {exc.reason_code}") from None
        if not response.content.strip():
            return response.status_code, {}
        try:
            return response.status_code, parse_json_object(response.content, "answer")
        except CallbackRejected:
            raise ChannelUnreachable("answer is not a JSON object") from None


def _refusal(status: int, data: Mapping[str, object]) -> ChannelRefused:
    code = data.get("code")
    message = data.get("message")
    return ChannelRefused(
        code if isinstance(code, str) and code else f"HTTP_{status}",
        message if isinstance(message, str) else "",
    )


def _refund_answer(data: Mapping[str, object], order: RefundOrder) -> RefundAnswer:
    if data.get("out_refund_no", order.out_refund_no) != order.out_refund_no:
        raise ChannelUnreachable("refund answer is about another refund")
    status = _text(data, "status")
    return RefundAnswer(
        outcome=REFUND_STATES.get(status, RefundOutcome.PROCESSING),
        channel_status=status,
        channel_refund_id=_optional_text(data, "refund_id"),
    )


def _text(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ChannelUnreachable(f"answer without {name}")
    return value


def _optional_text(data: Mapping[str, object], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None
