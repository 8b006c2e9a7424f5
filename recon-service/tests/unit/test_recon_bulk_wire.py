"""The wire statement's bulk path against the per-line parser (the reference): plain files
(fen or yuan amounts; names and remarks with spaces) take the bulk path and give the very
same lines; odd or broken ones fall back (the per-line parser decides). Generated files,
optional columns, and random mutations. (Every parser test of test_recon_other_statements
runs both ways too.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon_service.adapters.statements import ParseContext, bulk
from recon_service.domain import BUSINESS_TZ, Source, StatementLimits
from recon_service.testing import bulk as checks
from recon_service.testing.statement_files import Txn, wire_csv

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2031, 5, 6, tzinfo=BUSINESS_TZ)
DAY = date(2031, 5, 6)


def contexts(given_date: date | None = DAY) -> Callable[[], ParseContext]:
    return lambda: ParseContext(Source.WIRE, StatementLimits(), given_date=given_date)


@st.composite
def txns(draw: st.DrawFn) -> list[Txn]:
    count = draw(st.integers(1, 40))
    return [
        Txn(
            out_trade_no=draw(st.sampled_from([f"P{n}", f"货款 P{n}", "", "pay  twice"])),
            channel_txn_id=f"BR{draw(st.integers(0, 10**12)):012d}",
            amount_fen=draw(st.sampled_from([1, 5, 99, 100, 12_345, 10**13])),
            at=START,
            refund=draw(st.booleans()),
        )
        for n in range(count)
    ]


@EXAMPLES
@given(rows=txns(), yuan=st.booleans(), bom=st.booleans(), crlf=st.booleans(),
       day=st.booleans(), names=st.sampled_from([b"", b"ACME  Ltd", b" padded \t"]))  # fmt: skip
def test_generated_files_take_the_bulk_path_and_give_the_same_lines(  # noqa: PLR0913
    rows: list[Txn], yuan: bool, bom: bool, crlf: bool, day: bool, names: bytes
) -> None:
    content = wire_csv(rows, DAY, yuan=yuan).replace("张三".encode(), names or "张三".encode())
    content = (b"\xef\xbb\xbf" if bom else b"") + content
    content = content.replace(b"\n", b"\r\n") if crlf else content
    given_date = DAY if day else None

    if b"\t" in content:
        found = checks.bulk_outcome(content, contexts(given_date)())
        assert found is None, "a TAB is left to the reference"
        return
    checks.same_lines(content, contexts(given_date))


def test_optional_columns_may_be_missing_and_values_empty() -> None:
    data = (
        b"REMARK,bank_reference,amount_fen,payer_account_last4,payer_name,bank_account,value_date\n"
        b",BR1,100,0048,,,2031-05-06\n"
        b"x y,BR2,5,1234,N,A,2031-05-06\n"
    )

    lines = checks.same_lines(data, contexts())

    assert [line.refs for line in lines] == [
        (("payer_account_last4", "0048"),),
        (("bank_account", "A"), ("payer_name", "N"), ("payer_account_last4", "1234"),
         ("remark", "x y")),
    ]  # fmt: skip


Mutation = Callable[[bytes], bytes]
ODD: list[tuple[str, Mutation]] = [
    ("blank line between rows", lambda b: b.replace(b"\n2031", b"\n\n2031", 2)),
    ("space around a reference", lambda b: b.replace(b",BR000000000001,", b", BR000000000001 ,")),
    ("quoted field", lambda b: b.replace(b",BR000000000001,", b',"BR000000000001",')),
    ("quoted field with a comma", lambda b: b.replace(b",P1,", b',"P,1",')),
    ("tab in a field", lambda b: b.replace(b",P1,", b",P\t1,", 1)),
    ("backslash in a field", lambda b: b.replace(b",P1,", b",P\\1,", 1)),
    ("quote in a refs field", lambda b: b.replace(b",P1,", b',P"1,', 1)),
    ("another day on one row", lambda b: b.replace(b"\n2031-05-06", b"\n2031-05-07", 1)),
    ("another day on every row", lambda b: b.replace(b"2031-05-06", b"2031-05-07")),
    ("30 February", lambda b: b.replace(b"2031-05-06", b"2031-02-30")),
    ("a lone CR", lambda b: b.replace(b",P1,", b",P\r1,", 1)),
    ("a yuan amount in fen", lambda b: b.replace(b",100,", b",1.00,", 1)),
    ("a zero amount", lambda b: b.replace(b",100,", b",0,", 1)),
    ("three digits of last4", lambda b: b.replace(b",0048,", b",048,", 1)),
    ("a wide digit in last4", lambda b: b.replace(b",0048,", ",００48,".encode(), 1)),
    ("an unknown direction", lambda b: b.replace(b",credit\n", b",in\n", 1)),
    ("an empty direction", lambda b: b.replace(b",credit\n", b",\n", 1)),
    ("an upper-case direction", lambda b: b.replace(b",credit\n", b",CREDIT\n", 1)),
    ("an empty reference", lambda b: b.replace(b",BR000000000001,", b",,", 1)),
    ("a field too many", lambda b: b.replace(b",credit\n", b",credit,x\n", 1)),
    ("both amount columns", lambda b: b.replace(b",remark,", b",amount_yuan,", 1)),
    ("no amount column", lambda b: b.replace(b",amount_fen,", b",amount,", 1)),
    ("no header", lambda b: b[b.index(b"\n") + 1 :]),
    ("blank first line", lambda b: b"\n" + b),
    ("a blank line at the end", lambda b: b + b"\n"),
    ("a line of spaces at the end", lambda b: b + b"   \n"),
    ("no final newline", lambda b: b[:-1]),
    ("header only", lambda b: b[: b.index(b"\n") + 1]),
    ("GBK", lambda b: b.replace("张三".encode(), "张三".encode("gbk"), 1)),
    ("NUL", lambda b: b.replace(b",P1,", b",P\x001,", 1)),
    ("upper-case header", lambda b: b.replace(b"value_date,", b"VALUE_DATE,", 1)),
]


@pytest.mark.parametrize("mutate", [m for _, m in ODD], ids=[name for name, _ in ODD])
@pytest.mark.parametrize("given_date", [DAY, None], ids=["given", "not given"])
def test_odd_files_fall_back_or_agree_with_the_reference(
    mutate: Mutation, given_date: date | None
) -> None:
    genuine = wire_csv(
        [Txn(out_trade_no=f"P{n}", channel_txn_id=f"BR{n:012d}", amount_fen=100, at=START)
         for n in range(3)], DAY
    )  # fmt: skip
    data = mutate(genuine)
    assert data != genuine

    checks.falls_back_or_agrees(data, contexts(given_date))


PATCHES = [b"", b" ", b"\t", b",", b'"', b"\n", b"\r\n", b"0", b"-", b".", b"\xe4", b"\\", b"x"]


@EXAMPLES
@given(rows=txns(), data=st.data())
def test_mutated_files_fall_back_or_agree_with_the_reference(
    rows: list[Txn], data: st.DataObject
) -> None:
    genuine = wire_csv(rows, DAY, yuan=data.draw(st.booleans()))
    at, cut = data.draw(st.integers(0, len(genuine) - 1)), data.draw(st.integers(0, 8))
    mutated = checks.spliced(genuine, at, cut, data.draw(st.sampled_from(PATCHES)))

    checks.falls_back_or_agrees(mutated, contexts(data.draw(st.sampled_from([DAY, None]))))


def test_chunks_are_cut_at_line_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK_BYTES", 97)
    data = wire_csv(
        [Txn(out_trade_no=f"P{n}", channel_txn_id=f"BR{n}", amount_fen=100 + n,
             at=START + timedelta(seconds=n)) for n in range(50)], DAY
    )  # fmt: skip

    lines = checks.same_lines(data, contexts())

    assert [line.line_no for line in lines] == list(range(2, 52))
