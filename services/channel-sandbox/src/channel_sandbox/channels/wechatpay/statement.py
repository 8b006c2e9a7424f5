"""WeChat Pay's trade bill download, built from what the sandbox saw that day.

`GET /v3/bill/tradebill?bill_date=YYYY-MM-DD[&bill_type=ALL][&tar_type=GZIP]` (merchant
Authorization required) → signed `{"hash_type":"SHA1","hash_value","download_url"}`;
`GET /v3/billdownload/file?token=…` (Authorization required) → the bill (gzip with
`tar_type=GZIP`), unsigned as WeChat's is. A day without trades, or not over yet → 400
`{"code":"NO_STATEMENT_EXIST","message":"No Bill Exist"}`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channel_sandbox import bills, ids
from channel_sandbox.api.bills import closed_day, downloads
from channel_sandbox.api.common import sandbox_of, signed_url
from channel_sandbox.channels import wechatpay as wire
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.engine import Sandbox
from otd_shared.channel_wire import dump_json_compact
from otd_shared.statement_files import Txn, wechat_bill

router = APIRouter(tags=["Statement downloads (channel side)"])
NO_BILL: Final = {"code": "NO_STATEMENT_EXIST", "message": "No Bill Exist"}
BILL_TYPES: Final = frozenset({"ALL", "SUCCESS", "REFUND"})


def trade_bill(txns: list[Txn], *, gzip: bool) -> tuple[bytes, str]:
    """The ALL trade bill and the SHA-1 of its UNCOMPRESSED bytes (the API's hash_value)."""
    plain = wechat_bill(txns)
    digest = hashlib.sha1(plain, usedforsecurity=False).hexdigest()
    return (wechat_bill(txns, gz=True) if gzip else plain), digest


@router.get("/v3/bill/tradebill", summary="WeChat trade bill (申请交易账单)")
async def wechat_tradebill(request: Request) -> Response:
    sandbox = sandbox_of(request)
    rejected = _wechat_rejected(sandbox, request)
    if rejected is not None:
        return rejected
    failed = downloads(request).failure(wire.CODE)
    if failed is not None:
        return _wechat_signed(sandbox, failed, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
    params = request.query_params
    day = closed_day(params.get("bill_date", ""), "%Y-%m-%d", downloads(request).published)
    bill_type = params.get("bill_type", "ALL")
    if bill_type not in BILL_TYPES or params.get("tar_type", "GZIP") != "GZIP":
        return _wechat_signed(sandbox, 400, {"code": "PARAM_ERROR", "message": "参数错误"})
    txns = (
        []
        if day is None
        else bills.day_txns(sandbox.store, sandbox.channels.channel(wire.CODE), day)
    )
    txns = [t for t in txns if bill_type == "ALL" or t.refund == (bill_type == "REFUND")]
    if not txns:
        return _wechat_signed(sandbox, 400, NO_BILL)
    content, sha1 = trade_bill(txns, gzip="tar_type" in params)
    token = downloads(request).put(content)
    url = f"{str(request.base_url).rstrip('/')}/v3/billdownload/file?token={token}"
    return _wechat_signed(
        sandbox, 200, {"hash_type": "SHA1", "hash_value": sha1, "download_url": url}
    )


@router.get("/v3/billdownload/file", summary="WeChat bill download (下载账单)")
async def wechat_download(request: Request) -> Response:
    sandbox = sandbox_of(request)
    rejected = _wechat_rejected(sandbox, request)
    if rejected is not None:
        return rejected
    content = downloads(request).take(request.query_params.get("token", ""))
    if content is None:
        return _wechat_signed(sandbox, 400, {"code": "INVALID_REQUEST", "message": "链接已失效"})
    return Response(content, media_type="application/octet-stream")


def _wechat_rejected(sandbox: Sandbox, request: Request) -> Response | None:
    try:
        wire.verify_request(
            sandbox.keys[wire.CODE],
            request.headers.get("Authorization"),
            method=request.method,
            url=signed_url(request),
            body=b"",
            now_s=ids.now_s(),
        )
    except RequestRejected:
        return _wechat_signed(sandbox, 401, {"code": "SIGN_ERROR", "message": "签名错误"})
    return None


def _wechat_signed(sandbox: Sandbox, status: int, payload: Mapping[str, object]) -> Response:
    body = dump_json_compact(dict(payload))
    headers = wire.platform_headers(sandbox.keys[wire.CODE], body, now_s=ids.now_s())
    return Response(body, status_code=status, headers=headers, media_type="application/json")
