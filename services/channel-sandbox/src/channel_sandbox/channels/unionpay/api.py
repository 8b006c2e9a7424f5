"""UnionPay ACP transaction query (交易状态查询, `txnType=00`) for the sandbox's POS orders.

`POST /gateway/api/queryTrans.do`, a form signed by the merchant exactly like a notification
(5.1.0: Base64(SHA256withRSA(hex(SHA-256(sorted k=v)))) with `merchant_private.pem`). The
answer is a form signed by UnionPay (5.1.0 with `signPubKeyCert` when the key set has its
certificate, else `certId`): `respCode=00` (the query worked) with `origRespCode` the
transaction's own result (00 paid, 05 in process, 01 failed, 12 closed), `queryId`,
`txnAmt`, `traceNo`; `respCode=34` 查无此交易 for an order the acquirer never saw (nobody
swiped); `respCode=10`/`11`/`12` for bad requests (unsigned, bad signature, another merId),
answered without `origRespCode`. A refund's orderId (our refund number) answers the refund
(`origRespCode` 00 once it succeeded, else 05). `POST /gateway/api/backTransReq.do` with
`txnType=04` (退货) accepts a refund of a paid order named by `origQryId` (respCode 00 with the
refund's queryId; 25 unknown payment, 31 more than is left); it succeeds after
SANDBOX_REFUND_DELAY_MS and its back notification goes to `backUrl`. The same path with
`txnType=01`, `txnSubType=06` is 二维码消费 (被扫) with the customer's code in `qrNo`: the code's
last digit decides — 8 refused at once (respCode 01), 9 accepted and pending (the customer
confirms in 云闪付; the control API pays it, queries answer 05 until then), anything else
accepted and paid, its back notification to `backUrl` right after the answer. [I]: field
sets after the ACP SDK's query, refund and QR consumption demos.
"""

from __future__ import annotations

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
from channel_sandbox.channels import unionpay as wire
from channel_sandbox.channels.base import Outcome
from channel_sandbox.engine import Sandbox, SandboxConflict
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.store import Order, PayState, Refund
from otd_shared.channel_wire import (
    HashName,
    WireFormatError,
    channel_time,
    decode_form,
    rsa_verify_b64,
)

router = APIRouter(tags=["UnionPay ACP (channel side)"])
QUERY_PATH: Final = "/gateway/api/queryTrans.do"
BACK_TRANS_PATH: Final = "/gateway/api/backTransReq.do"
CODE_ORIGIN: Final = "unionpay_payment_code"
USER_PAYING_SUFFIX: Final = "9"
REFUSED_SUFFIX: Final = "8"
QR_NO_LEN_MAX: Final = 20
_ORIG_RESP: Final[Mapping[PayState, tuple[str, str]]] = {
    PayState.PAID: ("00", "成功[0000000]"),
    PayState.PENDING: ("05", "交易处理中"),
    PayState.FAILED: ("01", "交易失败"),
    PayState.CLOSED: ("12", "交易已关闭"),
}


@router.post(QUERY_PATH, summary="UnionPay transaction query (txnType 00)")
async def query_trans(request: Request) -> Response:
    sandbox = sandbox_of(request)
    keys = sandbox.keys[wire.CODE]
    body = await request.body()
    try:
        fields = dict(decode_form(body[:CHANNEL_REQUEST_BODY_MAX_BYTES]))
    except WireFormatError:
        return _answer(keys, {"respCode": "10", "respMsg": "报文格式错误"}, sandbox_bad=False)
    refusal = _refusal(keys, fields)
    if refusal is not None:
        count_call(sandbox, wire.CODE, "query", "refused")
        return _answer(keys, {**_echo(fields), **refusal}, sandbox_bad=False)
    if (fault := await injected_fault(sandbox, wire.CODE)) is not None:
        count_call(sandbox, wire.CODE, "query", "fault")
        return fault
    order_id = fields["orderId"]
    order = sandbox.store.get(wire.CODE, order_id)
    refunded = sandbox.store.order_of_refund(wire.CODE, order_id) if order is None else None
    found = order is not None or refunded is not None
    count_call(sandbox, wire.CODE, "query", "ok" if found else "not-found")
    if order is not None:
        result = _result(order)
    elif refunded is not None:
        result = _refund_result(refunded, refunded.refunds[order_id])
    else:
        result = {"respCode": "34", "respMsg": "查无此交易"}
    return _answer(keys, {**_echo(fields), **result}, sandbox_bad=signs_badly(sandbox, wire.CODE))


