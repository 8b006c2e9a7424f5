"""Hostile and broken statement files: zip entries (encrypted, unknown method, unsafe paths,
bombs), the unpack ratio and seconds of the work budget, the charset named in the error."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest

from recon_service.adapters.statements import ParseContext, parse_statement
from recon_service.domain import Source, StatementLimits
from recon_service.domain.errors import (
    StatementCharset,
    UnsafeArchive,
    WorkBudgetExceeded,
)
from recon_service.testing.statement_files import Txn, alipay_zip, gbk_zip, wechat_bill

DAY = date(2031, 5, 6)
AT = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)


def txn(n: int) -> Txn:
    return Txn(
        out_trade_no=f"P{n:020d}",
        channel_txn_id=f"4200{n:024d}",
        amount_fen=1_000 + n,
        at=AT + timedelta(seconds=n),
        fee_fen=6,
    )


def parse_packed(source: str, data: bytes, limits: StatementLimits | None = None) -> int:
    """Parse as an upload does (the packed size known); returns the number of lines."""
    ctx = ParseContext(
        Source(source), limits or StatementLimits(), given_date=DAY, packed_bytes=len(data)
    )
    return sum(1 for _ in parse_statement(io.BytesIO(data), ctx))


def patched_zip(data: bytes, *, flag: int | None = None, method: int | None = None) -> bytes:
    """The zip with its first entry's flag bits / method rewritten in both headers."""
    raw = bytearray(data)
    local = raw.index(b"PK\x03\x04")
    central = raw.index(b"PK\x01\x02")
    if flag is not None:
        raw[local + 6 : local + 8] = flag.to_bytes(2, "little")
        raw[central + 8 : central + 10] = flag.to_bytes(2, "little")
    if method is not None:
        raw[local + 8 : local + 10] = method.to_bytes(2, "little")
        raw[central + 10 : central + 12] = method.to_bytes(2, "little")
    return bytes(raw)


ALIPAY = alipay_zip([txn(1), txn(2)], DAY)


def test_an_alipay_archive_parses_as_a_baseline() -> None:
    assert parse_packed("alipay", ALIPAY) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (patched_zip(ALIPAY, flag=0x1), "encrypted"),
        (patched_zip(ALIPAY, method=99), "compression method 99"),
        (gbk_zip([("../2088_20310506_业务明细.csv", b"x")]), "unsafe entry path"),
        (gbk_zip([("/etc/2088_20310506_业务明细.csv", b"x")]), "unsafe entry path"),
        (gbk_zip([(f"e{n}.csv", b"x") for n in range(17)]), "more than 16 entries"),
    ],
)
def test_hostile_zip_entries_are_refused_by_name(data: bytes, message: str) -> None:
    with pytest.raises(UnsafeArchive, match=message):
        parse_packed("alipay", data)


def test_a_unionpay_zip_with_an_encrypted_entry_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("INN31050600ZM_777290058167151", b"x" * 607)
    with pytest.raises(UnsafeArchive, match="encrypted"):
        parse_packed("unionpay", patched_zip(buffer.getvalue(), flag=0x1))


def test_a_gzip_of_300000_repeated_rows_is_refused_fast() -> None:
    """The issue's 250 KB gzip bill that cost 11 s: the unpack ratio stops it early."""
    data = wechat_bill([txn(1)] * 300_000, gz=True)
    assert len(data) < 400_000
    started = time.process_time()  # CPU seconds: what the upload costs the server
    with pytest.raises(UnsafeArchive, match="zip bomb"):
        parse_packed("wechatpay", data)
    assert time.process_time() - started < 2.5  # 11 s before


def test_a_real_gzip_bill_is_within_the_ratio() -> None:
    data = wechat_bill([txn(n) for n in range(20_000)], gz=True)
    assert parse_packed("wechatpay", data) == 20_000


def test_the_parse_stops_at_its_seconds() -> None:
    data = wechat_bill([txn(n) for n in range(5_000)])
    with pytest.raises(WorkBudgetExceeded, match="work budget"):
        parse_packed("wechatpay", data, StatementLimits(max_parse_s=0.001))


def test_a_gbk_file_where_utf8_is_due_names_the_charset_found() -> None:
    data = wechat_bill([txn(1)]).decode("utf-8-sig").encode("gb18030")
    with pytest.raises(StatementCharset, match="looks gbk-encoded") as caught:
        parse_packed("wechatpay", data)
    assert caught.value.line_no == 1
