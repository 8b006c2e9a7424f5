"""The Alipay bill's bulk path against the per-line parser (the reference): ordinary bills
(zipped or bare, with or without the summary) take the bulk path and give the very same
lines; odd or broken ones either fall back (and the per-line parser decides) or, for the
archive and summary checks, raise the reference's own error. Generated bills of random
payments and refunds, and random mutations. (Every test of test_recon_alipay_bill runs both
ways too.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon_service.adapters.statements import ParseContext, bulk
from recon_service.domain import BUSINESS_TZ, Source, StatementLimits
from recon_service.testing import bulk as checks
from recon_service.testing.statement_files import Txn, alipay_detail, alipay_zip

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2031, 5, 6, tzinfo=BUSINESS_TZ)
DAY = date(2031, 5, 6)


def _ctx(data: bytes, given_date: date | None) -> ParseContext:
    ctx = ParseContext(Source.ALIPAY, StatementLimits(), given_date=given_date)
    ctx.packed_bytes = len(data)
    return ctx


def contexts(data: bytes, given_date: date | None = DAY) -> Callable[[], ParseContext]:
    return lambda: _ctx(data, given_date)


@st.composite
def txns(draw: st.DrawFn) -> list[Txn]:
    count = draw(st.integers(1, 40))
    return [
        Txn(
            out_trade_no=f"P{n:06d}{draw(st.sampled_from(['', 'x', '_-|*@']))}",
            channel_txn_id=f"2088{draw(st.integers(0, 10**20)):020d}",
            amount_fen=draw(st.sampled_from([1, 5, 99, 100, 12_345, 10**13])),
            at=START + timedelta(seconds=draw(st.integers(0, 86_399))),
            refund=(refund := draw(st.booleans())),
            out_refund_no=draw(st.sampled_from([f"R{n}", None])) if refund else None,
            fee_fen=draw(st.integers(0, 99_999)),
        )
        for n in range(count)
    ]


@EXAMPLES
@given(rows=txns(), shape=st.sampled_from(["zip", "zip without summary", "bare"]),
       day=st.booleans(), ascii_parens=st.booleans())  # fmt: skip
def test_generated_bills_take_the_bulk_path_and_give_the_same_lines(
    rows: list[Txn], shape: str, day: bool, ascii_parens: bool
) -> None:
    detail = alipay_detail(rows, DAY)
    if ascii_parens:
        detail = detail.replace("（元）".encode("gbk"), "(元)".encode("gbk"))
    if shape == "bare":
        data = detail
    else:
        data = alipay_zip(rows, DAY, detail=detail, summary=shape == "zip")

    checks.same_lines(data, contexts(data, DAY if day else None))


def _genuine() -> list[Txn]:
    return [
        Txn(out_trade_no=f"P{n:06d}", channel_txn_id=f"2088{n:020d}", amount_fen=100 + n,
            at=START + timedelta(minutes=n), fee_fen=6, refund=n == 2,
            out_refund_no="R2" if n == 2 else None)
        for n in range(3)
    ]  # fmt: skip


Mutation = Callable[[bytes], bytes]


def _gbk(old: str, new: str, count: int = 1) -> Mutation:
    return lambda b: b.replace(old.encode("gbk"), new.encode("gbk"), count)


ODD: list[tuple[str, Mutation]] = [
    ("blank line between rows", _gbk("\r\n2088", "\r\n\r\n2088")),
    ("blank line in the preamble", _gbk("\r\n#账号", "\r\n   \r\n#账号")),
    ("space around an id", _gbk(",P000001\t,", ", P000001 ,")),
    ("tab inside an id", _gbk(",P000001\t,", ",P0\t00001,")),
    ("quoted field", _gbk(",P000001\t,", ',"P000001",')),
    ("backslash in a field", _gbk("store_01", "store\\01")),
    ("quote-free comma count off", _gbk("定金,2031", "定金,,2031")),
    ("30 February", _gbk("2031-05-06 00:01", "2031-02-30 00:01")),
    ("a lone CR", _gbk("store_01", "store\r01")),
    ("no decimals", _gbk(",1.01,1.01,", ",1,1.01,")),
    ("a zero amount", _gbk(",1.01,1.01,", ",0.00,1.01,")),
    ("a refund with a positive amount", _gbk(",-1.02,", ",1.02,")),
    ("an unknown business type", _gbk("交易\t", "转账\t")),
    ("a # line inside the table", _gbk("\r\n2088", "\r\n#x\r\n2088")),
    ("no closing marker", _gbk("业务明细列表结束", "xx")),
    ("a row after the footer", lambda b: b + "2088,x\r\n".encode("gbk")),
    ("no day", _gbk("起始日期", "开始日期")),
    ("another day", _gbk("2031年05月06日", "2031年05月07日")),
    ("a missing column", _gbk("商户订单号", "商户单号")),
    ("UTF-8", lambda b: b.decode("gb18030").encode("utf-8")),
    ("a UTF-8 row", lambda b: b.replace("上海门店".encode("gbk"), "上海门店".encode(), 1)),
    ("a GB18030 BOM", lambda b: "\ufeff".encode("gb18030") + b),
    ("a UTF-8 BOM", lambda b: b"\xef\xbb\xbf" + b),
    ("not GBK", lambda b: b.replace("上海门店".encode("gbk"), b"\xff\xfe", 1)),
    ("NUL", _gbk("store_01", "store\x0001")),
    ("a quote in a refs field", _gbk("store_01", 'store"01')),
    ("LF line ends", lambda b: b.replace(b"\r\n", b"\n")),
    ("cut in the rows", lambda b: b[: b.index(b"2088") + 40]),
]


@pytest.mark.parametrize("mutate", [m for _, m in ODD], ids=[name for name, _ in ODD])
@pytest.mark.parametrize("zipped", [False, True], ids=["bare", "zip"])
def test_odd_bills_fall_back_or_agree_with_the_reference(mutate: Mutation, zipped: bool) -> None:
    detail = mutate(alipay_detail(_genuine(), DAY))
    data = alipay_zip(_genuine(), DAY, detail=detail) if zipped else detail

    checks.falls_back_or_agrees(data, contexts(data))


def test_a_summary_that_disagrees_is_refused_by_the_bulk_path_itself() -> None:
    rows = _genuine()
    data = alipay_zip(rows, DAY, detail=alipay_detail(rows[:2], DAY))

    found = checks.bulk_outcome(data, contexts(data)())

    assert found == checks.reference_outcome(data, contexts(data)())
    assert isinstance(found, tuple)


PATCHES = [b"", b" ", b"\t", b",", b'"', b"#", b"\r\n", b"\n", b"0", b"-", b".", b"\xe4", b"\\"]


@EXAMPLES
@given(rows=txns(), data=st.data())
def test_mutated_bills_fall_back_or_agree_with_the_reference(
    rows: list[Txn], data: st.DataObject
) -> None:
    genuine = alipay_detail(rows, DAY)
    at, cut = data.draw(st.integers(0, len(genuine) - 1)), data.draw(st.integers(0, 8))
    mutated = checks.spliced(genuine, at, cut, data.draw(st.sampled_from(PATCHES)))
    zipped = data.draw(st.booleans())
    content = alipay_zip(rows, DAY, detail=mutated) if zipped else mutated

    checks.falls_back_or_agrees(content, contexts(content))


def test_chunks_are_cut_at_line_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK_BYTES", 4096)
    rows = [
        Txn(out_trade_no=f"P{n}", channel_txn_id=f"2088{n:020d}", amount_fen=100 + n,
            at=START + timedelta(seconds=n)) for n in range(200)
    ]  # fmt: skip
    data = alipay_zip(rows, DAY)

    lines = checks.same_lines(data, contexts(data))

    assert [line.line_no for line in lines] == list(range(6, 206))
