"""Balances, presentation by normal side, trial balance and order statements."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_service.domain.accounts import AccountType, Side
from ledger_service.domain.balances import (
    Balance,
    TrialBalanceRow,
    balance_of,
    credit_normal_fen,
    debit_normal_fen,
    normal_balance_fen,
    order_statement,
    trial_balance,
)
from ledger_service.domain.errors import LedgerInvariantError
from ledger_service.domain.journal import Entry, Journal, JournalDraft, Leg, entries_of

D1, D2, D3 = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)


def journal(source_id: str, day: date, *legs: Leg) -> Journal:
    return Journal.posted(
        JournalDraft(source_id=source_id, business_date=day, description="", legs=legs)
    )


PAY = journal("pay", D1, Leg.debit("clearing:alipay", 1_000), Leg.credit("deposits:ORD-1", 1_000))
SETTLE = journal(
    "settle",
    D2,
    Leg.debit("bank:B", 994),
    Leg.debit("fees:alipay", 6),
    Leg.credit("clearing:alipay", 1_000),
)
OTHER = journal("other", D3, Leg.debit("clearing:alipay", 50), Leg.credit("deposits:ORD-2", 50))
ENTRIES = [e for j in (PAY, SETTLE, OTHER) for e in entries_of(j)]


def test_balance_of_folds_turnovers() -> None:
    clearing = [e for e in ENTRIES if e.account == "clearing:alipay"]
    balance = balance_of(clearing)
    assert balance == Balance(debit_fen=1_050, credit_fen=1_000)
    assert balance.net_debit_fen == 50
    assert balance_of([]) == Balance(0, 0)


def test_balance_of_refuses_mixed_currencies() -> None:
    with pytest.raises(LedgerInvariantError) as caught:
        balance_of([Leg.debit("a", 1, "CNY"), Leg.debit("a", 1, "USD")])
    assert caught.value.http_status == 500


def test_presentation_by_normal_side() -> None:
    deposit = Balance(debit_fen=200, credit_fen=1_000)  # a liability holding 800
    assert credit_normal_fen(deposit) == 800
    assert debit_normal_fen(deposit) == -800
    assert normal_balance_fen(deposit, AccountType.LIABILITY) == 800
    assert normal_balance_fen(deposit, AccountType.ASSET) == -800
    assert deposit.on_side_fen(Side.CREDIT) == 800
    assert deposit.columns_fen() == (0, 800)
    assert Balance(300, 100).columns_fen() == (200, 0)
    assert Balance(5, 5).columns_fen() == (0, 0)


def test_trial_balance_is_cumulative_to_the_date() -> None:
    tb = trial_balance(ENTRIES, D2)
    assert tb.rows == (
        TrialBalanceRow("bank:B", 994, 0),
        TrialBalanceRow("clearing:alipay", 0, 0),
        TrialBalanceRow("deposits:ORD-1", 0, 1_000),
        TrialBalanceRow("fees:alipay", 6, 0),
    )
    assert (tb.as_of, tb.currency, tb.total_debit_fen, tb.total_credit_fen) == (
        D2,
        "CNY",
        1_000,
        1_000,
    )
    assert trial_balance(ENTRIES, date(2024, 4, 30)).rows == ()


def test_trial_balance_lists_requested_accounts_and_filters_currency() -> None:
    usd = journal("usd", D1, Leg.debit("bank:USD", 7, "USD"), Leg.credit("revenue", 7, "USD"))
    tb = trial_balance([*ENTRIES, *entries_of(usd)], D1, accounts=["suspense"])
    assert [row.account for row in tb.rows] == ["clearing:alipay", "deposits:ORD-1", "suspense"]
    usd_tb = trial_balance(entries_of(usd), D1, "USD")
    assert (usd_tb.total_debit_fen, usd_tb.total_credit_fen) == (7, 7)


def test_trial_balance_detects_broken_data() -> None:
    lonely = Entry("j", "s", D1, 1, "bank:B", 5, 0, "CNY")
    with pytest.raises(LedgerInvariantError, match="debits 5 != credits 0"):
        trial_balance([lonely], D1)


def test_order_statement_has_both_sides_of_the_orders_journals() -> None:
    lines = order_statement([PAY, SETTLE, OTHER], "ORD-1")
    assert [(e.source_id, e.account) for e in lines] == [
        ("pay", "clearing:alipay"),
        ("pay", "deposits:ORD-1"),
    ]
    assert order_statement([PAY], "ORD-404") == ()


@given(st.lists(st.tuples(st.integers(0, 10**9), st.booleans()), max_size=40))
def test_balance_equals_sum_of_signed_amounts(moves: list[tuple[int, bool]]) -> None:
    legs = [Leg.debit("a", fen) if debit else Leg.credit("a", fen) for fen, debit in moves if fen]
    expected = sum(leg.debit_fen - leg.credit_fen for leg in legs)
    balance = balance_of(legs)
    assert balance.net_debit_fen == expected
    debit_col, credit_col = balance.columns_fen()
    assert debit_col - credit_col == expected
    assert min(debit_col, credit_col) == 0
