"""Legs, journal validation, reversal and entries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_service.domain.accounts import Side
from ledger_service.domain.balances import balance_of
from ledger_service.domain.errors import InvalidJournal, InvalidLeg, UnbalancedJournal
from ledger_service.domain.journal import (
    MAX_DESCRIPTION_CHARS,
    MAX_LEG_AMOUNT_FEN,
    MAX_LEGS_PER_JOURNAL,
    MAX_REVERSAL_REASON_CHARS,
    MAX_SOURCE_ID_CHARS,
    Journal,
    JournalDraft,
    Leg,
    entries_of,
    journal_id_for,
    mirrors,
    reverse,
    signed_leg,
)

DAY = date(2024, 5, 1)
PAIR = (Leg.debit("clearing:wechatpay", 500), Leg.credit("deposits:ORD-1", 500))


def draft(legs: tuple[Leg, ...] = PAIR, **overrides: Any) -> JournalDraft:
    fields: dict[str, Any] = {
        "source_id": "evt-1",
        "business_date": DAY,
        "description": "payment",
        "legs": legs,
    }
    fields.update(overrides)
    return JournalDraft(**fields)


def test_leg_constructors_and_properties() -> None:
    debit = Leg.debit("bank:X", 700)
    assert (debit.debit_fen, debit.credit_fen, debit.side, debit.amount_fen) == (
        700,
        0,
        Side.DEBIT,
        700,
    )
    credit = debit.swapped()
    assert (credit.debit_fen, credit.credit_fen, credit.side) == (0, 700, Side.CREDIT)
    assert credit.currency == "CNY"


@pytest.mark.parametrize(
    ("debit", "credit", "message"),
    [
        (0, 0, "exactly one"),
        (5, 5, "exactly one"),
        (-5, 0, "negative"),
        (0, -1, "negative"),
        (1.5, 0, "integer fen"),
        (Decimal("1.00"), 0, "integer fen"),
        (True, 0, "integer fen"),
        (MAX_LEG_AMOUNT_FEN + 1, 0, "limit"),
    ],
)
def test_bad_leg_amounts_are_422(debit: Any, credit: Any, message: str) -> None:
    with pytest.raises(InvalidLeg, match=message) as caught:
        Leg("bank:X", debit, credit)
    assert caught.value.http_status == 422
    assert caught.value.code == "invalid_leg"
    assert caught.value.field == "lines"


def test_leg_at_the_limit_is_fine() -> None:
    assert Leg.credit("bank:X", MAX_LEG_AMOUNT_FEN).amount_fen == MAX_LEG_AMOUNT_FEN


@pytest.mark.parametrize(("account", "currency"), [("bad code", "CNY"), ("bank:X", "rmb")])
def test_bad_leg_account_or_currency(account: str, currency: str) -> None:
    with pytest.raises(InvalidLeg):
        Leg.debit(account, 1, currency)


def test_signed_leg() -> None:
    assert signed_leg("a", 5) == Leg.debit("a", 5)
    assert signed_leg("a", -5) == Leg.credit("a", 5)
    assert signed_leg("a", 0) is None


def test_valid_draft_and_totals() -> None:
    journal = draft()
    assert journal.totals_fen() == {"CNY": (500, 500)}
    assert journal.accounts == ("clearing:wechatpay", "deposits:ORD-1")
    assert journal.reverses_journal_id is None


def test_legs_given_as_list_are_frozen_to_tuple() -> None:
    journal = draft(legs=list(PAIR))  # type: ignore[arg-type]  # callers may hand over a list
    assert isinstance(journal.legs, tuple)
    assert hash(journal)


def test_unbalanced_journal_is_422() -> None:
    with pytest.raises(UnbalancedJournal, match="debits 500 fen != credits 499 fen") as caught:
        draft(legs=(Leg.debit("a", 500), Leg.credit("b", 499)))
    assert caught.value.http_status == 422
    assert caught.value.code == "unbalanced_journal"


def test_balance_is_per_currency() -> None:
    legs = (Leg.debit("a", 100, "CNY"), Leg.credit("b", 100, "USD"))
    with pytest.raises(UnbalancedJournal, match="CNY"):
        draft(legs=legs)
    both = legs + (Leg.credit("c", 100, "CNY"), Leg.debit("d", 100, "USD"))
    assert draft(legs=both).totals_fen() == {"CNY": (100, 100), "USD": (100, 100)}


@pytest.mark.parametrize("count", [0, 1, MAX_LEGS_PER_JOURNAL + 2])
def test_leg_count_limits(count: int) -> None:
    half = [Leg.debit("a", 1)] * (count // 2) + [Leg.credit("b", 1)] * (count - count // 2)
    with pytest.raises(InvalidJournal, match="legs"):
        draft(legs=tuple(half))


def test_max_legs_is_allowed() -> None:
    half = MAX_LEGS_PER_JOURNAL // 2
    legs = (Leg.debit("a", 1),) * half + (Leg.credit("b", 1),) * half
    assert len(draft(legs=legs).legs) == MAX_LEGS_PER_JOURNAL


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"source_id": ""}, "source_id"),
        ({"source_id": "   "}, "source_id"),
        ({"source_id": "s" * (MAX_SOURCE_ID_CHARS + 1)}, "source_id"),
        ({"business_date": datetime(2024, 5, 1, tzinfo=UTC)}, "business_date"),
        ({"business_date": "2024-05-01"}, "business_date"),
        ({"description": "d" * (MAX_DESCRIPTION_CHARS + 1)}, "description"),
        ({"description": None}, "description"),
        ({"legs": ("not a leg", Leg.credit("b", 1))}, "lines"),
    ],
)
def test_bad_header_fields(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidJournal) as caught:
        draft(**overrides)
    assert caught.value.field == field


def test_journal_id_is_derived_from_source_and_stable() -> None:
    assert journal_id_for("evt-1") == journal_id_for("evt-1")
    assert journal_id_for("evt-1") != journal_id_for("evt-2")
    # Pinned: the SQL ledger derives the same ids, so the namespace must never change.
    assert journal_id_for("evt-1") == "76195c33-0358-5099-ab0c-38e17c3f944a"
    posted = Journal.posted(draft())
    assert posted.journal_id == journal_id_for("evt-1")
    assert Journal.posted(draft(), "custom").journal_id == "custom"
    with pytest.raises(InvalidJournal, match="journal_id"):
        Journal(journal_id="", source_id="s", business_date=DAY, description="", legs=PAIR)


def test_reverse_swaps_every_leg_and_links() -> None:
    original = Journal.posted(draft())
    reversal = reverse(original, "evt-1-rev", date(2024, 5, 3), "  duplicate callback ")
    assert reversal.legs == (
        Leg.credit("clearing:wechatpay", 500),
        Leg.debit("deposits:ORD-1", 500),
    )
    assert reversal.reverses_journal_id == original.journal_id
    assert reversal.description == f"reversal of {original.journal_id}: duplicate callback"
    assert reversal.business_date == date(2024, 5, 3)
    assert mirrors(reversal, original)
    assert not mirrors(draft(), original)
    assert original.legs == PAIR  # the original is untouched


@pytest.mark.parametrize(
    ("business_date", "reason", "message"),
    [
        (DAY, "", "needs a reason"),
        (DAY, "   ", "needs a reason"),
        (DAY, "r" * (MAX_REVERSAL_REASON_CHARS + 1), "reason longer"),
        (date(2024, 4, 30), "typo", "before the journal's date"),
    ],
)
def test_reverse_rejects(business_date: date, reason: str, message: str) -> None:
    with pytest.raises(InvalidJournal, match=message):
        reverse(Journal.posted(draft()), "rev", business_date, reason)


def test_entries_of_numbers_lines() -> None:
    journal = Journal.posted(draft())
    entries = entries_of(journal)
    assert [(e.line_no, e.account, e.debit_fen, e.credit_fen) for e in entries] == [
        (1, "clearing:wechatpay", 500, 0),
        (2, "deposits:ORD-1", 0, 500),
    ]
    assert {(e.journal_id, e.source_id, e.business_date, e.currency) for e in entries} == {
        (journal.journal_id, "evt-1", DAY, "CNY")
    }


ACCOUNTS = st.sampled_from(["a", "b", "c", "d:1"])
AMOUNTS = st.integers(min_value=1, max_value=MAX_LEG_AMOUNT_FEN)


@st.composite
def balanced_drafts(draw: st.DrawFn) -> JournalDraft:
    transfers = draw(st.lists(st.tuples(ACCOUNTS, ACCOUNTS, AMOUNTS), min_size=1, max_size=50))
    legs = [
        leg
        for debit, credit, amount in transfers
        for leg in (Leg.debit(debit, amount), Leg.credit(credit, amount))
    ]
    return draft(legs=tuple(legs))


@given(balanced_drafts())
def test_a_journal_and_its_reversal_net_to_zero_on_every_account(journal: JournalDraft) -> None:
    original = Journal.posted(journal)
    reversal = Journal.posted(reverse(original, "rev", DAY, "test"))
    for account in original.accounts:
        legs = [leg for j in (original, reversal) for leg in j.legs if leg.account == account]
        assert balance_of(legs).net_debit_fen == 0
