"""The Lakala statement's bulk path against the per-line parser (the reference): plain files
take the bulk path and give the very same lines; odd or broken ones fall back (the per-line
parser decides). Generated files of random payments and refunds, optional columns, and
random mutations. (Every parser test of test_recon_other_statements runs both ways too.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon_service.adapters.statements import ParseContext, bulk
from recon_service.adapters.statements.base import local_time
from recon_service.domain import BUSINESS_TZ, Source, StatementLimits
from recon_service.domain.errors import StatementFormatError
from recon_service.testing import bulk as checks
from recon_service.testing.statement_files import Txn, lakala_csv

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2031, 5, 6, tzinfo=BUSINESS_TZ)
DAY = date(2031, 5, 6)
NAIVE_MIN = datetime(1900, 1, 1)  # noqa: DTZ001  (wall-clock texts)
NAIVE_MAX = datetime(2999, 12, 31)  # noqa: DTZ001


def contexts(given_date: date | None = DAY) -> Callable[[], ParseContext]:
    return lambda: ParseContext(Source.LAKALA, StatementLimits(), given_date=given_date)


@st.composite
def txns(draw: st.DrawFn) -> list[Txn]:
    count = draw(st.integers(1, 40))
    return [
        Txn(
            out_trade_no=f"P{n:06d}{draw(st.sampled_from(['', 'x', '_-|*@']))}",
            channel_txn_id=f"4200{draw(st.integers(0, 10**20)):020d}",
            amount_fen=draw(st.sampled_from([1, 5, 99, 100, 12_345, 10**13])),
            at=START + timedelta(seconds=draw(st.integers(0, 86_399))),
            refund=(refund := draw(st.booleans())),
            out_refund_no=draw(st.sampled_from([f"R{n}", None])) if refund else None,
            fee_fen=draw(st.integers(0, 99_999)),
        )
        for n in range(count)
    ]


def _states(data: bytes, draw: Callable[..., bytes]) -> bytes:
    """Each row's type and state drawn (CANCEL, lower case, unknown states: PENDING)."""
    rows = data.split(b"\n")
    for i in range(1, len(rows) - 1):
        kind = draw(st.sampled_from([b"PAY", b"pay", b"REFUND", b"CANCEL"]))
        state = draw(st.sampled_from([b"SUCCESS", b"FAIL", b"close", b"REVOKED", b"DEAL"]))
        fields = rows[i].split(b",")
        fields[5], fields[6] = kind, state
        rows[i] = b",".join(fields)
    return b"\n".join(rows)


@EXAMPLES
@given(rows=txns(), data=st.data(), bom=st.booleans(), crlf=st.booleans(), day=st.booleans())
def test_generated_files_take_the_bulk_path_and_give_the_same_lines(
    rows: list[Txn], data: st.DataObject, bom: bool, crlf: bool, day: bool
) -> None:
    content = _states(lakala_csv(rows), data.draw)
    content = (b"\xef\xbb\xbf" if bom else b"") + content
    content = content.replace(b"\n", b"\r\n") if crlf else content

    checks.same_lines(content, contexts(DAY if day else None))


def test_optional_columns_may_be_missing_or_reordered() -> None:
    header = b"trade_state,fee_amount,total_amount,trade_time,trade_type,out_trade_no,trade_no,"
    rows = [
        b"log_no",
        b"SUCCESS,-3,100,20310506101010,REFUND,P1,,12345678901234",
        b"SUCCESS,0,5,20310506000001,PAY,,T2,12345678901235",
    ]
    data = header + b"\n".join(rows) + b"\n"

    lines = checks.same_lines(data, contexts())

    assert [line.channel_txn_id for line in lines] == ["12345678901234", "T2"]
    assert [line.out_trade_no for line in lines] == ["P1", None]


