"""Allinpay 收银宝 transaction query (统一查询) for the sandbox's POS orders.

`POST /apiweb/tranx/query`, a form (`cusid`, `appid`, `version=11`, `reqsn` = our order number
or `trxid`, `randomstr`, `signtype=RSA`, `sign`) signed by the merchant with SHA1WithRSA over
the sorted non-empty parameters (as notifications are, with `merchant_private.pem`). The
answer is JSON signed by Allinpay the same way over its string fields: `retcode=SUCCESS`
with `trxstatus` (0000 paid, 2000 in process, 3045 failed, 3088 closed), `trxid`, `trxamt`
(fen), `reqsn`, `fintime`; `trxstatus=1001` 交易不存在 for an order the acquirer never saw;
`retcode=FAIL` with `retmsg` for a bad request (unsigned, bad signature, another merchant).
A refund's `reqsn` answers the refund (0000 once it succeeded, else 2000).
`POST /apiweb/tranx/refund` (`reqsn` the refund, `oldreqsn` the payment, `trxamt`) accepts a
refund of a paid order: 2000 processing (3999 when refused); it succeeds after
SANDBOX_REFUND_DELAY_MS with its result notification.
[I]: field set after the 收银宝 query API (prodoc doc/1004).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
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
from channel_sandbox.channels import allinpay as wire
from channel_sandbox.engine import Sandbox, SandboxConflict
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.store import Order, PayState, Refund
from otd_shared.channel_wire import (
    WireFormatError,
    channel_time,
    decode_form,
    dump_json_compact,
    rsa_sign_b64,
    rsa_verify_b64,
)

router = APIRouter(tags=["Allinpay 收银宝 (channel side)"])
QUERY_PATH: Final = "/apiweb/tranx/query"
REFUND_PATH: Final = "/apiweb/tranx/refund"
NOT_FOUND_TRXSTATUS: Final = "1001"
_TRXSTATUS: Final[Mapping[PayState, tuple[str, str]]] = {
    PayState.PAID: ("0000", "交易成功"),
    PayState.PENDING: ("2000", "交易处理中"),
    PayState.FAILED: ("3045", "交易失败"),
    PayState.CLOSED: ("3088", "交易已关闭"),
}


@router.post(QUERY_PATH, summary="Allinpay transaction query")
async def tranx_query(request: Request) -> Response:
    sandbox = sandbox_of(request)
    keys = sandbox.keys[wire.CODE]
    body = await request.body()
    try:
        fields = dict(decode_form(body[:CHANNEL_REQUEST_BODY_MAX_BYTES]))
    except WireFormatError:
        return _fail("请求格式错误")
    refusal = _refusal(keys, fields)
    if refusal is not None:
        count_call(sandbox, wire.CODE, "query", "refused")
        return _fail(refusal)
    if (fault := await injected_fault(sandbox, wire.CODE)) is not None:
        count_call(sandbox, wire.CODE, "query", "fault")
        return fault
    reqsn = fields.get("reqsn", "")
    order = sandbox.store.get(wire.CODE, reqsn) or sandbox.store.by_channel_id(
        wire.CODE, fields.get("trxid", "")
    )
    refunded = sandbox.store.order_of_refund(wire.CODE, reqsn) if order is None else None
    count_call(sandbox, wire.CODE, "query", "ok" if order or refunded else "not-found")
    if order is not None:
        result = _result(order)
    elif refunded is not None:
        result = _refund_result(refunded, refunded.refunds[reqsn])
    else:
        result = {"trxstatus": NOT_FOUND_TRXSTATUS, "errmsg": "交易不存在", "reqsn": reqsn}
    answer = {"retcode": "SUCCESS", "cusid": keys.id("cusid"), "appid": keys.id("appid"), **result}
    return _signed(keys, answer, corrupt=signs_badly(sandbox, wire.CODE))


@router.post(REFUND_PATH, summary="Allinpay refund (退货)")
async def tranx_refund(request: Request) -> Response:
    """`oldreqsn` (or `oldtrxid`) names the payment, `reqsn` the refund, `trxamt` its fen;
    answered 2000 (processing), succeeding after SANDBOX_REFUND_DELAY_MS with its result
    notification to the payment's notify URL."""
    sandbox = sandbox_of(request)
    keys = sandbox.keys[wire.CODE]
    try:
        fields = dict(decode_form((await request.body())[:CHANNEL_REQUEST_BODY_MAX_BYTES]))
    except WireFormatError:
        return _fail("请求格式错误")
    refusal = _refusal(keys, fields)
    if refusal is not None:
        count_call(sandbox, wire.CODE, "refund", "refused")
        return _fail(refusal)
    if (fault := await injected_fault(sandbox, wire.CODE)) is not None:
        count_call(sandbox, wire.CODE, "refund", "fault")
        return fault
    result = _accept_refund(sandbox, fields)
    count_call(sandbox, wire.CODE, "refund", "ok" if result["trxstatus"] != "3999" else "refused")
    answer = {"retcode": "SUCCESS", "cusid": keys.id("cusid"), "appid": keys.id("appid"), **result}
    return _signed(keys, answer, corrupt=signs_badly(sandbox, wire.CODE))


