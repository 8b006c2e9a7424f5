"""Statement downloads as the channels offer them, built from what the sandbox saw that day.

* WeChat Pay `GET /v3/bill/tradebill?bill_date=YYYY-MM-DD[&bill_type=ALL][&tar_type=GZIP]`
  (merchant Authorization required) → signed `{"hash_type":"SHA1","hash_value","download_url"}`;
  `GET /v3/billdownload/file?token=…` (Authorization required) → the bill (gzip with
  `tar_type=GZIP`), unsigned as WeChat's is. A day without trades, or not over yet → 400
  `{"code":"NO_STATEMENT_EXIST","message":"No Bill Exist"}`.
* UnionPay file transfer `POST /unionpay/file-transfer` (form `txnType=76`, `settleDate=MMDD`,
  `merId`, …) → form `respCode=00&fileName=…&fileContent=<Base64 of the DEFLATE-compressed
  zip>`; no file → `respCode=98`. Requests are not signature-checked here (sandbox).
* Lakala (ASSUMED API, no public one): `POST /api/v3/labs/bill/download` with the v3 envelope
  `{"req_data":{"merchant_no","bill_date":"yyyyMMdd"}}` and LKLAPI Authorization → signed
  `{"code":"BBS00000","resp_data":{"file_name","file_content":<Base64>,"sha256"}}`; no file →
  `BBS11112`.

Sandbox extension: `POST /sandbox/bills/fail-next` `{"channel","count","status"}` makes the
next downloads of a channel answer that HTTP status (retries and back-off in recon's tests).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from channel_sandbox import bills, ids
from channel_sandbox.api.common import CHANNEL_REQUEST_BODY_MAX_BYTES, sandbox_of, signed_url
from channel_sandbox.channels import lakala as lakala_wire
from channel_sandbox.channels import wechatpay as wechat_wire
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.engine import Sandbox
from otd_shared.channel_wire import (
    WireFormatError,
    decode_form,
    dump_json_compact,
    encode_form,
    parse_json_object,
)

router = APIRouter(tags=["Statement downloads (channel side)"])
DOWNLOAD_TTL_S: Final = 300
DOWNLOADS_MAX: Final = 200
NO_BILL: Final = {"code": "NO_STATEMENT_EXIST", "message": "No Bill Exist"}
BILL_TYPES: Final = frozenset({"ALL", "SUCCESS", "REFUND"})


class FailNext(BaseModel):
    """Make the next ``count`` downloads of a channel fail with ``status``."""

    channel: str = Field(pattern="^(wechatpay|unionpay|lakala)$")
    count: int = Field(ge=1, le=20)
    status: int = Field(default=503, ge=400, le=599)


class _Downloads:
    """Download tokens (bounded, expiring) and injected failures of one app."""

    def __init__(self) -> None:
        self.files: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.failures: dict[str, tuple[int, int]] = {}

    def put(self, content: bytes) -> str:
        token = secrets.token_urlsafe(24)
        self.files[token] = (time.monotonic() + DOWNLOAD_TTL_S, content)
        while len(self.files) > DOWNLOADS_MAX:
            self.files.popitem(last=False)
        return token

    def take(self, token: str) -> bytes | None:
        found = self.files.get(token)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def failure(self, channel: str) -> int | None:
        count, status = self.failures.get(channel, (0, 0))
        if count <= 0:
            return None
        self.failures[channel] = (count - 1, status)
        return status


def _downloads(request: Request) -> _Downloads:
    found = getattr(request.app.state, "bill_downloads", None)
    if not isinstance(found, _Downloads):
        found = _Downloads()
        request.app.state.bill_downloads = found
    return found


def _closed_day(text: str, fmt: str) -> date | None:
    """The bill day when it parses and is over (bills exist from the next day on)."""
    try:
        day = datetime.strptime(text, fmt).date()  # noqa: DTZ007  (a calendar date)
    except ValueError:
        return None
    today = bills.local_day(ids.now_s())
    return day if day < today else None


@router.post("/sandbox/bills/fail-next", status_code=202)
async def fail_next(body: FailNext, request: Request) -> dict[str, object]:
    """Sandbox extension: the next downloads of a channel fail."""
    _downloads(request).failures[body.channel] = (body.count, body.status)
    return {"channel": body.channel, "count": body.count, "status": body.status}


# ---------------------------------------------------------------- WeChat Pay


@router.get("/v3/bill/tradebill", summary="WeChat trade bill (申请交易账单)")
async def wechat_tradebill(request: Request) -> Response:
    sandbox = sandbox_of(request)
    rejected = _wechat_rejected(sandbox, request)
    if rejected is not None:
        return rejected
    failed = _downloads(request).failure("wechatpay")
    if failed is not None:
        return _wechat_signed(sandbox, failed, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
    params = request.query_params
    day = _closed_day(params.get("bill_date", ""), "%Y-%m-%d")
    bill_type = params.get("bill_type", "ALL")
    if bill_type not in BILL_TYPES or params.get("tar_type", "GZIP") != "GZIP":
        return _wechat_signed(sandbox, 400, {"code": "PARAM_ERROR", "message": "参数错误"})
    txns = [] if day is None else bills.day_txns(sandbox.store, "wechatpay", day)
    txns = [t for t in txns if bill_type == "ALL" or t.refund == (bill_type == "REFUND")]
    if not txns:
        return _wechat_signed(sandbox, 400, NO_BILL)
    content, sha1 = bills.wechat_trade_bill(txns, gzip="tar_type" in params)
    token = _downloads(request).put(content)
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
    content = _downloads(request).take(request.query_params.get("token", ""))
    if content is None:
        return _wechat_signed(sandbox, 400, {"code": "INVALID_REQUEST", "message": "链接已失效"})
    return Response(content, media_type="application/octet-stream")


def _wechat_rejected(sandbox: Sandbox, request: Request) -> Response | None:
    try:
        wechat_wire.verify_request(
            sandbox.keys["wechatpay"],
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
    headers = wechat_wire.platform_headers(sandbox.keys["wechatpay"], body, now_s=ids.now_s())
    return Response(body, status_code=status, headers=headers, media_type="application/json")


# ---------------------------------------------------------------- UnionPay


@router.post("/unionpay/file-transfer", summary="UnionPay file transfer (文件传输, txnType 76)")
async def unionpay_file_transfer(request: Request) -> Response:
    sandbox = sandbox_of(request)
    body = await request.body()
    failed = _downloads(request).failure("unionpay")
    if failed is not None:
        return Response(b"", status_code=failed)
    try:
        form = dict(decode_form(body[:CHANNEL_REQUEST_BODY_MAX_BYTES]))
    except WireFormatError:
        return _form({"respCode": "12", "respMsg": "报文格式错误"})
    mer_id = sandbox.keys["unionpay"].id("merId")
    if form.get("txnType") != "76" or form.get("merId") != mer_id:
        return _form({"respCode": "12", "respMsg": "交易类型或商户号错误"})
    day = _settle_day(form.get("settleDate", ""))
    txns = [] if day is None else bills.day_txns(sandbox.store, "unionpay", day)
    if day is None or not txns:
        return _form({"respCode": "98", "respMsg": "文件不存在"})
    archive, name = bills.unionpay_zip(txns, mer_id, day)
    content = base64.b64encode(zlib.compress(archive)).decode("ascii")
    return _form(
        {"respCode": "00", "respMsg": "成功", "fileName": name, "fileContent": content,
         "settleDate": form.get("settleDate", ""), "merId": mer_id}
    )  # fmt: skip


def _settle_day(mmdd: str) -> date | None:
    """MMDD: the most recent such day before today."""
    today = bills.local_day(ids.now_s())
    for year in (today.year, today.year - 1):
        day = _closed_day(f"{year}{mmdd}", "%Y%m%d")
        if day is not None and day > today - timedelta(days=366):
            return day
    return None


def _form(fields: dict[str, str]) -> Response:
    return Response(encode_form(fields.items()), media_type="application/x-www-form-urlencoded")


# ---------------------------------------------------------------- Lakala (assumed)


@router.post("/api/v3/labs/bill/download", summary="Lakala statement download (ASSUMED API)")
async def lakala_bill(request: Request) -> Response:
    sandbox = sandbox_of(request)
    keys = sandbox.keys["lakala"]
    body = await request.body()
    failed = _downloads(request).failure("lakala")
    if failed is not None:
        return JSONResponse({"code": "BBS99999", "msg": "系统繁忙"}, status_code=failed)
    try:
        lakala_wire.verify_request(
            keys, request.headers.get("Authorization"), body, now_s=ids.now_s()
        )
        data = parse_json_object(body[:CHANNEL_REQUEST_BODY_MAX_BYTES], "request body")
    except RequestRejected:
        return _lakala(sandbox, 401, "BBS10001", "验签失败", None)
    except WireFormatError:
        return _lakala(sandbox, 400, "BBS11105", "请求体不是合法的JSON对象", None)
    req = data.get("req_data")
    req = req if isinstance(req, dict) else {}
    if req.get("merchant_no") != keys.id("merchant_no"):
        return _lakala(sandbox, 200, "BBS11106", "商户号不存在", None)
    day = _closed_day(str(req.get("bill_date", "")), "%Y%m%d")
    txns = [] if day is None else bills.day_txns(sandbox.store, "lakala", day)
    if day is None or not txns:
        return _lakala(sandbox, 200, "BBS11112", "账单不存在", None)
    content = bills.lakala_bill(txns)
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
    headers = lakala_wire.response_headers(sandbox.keys["lakala"], body, now_s=ids.now_s())
    return Response(body, status_code=status, headers=headers, media_type="application/json")
