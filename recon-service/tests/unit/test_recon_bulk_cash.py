"""The cash statement's bulk path against the per-line parser (the reference): plain files
take the bulk path and give the very same lines; odd or broken ones fall back (the per-line
parser decides). Generated files, optional columns, and random mutations. (Every parser test
of test_recon_other_statements runs both ways too.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon_service.adapters.statements import ParseContext, bulk
from recon_service.domain import BUSINESS_TZ, Source, StatementLimits
from recon_service.testing import bulk as checks
from recon_service.testing.statement_files import Txn, cash_csv

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2031, 5, 6, tzinfo=BUSINESS_TZ)
DAY = date(2031, 5, 6)


def contexts(given_date: date | None = DAY) -> Callable[[], ParseContext]:
    return lambda: ParseContext(Source.CASH, StatementLimits(), given_date=given_date)


@st.composite
def txns(draw: st.DrawFn) -> list[Txn]:
    count = draw(st.integers(1, 40))
    return [
        Txn(
            out_trade_no=f"C{n:06d}{draw(st.sampled_from(['', 'x', '_-|*@']))}",
            channel_txn_id=f"R{draw(st.integers(0, 10**12)):012d}",
            amount_fen=draw(st.sampled_from([1, 5, 99, 100, 12_345, 10**13])),
            at=START + timedelta(seconds=draw(st.integers(0, 86_399))),
            refund=draw(st.booleans()),
        )
        for n in range(count)
    ]


@EXAMPLES
@given(rows=txns(), bom=st.booleans(), crlf=st.booleans(), day=st.booleans(),
       upper=st.booleans())  # fmt: skip
def test_generated_files_take_the_bulk_path_and_give_the_same_lines(
    rows: list[Txn], bom: bool, crlf: bool, day: bool, upper: bool
) -> None:
    content = cash_csv(rows, DAY)
    content = content.replace(b",refund\n", b",REFUND\n") if upper else content
    content = (b"\xef\xbb\xbf" if bom else b"") + content
    content = content.replace(b"\n", b"\r\n") if crlf else content

    checks.same_lines(content, contexts(DAY if day else None))


def test_optional_columns_may_be_missing_and_values_empty() -> None:
    data = (
        b"CASHIER,amount_fen,order_ref,receipt_no,store_id,date\n"
        b",100,P1,R1,,2031-05-06\n"
        b"c-1,5,,R2,S1,2031-05-06\n"
    )

    lines = checks.same_lines(data, contexts())

    assert [line.out_trade_no for line in lines] == ["P1", None]
    assert [line.refs for line in lines] == [(), (("store_id", "S1"), ("cashier", "c-1"))]


Mutation = Callable[[bytes], bytes]
ODD: list[tuple[str, Mutation]] = [
    ("blank line between rows", lambda b: b.replace(b"\n2031", b"\n\n2031", 2)),
    ("space around an id", lambda b: b.replace(b",C000001,", b", C000001,")),
    ("quoted field", lambda b: b.replace(b",C000001,", b',"C000001",')),
    ("quoted field with a comma", lambda b: b.replace(b",C000001,", b',"C0,1",')),
    ("tab in a field", lambda b: b.replace(b",S001,", b",S0\t01,", 1)),
    ("backslash in a field", lambda b: b.replace(b",S001,", b",S0\\01,", 1)),
    ("quote in a refs field", lambda b: b.replace(b",S001,", b',S0"01,', 1)),
    ("another day on one row", lambda b: b.replace(b"\n2031-05-06", b"\n2031-05-07", 1)),
    ("another day on every row", lambda b: b.replace(b"2031-05-06", b"2031-05-07")),
    ("30 February", lambda b: b.replace(b"2031-05-06", b"2031-02-30")),
    ("a bad time", lambda b: b.replace(b",00:01:00,", b",24:01:00,", 1)),
    ("a short time", lambda b: b.replace(b",00:01:00,", b",0:1:0,", 1)),
    ("no time", lambda b: b.replace(b",00:01:00,", b",,", 1)),
    ("a lone CR", lambda b: b.replace(b",S001,", b",S0\r01,", 1)),
    ("a yuan amount", lambda b: b.replace(b",100,", b",1.00,", 1)),
    ("a zero amount", lambda b: b.replace(b",100,", b",0,", 1)),
    ("an unknown kind", lambda b: b.replace(b",payment\n", b",pay\n", 1)),
    ("an empty kind", lambda b: b.replace(b",payment\n", b",\n", 1)),
    ("an empty receipt", lambda b: b.replace(b",R000000000001,", b",,", 1)),
    ("a field too many", lambda b: b.replace(b",payment\n", b",payment,x\n", 1)),
    ("no header", lambda b: b[b.index(b"\n") + 1 :]),
    ("blank first line", lambda b: b"\n" + b),
    ("a blank line at the end", lambda b: b + b"\n"),
    ("no final newline", lambda b: b[:-1]),
    ("header only", lambda b: b[: b.index(b"\n") + 1]),
    ("GBK", lambda b: b.replace(b"cashier-7", "收银".encode("gbk"), 1)),
    ("UTF-8 Chinese", lambda b: b.replace(b"cashier-7", "收银".encode())),
    ("NUL", lambda b: b.replace(b"cashier-7", b"cash\x00ier", 1)),
    ("upper-case header", lambda b: b.replace(b"date,", b"DATE,", 1)),
]


@pytest.mark.parametrize("mutate", [m for _, m in ODD], ids=[name for name, _ in ODD])
@pytest.mark.parametrize("given_date", [DAY, None], ids=["given", "not given"])
def test_odd_files_fall_back_or_agree_with_the_reference(
    mutate: Mutation, given_date: date | None
) -> None:
    genuine = cash_csv(
        [Txn(out_trade_no=f"C{n:06d}", channel_txn_id=f"R{n:012d}", amount_fen=100,
             at=START + timedelta(minutes=n)) for n in range(3)], DAY
    )  # fmt: skip
    data = mutate(genuine)
    assert data != genuine

    checks.falls_back_or_agrees(data, contexts(given_date))


PATCHES = [b"", b" ", b"\t", b",", b'"', b"\n", b"\r\n", b"0", b"-", b":", b"\xe4", b"\\", b"x"]


@EXAMPLES
@given(rows=txns(), data=st.data())
def test_mutated_files_fall_back_or_agree_with_the_reference(
    rows: list[Txn], data: st.DataObject
) -> None:
    genuine = cash_csv(rows, DAY)
    at, cut = data.draw(st.integers(0, len(genuine) - 1)), data.draw(st.integers(0, 8))
    mutated = checks.spliced(genuine, at, cut, data.draw(st.sampled_from(PATCHES)))

    checks.falls_back_or_agrees(mutated, contexts(data.draw(st.sampled_from([DAY, None]))))


def test_chunks_are_cut_at_line_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK_BYTES", 97)
    data = cash_csv(
        [Txn(out_trade_no=f"C{n}", channel_txn_id=f"R{n}", amount_fen=100 + n,
             at=START + timedelta(seconds=n)) for n in range(50)], DAY
    )  # fmt: skip

    lines = checks.same_lines(data, contexts())

    assert [line.line_no for line in lines] == list(range(2, 52))
