"""Property: any set of transactions written in any source's layout parses back to the same
keys, kinds and amounts (integer fen, nothing lost or rounded)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon_service.domain import BUSINESS_TZ, LineKind
from recon_service.testing.statement_files import (
    Txn,
    alipay_zip,
    allinpay_csv,
    cash_csv,
    lakala_csv,
    unionpay_zm,
    wechat_bill,
    wire_csv,
)

DAY = date(2024, 6, 3)
START = datetime(2024, 6, 3, tzinfo=BUSINESS_TZ)
BUILDERS: dict[str, Callable[[list[Txn]], bytes]] = {
    "wechatpay": wechat_bill,
    "alipay": lambda t: alipay_zip(t, DAY),
    "lakala": lakala_csv,
    "unionpay": unionpay_zm,
    "allinpay": allinpay_csv,
    "cash": lambda t: cash_csv(t, DAY),
    "wire": lambda t: wire_csv(t, DAY),
}


@st.composite
def transactions(draw: st.DrawFn) -> list[Txn]:
    count = draw(st.integers(min_value=1, max_value=12))
    txns = []
    for n in range(count):
        refund = draw(st.booleans())
        txns.append(
            Txn(
                out_trade_no=f"P240603{n:020d}",
                channel_txn_id=f"24060310000000{n:07d}",
                amount_fen=draw(st.integers(min_value=1, max_value=5_000_000_00)),
                at=START + timedelta(seconds=draw(st.integers(0, 86_399))),
                refund=refund,
                out_refund_no=f"R240603{n:020d}" if refund else None,
                fee_fen=draw(st.integers(min_value=0, max_value=99_999)),
            )
        )
    return txns


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(txns=transactions(), source=st.sampled_from(sorted(BUILDERS)))
def test_written_then_parsed_gives_the_same_money(parse, txns: list[Txn], source: str) -> None:
    lines = parse(source, BUILDERS[source](txns), given_date=DAY)

    assert [x.amount_fen for x in lines] == [t.amount_fen for t in txns]
    assert [x.kind is LineKind.REFUND for x in lines] == [t.refund for t in txns]
    assert all(x.statement_date == DAY for x in lines)
    assert [x.occurred_at for x in lines] == [START if source == "wire" else t.at for t in txns]
    fees = [
        0 if source in ("cash", "wire") else (-t.fee_fen if t.refund else t.fee_fen) for t in txns
    ]
    assert [x.fee_fen for x in lines] == fees
    for line, txn in zip(lines, txns, strict=True):
        if source == "wire":
            assert line.channel_txn_id == txn.channel_txn_id
        elif not (txn.refund and source in ("allinpay",)):
            assert line.out_trade_no == txn.out_trade_no
        if txn.refund and source not in ("wire", "cash"):
            assert line.out_refund_no == txn.out_refund_no
