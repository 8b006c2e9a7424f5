"""Alipay openapi server API, our side (agreed paths, docs/channel-formats.md §3).

* App pay needs no server call: the order string is signed locally (RSA2, merchant key) and
  carries our notify_url; Alipay (or the sandbox) notifies when the buyer pays.
* ``POST /gateway.do`` form (app_id, method, format=JSON, charset=utf-8, sign_type=RSA2,
  timestamp, version=1.0, biz_content, sign) for ``alipay.trade.query``, ``alipay.trade.close``,
  ``alipay.trade.refund`` and ``alipay.trade.fastpay.refund.query``.
* The answer ``{"<method>_response": {...}, "sign": "…"}`` is verified with the Alipay public
  key over the EXACT text of the ``*_response`` object as received (never re-serialised).
Amounts go out as yuan strings (``fen_to_yuan``) and come back through ``yuan_to_fen``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.alipay import protocol
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
from payment_gateway.adapters.channels.contract import channel_time
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.money_edge import fen_to_yuan, yuan_to_fen
from payment_gateway.adapters.channels.rsa_signing import sign_b64, verify_b64
from payment_gateway.adapters.channels.wire_format import (
    FormPairs,
    dump_json_compact,
    encode_form,
    parse_json_object,
)
from payment_gateway.domain.outcomes import ChannelOutcome, RefundOutcome
from payment_gateway.errors import (
    CallbackRejected,
    ChannelRefused,
    ChannelUnreachable,
    MoneyFormatError,
)

CHANNEL: Final = ChannelCode.ALIPAY
GATEWAY_PATH: Final = "/gateway.do"
SUCCESS_CODE: Final = "10000"
USER_PAYING_CODE: Final = "10003"  # 当面付: waiting for the customer (password)
NOT_EXIST_SUB_CODES: Final = frozenset({"ACQ.TRADE_NOT_EXIST"})
TRADE_STATUSES: Final[Mapping[str, ChannelOutcome]] = MappingProxyType(
    {
        "TRADE_SUCCESS": ChannelOutcome.SUCCEEDED,
        "TRADE_FINISHED": ChannelOutcome.SUCCEEDED,
        "WAIT_BUYER_PAY": ChannelOutcome.PENDING,
        "TRADE_CLOSED": ChannelOutcome.CLOSED,
    }
)


def member_text(text: str, key: str) -> str | None:
    """The exact source text of the value of top-level member ``key`` of a JSON object text.

    A small scanner (strings and escapes aware) instead of re-serialising: Alipay signs the
    bytes it sent, so the verified text must be the received text.
    """
    depth, i, n = 0, 0, len(text)
    expect_key = False
    while i < n:
        char = text[i]
        if char == '"':
            end = _string_end(text, i)
            if depth == 1 and expect_key:
                name = json.loads(text[i : end + 1])
                colon = _skip_spaces(text, end + 1)
                if colon < n and text[colon] == ":":
                    start = _skip_spaces(text, colon + 1)
                    stop = _value_end(text, start)
                    if name == key:
                        return text[start:stop]
                    i, expect_key = stop, False
                    continue
            i = end + 1
            continue
        if char in "{[":
            depth += 1
            expect_key = char == "{" and depth == 1
        elif char in "}]":
            depth -= 1
        elif char == "," and depth == 1:
            expect_key = True
        i += 1
    return None


def _string_end(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    raise ValueError("unterminated string")


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _value_end(text: str, start: int) -> int:
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _string_end(text, i) + 1
            if depth == 0:
                return i
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            if depth == 0:
                return i
            depth -= 1
            if depth == 0:
                return i + 1
        elif char == "," and depth == 0:
            return i
        i += 1
    return i


class AlipayClient:
    """Alipay gateway calls signed RSA2 with our merchant key."""

    def __init__(self, keys: ChannelKeySet, http: ChannelHttp, options: ClientOptions) -> None:
        self._keys = keys
        self._http = http
        self._options = options
        self._app_id = keys.id("app_id")

    @property
    def channel(self) -> ChannelCode:
        return CHANNEL

    async def start_payment(self, order: StartPayment) -> dict[str, str]:
        biz = protocol.app_pay_biz_content(order.out_trade_no, order.amount_fen, order.description)
        order_string = protocol.build_app_pay_order_string(
            app_id=self._app_id,
            biz_content=biz,
            notify_url=order.notify_url,
            private_key=self._keys.merchant_private_key,
            now_s=self._options.now_s(),
        )
        return {"order_string": order_string}

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        answer = await self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        if _not_exist(answer):
            return PaymentQueryResult(outcome=ChannelOutcome.NOT_FOUND, channel_status="NOT_EXIST")
        _require_success(answer)
        if answer.get("out_trade_no", out_trade_no) != out_trade_no:
            raise ChannelUnreachable("query answer is about another order")
        status = _text(answer, "trade_status")
        return PaymentQueryResult(
            outcome=TRADE_STATUSES.get(status, ChannelOutcome.PENDING),
            channel_status=status,
            channel_txn_id=_optional_text(answer, "trade_no"),
            amount_fen=_optional_fen(answer, "total_amount"),
        )

    async def close_payment(self, out_trade_no: str, method: str) -> None:
        # A bar code payment the customer did not finish is cancelled (撤销): closed when
        # unpaid, refunded when it was paid meanwhile (the query that follows tells).
        name = "alipay.trade.cancel" if method == PAYMENT_CODE_METHOD else "alipay.trade.close"
        answer = await self._call(name, {"out_trade_no": out_trade_no})
        if not _not_exist(answer):  # never opened by the buyer: nothing to close
            _require_success(answer)

    async def pay_with_code(self, charge: PaymentCodeCharge) -> PaymentQueryResult:
        """当面付 bar code: 10000 paid (confirmed by query by the caller), 10003 the customer
        is paying (WAIT_BUYER_PAY), anything else refused (ChannelRefused)."""
        biz = {
            "out_trade_no": charge.out_trade_no,
            "scene": "bar_code",
            "auth_code": charge.auth_code,
            "total_amount": fen_to_yuan(charge.amount_fen),
            "subject": charge.description,
        }
        answer = await self._call("alipay.trade.pay", biz)
        if answer.get("code") == USER_PAYING_CODE:
            return PaymentQueryResult(outcome=ChannelOutcome.PENDING, channel_status="10003")
        _require_success(answer)
        if answer.get("out_trade_no", charge.out_trade_no) != charge.out_trade_no:
            raise ChannelUnreachable("pay answer is about another order")
        return PaymentQueryResult(
            outcome=ChannelOutcome.SUCCEEDED,
            channel_status=SUCCESS_CODE,
            channel_txn_id=_optional_text(answer, "trade_no"),
            amount_fen=_optional_fen(answer, "total_amount"),
        )

    async def refund(self, order: RefundOrder) -> RefundAnswer:
        biz = {
            "out_trade_no": order.out_trade_no,
            "refund_amount": fen_to_yuan(order.refund_amount_fen),
            "out_request_no": order.out_refund_no,
            "refund_reason": order.reason,
        }
        answer = await self._call("alipay.trade.refund", biz)
        _require_success(answer)
        # Synchronous success is not final (fund_change says money moved): confirm by query.
        return RefundAnswer(
            outcome=RefundOutcome.PROCESSING,
            channel_status=f"fund_change={answer.get('fund_change', '')}",
            channel_refund_id=_optional_text(answer, "trade_no"),
        )

    async def query_refund(self, order: RefundOrder) -> RefundAnswer:
        biz = {"out_trade_no": order.out_trade_no, "out_request_no": order.out_refund_no}
        answer = await self._call("alipay.trade.fastpay.refund.query", biz)
        if _not_exist(answer):
            return RefundAnswer(outcome=RefundOutcome.NOT_FOUND, channel_status="NOT_EXIST")
        _require_success(answer)
        status = _optional_text(answer, "refund_status") or ""
        refunded = _optional_fen(answer, "refund_amount")
        # Alipay: data returned with refund_status empty or REFUND_SUCCESS means refunded.
        if status == "REFUND_SUCCESS" or (not status and refunded):
            if refunded is not None and refunded != order.refund_amount_fen:
                raise ChannelUnreachable("refund query amount differs from our refund")
            return RefundAnswer(
                outcome=RefundOutcome.SUCCEEDED,
                channel_status=status or "REFUNDED",
                channel_refund_id=_optional_text(answer, "trade_no"),
            )
        if not status and refunded is None:
            return RefundAnswer(outcome=RefundOutcome.NOT_FOUND, channel_status="NO_DATA")
        return RefundAnswer(outcome=RefundOutcome.PROCESSING, channel_status=status)

    async def _call(self, method: str, biz: Mapping[str, object]) -> dict[str, object]:
        params: FormPairs = [
            ("app_id", self._app_id),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", channel_time(self._options.now_s()).strftime("%Y-%m-%d %H:%M:%S")),
            ("version", "1.0"),
            ("biz_content", dump_json_compact(dict(biz)).decode("utf-8")),
        ]
        content = protocol.request_sign_content(params).encode("utf-8")
        sign = sign_b64(self._keys.merchant_private_key, content)
        response = await self._http.request(
            "POST",
            GATEWAY_PATH,
            content=encode_form([*params, ("sign", sign)], "utf-8"),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        if response.status_code != 200:
            raise ChannelUnreachable(f"{method}: HTTP {response.status_code}")
        return self._verified_answer(response.content, method)

    def _verified_answer(self, raw: bytes, method: str) -> dict[str, object]:
        try:
            document = parse_json_object(raw, "answer")
            text = raw.decode("utf-8")
        except (CallbackRejected, UnicodeDecodeError):
            raise ChannelUnreachable("answer is not a JSON object") from None
        key = method.replace(".", "_") + "_response"
        try:
            signed_text = member_text(text, key) or member_text(text, "error_response")
        except ValueError:
            raise ChannelUnreachable("answer is not well-formed JSON") from None
        sign = document.get("sign")
        if signed_text is None or not isinstance(sign, str):
            raise ChannelUnreachable("answer carries no signed *_response object")
        try:
            verify_b64(self._keys.channel_public_key, sign, signed_text.encode("utf-8"))
        except CallbackRejected:
            raise ChannelUnreachable("answer signature does not verify") from None
        answer = json.loads(signed_text)
        if not isinstance(answer, dict):
            raise ChannelUnreachable("the *_response member is not an object")
        return answer


def _not_exist(answer: Mapping[str, object]) -> bool:
    return answer.get("code") != SUCCESS_CODE and answer.get("sub_code") in NOT_EXIST_SUB_CODES


def _require_success(answer: Mapping[str, object]) -> None:
    if answer.get("code") == SUCCESS_CODE:
        return
    code = answer.get("sub_code") or answer.get("code") or "UNKNOWN"
    message = answer.get("sub_msg") or answer.get("msg") or ""
    raise ChannelRefused(str(code), str(message))


def _text(answer: Mapping[str, object], name: str) -> str:
    value = answer.get(name)
    if not isinstance(value, str) or not value:
        raise ChannelUnreachable(f"answer without {name}")
    return value


def _optional_text(answer: Mapping[str, object], name: str) -> str | None:
    value = answer.get(name)
    return value if isinstance(value, str) and value else None


def _optional_fen(answer: Mapping[str, object], name: str) -> int | None:
    value = answer.get(name)
    if not isinstance(value, str) or not value:
        return None
    try:
        return yuan_to_fen(value)
    except MoneyFormatError:
        raise ChannelUnreachable(f"{name} is not an exact yuan amount") from None
