"""Allinpay's bulk path against the per-line parser (the reference): plain files — with or
without the header, UTF-8 (with or without a BOM) or GBK, rows of one day or several — take
the bulk path and give the very same lines; odd or broken ones, text in the wrong charset
among them, fall back (the per-line parser decides). Generated files, odd ones, random
mutations of bytes and of charsets. (Every parser test of test_recon_other_statements runs
both ways too.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon_service.adapters.statements import ParseContext, allinpay_bulk, bulk
from recon_service.domain import BUSINESS_TZ, Source, StatementLimits
from recon_service.testing import bulk as checks
from recon_service.testing.statement_files import Txn, allinpay_csv

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2031, 5, 6, tzinfo=BUSINESS_TZ)
DAY = date(2031, 5, 6)
BOM = b"\xef\xbb\xbf"
ENCODINGS = ["utf-8", "gbk", "utf-8 with a BOM"]


def contexts(given_date: date | None = DAY) -> Callable[[], ParseContext]:
    return lambda: ParseContext(Source.ALLINPAY, StatementLimits(), given_date=given_date)


def reference(data: bytes, given_date: date | None = DAY) -> checks.Outcome:
    return checks.reference_outcome(data, contexts(given_date)())


def by_bulk(data: bytes, given_date: date | None = DAY) -> checks.Outcome | None:
    return checks.bulk_outcome(data, contexts(given_date)())


def render(rows: list[Txn], *, header: bool = True, encoding: str = "utf-8") -> bytes:
    """The trxfile in ``ENCODINGS``."""
    data = allinpay_csv(rows, header=header, encoding=encoding.split(" ")[0])
    return BOM + data if encoding.endswith("BOM") else data


@st.composite
def txns(draw: st.DrawFn) -> list[Txn]:
    count = draw(st.integers(1, 40))
    return [
        Txn(
            out_trade_no=draw(st.sampled_from([f"P{n:06d}", f"P{n} x", "订单-1"])),
            channel_txn_id=f"2405{draw(st.integers(0, 10**16)):016d}",
            amount_fen=draw(st.sampled_from([1, 5, 99, 100, 12_345, 10**13])),
            at=START + timedelta(seconds=draw(st.integers(0, 86_399 * 2))),
            refund=(refund := draw(st.booleans())),
            out_refund_no=draw(st.sampled_from([f"R{n}", None])) if refund else None,
            fee_fen=draw(st.integers(0, 99_999)),
        )
        for n in range(count)
    ]


def _types(data: bytes, draw: Callable[..., str], encoding: str) -> bytes:
    """Each row's 交易类型 drawn (a void or refund by name, whatever the sign)."""
    kinds = ["消费", "退货", "撤销", "消费撤销", "预授权完成"]
    for kind in ("消费", "退货"):
        old = f",{kind},".encode(encoding)
        while old in data:
            new = f",{draw(st.sampled_from(kinds))}X,".encode(encoding)
            data = data.replace(old, new, 1)
    return data.replace("X,".encode(encoding), b",")


@EXAMPLES
@given(rows=txns(), data=st.data(), header=st.booleans(), encoding=st.sampled_from(ENCODINGS),
       crlf=st.booleans(), day=st.booleans())  # fmt: skip
def test_generated_files_take_the_bulk_path_and_give_the_same_lines(  # noqa: PLR0913
    rows: list[Txn], data: st.DataObject, header: bool, encoding: str, crlf: bool, day: bool
) -> None:
    content = _types(render(rows, header=header, encoding=encoding), data.draw,
                     encoding.split(" ")[0])  # fmt: skip
    content = content if crlf else content.replace(b"\r\n", b"\n")

    checks.same_lines(content, contexts(DAY if day else None))


def test_the_header_may_reorder_and_leave_out_optional_columns() -> None:
    data = (
        "商户号,原交易单,订单号,交易金额,手续费,交易日期,交易时间,交易类型,交易单号\n"
        ",,P1,1.00,0.01,2031-05-06,10:00:00,消费,T1\n"
        "C1,T1,,-2.50,,2031-05-06,10:00:01,退款,T2\n"
    ).encode()

    lines = checks.same_lines(data, contexts())

    assert [(line.amount_fen, line.fee_fen) for line in lines] == [(100, 1), (250, 0)]
    assert [(line.out_trade_no, line.channel_txn_id) for line in lines] == [
        ("P1", "T1"),
        (None, "T1"),
    ]


def test_a_row_marked_as_a_refund_without_any_key_falls_back() -> None:
    """交易类型 names a void on a payment row (no 原交易单) that has no 订单号: the line would
    have no key; the reference decides (its StatementLine refuses such a line)."""
    data = render([Txn(out_trade_no="", channel_txn_id="T1", amount_fen=100, at=START)])
    data = data.replace(",消费,".encode(), ",撤销,".encode())

    assert by_bulk(data) is None


