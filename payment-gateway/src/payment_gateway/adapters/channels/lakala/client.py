"""Lakala open platform v3 server API, our side, one adapter for five methods (§6.2).

* 聚合扫码 (labs), code BBS00000: ``/api/v3/labs/trans/preorder`` (native QR for WECHAT or
  ALIPAY: methods ``wechat_qr`` / ``alipay_qr``), ``/api/v3/labs/query/tradequery``,
  ``/api/v3/labs/relation/refund``.
* 收银台 (ccss), code 000000: ``/api/v3/ccss/counter/order/create`` (methods
  ``app_quick_pay``, ``web_banking``, ``web_quick_pay``) and ``/api/v3/ccss/counter/order/query``.
Envelope ``{"req_time","version":"3.0","req_data"}``; requests signed ``LKLAPI-SHA256withRSA``
(merchant key); answers ``{code, msg, resp_time, resp_data}`` verified from the ``Lklapi-*``
headers (Lakala key). Amounts in fen (ccss integers, labs digit strings). A refund is a labs
trade of its own (``out_trade_no`` = our refund number), so it is queried with tradequery.
Lakala offers no close in the agreed API: orders expire on their own (order_efficient_time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.client_base import (
    ChannelHttp,
    ClientOptions,
    PaymentQueryResult,
    RefundAnswer,
    RefundOrder,
    StartPayment,
)
from payment_gateway.adapters.channels.contract import CHANNEL_TZ, channel_time
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.lakala import protocol
from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.adapters.channels.wire_format import dump_json_compact, parse_json_object
from payment_gateway.domain.outcomes import ChannelOutcome, RefundOutcome
from payment_gateway.errors import (
    CallbackRejected,
    ChannelRefused,
    ChannelUnreachable,
    MoneyFormatError,
    OperationNotOffered,
)

CHANNEL: Final = ChannelCode.LAKALA
VERSION: Final = "3.0"
LABS_SUCCESS: Final = "BBS00000"
CCSS_SUCCESS: Final = "000000"
TIME_FORMAT: Final = "%Y%m%d%H%M%S"
PREORDER_PATH: Final = "/api/v3/labs/trans/preorder"
TRADEQUERY_PATH: Final = "/api/v3/labs/query/tradequery"
REFUND_PATH: Final = "/api/v3/labs/relation/refund"
COUNTER_CREATE_PATH: Final = "/api/v3/ccss/counter/order/create"
COUNTER_QUERY_PATH: Final = "/api/v3/ccss/counter/order/query"
NATIVE_TRANS_TYPE: Final = "41"
QR_ACCOUNT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"wechat_qr": "WECHAT", "alipay_qr": "ALIPAY"}
)
COUNTER_PAY_MODES: Final[Mapping[str, str]] = MappingProxyType(
    {"app_quick_pay": "QUICK_PAY", "web_quick_pay": "QUICK_PAY", "web_banking": "EBANK"}
)
TRADE_STATES: Final[Mapping[str, ChannelOutcome]] = MappingProxyType(
    {
        "SUCCESS": ChannelOutcome.SUCCEEDED,
        "PART_REFUND": ChannelOutcome.SUCCEEDED,
        "REFUND": ChannelOutcome.SUCCEEDED,
        "INIT": ChannelOutcome.PENDING,
        "CREATE": ChannelOutcome.PENDING,
        "DEAL": ChannelOutcome.PENDING,
        "UNKNOWN": ChannelOutcome.PENDING,
        "FAIL": ChannelOutcome.FAILED,
        "CLOSE": ChannelOutcome.CLOSED,
        "REVOKED": ChannelOutcome.CLOSED,
    }
)
ORDER_STATUSES: Final[Mapping[str, ChannelOutcome]] = MappingProxyType(
    {
        "0": ChannelOutcome.PENDING,
        "1": ChannelOutcome.PENDING,
        "2": ChannelOutcome.SUCCEEDED,
        "3": ChannelOutcome.FAILED,
        "4": ChannelOutcome.CLOSED,
        "5": ChannelOutcome.CLOSED,
        "6": ChannelOutcome.SUCCEEDED,  # refunded afterwards: it was paid
        "7": ChannelOutcome.CLOSED,
    }
)
REFUND_STATES: Final[Mapping[str, RefundOutcome]] = MappingProxyType(
    {
        "SUCCESS": RefundOutcome.SUCCEEDED,
        "FAIL": RefundOutcome.FAILED,
        "CLOSE": RefundOutcome.FAILED,
        "INIT": RefundOutcome.PROCESSING,
        "CREATE": RefundOutcome.PROCESSING,
        "DEAL": RefundOutcome.PROCESSING,
        "UNKNOWN": RefundOutcome.PROCESSING,
    }
)


def is_counter_method(method: str) -> bool:
    """收银台 (ccss) method, as opposed to a 聚合扫码 QR method."""
    return method in COUNTER_PAY_MODES


class LakalaClient:
    """Lakala calls signed with our merchant key."""

    def __init__(self, keys: ChannelKeySet, http: ChannelHttp, options: ClientOptions) -> None:
        self._keys = keys
        self._http = http
        self._options = options
        self._appid = keys.id("appid")
        self._serial_no = keys.id("serial_no")
        self._merchant_no = keys.id("merchant_no")
        self._term_no = keys.ids.get("term_no") or options.lakala_term_no
        if not self._term_no:
            raise ValueError("Lakala needs a terminal number (LAKALA_TERM_NO or ids.json term_no)")

    @property
    def channel(self) -> ChannelCode:
        return CHANNEL

    async def start_payment(self, order: StartPayment) -> dict[str, str]:
        if is_counter_method(order.method):
            return await self._counter_order(order)
        account_type = QR_ACCOUNT_TYPES.get(order.method)
        if account_type is None:
            raise OperationNotOffered(f"lakala has no method {order.method!r}")
        req = {
            "merchant_no": self._merchant_no,
            "term_no": self._term_no,
            "out_trade_no": order.out_trade_no,
            "account_type": account_type,
            "trans_type": NATIVE_TRANS_TYPE,
            "total_amount": str(order.amount_fen),
            "notify_url": order.notify_url,
            "subject": order.description,
        }
        resp = await self._call(PREORDER_PATH, req, LABS_SUCCESS)
        fields = resp.get("acc_resp_fields")
        code_url = resp.get("code_url") or (
            fields.get("code") if isinstance(fields, dict) else None
        )
        if not isinstance(code_url, str) or not code_url:
            raise ChannelUnreachable("preorder answer without a QR code")
        return {"code_url": code_url, "trade_no": _text_or_empty(resp, "trade_no")}

    async def _counter_order(self, order: StartPayment) -> dict[str, str]:
        req = {
            "out_order_no": order.out_trade_no,
            "merchant_no": self._merchant_no,
            "total_amount": order.amount_fen,
            "order_efficient_time": _lakala_time(order.expires_at),
            "notify_url": order.notify_url,
            "support_refund": 1,
            "order_info": order.description,
            "counter_param": dump_json_compact(
                {"pay_mode": COUNTER_PAY_MODES[order.method]}
            ).decode("utf-8"),
        }
        resp = await self._call(COUNTER_CREATE_PATH, req, CCSS_SUCCESS)
        counter_url = resp.get("counter_url")
        if not isinstance(counter_url, str) or not counter_url:
            raise ChannelUnreachable("counter order answer without counter_url")
        return {"counter_url": counter_url, "pay_order_no": _text_or_empty(resp, "pay_order_no")}

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        if is_counter_method(method):
            req: dict[str, object] = {
                "out_order_no": out_trade_no,
                "merchant_no": self._merchant_no,
            }
            resp = await self._call(COUNTER_QUERY_PATH, req, CCSS_SUCCESS)
            status = str(resp.get("order_status", ""))
            return PaymentQueryResult(
                outcome=ORDER_STATUSES.get(status, ChannelOutcome.PENDING),
                channel_status=status,
                channel_txn_id=_text_or_empty(resp, "pay_order_no") or None,
                amount_fen=_fen(resp.get("total_amount")),
            )
        resp = await self._call(TRADEQUERY_PATH, self._trade_ref(out_trade_no), LABS_SUCCESS)
        state = _text_or_empty(resp, "trade_state")
        return PaymentQueryResult(
            outcome=TRADE_STATES.get(state, ChannelOutcome.PENDING),
            channel_status=state,
            channel_txn_id=_text_or_empty(resp, "trade_no") or None,
            amount_fen=_fen(resp.get("total_amount")),
        )

    async def close_payment(self, out_trade_no: str, method: str) -> None:
        raise OperationNotOffered("Lakala orders expire on their own")

    async def refund(self, order: RefundOrder) -> RefundAnswer:
        req = {
            "merchant_no": self._merchant_no,
            "term_no": self._term_no,
            "out_trade_no": order.out_refund_no,
            "refund_amount": str(order.refund_amount_fen),
            "origin_out_trade_no": order.out_trade_no,
            "refund_reason": order.reason,
            "notify_url": order.notify_url,
        }
        resp = await self._call(REFUND_PATH, req, LABS_SUCCESS)
        state = _text_or_empty(resp, "trade_state")
        outcome = REFUND_STATES.get(state, RefundOutcome.PROCESSING)
        return RefundAnswer(
            # a synchronous SUCCESS is confirmed by query or notification, never taken as final
            outcome=RefundOutcome.FAILED
            if outcome is RefundOutcome.FAILED
            else RefundOutcome.PROCESSING,
            channel_status=state,
            channel_refund_id=_text_or_empty(resp, "trade_no") or None,
        )

    async def query_refund(self, order: RefundOrder) -> RefundAnswer:
        resp = await self._call(TRADEQUERY_PATH, self._trade_ref(order.out_refund_no), LABS_SUCCESS)
        state = _text_or_empty(resp, "trade_state")
        return RefundAnswer(
            outcome=REFUND_STATES.get(state, RefundOutcome.PROCESSING),
            channel_status=state,
            channel_refund_id=_text_or_empty(resp, "trade_no") or None,
        )

    def _trade_ref(self, out_trade_no: str) -> dict[str, object]:
        return {
            "merchant_no": self._merchant_no,
            "term_no": self._term_no,
            "out_trade_no": out_trade_no,
        }

    async def _call(
        self, path: str, req_data: Mapping[str, object], success_code: str
    ) -> dict[str, object]:
        now_s = self._options.now_s()
        envelope = {
            "req_time": channel_time(now_s).strftime(TIME_FORMAT),
            "version": VERSION,
            "req_data": dict(req_data),
        }
        body = dump_json_compact(envelope)
        authorization = protocol.build_request_authorization(
            body,
            appid=self._appid,
            serial_no=self._serial_no,
            private_key=self._keys.merchant_private_key,
            timestamp_s=now_s,
        )
        headers = {
            "Authorization": authorization,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        response = await self._http.request("POST", path, content=body, headers=headers)
        try:
            protocol.verify_response(
                response.headers,
                response.content,
                lakala_public_key=self._keys.channel_public_key,
                expected_appid=self._appid,
                expected_serial_no=self._serial_no,
                now_s=self._options.now_s(),
                clock_skew_max_s=self._options.clock_skew_max_s,
            )
            answer = parse_json_object(response.content, "answer")
        except CallbackRejected as exc:
            raise ChannelUnreachable(f"answer not verified: {exc.reason_code}") from None
        code = answer.get("code")
        if code != success_code:
            message = answer.get("msg")
            raise ChannelRefused(str(code or f"HTTP_{response.status_code}"), str(message or ""))
        resp_data = answer.get("resp_data")
        if not isinstance(resp_data, dict):
            raise ChannelUnreachable("answer without resp_data")
        return resp_data


def _lakala_time(moment: datetime) -> str:
    return moment.astimezone(CHANNEL_TZ).strftime(TIME_FORMAT)


def _text_or_empty(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _fen(value: object) -> int | None:
    if isinstance(value, bool):
        raise ChannelUnreachable("amount is not in fen")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value:
        try:
            return fen_text_to_fen(value)
        except MoneyFormatError:
            raise ChannelUnreachable("amount is not a fen digit string") from None
    return None
