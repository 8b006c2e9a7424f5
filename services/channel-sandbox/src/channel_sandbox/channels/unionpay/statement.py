"""UnionPay's file transfer (txnType 76): the day's ZM statement, built from what the sandbox saw.

`POST /unionpay/file-transfer` (form `txnType=76`, `settleDate=MMDD`, `merId`, …) → form
`respCode=00&fileName=…&fileContent=<Base64 of the DEFLATE-compressed zip>`; no file →
`respCode=98`. Requests are not signature-checked here (sandbox).
"""

from __future__ import annotations

import base64
import io
import zipfile
import zlib
from collections.abc import Set as AbstractSet
from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channel_sandbox import bills, ids
from channel_sandbox.api.bills import closed_day, downloads
from channel_sandbox.api.common import CHANNEL_REQUEST_BODY_MAX_BYTES, sandbox_of
from channel_sandbox.channels import unionpay as wire
from otd_shared.channel_wire import WireFormatError, decode_form, encode_form
from otd_shared.statement_files import Txn, unionpay_zm

router = APIRouter(tags=["Statement downloads (channel side)"])


def statement_zip(txns: list[Txn], mer_id: str, day: date) -> tuple[bytes, str]:
    """The file-transfer zip holding ``INN<yyMMdd>88ZM_<merId>`` and its file name."""
    buffer = io.BytesIO()
    stamp = (day.year, day.month, day.day, 9, 0, 0)  # generated once, at 09:00 the next day
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (("ZM", unionpay_zm(txns)), ("ZME", b"")):
            info = zipfile.ZipInfo(f"INN{day:%y%m%d}88{name}_{mer_id}", date_time=stamp)
            archive.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue(), f"{mer_id}_{day:%Y%m%d}.zip"


@router.post("/unionpay/file-transfer", summary="UnionPay file transfer (文件传输, txnType 76)")
async def unionpay_file_transfer(request: Request) -> Response:
    sandbox = sandbox_of(request)
    body = await request.body()
    failed = downloads(request).failure(wire.CODE)
    if failed is not None:
        return Response(b"", status_code=failed)
    try:
        form = dict(decode_form(body[:CHANNEL_REQUEST_BODY_MAX_BYTES]))
    except WireFormatError:
        return _form({"respCode": "12", "respMsg": "报文格式错误"})
    mer_id = sandbox.keys[wire.CODE].id("merId")
    if form.get("txnType") != "76" or form.get("merId") != mer_id:
        return _form({"respCode": "12", "respMsg": "交易类型或商户号错误"})
    day = _settle_day(form.get("settleDate", ""), downloads(request).published)
    txns = (
        []
        if day is None
        else bills.day_txns(sandbox.store, sandbox.channels.channel(wire.CODE), day)
    )
    if day is None or not txns:
        return _form({"respCode": "98", "respMsg": "文件不存在"})
    archive, name = statement_zip(txns, mer_id, day)
    content = base64.b64encode(zlib.compress(archive)).decode("ascii")
    return _form(
        {"respCode": "00", "respMsg": "成功", "fileName": name, "fileContent": content,
         "settleDate": form.get("settleDate", ""), "merId": mer_id}
    )  # fmt: skip


def _settle_day(mmdd: str, published: AbstractSet[date]) -> date | None:
    """MMDD: the most recent such day before today (or published early)."""
    today = bills.local_day(ids.now_s())
    for year in (today.year, today.year - 1):
        day = closed_day(f"{year}{mmdd}", "%Y%m%d", published)
        if day is not None and day > today - timedelta(days=366):
            return day
    return None


def _form(fields: dict[str, str]) -> Response:
    return Response(encode_form(fields.items()), media_type="application/x-www-form-urlencoded")