@router.post(BACK_TRANS_PATH, summary="UnionPay back-end transaction: refund, code consumption")
async def back_trans(request: Request) -> Response:
    """退货 (txnType 04): `origQryId` names the payment, `orderId` the refund; accepted now,
    succeeding after SANDBOX_REFUND_DELAY_MS with its back notification to `backUrl`.
    二维码消费 (txnType 01, txnSubType 06): the customer's code in `qrNo` (module docstring)."""
    sandbox = sandbox_of(request)
    keys = sandbox.keys[wire.CODE]
    try:
        fields = dict(decode_form((await request.body())[:CHANNEL_REQUEST_BODY_MAX_BYTES]))
    except WireFormatError:
        return _answer(keys, {"respCode": "10", "respMsg": "报文格式错误"}, sandbox_bad=False)
    consume = fields.get("txnType") == "01"
    api = "code_consume" if consume else "refund"
    refusal = _refusal(keys, fields, txn_type="01" if consume else "04")
    if refusal is not None:
        count_call(sandbox, wire.CODE, api, "refused")
        return _answer(keys, {**_echo(fields), **refusal}, sandbox_bad=False)
    if (fault := await injected_fault(sandbox, wire.CODE)) is not None:
        count_call(sandbox, wire.CODE, api, "fault")
        return fault
    result = _consume_code(sandbox, fields) if consume else _accept_refund(sandbox, fields)
    count_call(sandbox, wire.CODE, api, "ok" if result["respCode"] == "00" else "refused")
    return _answer(keys, {**_echo(fields), **result}, sandbox_bad=signs_badly(sandbox, wire.CODE))


def _accept_refund(sandbox: Sandbox, fields: Mapping[str, str]) -> dict[str, str]:
    order = sandbox.store.by_channel_id(wire.CODE, fields.get("origQryId", ""))
    if order is None:
        return {"respCode": "25", "respMsg": "原交易不存在"}
    out_refund_no = fields["orderId"]
    existing = order.refunds.get(out_refund_no)
    if existing is not None:
        return {"respCode": "00", "respMsg": "成功[0000000]", "queryId": existing.refund_id}
    try:
        refund = sandbox.add_refund(
            order,
            out_refund_no=out_refund_no,
            refund_id=ids.unionpay_query_id(ids.now_s()),
            amount_fen=int(fields.get("txnAmt", "0") or "0"),
            notify_url=fields.get("backUrl") or None,
            reason="退货",
        )
    except (SandboxConflict, ValueError):
        return {"respCode": "31", "respMsg": "原交易状态或金额不正确"}
    sandbox.later(
        sandbox.settings.refund_delay_ms / 1000, lambda: sandbox.succeed_refund(order, refund)
    )
    return {"respCode": "00", "respMsg": "成功[0000000]", "queryId": refund.refund_id}