Mutation = Callable[[bytes], bytes]
ODD: list[tuple[str, Mutation]] = [
    (
        "blank line between rows",
        lambda b: b.replace(b"\nP", b"\n\nP", 1).replace(b"\n1", b"\n\n1", 1),
    ),
    ("space around an id", lambda b: b.replace(b",P000001,", b", P000001,")),
    ("quoted field", lambda b: b.replace(b",P000001,", b',"P000001",')),
    ("quoted field with a comma", lambda b: b.replace(b",P000001,", b',"P00,0001",')),
    ("tab in a field", lambda b: b.replace(b",WECHAT,", b",WE\tCHAT,", 1)),
    ("backslash in a field", lambda b: b.replace(b",WECHAT,", b",WE\\CHAT,", 1)),
    ("quote in a refs field", lambda b: b.replace(b",WECHAT,", b',WE"CHAT,', 1)),
    ("30 February", lambda b: b.replace(b",20310506", b",20310230", 1)),
    ("a lone CR", lambda b: b.replace(b",WECHAT,", b",WE\rCHAT,", 1)),
    ("a yuan amount", lambda b: b.replace(b",100,", b",1.00,", 1)),
    ("a zero amount", lambda b: b.replace(b",100,", b",0,", 1)),
    ("a negative amount", lambda b: b.replace(b",100,", b",-100,", 1)),
    ("short log_no", lambda b: b.replace(b"\n0", b"\n", 1)),
    ("a wide digit in log_no", lambda b: b.replace(b"\n0", "\n١".encode(), 1)),
    ("an unknown type", lambda b: b.replace(b",PAY,", b",PAYX,", 1)),
    ("a field too many", lambda b: b.replace(b",A1234567\n", b",A1234567,x\n", 1)),
    ("no header", lambda b: b[b.index(b"\n") + 1 :]),
    ("blank first line", lambda b: b"\n" + b),
    ("a blank line at the end", lambda b: b + b"\n"),
    ("no final newline", lambda b: b[:-1]),
    ("header only", lambda b: b[: b.index(b"\n") + 1]),
    ("GBK", lambda b: b.replace(b"WECHAT", "微信".encode("gbk"), 1)),
    ("UTF-8 Chinese", lambda b: b.replace(b"WECHAT", "微信".encode())),
    ("NUL", lambda b: b.replace(b"WECHAT", b"WE\x00CHAT", 1)),
    ("upper-case header", lambda b: b.replace(b"log_no,", b"LOG_NO,", 1)),
]


@pytest.mark.parametrize("mutate", [m for _, m in ODD], ids=[name for name, _ in ODD])
def test_odd_files_fall_back_or_agree_with_the_reference(mutate: Mutation) -> None:
    genuine = lakala_csv(
        [Txn(out_trade_no=f"P{n:06d}", channel_txn_id=f"42{n:014d}", amount_fen=100, at=START,
             fee_fen=6) for n in range(3)]
    )  # fmt: skip
    data = mutate(genuine)

    checks.falls_back_or_agrees(data, contexts())


def test_the_odd_cases_fall_back_where_the_reference_refuses() -> None:
    data = lakala_csv([Txn(out_trade_no="P1", channel_txn_id="42", amount_fen=5, at=START)])
    broken = data.replace(b",5,", b",0,")

    assert checks.bulk_outcome(broken, contexts()()) is None
    assert isinstance(checks.reference_outcome(broken, contexts()()), tuple)


PATCHES = [b"", b" ", b"\t", b",", b'"', b"\n", b"\r\n", b"0", b"-", b".", b"\xe4", b"\\", b"x"]


@EXAMPLES
@given(rows=txns(), data=st.data())
def test_mutated_files_fall_back_or_agree_with_the_reference(
    rows: list[Txn], data: st.DataObject
) -> None:
    genuine = lakala_csv(rows)
    at, cut = data.draw(st.integers(0, len(genuine) - 1)), data.draw(st.integers(0, 8))
    mutated = checks.spliced(genuine, at, cut, data.draw(st.sampled_from(PATCHES)))

    checks.falls_back_or_agrees(mutated, contexts())


def test_chunks_are_cut_at_line_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK_BYTES", 97)
    data = lakala_csv(
        [Txn(out_trade_no=f"P{n}", channel_txn_id=f"42{n:014d}", amount_fen=100 + n,
             at=START + timedelta(seconds=n)) for n in range(50)]
    )  # fmt: skip

    lines = checks.same_lines(data, contexts())

    assert [line.line_no for line in lines] == list(range(2, 52))


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.datetimes(NAIVE_MIN, NAIVE_MAX).map(lambda at: at.strftime("%Y%m%d%H%M%S")),
        st.text("0123456789", min_size=14, max_size=14),
    )
)
def test_written_out_times_are_sliced_as_strptime_reads_them(text: str) -> None:
    sliced = bulk.compact_local_time(text)
    try:
        expected = local_time(text, "%Y%m%d%H%M%S", 0, "trade_time")
    except StatementFormatError:
        expected = None

    assert sliced is None or sliced == expected
