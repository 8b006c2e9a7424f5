"""Lakala open platform v3 as the gateway calls it: 聚合扫码 (labs) and 收银台 (ccss).

Requests: `{"req_time":"yyyyMMddHHmmss","version":"3.0","req_data":{...}}` with
`Authorization: LKLAPI-SHA256withRSA appid=..,serial_no=..,timestamp=..,nonce_str=..,signature=..`
(merchant key, ids.json `appid` / `serial_no`), else HTTP 401. Responses: `{code, msg,
resp_time, resp_data}` signed with `Lklapi-Appid/-Serial/-Timestamp/-Nonce/-Signature` (channel
key). Success codes: `BBS00000` (labs), `000000` (收银台). The error codes below are the
sandbox's own [I] (Lakala's error tables are not public): treat any other code as failure.

Amounts are fen: digit strings in labs (`total_amount`, `refund_amount`), integers or digit
strings in 收银台. A labs refund (`relation/refund`) succeeds synchronously for labs and 收银台
orders alike and is followed by a refund notification in the order's shape.
"""

from __future__ import annotations

import secrets
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
from channel_sandbox.channels import lakala as wire
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.channels.lakala.bodies import (
    LakalaError,
    cashier_order_json,
    labs_refund_json,
    labs_trade_json,
    optional_text,
    parse_fen,
    require_text,
)
from channel_sandbox.engine import Sandbox, SandboxConflict
from channel_sandbox.store import Order, Origin, PayState
from otd_shared.channel_wire import WireFormatError, dump_json_compact, parse_json_object

CODE: Final = wire.CODE
LABS_OK: Final = "BBS00000"
CASHIER_OK: Final = "000000"
ACCOUNT_TYPES: Final = frozenset({"WECHAT", "ALIPAY", "UQRCODEPAY"})
TRANS_TYPES: Final = frozenset({"41", "51", "71"})  # NATIVE, JSAPI, 小程序
QR_PREFIXES: Final = {
    "WECHAT": "weixin://wxpay/bizpayurl?pr=",
    "ALIPAY": "https://qr.alipay.com/",
    "UQRCODEPAY": "https://qr.95516.com/00010000/",
}
router = APIRouter(tags=["Lakala v3 (channel side)"])

Data = dict[str, object]
Handler = Callable[[Sandbox, Request, Mapping[str, object]], Data]


@router.post("/api/v3/labs/trans/preorder", summary="聚合扫码 preorder (native QR)")
async def preorder(request: Request) -> Response:
    return await _serve(request, "preorder", LABS_OK, _preorder)


@router.post("/api/v3/labs/query/tradequery", summary="聚合扫码 trade query")
async def tradequery(request: Request) -> Response:
    return await _serve(request, "tradequery", LABS_OK, _tradequery)


@router.post("/api/v3/labs/relation/refund", summary="Refund (labs and 收银台 orders)")
async def refund(request: Request) -> Response:
    return await _serve(request, "refund", LABS_OK, _refund)


@router.post("/api/v3/ccss/counter/order/create", summary="收银台 order create")
async def cashier_create(request: Request) -> Response:
    return await _serve(request, "counter_create", CASHIER_OK, _cashier_create)


@router.post("/api/v3/ccss/counter/order/query", summary="收银台 order query")
async def cashier_query(request: Request) -> Response:
    return await _serve(request, "counter_query", CASHIER_OK, _cashier_query)


# ---------------------------------------------------------------- 聚合扫码


def _preorder(sandbox: Sandbox, request: Request, data: Mapping[str, object]) -> Data:
    del request
    out_trade_no = require_text(data, "out_trade_no", max_len=32)
    account_type = require_text(data, "account_type")
    if account_type not in ACCOUNT_TYPES:
        raise LakalaError("BBS11105", "account_type 不支持")
    trans_type = optional_text(data, "trans_type") or "41"
    if trans_type not in TRANS_TYPES:
        raise LakalaError("BBS11105", "trans_type 不支持")
    require_text(data, "term_no")
    amount_fen = parse_fen(data, "total_amount")
    notify_url = optional_text(data, "notify_url", max_len=256) or None
    order = sandbox.store.get(CODE, out_trade_no)
    if order is None:
        order = _create_labs(sandbox, data, out_trade_no, amount_fen, notify_url, account_type)
    elif order.origin != Origin.LAKALA_LABS or order.amount_fen != amount_fen:
        raise LakalaError("BBS11120", "商户订单号重复")
    elif order.state is not PayState.PENDING:
        raise LakalaError("BBS11121", "订单状态不允许")
    answer: Data = {
        "merchant_no": sandbox.keys[CODE].id("merchant_no"),
        "out_trade_no": order.out_trade_no,
        "trade_no": order.channel_txn_id,
        "log_no": ids.lakala_log_no(order.channel_txn_id),
        "acc_resp_fields": {"code": str(order.request["code_url"])},
    }
    if order.sync_success:
        answer["trade_state"] = "SUCCESS"
    return answer


