"""Domain extensions: the order summary, trial balance from turnovers, the posting checks."""

from __future__ import annotations

from datetime import date

import pytest

from ledger_service.domain.accounts import Account, AccountType
from ledger_service.domain.balances import order_summary, trial_balance_of_turnovers
from ledger_service.domain.errors import (
    AccountConflict,
    CurrencyMismatch,
    LedgerInvariantError,
    UnknownAccount,
)
from ledger_service.domain.journal import Journal, JournalDraft, Leg, journal_id_for, reverse
from ledger_service.domain.posting_checks import check_account_reopen, check_legs

DAY = date(2024, 5, 1)
DEPOSITS = "deposits:ORD-1"


def journal(source: str, *legs: Leg) -> Journal:
    return Journal.posted(
        JournalDraft(source_id=source, business_date=DAY, description="", legs=legs)
    )


def test_order_summary_classifies_every_deposits_leg() -> None:
    paid = journal("p", Leg.debit("clearing:wechatpay", 900), Leg.credit(DEPOSITS, 900))
    loan = journal("l", Leg.debit("loan_receivable", 500), Leg.credit(DEPOSITS, 500))
    refund = journal("r", Leg.debit(DEPOSITS, 100), Leg.credit("clearing:wechatpay", 100))
    wrong = journal("w", Leg.debit("clearing:alipay", 40), Leg.credit(DEPOSITS, 40))
    undone = Journal.posted(reverse(wrong, "w-rev", DAY, "duplicate"))
    delivered = journal("d", Leg.debit(DEPOSITS, 1_200), Leg.credit("revenue", 1_200))
    other = journal("o", Leg.debit("clearing:alipay", 7), Leg.credit("deposits:ORD-2", 7))
    summary = order_summary([paid, loan, refund, wrong, undone, delivered, other], "ORD-1")
    assert (summary.paid_fen, summary.refunded_fen, summary.recognised_fen) == (1_440, 100, 1_200)
    assert (summary.reversed_fen, summary.held_fen) == (-40, 100)


def test_trial_balance_of_turnovers_nets_each_account_into_one_column() -> None:
    tb = trial_balance_of_turnovers(
        {"revenue": (0, 700), "bank:B": (1_000, 300), "fees": (0, 0)}, DAY
    )
    assert [(r.account, r.debit_fen, r.credit_fen) for r in tb.rows] == [
        ("bank:B", 700, 0),
        ("fees", 0, 0),
        ("revenue", 0, 700),
    ]
    assert tb.total_debit_fen == tb.total_credit_fen == 700
    with pytest.raises(LedgerInvariantError):
        trial_balance_of_turnovers({"bank:B": (5, 0)}, DAY)


def test_posting_checks() -> None:
    legs = (
        Leg.debit("bank:B", 5),
        Leg.credit("revenue", 5, "USD"),
        Leg.credit("revenue", 5),
        Leg.debit("bank:B", 5, "USD"),
    )
    draft = JournalDraft(source_id="s", business_date=DAY, description="", legs=legs)
    bank = Account("bank:B", AccountType.ASSET)
    with pytest.raises(UnknownAccount, match="revenue"):
        check_legs(draft, {"bank:B": bank})
    with pytest.raises(CurrencyMismatch):
        check_legs(draft, {"bank:B": bank, "revenue": Account("revenue", AccountType.REVENUE)})
    check_account_reopen(None, bank)
    check_account_reopen(bank, Account("bank:B", AccountType.ASSET))
    with pytest.raises(AccountConflict):
        check_account_reopen(bank, Account("bank:B", AccountType.ASSET, "USD"))


def test_posted_keeps_the_draft_and_checks_only_the_id() -> None:
    draft = JournalDraft(
        source_id="evt", business_date=DAY, description="d",
        legs=(Leg.debit("bank:B", 5), Leg.credit("revenue", 5)),
    )  # fmt: skip
    posted = Journal.posted(draft)
    assert posted == Journal(journal_id=journal_id_for("evt"), **vars(draft))
    assert Journal.posted(posted, "other-id").journal_id == "other-id"
    assert Journal.posted(draft, "").journal_id == journal_id_for("evt")  # as before: default
