"""WeChat Pay APIv3 as the gateway calls it: APP prepay, query, close, refund, refund query.

Every request must carry a valid `Authorization: WECHATPAY2-SHA256-RSA2048 ...` made with the
merchant key (our `mchid` and `merchant_serial` from ids.json), else 401 SIGN_ERROR. Every
answer, errors and the bodiless 204 included, is signed with `Wechatpay-Timestamp/-Nonce/
-Signature/-Serial` by the platform (channel) key, as WeChat does.

Sandbox extension: while an order is in a succeed_sync_then_fail window, the prepay answer also
carries `"trade_state":"SUCCESS"` (the synchronous "paid"), although the order will fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Final, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from channel_sandbox import ids
from channel_sandbox.api.common import (
    CHANNEL_REQUEST_BODY_MAX_BYTES,
    count_call,
    injected_fault,
    sandbox_of,
    signed_url,
    signs_badly,
)
from channel_sandbox.channels import wechatpay as wire
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.engine import Sandbox, SandboxConflict
from channel_sandbox.store import AMOUNT_FEN_MAX, Order, Origin, PayState, Refund
from otd_shared.channel_wire import WireFormatError, dump_json_compact, parse_json_object

CODE: Final = wire.CODE
PAYER_OPENID: Final = wire.PAYER_OPENID  # what the notifications carry too
router = APIRouter(tags=["WeChat Pay v3 (channel side)"])


def wechat_trade_state(order: Order) -> str:
    """`trade_state`: NOTPAY (USERPAYING while a synchronous success is pending), SUCCESS,
    REFUND once any refund was accepted (转入退款), PAYERROR, CLOSED."""
    match order.state:
        case PayState.PENDING:
            return "USERPAYING" if order.sync_success else "NOTPAY"
        case PayState.PAID:
            return "REFUND" if order.refunds else "SUCCESS"
        case PayState.FAILED:
            return "PAYERROR"
        case PayState.CLOSED:
            return "CLOSED"


WECHAT_TRADE_STATE_DESC: Final = {
    "NOTPAY": "订单未支付",
    "USERPAYING": "用户支付中",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "PAYERROR": "支付失败",
    "CLOSED": "订单已关闭",
}


Fen = Annotated[int, Field(strict=True, ge=1, le=AMOUNT_FEN_MAX)]
OutTradeNo = Annotated[str, Field(min_length=6, max_length=32, pattern=r"^[0-9A-Za-z_\-|*]+$")]
Url = Annotated[str, Field(min_length=8, max_length=256, pattern=r"^https?://")]


class WechatError(Exception):
    """An APIv3 error answer: HTTP status and `{"code","message"}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code, self.message = status, code, message


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class PrepayAmount(_Body):
    total: Fen
    currency: str = "CNY"


class PrepayRequest(_Body):
    appid: str
    mchid: str
    description: Annotated[str, Field(min_length=1, max_length=127)]
    out_trade_no: OutTradeNo
    notify_url: Url
    amount: PrepayAmount
    attach: str = ""


class RefundAmount(_Body):
    refund: Fen
    total: Fen
    currency: str = "CNY"


class RefundRequest(_Body):
    out_trade_no: str | None = None
    transaction_id: str | None = None
    out_refund_no: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(max_length=80)] = ""
    notify_url: Url | None = None
    amount: RefundAmount


class CloseRequest(_Body):
    mchid: str


ModelT = TypeVar("ModelT", bound=BaseModel)
Result = tuple[int, dict[str, object] | None]
Handler = Callable[[Sandbox, Request, bytes], Result]


@router.post("/v3/pay/transactions/app", summary="APP prepay (下单)")
async def prepay(request: Request) -> Response:
    return await _serve(request, "prepay", _prepay)


@router.get("/v3/pay/transactions/out-trade-no/{out_trade_no}", summary="Query by out_trade_no")
async def query_by_out_trade_no(request: Request) -> Response:
    return await _serve(request, "query", _query_out_trade_no)


@router.get("/v3/pay/transactions/id/{transaction_id}", summary="Query by transaction_id")
async def query_by_transaction_id(request: Request) -> Response:
    return await _serve(request, "query", _query_transaction_id)


@router.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", summary="Close an order")
async def close(request: Request) -> Response:
    return await _serve(request, "close", _close)


@router.post("/v3/refund/domestic/refunds", summary="Request a refund")
async def refund(request: Request) -> Response:
    return await _serve(request, "refund", _refund)


@router.get("/v3/refund/domestic/refunds/{out_refund_no}", summary="Query a refund")
async def refund_query(request: Request) -> Response:
    return await _serve(request, "refund_query", _refund_query)


# ---------------------------------------------------------------- handlers


def _prepay(sandbox: Sandbox, request: Request, body: bytes) -> Result:
    del request
    req = _parse(PrepayRequest, body)
    keys = sandbox.keys[CODE]
    if req.mchid != keys.id("mchid"):
        raise WechatError(400, "MCH_NOT_EXISTS", "商户号不存在")
    if req.appid != keys.id("appid"):
        raise WechatError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    if req.amount.currency != "CNY":
        raise WechatError(400, "PARAM_ERROR", "amount.currency 只支持CNY")
    order = sandbox.store.get(CODE, req.out_trade_no)
    if order is None:
        order = _create(sandbox, req)
    else:
        _check_repeat(order, req)
        order.note("api: prepay repeated")
    answer: dict[str, object] = {"prepay_id": str(order.request["prepay_id"])}
    if order.sync_success:
        answer |= {"trade_state": "SUCCESS", "trade_state_desc": "支付成功"}
    return 200, answer


def _create(sandbox: Sandbox, req: PrepayRequest) -> Order:
    at_s = ids.now_s()
    return sandbox.create_order(
        channel=CODE,
        out_trade_no=req.out_trade_no,
        amount_fen=req.amount.total,
        origin=Origin.WECHAT_APP,
        channel_txn_id=ids.wechat_transaction_id(at_s),
        notify_url=req.notify_url,
        request={
            "appid": req.appid,
            "description": req.description,
            "attach": req.attach,
            "prepay_id": ids.wechat_prepay_id(at_s),
        },
    )


def _check_repeat(order: Order, req: PrepayRequest) -> None:
    if order.state is PayState.PAID:
        raise WechatError(400, "ORDERPAID", "该订单已支付")
    if order.state is not PayState.PENDING:
        raise WechatError(400, "ORDER_CLOSED", "订单已关闭")
    if order.amount_fen != req.amount.total or order.request.get("description") != req.description:
        raise WechatError(403, "OUT_TRADE_NO_USED", "商户订单号重复")


def _query_out_trade_no(sandbox: Sandbox, request: Request, body: bytes) -> Result:
    del body
    _check_mchid_param(sandbox, request)
    order = sandbox.store.get(CODE, request.path_params["out_trade_no"])
    if order is None:
        raise WechatError(404, "ORDER_NOT_EXIST", "订单不存在")
    order.note(f"api: query → {wechat_trade_state(order)}")
    return 200, transaction_json(sandbox, order)


def _query_transaction_id(sandbox: Sandbox, request: Request, body: bytes) -> Result:
    del body
    _check_mchid_param(sandbox, request)
    order = sandbox.store.by_channel_id(CODE, request.path_params["transaction_id"])
    if order is None or order.state not in (PayState.PAID, PayState.FAILED):
        raise WechatError(404, "ORDER_NOT_EXIST", "订单不存在")
    return 200, transaction_json(sandbox, order)


def _close(sandbox: Sandbox, request: Request, body: bytes) -> Result:
    req = _parse(CloseRequest, body)
    if req.mchid != sandbox.keys[CODE].id("mchid"):
        raise WechatError(400, "MCH_NOT_EXISTS", "商户号不存在")
    order = sandbox.store.get(CODE, request.path_params["out_trade_no"])
    if order is None:
        raise WechatError(404, "ORDER_NOT_EXIST", "订单不存在")
    try:
        sandbox.close(order)
    except SandboxConflict:
        raise WechatError(400, "ORDERPAID", "订单已支付") from None
    order.note("api: close")
    return 204, None


def _refund(sandbox: Sandbox, request: Request, body: bytes) -> Result:
    del request
    req = _parse(RefundRequest, body)
    order = _refund_target(sandbox, req)
    existing = order.refunds.get(req.out_refund_no)
    if existing is not None:
        if existing.amount_fen != req.amount.refund:
            raise WechatError(400, "INVALID_REQUEST", "退款单号重复且参数不一致")
        return 200, refund_json(order, existing)
    if sandbox.store.order_of_refund(CODE, req.out_refund_no) is not None:
        raise WechatError(400, "INVALID_REQUEST", "商户退款单号已被其他订单使用")
    if req.amount.total != order.amount_fen:
        raise WechatError(400, "PARAM_ERROR", "订单金额与原订单金额不一致")
    try:
        new = sandbox.add_refund(
            order,
            out_refund_no=req.out_refund_no,
            refund_id=ids.wechat_refund_id(ids.now_s()),
            amount_fen=req.amount.refund,
            notify_url=req.notify_url,
            reason=req.reason,
        )
    except SandboxConflict:
        message = (
            "订单未支付" if order.state is not PayState.PAID else "申请退款金额超过订单可退金额"
        )
        raise WechatError(400, "INVALID_REQUEST", message) from None
    sandbox.later(
        sandbox.settings.refund_delay_ms / 1000, lambda: sandbox.succeed_refund(order, new)
    )
    return 200, refund_json(order, new)


def _refund_target(sandbox: Sandbox, req: RefundRequest) -> Order:
    order = None
    if req.out_trade_no:
        order = sandbox.store.get(CODE, req.out_trade_no)
    elif req.transaction_id:
        order = sandbox.store.by_channel_id(CODE, req.transaction_id)
    else:
        raise WechatError(400, "PARAM_ERROR", "out_trade_no 和 transaction_id 必填其一")
    if order is None:
        raise WechatError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    return order


def _refund_query(sandbox: Sandbox, request: Request, body: bytes) -> Result:
    del body
    out_refund_no = request.path_params["out_refund_no"]
    order = sandbox.store.order_of_refund(CODE, out_refund_no)
    if order is None:
        raise WechatError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return 200, refund_json(order, order.refunds[out_refund_no])


# ---------------------------------------------------------------- bodies


def transaction_json(sandbox: Sandbox, order: Order) -> dict[str, object]:
    """The APIv3 transaction object of `order`."""
    state = wechat_trade_state(order)
    keys = sandbox.keys[CODE]
    body: dict[str, object] = {
        "appid": str(order.request.get("appid", keys.id("appid"))),
        "mchid": keys.id("mchid"),
        "out_trade_no": order.out_trade_no,
        "trade_state": state,
        "trade_state_desc": WECHAT_TRADE_STATE_DESC[state],
        "attach": str(order.request.get("attach", "")),
        "amount": {"total": order.amount_fen, "currency": "CNY", "payer_currency": "CNY"},
    }
    if order.state in (PayState.PAID, PayState.FAILED):
        body |= {
            "transaction_id": order.channel_txn_id,
            "trade_type": "APP",
            "bank_type": "OTHERS",
            "payer": {"openid": PAYER_OPENID},
        }
    if order.state is PayState.PAID:
        assert order.paid_s is not None
        body["success_time"] = ids.rfc3339(order.paid_s)
        body["amount"] = {
            "total": order.amount_fen,
            "payer_total": order.amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        }
    return body


def _refund_status(refund: Refund) -> str:
    if refund.abnormal:
        return "ABNORMAL"
    return "SUCCESS" if refund.succeeded else "PROCESSING"


def refund_json(order: Order, refund: Refund) -> dict[str, object]:
    """The APIv3 refund object."""
    body: dict[str, object] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": order.channel_txn_id,
        "out_trade_no": order.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": ids.rfc3339(refund.created_s),
        "status": _refund_status(refund),
        "funds_account": "AVAILABLE",
        "amount": {
            "total": order.amount_fen,
            "refund": refund.amount_fen,
            "from": [],
            "payer_total": order.amount_fen,
            "payer_refund": refund.amount_fen,
            "settlement_refund": refund.amount_fen,
            "settlement_total": order.amount_fen,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if refund.succeeded_s is not None:
        body["success_time"] = ids.rfc3339(refund.succeeded_s)
    return body


# ---------------------------------------------------------------- plumbing


async def _serve(request: Request, api: str, handler: Handler) -> Response:
    sandbox = sandbox_of(request)
    body = await request.body()
    try:
        _verify(sandbox, request, body)
        if (fault := await injected_fault(sandbox, CODE)) is not None:
            count_call(sandbox, CODE, api, "fault")
            return fault
        status, payload = handler(sandbox, request, body)
        result = "ok"
    except WechatError as error:
        status, payload = error.status, {"code": error.code, "message": error.message}
        result = error.code
    count_call(sandbox, CODE, api, result)
    return _signed(sandbox, status, payload)


def _verify(sandbox: Sandbox, request: Request, body: bytes) -> None:
    if len(body) > CHANNEL_REQUEST_BODY_MAX_BYTES:
        raise WechatError(413, "PARAM_ERROR", "请求体过大")
    try:
        wire.verify_request(
            sandbox.keys[CODE],
            request.headers.get("Authorization"),
            method=request.method,
            url=signed_url(request),
            body=body,
            now_s=ids.now_s(),
        )
    except RequestRejected:
        raise WechatError(401, "SIGN_ERROR", "签名错误") from None


def _signed(sandbox: Sandbox, status: int, payload: dict[str, object] | None) -> Response:
    body = dump_json_compact(payload) if payload is not None else b""
    signed_body = body + b" " if signs_badly(sandbox, CODE) else body
    headers = wire.platform_headers(sandbox.keys[CODE], signed_body, now_s=ids.now_s())
    headers[wire.HEADER_REQUEST_ID] = uuid.uuid4().hex
    media_type = "application/json" if payload is not None else None
    return Response(content=body, status_code=status, headers=headers, media_type=media_type)


def _parse(model: type[ModelT], body: bytes) -> ModelT:
    try:
        return model.model_validate(parse_json_object(body, "request body"))
    except WireFormatError:
        raise WechatError(400, "PARAM_ERROR", "请求体不是合法的JSON对象") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WechatError(400, "PARAM_ERROR", f"参数错误: {where} ({first['type']})") from None


def _check_mchid_param(sandbox: Sandbox, request: Request) -> None:
    mchid = request.query_params.get("mchid")
    if not mchid:
        raise WechatError(400, "PARAM_ERROR", "缺少参数 mchid")
    if mchid != sandbox.keys[CODE].id("mchid"):
        raise WechatError(400, "MCH_NOT_EXISTS", "商户号不存在")