def _accept_refund(sandbox: Sandbox, fields: Mapping[str, str]) -> dict[str, str]:
    reqsn = fields["reqsn"]
    order = sandbox.store.get(wire.CODE, fields.get("oldreqsn", "")) or sandbox.store.by_channel_id(
        wire.CODE, fields.get("oldtrxid", "")
    )
    refused = {"trxstatus": "3999", "errmsg": "原交易不存在或状态不正确", "reqsn": reqsn}
    if order is None:
        return refused
    refund = order.refunds.get(reqsn)
    if refund is None:
        try:
            refund = sandbox.add_refund(
                order,
                out_refund_no=reqsn,
                refund_id=ids.allinpay_trxid(ids.now_s()),
                amount_fen=int(fields.get("trxamt", "0") or "0"),
                notify_url=None,
                reason="退货",
            )
        except (SandboxConflict, ValueError):
            return refused
        accepted = refund
        sandbox.later(
            sandbox.settings.refund_delay_ms / 1000,
            lambda: sandbox.succeed_refund(order, accepted),
        )
    return _refund_result(order, refund)


def _refund_result(order: Order, refund: Refund) -> dict[str, str]:
    order.note(f"api: tranx refund {refund.out_refund_no}")
    status, message = ("0000", "交易成功") if refund.succeeded else ("2000", "交易处理中")
    return {
        "trxstatus": status,
        "errmsg": message,
        "trxid": refund.refund_id,
        "reqsn": refund.out_refund_no,
        "trxcode": wire.REFUND_TRXCODE,
        "trxamt": str(refund.amount_fen),
    }


def _refusal(keys: SandboxKeySet, fields: Mapping[str, str]) -> str | None:
    if not (fields.get("reqsn") or fields.get("trxid")):
        return "reqsn 或 trxid 必填"
    if fields.get("signtype") != "RSA":
        return "不支持的签名类型"
    content = wire.sign_content(fields.items()).encode("utf-8")
    if not rsa_verify_b64(keys.merchant_public_key, fields.get("sign", ""), content, "sha1"):
        return "签名验证失败"
    if fields.get("cusid") != keys.id("cusid") or fields.get("appid") != keys.id("appid"):
        return "商户号或应用号错误"
    return None


def _result(order: Order) -> dict[str, str]:
    order.note(f"api: tranx/query ({order.state.value})")
    status, message = _TRXSTATUS[order.state]
    result = {
        "trxstatus": status,
        "errmsg": message,
        "trxid": order.channel_txn_id,
        "reqsn": order.out_trade_no,
        "trxcode": wire.PAYMENT_TRXCODE,
        "trxamt": str(order.amount_fen),
        "acct": "6226********0048",
    }
    if order.paid_s is not None:
        result["fintime"] = channel_time(order.paid_s).strftime("%Y%m%d%H%M%S")
    return result


def _signed(keys: SandboxKeySet, answer: Mapping[str, str], *, corrupt: bool) -> Response:
    fields = {**answer, "randomstr": secrets.token_hex(8), "signtype": "RSA"}
    content = wire.sign_content(fields.items()).encode("utf-8")
    fields["sign"] = rsa_sign_b64(keys.channel_private_key, content, "sha1")
    if corrupt:
        fields["trxamt"] = fields.get("trxamt", "0") + "0"
    return Response(dump_json_compact(fields), media_type="application/json;charset=UTF-8")


def _fail(message: str) -> Response:
    """A refused request: unsigned, as Allinpay answers what it could not authenticate."""
    body = dump_json_compact({"retcode": "FAIL", "retmsg": message})
    return Response(body, media_type="application/json;charset=UTF-8")
