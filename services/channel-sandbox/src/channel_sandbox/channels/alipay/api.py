"""Alipay openapi `POST /gateway.do`: bar code pay (当面付 `alipay.trade.pay`, scene
bar_code) and cancel, trade query, refund, close, refund query.

Request signing and response signing are described in `channel_sandbox.channels.alipay`. As on the
real gateway, the HTTP status is always 200 and the outcome is in `code`: 10000 success, 40002
invalid arguments (bad app_id, bad or missing signature, unknown method: answered without
`sign`, or as `error_response` when the method is unknown), 40004 business failure with a
`sub_code` such as ACQ.TRADE_NOT_EXIST (signed).

The sandbox learns of app payments only through the control API (`/sandbox/actions`): app pay
has no server call. Refunds succeed synchronously (`fund_change` Y); the refund-triggered
notification (`refund_fee` cumulative, `gmt_refund`, `out_biz_no`; TRADE_CLOSED once fully
refunded) follows after SANDBOX_REFUND_DELAY_MS to the payment's notify_url.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channel_sandbox import ids
from channel_sandbox.api.common import (
    CHANNEL_REQUEST_BODY_MAX_BYTES,
    count_call,
    injected_fault,
    sandbox_of,
    signs_badly,
)
from channel_sandbox.channels.alipay import (
    BUYER_ID,
    CODE,
    AlipayRequest,
    error_payload,
    parse_request,
    rejection_sub_code,
    response_key,
    signed_response,
    verify_request,
)
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.engine import Sandbox, SandboxConflict
from channel_sandbox.store import Order, PayState, Refund
from otd_shared.channel_wire import WireFormatError, parse_json_object
from otd_shared.money import MoneyError, fen_to_yuan, wire_yuan_to_fen

BUYER_USER_ID: Final = BUYER_ID  # the buyer_id the notifications carry
BUYER_LOGON_ID: Final = "sbx***@example.com"
PAYMENT_CODE_ORIGIN: Final = "alipay_bar_code"
USER_PAYING_CODE_SUFFIX: Final = "9"  # the customer must enter a password: WAIT_BUYER_PAY first
REFUSED_CODE_SUFFIX: Final = "8"  # the code is refused
OUT_REQUEST_NO_LEN_MAX: Final = 64
router = APIRouter(tags=["Alipay openapi (channel side)"])


def alipay_trade_status(order: Order) -> str:
    """`trade_status`: WAIT_BUYER_PAY, TRADE_SUCCESS (also after partial refunds),
    TRADE_CLOSED (closed, failed, or fully refunded)."""
    match order.state:
        case PayState.PENDING:
            return "WAIT_BUYER_PAY"
        case PayState.PAID:
            return "TRADE_CLOSED" if order.fully_refunded else "TRADE_SUCCESS"
        case PayState.FAILED | PayState.CLOSED:
            return "TRADE_CLOSED"


Payload = dict[str, object]


class BizError(Exception):
    """A 40004 business failure."""

    def __init__(self, sub_code: str, sub_msg: str) -> None:
        super().__init__(sub_code)
        self.sub_code, self.sub_msg = sub_code, sub_msg


@router.post("/gateway.do", summary="Alipay openapi gateway")
async def gateway(request: Request) -> Response:
    sandbox = sandbox_of(request)
    body = await request.body()
    if len(body) > CHANNEL_REQUEST_BODY_MAX_BYTES:
        return _unsigned("error_response", "isv.invalid-parameter", "请求体过大")
    try:
        req = parse_request(
            request.scope.get("query_string", b""), body, request.headers.get("Content-Type")
        )
    except RequestRejected as error:
        return _unsigned("error_response", rejection_sub_code(error), "参数无效")
    method = req.method
    handler = HANDLERS.get(method)
    key = response_key(method) if handler is not None else "error_response"
    keys = sandbox.keys[CODE]
    if req.params.get("app_id") != keys.id("app_id"):
        count_call(sandbox, CODE, method or "unknown", "invalid-app-id")
        return _unsigned(key, "isv.invalid-app-id", "无效的AppID参数")
    try:
        verify_request(keys, req)
    except RequestRejected as error:
        count_call(sandbox, CODE, method or "unknown", "invalid-signature")
        return _unsigned(key, rejection_sub_code(error), "验签出错")
    if handler is None:
        count_call(sandbox, CODE, "unknown", "invalid-method")
        return _unsigned(key, "isv.invalid-method", "不存在的方法名")
    if (fault := await injected_fault(sandbox, CODE)) is not None:
        count_call(sandbox, CODE, method, "fault")
        return fault
    try:
        payload = handler(sandbox, _biz_content(req))
        result = "ok"
    except BizError as error:
        payload = error_payload("40004", "Business Failed", error.sub_code, error.sub_msg)
        result = error.sub_code
    count_call(sandbox, CODE, method, result)
    signed = signed_response(
        keys, key, payload, charset=req.charset, corrupt=signs_badly(sandbox, CODE)
    )
    return Response(signed, media_type=f"application/json;charset={req.charset}")


# ---------------------------------------------------------------- methods


def _query(sandbox: Sandbox, biz: Mapping[str, object]) -> Payload:
    order = _order(sandbox, biz, "alipay.trade.query")
    paid = order.state is PayState.PAID
    amount = fen_to_yuan(order.amount_fen)
    received = amount if paid else "0.00"
    payload: Payload = {
        **_success(order),
        "buyer_logon_id": BUYER_LOGON_ID,
        "trade_status": alipay_trade_status(order),
        "total_amount": amount,
        "buyer_pay_amount": received,
        "point_amount": "0.00",
        "invoice_amount": received,
        "receipt_amount": received,
        "buyer_user_id": BUYER_USER_ID,
        "buyer_user_type": "PRIVATE",
    }
    if paid and order.paid_s is not None:
        payload["send_pay_date"] = ids.alipay_time(order.paid_s)
        payload["fund_bill_list"] = [{"fund_channel": "ALIPAYACCOUNT", "amount": amount}]
    return payload


def _refund(sandbox: Sandbox, biz: Mapping[str, object]) -> Payload:
    order = _order(sandbox, biz, "alipay.trade.refund")
    amount_fen = _refund_amount_fen(biz)
    out_request_no = _text(biz, "out_request_no") or order.out_trade_no
    existing = order.refunds.get(out_request_no)
    if existing is not None:
        if existing.amount_fen != amount_fen:
            raise BizError("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款请求号重复且金额不一致")
        return _refund_payload(order, existing, fund_change="N")
    if order.state is not PayState.PAID:
        raise BizError("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    try:
        refund = sandbox.add_refund(
            order,
            out_refund_no=out_request_no,
            refund_id=ids.alipay_trade_no(ids.now_s()),
            amount_fen=amount_fen,
            notify_url=None,  # refund-triggered notifications go to the payment's notify_url
            reason=_text(biz, "refund_reason"),
        )
    except SandboxConflict:
        raise BizError("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限") from None
    sandbox.succeed_refund(order, refund, notify=False)
    sandbox.later(
        sandbox.settings.refund_delay_ms / 1000, lambda: _notify_refund(sandbox, order, refund)
    )
    return _refund_payload(order, refund, fund_change="Y")


def _notify_refund(sandbox: Sandbox, order: Order, refund: Refund) -> None:
    sandbox.notify_refund(order, refund)


def _close(sandbox: Sandbox, biz: Mapping[str, object]) -> Payload:
    order = _order(sandbox, biz, "alipay.trade.close")
    try:
        sandbox.close(order)
    except SandboxConflict:
        raise BizError("ACQ.TRADE_STATUS_ERROR", "交易状态不合法") from None
    return _success(order)


def _refund_query(sandbox: Sandbox, biz: Mapping[str, object]) -> Payload:
    order = _order(sandbox, biz, "alipay.trade.fastpay.refund.query")
    out_request_no = _text(biz, "out_request_no")
    if not out_request_no:
        raise BizError("ACQ.INVALID_PARAMETER", "参数无效: out_request_no")
    payload: Payload = {**_success(order), "out_request_no": out_request_no}
    refund = order.refunds.get(out_request_no)
    if refund is not None and refund.succeeded_s is not None:
        payload |= {
            "total_amount": fen_to_yuan(order.amount_fen),
            "refund_amount": fen_to_yuan(refund.amount_fen),
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": ids.alipay_time(refund.succeeded_s),
        }
    return payload


def _pay(sandbox: Sandbox, biz: Mapping[str, object]) -> Payload:
    """当面付 bar code: charge the customer's payment code. Its last digit decides what the
    customer does: 9 → a password is needed (10003 WAIT_BUYER_PAY; the order stays pending
    until the control API pays it), 8 → refused (40004), anything else → paid at once."""
    out_trade_no, auth_code = _text(biz, "out_trade_no"), _text(biz, "auth_code")
    if _text(biz, "scene") != "bar_code" or not out_trade_no or not auth_code.isdigit():
        raise BizError("ACQ.INVALID_PARAMETER", "参数无效: scene/out_trade_no/auth_code")
    order = sandbox.store.get(CODE, out_trade_no)
    if order is None:
        amount_fen = _amount_fen(biz, "total_amount")
        order = sandbox.create_order(
            channel=CODE,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            origin=PAYMENT_CODE_ORIGIN,
            channel_txn_id=ids.alipay_trade_no(ids.now_s()),
            notify_url=None,
            request=dict(biz),
        )
        if auth_code.endswith(REFUSED_CODE_SUFFIX):
            sandbox.mark_failed(order)
        elif not auth_code.endswith(USER_PAYING_CODE_SUFFIX):
            sandbox.mark_paid(order)
    order.note(f"api: alipay.trade.pay ({alipay_trade_status(order)})")
    if order.state is PayState.FAILED or order.state is PayState.CLOSED:
        raise BizError("ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败")
    payload: Payload = {
        **_success(order),
        "buyer_logon_id": BUYER_LOGON_ID,
        "total_amount": fen_to_yuan(order.amount_fen),
    }
    if order.state is PayState.PENDING:
        return payload | {"code": "10003", "msg": "等待用户付款"}
    assert order.paid_s is not None
    return payload | {"gmt_payment": ids.alipay_time(order.paid_s)}


def _cancel(sandbox: Sandbox, biz: Mapping[str, object]) -> Payload:
    """撤销: an unpaid order is closed, a paid one refunded in full (`action`)."""
    order = _order(sandbox, biz, "alipay.trade.cancel")
    action = sandbox.cancel_order(
        order, refund_id=ids.alipay_trade_no(ids.now_s()), suffix="cancel"
    )
    return {**_success(order), "retry_flag": "N", "action": action}


def _amount_fen(biz: Mapping[str, object], name: str) -> int:
    try:
        amount_fen = wire_yuan_to_fen(_text(biz, name))
    except MoneyError:
        raise BizError("ACQ.INVALID_PARAMETER", f"参数无效: {name}") from None
    if amount_fen <= 0:
        raise BizError("ACQ.INVALID_PARAMETER", f"参数无效: {name}")
    return amount_fen


HANDLERS: Final[Mapping[str, Callable[[Sandbox, Mapping[str, object]], Payload]]] = {
    "alipay.trade.pay": _pay,
    "alipay.trade.cancel": _cancel,
    "alipay.trade.query": _query,
    "alipay.trade.refund": _refund,
    "alipay.trade.close": _close,
    "alipay.trade.fastpay.refund.query": _refund_query,
}


# ---------------------------------------------------------------- helpers


def _success(order: Order) -> Payload:
    return {
        "code": "10000",
        "msg": "Success",
        "trade_no": order.channel_txn_id,
        "out_trade_no": order.out_trade_no,
    }


def _refund_payload(order: Order, refund: Refund, *, fund_change: str) -> Payload:
    assert refund.succeeded_s is not None
    return {
        **_success(order),
        "buyer_logon_id": BUYER_LOGON_ID,
        "fund_change": fund_change,
        "refund_fee": fen_to_yuan(order.refunded_fen),
        "gmt_refund_pay": ids.alipay_time(refund.succeeded_s),
        "buyer_user_id": BUYER_USER_ID,
        "send_back_fee": fen_to_yuan(refund.amount_fen),
        "out_request_no": refund.out_refund_no,
    }


def _order(sandbox: Sandbox, biz: Mapping[str, object], method: str) -> Order:
    out_trade_no, trade_no = _text(biz, "out_trade_no"), _text(biz, "trade_no")
    if not (out_trade_no or trade_no):
        raise BizError("ACQ.INVALID_PARAMETER", "参数无效: out_trade_no 和 trade_no 不能同时为空")
    if out_trade_no:
        order = sandbox.store.get(CODE, out_trade_no)
    else:
        order = sandbox.store.by_channel_id(CODE, trade_no)
    if order is None:
        raise BizError("ACQ.TRADE_NOT_EXIST", "交易不存在")
    order.note(f"api: {method} ({alipay_trade_status(order)})")
    return order


def _refund_amount_fen(biz: Mapping[str, object]) -> int:
    try:
        amount_fen = wire_yuan_to_fen(_text(biz, "refund_amount"))
    except MoneyError:
        raise BizError("ACQ.INVALID_PARAMETER", "参数无效: refund_amount") from None
    if amount_fen <= 0:
        raise BizError("ACQ.INVALID_PARAMETER", "参数无效: refund_amount")
    return amount_fen


def _text(biz: Mapping[str, object], name: str) -> str:
    value = biz.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > OUT_REQUEST_NO_LEN_MAX:
        raise BizError("ACQ.INVALID_PARAMETER", f"参数无效: {name}")
    return value


def _biz_content(req: AlipayRequest) -> dict[str, object]:
    text = req.params.get("biz_content", "")
    try:
        return parse_json_object(text.encode("utf-8"), "biz_content")
    except WireFormatError:
        raise BizError("ACQ.INVALID_PARAMETER", "参数无效: biz_content") from None


def _unsigned(key: str, sub_code: str, sub_msg: str) -> Response:
    payload = error_payload("40002", "Invalid Arguments", sub_code, sub_msg)
    return Response(
        signed_response(None, key, payload), media_type="application/json;charset=utf-8"
    )
