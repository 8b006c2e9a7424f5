"""The WeChat bill's bulk path against the per-line parser (the reference): ordinary bills
take the bulk path and give the very same lines; odd or broken ones either fall back (and
the per-line parser decides) or, for the summary checks, raise the reference's own error.
Generated bills of random payments and refunds, the verbatim SDK rows, legacy and REFUND
headers, and random mutations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon_service.adapters.statements import ParseContext, bulk
from recon_service.domain import BUSINESS_TZ, Source, StatementLimits
from recon_service.testing import bulk as checks
from recon_service.testing.statement_files import Txn, wechat_bill

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2031, 5, 6, tzinfo=BUSINESS_TZ)
DAY = date(2031, 5, 6)


def contexts(given_date: date | None = DAY) -> Callable[[], ParseContext]:
    return lambda: ParseContext(Source.WECHATPAY, StatementLimits(), given_date=given_date)


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
            out_refund_no=f"R{n}" if refund else None,
            fee_fen=draw(st.integers(0, 99_999)),
        )
        for n in range(count)
    ]


@EXAMPLES
@given(bill=txns(), gz=st.booleans(), bom=st.booleans(), crlf=st.booleans())
def test_generated_bills_take_the_bulk_path_and_give_the_same_lines(
    bill: list[Txn], gz: bool, bom: bool, crlf: bool
) -> None:
    data = wechat_bill(bill, gz=gz, bom=bom, newline="\r\n" if crlf else "\n")

    checks.same_lines(data, contexts())


def test_the_day_comes_from_the_first_row_when_not_given() -> None:
    data = wechat_bill([Txn(out_trade_no="P1", channel_txn_id="42", amount_fen=5, at=START)])

    lines = checks.same_lines(data, contexts(None))

    assert lines[0].statement_date == DAY


Mutation = Callable[[bytes], bytes]
ODD: list[tuple[str, Mutation]] = [
    ("blank line between rows", lambda b: b.replace(b"\r\n`", b"\r\n\r\n`", 1)),
    ("space around an id", lambda b: b.replace(b"`P000001", b"` P000001")),
    ("tab in a field", lambda b: b.replace(b"`APP", b"`A\tPP", 1)),
    ("backslash in a field", lambda b: b.replace(b"`APP", b"`A\\PP", 1)),
    ("quote in a refs field", lambda b: b.replace(b"`APP", b'`A"PP', 1)),
    ("30 February", lambda b: b.replace(b"2031-05-06", b"2031-02-30", 1)),
    ("a lone CR", lambda b: b.replace(b"`APP", b"`A\rPP", 1)),
    ("no decimals", lambda b: b.replace(b"`1.00,", b"`1,", 1)),
    ("a summary that does not add up", lambda b: b.replace(b"`3.0,", b"`4.0,", 1)),
    ("a line after the summary", lambda b: b + b"`x\r\n"),
    ("cut before the summary", lambda b: b[: b.index("总交易单数".encode())]),
    ("GBK", lambda b: b.decode("utf-8").encode("gb18030")),
]


@pytest.mark.parametrize("mutate", [m for _, m in ODD], ids=[name for name, _ in ODD])
def test_odd_bills_fall_back_or_agree_with_the_reference(mutate: Mutation) -> None:
    genuine = wechat_bill(
        [Txn(out_trade_no=f"P{n:06d}", channel_txn_id=f"42{n}", amount_fen=100, at=START,
             fee_fen=6) for n in range(3)]
    )  # fmt: skip
    data = mutate(genuine)

    checks.falls_back_or_agrees(data, contexts())


def test_a_bill_the_summary_refuses_is_refused_by_the_bulk_path_itself() -> None:
    data = wechat_bill(
        [Txn(out_trade_no="P1", channel_txn_id="42", amount_fen=100, at=START)]
    ).replace(b"`1.0,", b"`2.0,")

    found = checks.bulk_outcome(data, contexts()())

    assert found == checks.reference_outcome(data, contexts()())
    assert isinstance(found, tuple)
    assert found[1] == 4


PATCHES = [b"", b" ", b"\t", b"`", b",`", b"\r\n", b"0", b"-", b".", b"\xe4", b'"', b"\\"]


@EXAMPLES
@given(bill=txns(), data=st.data())
def test_mutated_bills_fall_back_or_agree_with_the_reference(
    bill: list[Txn], data: st.DataObject
) -> None:
    genuine = wechat_bill(bill)
    at, cut = data.draw(st.integers(0, len(genuine) - 1)), data.draw(st.integers(0, 8))
    mutated = checks.spliced(genuine, at, cut, data.draw(st.sampled_from(PATCHES)))

    checks.falls_back_or_agrees(mutated, contexts())


def test_chunks_are_cut_at_line_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK_BYTES", 97)
    data = wechat_bill(
        [Txn(out_trade_no=f"P{n}", channel_txn_id=f"42{n}", amount_fen=100 + n,
             at=START + timedelta(seconds=n)) for n in range(50)]
    )  # fmt: skip

    lines = checks.same_lines(data, contexts())

    assert [line.line_no for line in lines] == list(range(2, 52))