def _create_labs(
    sandbox: Sandbox,
    data: Mapping[str, object],
    out_trade_no: str,
    amount_fen: int,
    notify_url: str | None,
    account_type: str,
) -> Order:
    at_s = ids.now_s()
    trade_no = ids.lakala_trade_no(at_s)
    wallet_no = (
        ids.wechat_transaction_id(at_s) if account_type == "WECHAT" else ids.alipay_trade_no(at_s)
    )
    return sandbox.create_order(
        channel=CODE,
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        origin=Origin.LAKALA_LABS,
        channel_txn_id=trade_no,
        notify_url=notify_url,
        request={
            "account_type": account_type,
            "trans_type": optional_text(data, "trans_type") or "41",
            "subject": optional_text(data, "subject", max_len=256),
            "term_no": optional_text(data, "term_no"),
            "acc_trade_no": wallet_no,
            "code_url": QR_PREFIXES[account_type] + secrets.token_urlsafe(12),
        },
        alias_ids=(ids.lakala_log_no(trade_no),),
    )


def _tradequery(sandbox: Sandbox, request: Request, data: Mapping[str, object]) -> Data:
    del request
    out_trade_no = optional_text(data, "out_trade_no")
    trade_no = optional_text(data, "trade_no")
    merchant_no = sandbox.keys[CODE].id("merchant_no")
    if out_trade_no:
        order = sandbox.store.get(CODE, out_trade_no)
        refunded = sandbox.store.order_of_refund(CODE, out_trade_no)
        if order is None and refunded is not None:  # a refund is a labs trade of its own
            refunded.note(f"api: tradequery of refund {out_trade_no}")
            return labs_refund_json(merchant_no, refunded, refunded.refunds[out_trade_no])
    elif trade_no:
        order = sandbox.store.by_channel_id(CODE, trade_no)
    else:
        raise LakalaError("BBS11105", "out_trade_no 和 trade_no 不能同时为空")
    if order is None or order.origin != Origin.LAKALA_LABS:
        raise LakalaError("BBS11112", "交易不存在")
    order.note("api: tradequery")
    return labs_trade_json(merchant_no, order)


def _refund(sandbox: Sandbox, request: Request, data: Mapping[str, object]) -> Data:
    del request
    out_refund_no = require_text(data, "out_trade_no", max_len=32)
    amount_fen = parse_fen(data, "refund_amount")
    order = _refund_origin(sandbox, data)
    existing = order.refunds.get(out_refund_no)
    if existing is None:
        if sandbox.store.order_of_refund(CODE, out_refund_no) is not None:
            raise LakalaError("BBS11120", "退款商户订单号重复")
        try:
            existing = sandbox.add_refund(
                order,
                out_refund_no=out_refund_no,
                refund_id=ids.lakala_trade_no(ids.now_s()),
                amount_fen=amount_fen,
                notify_url=optional_text(data, "notify_url", max_len=256) or None,
                reason=optional_text(data, "refund_reason", max_len=256),
            )
        except SandboxConflict:
            raise LakalaError("BBS11121", "订单状态不允许或退款金额超限") from None
        sandbox.succeed_refund(order, existing)
    elif existing.amount_fen != amount_fen:
        raise LakalaError("BBS11120", "退款商户订单号重复且金额不一致")
    return {
        "merchant_no": sandbox.keys[CODE].id("merchant_no"),
        "out_trade_no": existing.out_refund_no,
        "trade_no": existing.refund_id,
        "log_no": ids.lakala_log_no(existing.refund_id),
        "total_amount": str(order.amount_fen),
        "refund_amount": str(existing.amount_fen),
        "payer_amount": str(existing.amount_fen),
        "trade_time": ids.lakala_time(existing.succeeded_s or existing.created_s),
        "origin_out_trade_no": order.out_trade_no,
        "origin_trade_no": order.channel_txn_id,
        "origin_log_no": ids.lakala_log_no(order.channel_txn_id),
        "trade_state": "SUCCESS",
    }


def _refund_origin(sandbox: Sandbox, data: Mapping[str, object]) -> Order:
    origin_out_trade_no = optional_text(data, "origin_out_trade_no")
    if origin_out_trade_no:
        order = sandbox.store.get(CODE, origin_out_trade_no)
    else:
        channel_id = optional_text(data, "origin_trade_no") or optional_text(data, "origin_log_no")
        if not channel_id:
            raise LakalaError("BBS11105", "origin_out_trade_no / origin_trade_no 必填其一")
        order = sandbox.store.by_channel_id(CODE, channel_id)
    if order is None:
        raise LakalaError("BBS11112", "原交易不存在")
    return order


# ---------------------------------------------------------------- 收银台


