"""InMemoryLedger: the ledger contracts the SQL-backed service must also meet."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger_service.domain.accounts import Account, AccountType
from ledger_service.domain.balances import Balance, TrialBalanceRow
from ledger_service.domain.chart import Channel, fixed_accounts
from ledger_service.domain.errors import (
    AccountConflict,
    AlreadyReversed,
    CurrencyMismatch,
    InvalidAccount,
    InvalidJournal,
    JournalNotFound,
    ReversalOfReversal,
    SourceConflict,
    UnknownAccount,
)
from ledger_service.domain.events import OrderDelivered, PaymentSucceeded, WireClaimed
from ledger_service.domain.journal import JournalDraft, Leg, journal_id_for, reverse
from ledger_service.domain.memory import InMemoryLedger
from ledger_service.domain.rules import PostingProposal, propose

D1, D2, D3 = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 3)


def ledger_with(*codes: tuple[str, AccountType]) -> InMemoryLedger:
    ledger = InMemoryLedger()
    for code, account_type in codes:
        ledger.open_account(Account(code, account_type))
    return ledger


def basic() -> InMemoryLedger:
    return ledger_with(
        ("clearing:wechatpay", AccountType.ASSET),
        ("deposits:ORD-1", AccountType.LIABILITY),
        ("revenue", AccountType.REVENUE),
    )


def pay(source_id: str = "evt-1", fen: int = 500, day: date = D1) -> JournalDraft:
    return JournalDraft(
        source_id=source_id,
        business_date=day,
        description="payment",
        legs=(Leg.debit("clearing:wechatpay", fen), Leg.credit("deposits:ORD-1", fen)),
    )


def test_open_account_is_idempotent_and_conflicts_are_409() -> None:
    ledger = InMemoryLedger()
    account = Account("bank:ICBC-001", AccountType.ASSET)
    assert ledger.open_account(account) is account
    assert ledger.open_account(Account("bank:ICBC-001", AccountType.ASSET)) is account
    with pytest.raises(AccountConflict) as caught:
        ledger.open_account(Account("bank:ICBC-001", AccountType.ASSET, "USD"))
    assert caught.value.http_status == 409
    assert ledger.accounts() == (account,)


def test_open_account_checks_the_chart() -> None:
    with pytest.raises(InvalidAccount):
        InMemoryLedger().open_account(Account("revenue", AccountType.ASSET))


def test_get_unknown_account_is_422() -> None:
    with pytest.raises(UnknownAccount) as caught:
        InMemoryLedger().get_account("nope")
    assert caught.value.http_status == 422


def test_post_records_journal_entries_and_balances() -> None:
    ledger = basic()
    result = ledger.post(pay())
    assert result.created
    assert result.journal.journal_id == journal_id_for("evt-1")
    assert ledger.get_journal(result.journal.journal_id) == result.journal
    assert ledger.find_by_source("evt-1") == result.journal
    assert ledger.balance("clearing:wechatpay") == Balance(500, 0)
    assert ledger.balance("deposits:ORD-1") == Balance(0, 500)
    assert len(ledger.entries()) == 2


def test_same_source_returns_the_first_journal_and_changes_nothing() -> None:
    ledger = basic()
    first = ledger.post(pay(fen=500)).journal
    again = ledger.post(pay(fen=999))
    assert not again.created
    assert again.journal == first
    assert ledger.journals() == (first,)
    assert ledger.balance("clearing:wechatpay") == Balance(500, 0)


def test_unknown_account_is_422_and_posts_nothing() -> None:
    ledger = basic()
    draft = JournalDraft(
        source_id="s",
        business_date=D1,
        description="",
        legs=(Leg.debit("bank:X", 1), Leg.credit("revenue", 1)),
    )
    with pytest.raises(UnknownAccount, match="bank:X") as caught:
        ledger.post(draft)
    assert caught.value.http_status == 422
    assert ledger.journals() == ()
    assert ledger.find_by_source("s") is None


def test_currency_of_leg_must_match_account() -> None:
    ledger = basic()
    draft = JournalDraft(
        source_id="s",
        business_date=D1,
        description="",
        legs=(Leg.debit("clearing:wechatpay", 1, "USD"), Leg.credit("deposits:ORD-1", 1, "USD")),
    )
    with pytest.raises(CurrencyMismatch):
        ledger.post(draft)


def test_balance_and_trial_balance_at_a_date() -> None:
    ledger = basic()
    ledger.post(pay("a", 100, D1))
    ledger.post(pay("b", 40, D3))
    assert ledger.balance("deposits:ORD-1", as_of=D2) == Balance(0, 100)
    assert ledger.balance("deposits:ORD-1") == Balance(0, 140)
    tb = ledger.trial_balance(D2)
    assert tb.rows == (
        TrialBalanceRow("clearing:wechatpay", 100, 0),
        TrialBalanceRow("deposits:ORD-1", 0, 100),
        TrialBalanceRow("revenue", 0, 0),
    )
    assert tb.total_debit_fen == tb.total_credit_fen == 100
    assert ledger.trial_balance(D2, "USD").rows == ()


def test_reverse_posts_a_mirror_once() -> None:
    ledger = basic()
    original = ledger.post(pay()).journal
    result = ledger.reverse(original.journal_id, "evt-1-rev", D2, "duplicate")
    assert result.created
    assert result.journal.reverses_journal_id == original.journal_id
    assert ledger.reversal_of(original.journal_id) == result.journal
    assert ledger.balance("clearing:wechatpay") == Balance(500, 500)
    assert ledger.balance("clearing:wechatpay", as_of=D1) == Balance(500, 0)
    # Same reversal source again: the same reversal, nothing new.
    again = ledger.reverse(original.journal_id, "evt-1-rev", D2, "duplicate")
    assert (again.created, again.journal) == (False, result.journal)
    with pytest.raises(AlreadyReversed) as caught:
        ledger.reverse(original.journal_id, "evt-1-rev2", D2, "again")
    assert caught.value.http_status == 409
    with pytest.raises(ReversalOfReversal):
        ledger.reverse(result.journal.journal_id, "evt-1-rev-rev", D2, "undo undo")
    assert len(ledger.journals()) == 2


def test_reverse_errors() -> None:
    ledger = basic()
    original = ledger.post(pay()).journal
    ledger.post(pay("other"))
    with pytest.raises(JournalNotFound) as caught:
        ledger.reverse("missing", "r", D1, "x")
    assert caught.value.http_status == 404
    with pytest.raises(SourceConflict):
        ledger.reverse(original.journal_id, "other", D1, "x")
    with pytest.raises(InvalidJournal, match="before"):
        ledger.reverse(original.journal_id, "r", date(2024, 4, 1), "x")


def test_posted_reversal_drafts_must_mirror_an_existing_journal() -> None:
    ledger = basic()
    original = ledger.post(pay()).journal
    forged = JournalDraft(
        source_id="forged",
        business_date=D1,
        description="",
        legs=(Leg.credit("clearing:wechatpay", 1), Leg.debit("deposits:ORD-1", 1)),
        reverses_journal_id=original.journal_id,
    )
    with pytest.raises(InvalidJournal, match="mirror"):
        ledger.post(forged)
    dangling = reverse(original, "dangling", D1, "x")
    with pytest.raises(InvalidJournal, match="does not exist"):
        basic().post(dangling)


AT = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def proposal_of(event: PaymentSucceeded | WireClaimed | OrderDelivered) -> PostingProposal:
    proposal = propose(event)
    assert proposal is not None
    return proposal


def test_post_proposal_opens_accounts_on_demand_and_is_idempotent() -> None:
    ledger = InMemoryLedger()
    for account in fixed_accounts():
        ledger.open_account(account)
    paid = PaymentSucceeded(
        event_id="e1", order_id="ORD-7", channel=Channel.ALIPAY, amount_fen=900, occurred_at=AT
    )
    first = ledger.post_proposal(proposal_of(paid))
    assert first.created
    assert ledger.get_account("deposits:ORD-7").type is AccountType.LIABILITY
    assert ledger.get_account("clearing:alipay").type is AccountType.ASSET
    assert not ledger.post_proposal(proposal_of(paid)).created
    balance = ledger.balance("deposits:ORD-7")
    delivered = OrderDelivered(
        event_id="e2", order_id="ORD-7", occurred_at=AT, deposit_balance_fen=-balance.net_debit_fen
    )
    ledger.post_proposal(proposal_of(delivered))
    assert ledger.balance("deposits:ORD-7").net_debit_fen == 0
    assert ledger.balance("revenue") == Balance(0, 900)
    statement = ledger.order_statement("ORD-7")
    assert [(e.source_id, e.account) for e in statement] == [
        ("e1", "clearing:alipay"),
        ("e1", "deposits:ORD-7"),
        ("e2", "deposits:ORD-7"),
        ("e2", "revenue"),
    ]


def test_post_proposal_is_all_or_nothing() -> None:
    ledger = InMemoryLedger()  # suspense is not open and the proposal does not list it
    claimed = proposal_of(
        WireClaimed(event_id="e", wire_id="W", order_id="ORD-1", amount_fen=5, occurred_at=AT)
    )
    partial = PostingProposal(claimed.journal, claimed.accounts[1:])
    with pytest.raises(UnknownAccount, match="suspense"):
        ledger.post_proposal(partial)
    assert ledger.accounts() == ()
    ledger.open_account(Account("deposits:ORD-1", AccountType.LIABILITY, "USD"))
    with pytest.raises(AccountConflict):
        ledger.post_proposal(claimed)
    assert [a.code for a in ledger.accounts()] == ["deposits:ORD-1"]
