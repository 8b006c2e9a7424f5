"""Lakala's statement download (ASSUMED API, no public one), built from what the sandbox saw.

`POST /api/v3/labs/bill/download` with the v3 envelope `{"req_data":{"merchant_no",
"bill_date":"yyyyMMdd"}}` and LKLAPI Authorization → signed `{"code":"BBS00000","resp_data":
{"file_name","file_content":<Base64>,"sha256"}}`; no file → `BBS11112`. The CSV is the
assumed layout of docs/recon.md.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from channel_sandbox import bills, ids
from channel_sandbox.api.bills import closed_day, downloads
from channel_sandbox.api.common import CHANNEL_REQUEST_BODY_MAX_BYTES, sandbox_of
from channel_sandbox.channels import lakala as wire
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.engine import Sandbox
from otd_shared.channel_wire import WireFormatError, dump_json_compact, parse_json_object
from otd_shared.statement_files import lakala_csv

router = APIRouter(tags=["Statement downloads (channel side)"])


@router.post("/api/v3/labs/bill/download", summary="Lakala statement download (ASSUMED API)")
async def lakala_bill(request: Request) -> Response:
    sandbox = sandbox_of(request)
    keys = sandbox.keys[wire.CODE]
    body = await request.body()
    failed = downloads(request).failure(wire.CODE)
    if failed is not None:
        return JSONResponse({"code": "BBS99999", "msg": "系统繁忙"}, status_code=failed)
    try:
        wire.verify_request(keys, request.headers.get("Authorization"), body, now_s=ids.now_s())
        data = parse_json_object(body[:CHANNEL_REQUEST_BODY_MAX_BYTES], "request body")
    except RequestRejected:
        return _lakala(sandbox, 401, "BBS10001", "验签失败", None)
    except WireFormatError:
        return _lakala(sandbox, 400, "BBS11105", "请求体不是合法的JSON对象", None)
    req = data.get("req_data")
    req = req if isinstance(req, dict) else {}
    if req.get("merchant_no") != keys.id("merchant_no"):
        return _lakala(sandbox, 200, "BBS11106", "商户号不存在", None)
    day = closed_day(str(req.get("bill_date", "")), "%Y%m%d", downloads(request).published)
    txns = (
        []
        if day is None
        else bills.day_txns(sandbox.store, sandbox.channels.channel(wire.CODE), day)
    )
    if day is None or not txns:
        return _lakala(sandbox, 200, "BBS11112", "账单不存在", None)
    content = lakala_csv(txns)
    resp = {
        "file_name": f"{keys.id('merchant_no')}_{day:%Y%m%d}.csv",
        "file_content": base64.b64encode(content).decode("ascii"),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    return _lakala(sandbox, 200, "BBS00000", "成功", resp)


def _lakala(
    sandbox: Sandbox, status: int, code: str, msg: str, resp: Mapping[str, object] | None
) -> Response:
    payload = {"code": code, "msg": msg, "resp_time": ids.lakala_time(ids.now_s()),
               "resp_data": resp}  # fmt: skip
    body = dump_json_compact(payload)
    headers = wire.response_headers(sandbox.keys[wire.CODE], body, now_s=ids.now_s())
    return Response(body, status_code=status, headers=headers, media_type="application/json")
