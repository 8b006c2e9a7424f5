"""UnionPay ZM's bulk path against the per-line parser (the reference): ordinary files, bare
or in the downloaded zip, take the bulk path and give the very same lines; odd or broken
ones fall back (the per-line parser decides). Generated files, records with their trailing
spaces trimmed, random mutations. (Every parser test of test_recon_unionpay_zm runs both
ways too; the trace times the bulk path builds are tested in test_recon_unionpay_fast_paths.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon_service.adapters.statements import ParseContext, bulk, unionpay
from recon_service.domain import BUSINESS_TZ, Source, StatementLimits
from recon_service.testing import bulk as checks
from recon_service.testing.statement_files import Txn, gbk_zip, unionpay_zm, zm_record

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2031, 5, 6, tzinfo=BUSINESS_TZ)
DAY = date(2031, 5, 6)
NAME = f"777290058167151_{DAY:%Y%m%d}.txt"  # the day in the name


def context(given_date: date | None, filename: str | None) -> ParseContext:
    return ParseContext(Source.UNIONPAY, StatementLimits(), given_date=given_date,
                        filename=filename)  # fmt: skip


def reference(
    data: bytes, given_date: date | None = DAY, filename: str | None = None
) -> checks.Outcome:
    return checks.reference_outcome(data, context(given_date, filename))


def by_bulk(
    data: bytes, given_date: date | None = DAY, filename: str | None = None
) -> checks.Outcome | None:
    return checks.bulk_outcome(data, context(given_date, filename))


def contexts(given_date: date | None, filename: str | None = NAME) -> Callable[[], ParseContext]:
    return lambda: context(given_date, filename)


@st.composite
def txns(draw: st.DrawFn) -> list[Txn]:
    count = draw(st.integers(1, 40))
    return [
        Txn(
            out_trade_no=f"P{n:06d}{draw(st.sampled_from(['', 'x', '_-|*@', 'a b']))}",
            channel_txn_id=f"78{draw(st.integers(0, 10**18)):019d}",
            amount_fen=draw(st.sampled_from([1, 5, 99, 100, 12_345, 10**11])),
            at=START + timedelta(seconds=draw(st.integers(-86_400, 2 * 86_400))),
            refund=(refund := draw(st.booleans())),
            out_refund_no=draw(st.sampled_from([f"R{n}", None])) if refund else None,
            fee_fen=draw(st.integers(0, 99_999)),
        )
        for n in range(count)
    ]


def _codes(data: bytes, draw: Callable[..., bytes]) -> bytes:
    """Each refund's 交易代码 drawn (S30 退货 or S31 消费撤销)."""
    rows = data.split(b"\r\n")
    return b"\r\n".join(
        draw(st.sampled_from([b"S30", b"S31"])) + row[3:] if row.startswith(b"S30") else row
        for row in rows
    )


@EXAMPLES
@given(rows=txns(), data=st.data(), trim=st.booleans(), crlf=st.booleans(),
       zipped=st.booleans(), day=st.booleans())  # fmt: skip
def test_generated_files_take_the_bulk_path_and_give_the_same_lines(  # noqa: PLR0913
    rows: list[Txn], data: st.DataObject, trim: bool, crlf: bool, zipped: bool, day: bool
) -> None:
    content = _codes(unionpay_zm(rows), data.draw)
    content = content.replace(b" \r\n", b"\r\n") if trim else content
    while trim and b" \r\n" in content:
        content = content.replace(b" \r\n", b"\r\n")
    content = content if crlf else content.replace(b"\r\n", b"\n")
    name = f"INN{DAY:%Y%m%d}ZM_777290058167151"
    content = gbk_zip([(name, content)]) if zipped else content
    given_date, filename = (DAY, None) if day else (None, f"{DAY:%Y%m%d}.zip")

    checks.same_lines(content, contexts(given_date, filename))


def test_without_a_day_the_bulk_path_leaves_the_refusal_to_the_reference() -> None:
    data = unionpay_zm([Txn(out_trade_no="P1", channel_txn_id="78", amount_fen=5, at=START)])

    assert by_bulk(data, None, "zm.txt") is None
    assert isinstance(reference(data, None, "zm.txt"), tuple)
    assert by_bulk(b"", None, "zm.txt") == reference(b"", None, "zm.txt") == []