Mutation = Callable[[bytes], bytes]
GBK_SHOP = "上海门店".encode("gbk")
UTF8_SHOP = "上海门店".encode()
ODD: list[tuple[str, Mutation]] = [
    ("blank line between rows", lambda b: b.replace(b"\r\n5", b"\r\n\r\n5", 1)),
    ("a line of spaces", lambda b: b.replace(b"\r\n5", b"\r\n  \r\n5", 1)),
    ("a line of ideographic spaces", lambda b: b.replace(b"\r\n5", "\r\n\u3000\r\n5".encode(), 1)),
    ("blank first line", lambda b: b"\r\n" + b),
    ("a blank line at the end", lambda b: b + b"\r\n"),
    ("no final newline", lambda b: b[:-2]),
    ("header only", lambda b: b[: b.index(b"\r\n") + 2]),
    ("space around an id", lambda b: b.replace(b",P000001,", b", P000001 ,")),
    ("quoted field", lambda b: b.replace(b",P000001,", b',"P000001",')),
    ("quoted field with a comma", lambda b: b.replace(b",P000001,", b',"P0,1",')),
    ("tab in a field", lambda b: b.replace(b",P000001,", b",P\t1,", 1)),
    ("backslash in a field", lambda b: b.replace(b",P000001,", b",P\\1,", 1)),
    ("quote in a refs field", lambda b: b.replace(b",S001,", b',S"01,', 1)),
    ("a control character in refs", lambda b: b.replace(b",S001,", b",S\x0101,", 1)),
    ("a lone CR", lambda b: b.replace(b",P000001,", b",P\r1,", 1)),
    ("NUL", lambda b: b.replace(b",P000001,", b",P\x001,", 1)),
    ("a field too many", lambda b: b.replace(b"\r\n", b",x\r\n", 2)),
    ("a field too few", lambda b: b.replace(b",S001,", b",", 1)),
    ("30 February", lambda b: b.replace(b",2031-05-06,", b",2031-02-30,", 1)),
    ("a short date", lambda b: b.replace(b",2031-05-06,", b",2031-5-6,", 1)),
    ("another day", lambda b: b.replace(b",2031-05-06,", b",2031-05-07,", 1)),
    ("a bad time", lambda b: b.replace(b",00:00:00,", b",24:00:00,", 1)),
    ("an empty time", lambda b: b.replace(b",00:00:00,", b",,", 1)),
    ("a zero amount", lambda b: b.replace(b",1.00,", b",0.00,", 1)),
    ("an amount without decimals", lambda b: b.replace(b",1.00,", b",1,", 1)),
    ("three decimals", lambda b: b.replace(b",1.00,", b",1.001,", 1)),
    ("a fee of five decimals", lambda b: b.replace(b",0.06,", b",0.00500,", 1)),
    ("an empty fee", lambda b: b.replace(b",0.06,", b",,", 1)),
    (
        "no 订单号 nor 交易单号",
        lambda b: b.replace(b",P000001,", b",,", 1).replace(b",T1,", b",,", 1),
    ),
    ("header with a missing column", lambda b: b.replace("订单号,".encode(), "单号,".encode(), 1)),
    (
        "header spelled with spaces",
        lambda b: b.replace("商户号,".encode(), " 商户号 ,".encode(), 1),
    ),
    ("no header", lambda b: b[b.index(b"\r\n") + 2 :]),
    # Charsets: the reference decides by the first non-ASCII line and refuses what is not in it.
    ("GBK in a UTF-8 file", lambda b: b.replace(UTF8_SHOP, GBK_SHOP, 1)),
    ("GBK on a later row", lambda b: _last(b, UTF8_SHOP, GBK_SHOP)),
    (
        "UTF-8 on a later row of a GBK file",
        lambda b: _last(b.decode().encode("gbk"), GBK_SHOP, UTF8_SHOP),
    ),  # fmt: skip
    ("a GBK file after a BOM", lambda b: BOM + b.decode().encode("gbk")),
    ("a BOM on a GBK file's second line", lambda b: _second(b.decode().encode("gbk"), BOM)),
    ("a GB18030 BOM", lambda b: "\ufeff".encode("gb18030") + b.decode().encode("gbk")),
    ("a UTF-8 BOM twice", lambda b: BOM + BOM + b),
    ("bytes in neither charset", lambda b: b.replace(UTF8_SHOP, b"\xff\xfe", 1)),
    ("a GBK lead byte at a line end", lambda b: b.replace(b"\r\n5", b"\xb6\r\n5", 1)),
    ("GB18030 four-byte text", lambda b: b.decode().replace("上海", "𠀀").encode("gb18030")),
    ("a split UTF-8 character", lambda b: b.replace(UTF8_SHOP, UTF8_SHOP[:-1], 1)),
    ("UTF-8 that is valid GBK too", lambda b: b.replace(UTF8_SHOP, "涓婃捣".encode("gbk"), 1)),
    (
        "only ASCII rows",
        lambda b: (
            b.replace(UTF8_SHOP, b"SH")
            .replace("借记卡".encode(), b"DEBIT")
            .replace("农业银行".encode(), b"ABC")
            .replace("银行卡".encode(), b"CARD")
        ),
    ),  # fmt: skip
]