def _cashier_create(sandbox: Sandbox, request: Request, data: Mapping[str, object]) -> Data:
    out_order_no = require_text(data, "out_order_no", max_len=32)
    amount_fen = parse_fen(data, "total_amount", code="010001")
    order = sandbox.store.get(CODE, out_order_no)
    if order is None:
        order = _create_cashier(sandbox, data, out_order_no, amount_fen)
    elif order.origin != Origin.LAKALA_CASHIER or order.amount_fen != amount_fen:
        raise LakalaError("010011", "商户订单号重复")
    base_url = str(request.base_url).rstrip("/")
    answer: Data = {
        "merchant_no": sandbox.keys[CODE].id("merchant_no"),
        "channel_id": "95",
        "out_order_no": order.out_trade_no,
        "order_create_time": ids.lakala_time(order.created_s),
        "order_efficient_time": str(order.request.get("order_efficient_time", "")),
        "pay_order_no": order.channel_txn_id,
        "total_amount": str(order.amount_fen),
        "counter_url": f"{base_url}/sandbox/lakala/counter/{order.channel_txn_id}",
    }
    if order.sync_success:
        answer["order_status"] = "2"
    return answer


def _create_cashier(
    sandbox: Sandbox, data: Mapping[str, object], out_order_no: str, amount_fen: int
) -> Order:
    pay_order_no = ids.lakala_pay_order_no(ids.now_s())
    return sandbox.create_order(
        channel=CODE,
        out_trade_no=out_order_no,
        amount_fen=amount_fen,
        origin=Origin.LAKALA_CASHIER,
        channel_txn_id=pay_order_no,
        notify_url=optional_text(data, "notify_url", max_len=256) or None,
        request={
            "order_efficient_time": optional_text(data, "order_efficient_time"),
            "order_info": optional_text(data, "order_info", max_len=256),
            "counter_param": data.get("counter_param"),
            "busi_type_param": data.get("busi_type_param"),
            "support_refund": data.get("support_refund"),
        },
        alias_ids=(ids.lakala_log_no(pay_order_no),),
    )


def _cashier_query(sandbox: Sandbox, request: Request, data: Mapping[str, object]) -> Data:
    del request
    out_order_no = optional_text(data, "out_order_no")
    pay_order_no = optional_text(data, "pay_order_no")
    if out_order_no:
        order = sandbox.store.get(CODE, out_order_no)
    elif pay_order_no:
        order = sandbox.store.by_channel_id(CODE, pay_order_no)
    else:
        raise LakalaError("010001", "out_order_no 和 pay_order_no 不能同时为空")
    if order is None or order.origin != Origin.LAKALA_CASHIER:
        raise LakalaError("010013", "订单不存在")
    order.note("api: counter order query")
    return cashier_order_json(sandbox.keys[CODE].id("merchant_no"), order)


# ---------------------------------------------------------------- plumbing


async def _serve(request: Request, api: str, ok_code: str, handler: Handler) -> Response:
    sandbox = sandbox_of(request)
    body = await request.body()
    try:
        _verify(sandbox, request, body)
        if (fault := await injected_fault(sandbox, CODE)) is not None:
            count_call(sandbox, CODE, api, "fault")
            return fault
        data = _req_data(body, ok_code)
        if optional_text(data, "merchant_no") != sandbox.keys[CODE].id("merchant_no"):
            raise LakalaError("BBS11106" if ok_code == LABS_OK else "010002", "商户号不存在")
        status, code, msg, resp_data = 200, ok_code, "成功", handler(sandbox, request, data)
    except LakalaError as error:
        status, code, msg, resp_data = error.status, error.code, error.msg, None
    count_call(sandbox, CODE, api, "ok" if code == ok_code else code)
    payload = {
        "code": code,
        "msg": msg,
        "resp_time": ids.lakala_time(ids.now_s()),
        "resp_data": resp_data,
    }
    return _signed(sandbox, status, payload)


def _verify(sandbox: Sandbox, request: Request, body: bytes) -> None:
    if len(body) > CHANNEL_REQUEST_BODY_MAX_BYTES:
        raise LakalaError("BBS11105", "请求体过大", status=413)
    try:
        wire.verify_request(
            sandbox.keys[CODE], request.headers.get("Authorization"), body, now_s=ids.now_s()
        )
    except RequestRejected:
        raise LakalaError("BBS10001", "验签失败", status=401) from None


def _req_data(body: bytes, ok_code: str) -> Mapping[str, object]:
    bad = "BBS11105" if ok_code == LABS_OK else "010001"
    try:
        envelope = parse_json_object(body, "request body")
    except WireFormatError:
        raise LakalaError(bad, "请求报文不是合法的JSON") from None
    data = envelope.get("req_data")
    if envelope.get("version") != "3.0" or not isinstance(data, dict):
        raise LakalaError(bad, "报文格式错误: version 3.0 与 req_data 必填")
    return data


def _signed(sandbox: Sandbox, status: int, payload: Mapping[str, object]) -> Response:
    body = dump_json_compact(dict(payload))
    signed_body = body + b" " if signs_badly(sandbox, CODE) else body
    headers = wire.response_headers(sandbox.keys[CODE], signed_body, now_s=ids.now_s())
    return Response(body, status_code=status, headers=headers, media_type="application/json")