Mutation = Callable[[bytes], bytes]
# Offsets of fields (0-based bytes) in a record, for mutations.
CODE, AMOUNT = unionpay.SPANS[0], unionpay.SPANS[unionpay.AMOUNT - 1]
ODD: list[tuple[str, Mutation]] = [
    ("blank line between records", lambda b: b.replace(b"\r\nS", b"\r\n\r\nS", 1)),
    ("a line of spaces", lambda b: b.replace(b"\r\nS", b"\r\n    \r\nS", 1)),
    ("a blank line at the end", lambda b: b + b"\r\n"),
    ("no final newline", lambda b: b[:-2]),
    ("a byte too many", lambda b: b.replace(b"\r\n", b"x\r\n", 1)),
    ("a separator taken", lambda b: b.replace(b"S22 ", b"S22x", 1)),
    ("a field shifted", lambda b: b.replace(b"S22 00049992 ", b"S22  00049992", 1)),
    ("an unknown code", lambda b: b.replace(b"S22", b"S99", 1)),
    ("a lower-case code", lambda b: b.replace(b"S22", b"s22", 1)),
    ("a zero amount", lambda b: b.replace(b"000000000100", b"000000000000", 1)),
    ("a signed amount", lambda b: b.replace(b"000000000100", b"-00000000100", 1)),
    ("a yuan amount", lambda b: b.replace(b"000000000100", b"0000000001.0", 1)),
    ("a space inside the amount", lambda b: b.replace(b"000000000100", b"00000 000100", 1)),
    ("a fee without D or C", lambda b: b.replace(b"D000000000006", b"X000000000006", 1)),
    ("a fee with a space", lambda b: b.replace(b"D000000000006", b"D 00000000006", 1)),
    ("an empty fee", lambda b: b.replace(b"D000000000006", b"             ", 1)),
    ("a 30 February", lambda b: b.replace(b"0506", b"0230", 1)),
    ("a 25th hour", lambda b: b.replace(b"05060", b"05062", 1).replace(b"050620", b"050625", 1)),
    ("a short time", lambda b: b.replace(b" 0506", b" 506 ", 1)),
    ("an empty order id", lambda b: b.replace(b"P000001", b"       ", 1)),
    ("a quote in an order id", lambda b: b.replace(b"P000001", b'P"00001', 1)),
    ("a quote in a refs field", lambda b: b.replace(b"10000001", b'100"0001', 1)),
    ("a tab in a field", lambda b: b.replace(b"P000001", b"P\t00001", 1)),
    ("a backslash in a field", lambda b: b.replace(b"P000001", b"P\\00001", 1)),
    ("a lone CR", lambda b: b.replace(b"P000001", b"P\r00001", 1)),
    ("NUL", lambda b: b.replace(b"P000001", b"P\x0000001", 1)),
    ("a control character", lambda b: b.replace(b"P000001", b"P\x1f00001", 1)),
    ("a vertical tab at an edge", lambda b: b.replace(b"P000001 ", b"P000001\x0b", 1)),
    ("a DEL", lambda b: b.replace(b"P000001", b"P\x7f00001", 1)),
    ("GBK text", lambda b: b.replace(b"P000001", "订单".encode("gbk") + b"001", 1)),
    ("GBK split by a width", lambda b: b.replace(b"P000001 ", b"P00000\xb6\xa9", 1)),
    ("UTF-8 text", lambda b: b.replace(b"P000001", "订单1".encode(), 1)),
    ("a BOM", lambda b: b"\xef\xbb\xbf" + b),
    ("only spaces", lambda b: b" " * 607 + b"\r\n"),
]


@pytest.mark.parametrize("mutate", [m for _, m in ODD], ids=[name for name, _ in ODD])
@pytest.mark.parametrize("given_date", [DAY, None], ids=["given", "from the name"])
def test_odd_files_fall_back_or_agree_with_the_reference(
    mutate: Mutation, given_date: date | None
) -> None:
    genuine = unionpay_zm(
        [Txn(out_trade_no=f"P{n:06d}", channel_txn_id=f"78{n:019d}", amount_fen=100,
             at=START + timedelta(minutes=n), fee_fen=6, refund=n == 2, out_refund_no="R2")
         for n in range(3)]
    )  # fmt: skip
    data = mutate(genuine)
    assert data != genuine

    checks.falls_back_or_agrees(data, contexts(given_date))


def test_the_odd_cases_fall_back_where_the_reference_refuses() -> None:
    data = unionpay_zm([Txn(out_trade_no="P1", channel_txn_id="78", amount_fen=5, at=START)])
    broken = data.replace(b"S22", b"S99")

    assert by_bulk(broken) is None
    assert isinstance(reference(broken), tuple)


PATCHES = [b"", b" ", b"\t", b"\r\n", b"\n", b"0", b"D", b"C", b"-", b'"', b"\xb6", b"\\", b"x"]


@EXAMPLES
@given(rows=txns(), data=st.data())
def test_mutated_files_fall_back_or_agree_with_the_reference(
    rows: list[Txn], data: st.DataObject
) -> None:
    genuine = unionpay_zm(rows)
    at, cut = data.draw(st.integers(0, len(genuine) - 1)), data.draw(st.integers(0, 8))
    mutated = checks.spliced(genuine, at, cut, data.draw(st.sampled_from(PATCHES)))

    checks.falls_back_or_agrees(mutated, contexts(data.draw(st.sampled_from([DAY, None]))))


def test_chunks_are_cut_at_line_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK_BYTES", 997)
    data = unionpay_zm(
        [Txn(out_trade_no=f"P{n}", channel_txn_id=f"78{n:019d}", amount_fen=100 + n,
             at=START + timedelta(seconds=n)) for n in range(50)]
    )  # fmt: skip

    lines = checks.same_lines(data, contexts(DAY))

    assert [line.line_no for line in lines] == list(range(1, 51))


def test_a_record_without_any_key_falls_back() -> None:
    """No 商户订单号 and no 查询流水号: the line would have no key; the reference decides (its
    StatementLine refuses such a line)."""
    data = unionpay_zm([Txn(out_trade_no="", channel_txn_id="", amount_fen=5, at=START)])

    assert by_bulk(data) is None


def test_a_record_with_chinese_text_falls_back_to_the_reference() -> None:
    record = bytearray(zm_record(Txn(out_trade_no="P1", channel_txn_id="78", amount_fen=5,
                                     at=START)))  # fmt: skip
    start, _ = unionpay.SPANS[34]  # 商户自定义域
    record[start : start + 4] = "备注".encode("gbk")
    data = bytes(record) + b"\r\n"

    assert by_bulk(data) is None
    assert isinstance(reference(data), list)