def _last(data: bytes, old: bytes, new: bytes) -> bytes:
    """``old`` replaced by ``new`` on the last row only."""
    head, _, tail = data[:-2].rpartition(b"\r\n")
    return head + b"\r\n" + tail.replace(old, new) + b"\r\n"


def _second(data: bytes, prefix: bytes) -> bytes:
    """``prefix`` at the start of the second line."""
    first, _, rest = data.partition(b"\r\n")
    return first + b"\r\n" + prefix + rest


def genuine_file(*, header: bool = True, encoding: str = "utf-8") -> bytes:
    rows = [Txn(out_trade_no=f"P{n:06d}", channel_txn_id=f"T{n}", amount_fen=100, fee_fen=6,
                at=START + timedelta(minutes=n), refund=n == 2, out_refund_no="R2")
            for n in range(3)]  # fmt: skip
    return render(rows, header=header, encoding=encoding)


@pytest.mark.parametrize("mutate", [m for _, m in ODD], ids=[name for name, _ in ODD])
@pytest.mark.parametrize("given_date", [DAY, None], ids=["given", "not given"])
def test_odd_files_fall_back_or_agree_with_the_reference(
    mutate: Mutation, given_date: date | None
) -> None:
    genuine = genuine_file()
    data = mutate(genuine)
    assert data != genuine

    checks.falls_back_or_agrees(data, contexts(given_date))


def test_text_not_in_the_decided_charset_falls_back_where_the_reference_refuses() -> None:
    data = _last(genuine_file(), UTF8_SHOP, GBK_SHOP)

    assert by_bulk(data) is None
    assert isinstance(reference(data), tuple)


PATCHES = [b"", b" ", b"\t", b",", b'"', b"\r\n", b"\n", b"0", b"-", b".", b":", b"\\", b"x",
           b"\xe4", b"\xb6", b"\xff", BOM, GBK_SHOP, UTF8_SHOP, "退".encode(),
           "退".encode("gbk")]  # fmt: skip


@EXAMPLES
@given(rows=txns(), data=st.data(), header=st.booleans(), encoding=st.sampled_from(ENCODINGS))
def test_mutated_files_fall_back_or_agree_with_the_reference(
    rows: list[Txn], data: st.DataObject, header: bool, encoding: str
) -> None:
    genuine = render(rows, header=header, encoding=encoding)
    at, cut = data.draw(st.integers(0, len(genuine) - 1)), data.draw(st.integers(0, 8))
    mutated = checks.spliced(genuine, at, cut, data.draw(st.sampled_from(PATCHES)))

    checks.falls_back_or_agrees(mutated, contexts(data.draw(st.sampled_from([DAY, None]))))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_chunks_are_cut_at_line_ends(monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    monkeypatch.setattr(bulk, "CHUNK_BYTES", 97)
    rows = [Txn(out_trade_no=f"P{n}", channel_txn_id=f"T{n}", amount_fen=100 + n,
                at=START + timedelta(seconds=n)) for n in range(50)]  # fmt: skip
    lines = checks.same_lines(render(rows, encoding=encoding), contexts())

    assert [line.line_no for line in lines] == list(range(2, 52))


def test_the_charset_is_decided_by_the_first_non_ascii_line_in_a_later_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "CHUNK_BYTES", 2_000)
    ascii_rows = genuine_file(header=False).replace(UTF8_SHOP, b"SH")
    for chinese in ("借记卡", "农业银行", "银行卡", "消费", "退货"):
        ascii_rows = ascii_rows.replace(chinese.encode(), b"X")
    assert ascii_rows.isascii()
    for encoding in ("utf-8", "gbk"):
        data = ascii_rows * 10 + genuine_file(header=False, encoding=encoding)

        checks.same_lines(data, contexts())
        assert allinpay_bulk.charset(data, 1) == ("gb18030" if encoding == "gbk" else "utf-8")