def _consume_code(sandbox: Sandbox, fields: Mapping[str, str]) -> dict[str, str]:
    """二维码消费 with the customer's code (the module docstring says what each code does)."""
    qr_no, amount = fields.get("qrNo", ""), fields.get("txnAmt", "")
    valid_code = qr_no.isascii() and qr_no.isdigit() and len(qr_no) <= QR_NO_LEN_MAX
    if fields.get("txnSubType") != "06" or not valid_code or not amount.isdigit():
        return {"respCode": "10", "respMsg": "报文格式错误: txnSubType/qrNo/txnAmt"}
    accepted = {"respCode": "00", "respMsg": "成功[0000000]"}
    order = sandbox.store.get(wire.CODE, fields["orderId"])
    if order is not None:  # the same order sent again
        same = order.amount_fen == int(amount) and order.origin == CODE_ORIGIN
        return accepted if same else {"respCode": "10", "respMsg": "订单号重复"}
    if int(amount) <= 0:
        return {"respCode": "10", "respMsg": "报文格式错误: txnAmt"}
    order = sandbox.create_order(
        channel=wire.CODE,
        out_trade_no=fields["orderId"],
        amount_fen=int(amount),
        origin=CODE_ORIGIN,
        channel_txn_id=ids.unionpay_query_id(ids.now_s()),
        notify_url=fields.get("backUrl") or None,
        request={"txnSubType": "06"},
    )
    if qr_no.endswith(REFUSED_SUFFIX):
        sandbox.mark_failed(order)
        return {"respCode": "01", "respMsg": "交易失败，付款码无效"}
    if not qr_no.endswith(USER_PAYING_SUFFIX):
        sandbox.mark_paid(order)
        if order.notify_url:
            sandbox.later(0, lambda: sandbox.notify_payment(order, Outcome.SUCCEEDED))
    return accepted


def _refund_result(order: Order, refund: Refund) -> dict[str, str]:
    order.note(f"api: queryTrans refund {refund.out_refund_no}")
    orig_code, orig_msg = ("00", "成功[0000000]") if refund.succeeded else ("05", "交易处理中")
    return {
        "respCode": "00",
        "respMsg": "成功[0000000]",
        "origRespCode": orig_code,
        "origRespMsg": orig_msg,
        "queryId": refund.refund_id,
        "origQryId": order.channel_txn_id,
        "txnAmt": str(refund.amount_fen),
        "currencyCode": "156",
    }


def _refusal(
    keys: SandboxKeySet, fields: Mapping[str, str], txn_type: str = "00"
) -> dict[str, str] | None:
    """Why the request is refused, or None."""
    if fields.get("txnType") != txn_type or not fields.get("orderId"):
        return {"respCode": "10", "respMsg": "报文格式错误: txnType/orderId"}
    version = fields.get("version", "")
    digest = wire.digest_text(wire.sign_content(fields.items()), version)
    hash_name: HashName = "sha1" if version == "5.0.0" else "sha256"
    if not rsa_verify_b64(keys.merchant_public_key, fields.get("signature", ""), digest, hash_name):
        return {"respCode": "11", "respMsg": "验证签名失败"}
    if fields.get("merId") != keys.id("merId"):
        return {"respCode": "12", "respMsg": "商户号错误"}
    return None


def _result(order: Order) -> dict[str, str]:
    order.note(f"api: queryTrans ({order.state.value})")
    orig_code, orig_msg = _ORIG_RESP[order.state]
    result = {
        "respCode": "00",
        "respMsg": "成功[0000000]",
        "origRespCode": orig_code,
        "origRespMsg": orig_msg,
        "queryId": order.channel_txn_id,
        "txnAmt": str(order.amount_fen),
        "currencyCode": "156",
        "accNo": "6226********0048",
    }
    if order.paid_s is not None:
        result["traceTime"] = channel_time(order.paid_s).strftime("%m%d%H%M%S")
        result["settleDate"] = channel_time(order.paid_s).strftime("%m%d")
    return result


def _echo(fields: Mapping[str, str]) -> dict[str, str]:
    """The request fields a query answer repeats."""
    names = ("merId", "orderId", "txnTime", "txnType", "txnSubType", "bizType", "accessType")
    return {name: fields[name] for name in names if fields.get(name)}


def _answer(keys: SandboxKeySet, result: Mapping[str, str], *, sandbox_bad: bool) -> Response:
    """The answer form, signed by UnionPay (5.1.0; with its certificate when it has one)."""
    fields = {"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", **result}
    if keys.sign_cert_pem:
        fields["signPubKeyCert"] = wire.form_pem(keys.sign_cert_pem)
    else:
        fields["certId"] = keys.id("certId")
    signed = wire.signed_form(keys, fields)
    body = signed.body
    if sandbox_bad:  # an injected bad signature: the answer changes after signing
        body = body.replace(b"respMsg=", b"respMsg=X", 1)
    return Response(body, media_type=wire.CONTENT_TYPE)
