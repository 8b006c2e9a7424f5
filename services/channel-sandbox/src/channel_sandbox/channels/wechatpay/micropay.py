"""WeChat Pay API v2 付款码支付 as the gateway calls it: micropay, orderquery, reverse.

XML over HTTP, signed with the API v2 key (`v2`). A request that is not XML, names another
appid/mch_id or is badly signed gets `return_code=FAIL` unsigned, as WeChat answers; every
other answer is `return_code=SUCCESS` and signed under the request's `sign_type`, with
`result_code` SUCCESS or FAIL + `err_code`.

What the customer does is decided by the payment code's last digit (like Alipay's bar code):
9 → a password is needed (`err_code=USERPAYING`; the order stays pending, orderquery says
USERPAYING, until the control API pays it), 8 → refused (`AUTHCODEEXPIRE`), anything else →
paid at once. `reverse` (撤销) closes a pending order and refunds a paid one (trade_state
REVOKED either way). `/secapi/pay/reverse` needs the merchant's API client certificate when
the sandbox runs its secapi TLS listener (`secapi_tls`); otherwise it asks for none.
Refunds of micropay orders take the v3 refund call like any WeChat order.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channel_sandbox import ids, secapi_tls
from channel_sandbox.api.common import count_call, injected_fault, sandbox_of, signs_badly
from channel_sandbox.channels import wechatpay as wire
from channel_sandbox.channels.wechatpay import v2
from channel_sandbox.engine import Sandbox
from channel_sandbox.store import AMOUNT_FEN_MAX, Order, PayState
from otd_shared.channel_wire import channel_time

CODE: Final = wire.CODE
ORIGIN: Final = "wechat_micropay"
USER_PAYING_SUFFIX: Final = "9"
REFUSED_SUFFIX: Final = "8"
REVERSED_MARK: Final = "reversed"
XML_MEDIA_TYPE: Final = "text/xml"
router = APIRouter(tags=["WeChat Pay v2 付款码 (channel side)"])
Fields = dict[str, str]
Handler = Callable[[Sandbox, Fields], Fields]


class Refusal(Exception):
    """`result_code=FAIL` with an `err_code`."""

    def __init__(self, err_code: str, description: str) -> None:
        super().__init__(err_code)
        self.err_code, self.description = err_code, description


@router.post("/pay/micropay", summary="付款码支付 (API v2)")
async def micropay(request: Request) -> Response:
    return await _serve(request, "micropay", _micropay)


@router.post("/pay/orderquery", summary="查询订单 (API v2)")
async def orderquery(request: Request) -> Response:
    return await _serve(request, "orderquery", _orderquery)


@router.post("/secapi/pay/reverse", summary="撤销订单 (API v2)")
async def reverse(request: Request) -> Response:
    return await _serve(request, "reverse", _reverse)


async def _serve(request: Request, api: str, handler: Handler) -> Response:
    sandbox = sandbox_of(request)
    keys = sandbox.keys[CODE]
    api_key = keys.require_apiv2_key()
    if secapi_tls.refused_in_plain(request, sandbox.settings):
        return _communication_failure(sandbox, api, "请使用商户API证书 (mutual TLS)")
    try:
        params = v2.read(await request.body())
    except v2.BadXml:
        return _communication_failure(sandbox, api, "XML格式错误")
    if params.get("appid") != keys.id("appid") or params.get("mch_id") != keys.id("mchid"):
        return _communication_failure(sandbox, api, "appid和mch_id不匹配")
    if not v2.signed_by_merchant(params, api_key):
        return _communication_failure(sandbox, api, "签名错误")
    if (fault := await injected_fault(sandbox, CODE)) is not None:
        count_call(sandbox, CODE, api, "fault")
        return fault
    try:
        fields = {"result_code": "SUCCESS", **handler(sandbox, params)}
        result = "ok"
    except Refusal as refusal:
        fields = {
            "result_code": "FAIL",
            "err_code": refusal.err_code,
            "err_code_des": refusal.description,
        }
        result = refusal.err_code
    count_call(sandbox, CODE, api, result)
    answer = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": keys.id("appid"),
        "mch_id": keys.id("mchid"),
        "nonce_str": secrets.token_hex(8),
        **fields,
    }
    sign_type = params.get("sign_type") or v2.MD5
    sign = v2.signature(answer, api_key, sign_type)
    if signs_badly(sandbox, CODE):
        sign = sign[::-1]
    return Response(v2.write({**answer, "sign": sign}), media_type=XML_MEDIA_TYPE)


def _communication_failure(sandbox: Sandbox, api: str, message: str) -> Response:
    count_call(sandbox, CODE, api, "return-fail")
    body = v2.write({"return_code": "FAIL", "return_msg": message})
    return Response(body, media_type=XML_MEDIA_TYPE)


# ---------------------------------------------------------------- calls


def _micropay(sandbox: Sandbox, params: Fields) -> Fields:
    out_trade_no, auth_code = params.get("out_trade_no", ""), params.get("auth_code", "")
    amount_fen = _total_fee(params)
    if not out_trade_no or not auth_code.isdigit() or not params.get("body"):
        raise Refusal("PARAM_ERROR", "参数错误: out_trade_no/auth_code/body")
    order = sandbox.store.get(CODE, out_trade_no)
    if order is None:
        order = sandbox.create_order(
            channel=CODE,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            origin=ORIGIN,
            channel_txn_id=ids.wechat_transaction_id(ids.now_s()),
            notify_url=None,
            request={"appid": params["appid"], "body": params["body"]},
        )
        if auth_code.endswith(REFUSED_SUFFIX):
            sandbox.mark_failed(order)
        elif not auth_code.endswith(USER_PAYING_SUFFIX):
            sandbox.mark_paid(order)
    elif order.amount_fen != amount_fen:
        raise Refusal("OUT_TRADE_NO_USED", "商户订单号重复")
    order.note(f"api: micropay ({order.state.value})")
    match order.state:
        case PayState.PENDING:
            raise Refusal("USERPAYING", "需要用户输入支付密码")
        case PayState.FAILED:
            raise Refusal("AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试")
        case PayState.CLOSED:
            raise Refusal("ORDERREVERSED", "订单已撤销")
        case PayState.PAID:
            return _paid_fields(order)


def _orderquery(sandbox: Sandbox, params: Fields) -> Fields:
    order = _order(sandbox, params)
    state = micropay_trade_state(order)
    fields = {
        "out_trade_no": order.out_trade_no,
        "trade_state": state,
        "trade_state_desc": state,
        "total_fee": str(order.amount_fen),
        "trade_type": "MICROPAY",
    }
    return fields | _paid_fields(order) if order.state is PayState.PAID else fields


def _reverse(sandbox: Sandbox, params: Fields) -> Fields:
    order = _order(sandbox, params)
    sandbox.cancel_order(order, refund_id=ids.wechat_refund_id(ids.now_s()), suffix="reverse")
    order.request[REVERSED_MARK] = True
    order.note("api: reverse")
    return {"recall": "N"}


def micropay_trade_state(order: Order) -> str:
    """orderquery's `trade_state` of a micropay order."""
    if order.request.get(REVERSED_MARK):
        return "REVOKED"
    match order.state:
        case PayState.PENDING:
            return "USERPAYING"
        case PayState.PAID:
            return "REFUND" if order.refunds else "SUCCESS"
        case PayState.FAILED:
            return "PAYERROR"
        case PayState.CLOSED:
            return "CLOSED"


def _paid_fields(order: Order) -> Fields:
    assert order.paid_s is not None
    return {
        "openid": wire.PAYER_OPENID,
        "trade_type": "MICROPAY",
        "bank_type": "OTHERS",
        "fee_type": "CNY",
        "total_fee": str(order.amount_fen),
        "cash_fee": str(order.amount_fen),
        "transaction_id": order.channel_txn_id,
        "out_trade_no": order.out_trade_no,
        "time_end": channel_time(order.paid_s).strftime("%Y%m%d%H%M%S"),
    }


def _order(sandbox: Sandbox, params: Mapping[str, str]) -> Order:
    order = sandbox.store.get(CODE, params.get("out_trade_no", ""))
    if order is None:
        raise Refusal("ORDERNOTEXIST", "此交易订单号不存在")
    return order


def _total_fee(params: Mapping[str, str]) -> int:
    text = params.get("total_fee", "")
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= AMOUNT_FEN_MAX:
        raise Refusal("PARAM_ERROR", "total_fee 必须是正整数（分）")
    return int(text)
