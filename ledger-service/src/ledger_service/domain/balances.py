"""Balances as pure folds over entries, trial balances, and normal-side presentation.

A `Balance` keeps both turnovers (total debits, total credits); the signed figures are derived:
`net_debit_fen` > 0 means a debit balance. Presentation follows the account's normal side: a
deposits account (liability) holding 500 fen shows +500 with `normal_balance_fen`, a clearing
account (asset) holding 500 fen shows +500 too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from ledger_service.domain.accounts import AccountType, Side, normal_side
from ledger_service.domain.chart import deposits_account, is_revenue_account
from ledger_service.domain.errors import LedgerInvariantError
from ledger_service.domain.journal import Entry, Journal, entries_of
from ledger_service.domain.money import DEFAULT_CURRENCY


class HasAmounts(Protocol):
    """Anything with one-sided amounts: `Leg`, `Entry`, or a row from the database."""

    @property
    def debit_fen(self) -> int:
        """Debit amount in fen (0 on credit lines)."""
        ...

    @property
    def credit_fen(self) -> int:
        """Credit amount in fen (0 on debit lines)."""
        ...

    @property
    def currency(self) -> str:
        """Currency code of the amounts."""
        ...


@dataclass(frozen=True)
class Balance:
    """Debit and credit turnovers of one account (one currency)."""

    debit_fen: int = 0
    credit_fen: int = 0

    @property
    def net_debit_fen(self) -> int:
        """Debits minus credits: positive for a debit balance, negative for a credit balance."""
        return self.debit_fen - self.credit_fen

    def on_side_fen(self, side: Side) -> int:
        """The balance as seen from `side`: positive when the balance sits on that side."""
        return self.net_debit_fen if side is Side.DEBIT else -self.net_debit_fen

    def columns_fen(self) -> tuple[int, int]:
        """``(debit_fen, credit_fen)`` with the net balance in one column, 0 in the other."""
        net = self.net_debit_fen
        return (net, 0) if net >= 0 else (0, -net)


def balance_of(entries: Iterable[HasAmounts]) -> Balance:
    """Fold entries of one account into its balance; mixed currencies are an invariant breach."""
    debit_fen = credit_fen = 0
    currencies: set[str] = set()
    for entry in entries:
        debit_fen += entry.debit_fen
        credit_fen += entry.credit_fen
        currencies.add(entry.currency)
    if len(currencies) > 1:
        raise LedgerInvariantError(f"one balance over several currencies: {sorted(currencies)}")
    return Balance(debit_fen=debit_fen, credit_fen=credit_fen)


def debit_normal_fen(balance: Balance) -> int:
    """Presentation for debit-normal accounts (assets, expenses): debits minus credits."""
    return balance.on_side_fen(Side.DEBIT)


def credit_normal_fen(balance: Balance) -> int:
    """Presentation for credit-normal accounts (liabilities, equity, revenue): credits - debits."""
    return balance.on_side_fen(Side.CREDIT)


def normal_balance_fen(balance: Balance, account_type: AccountType) -> int:
    """The balance signed by the normal side of `account_type` (positive = the usual case)."""
    return balance.on_side_fen(normal_side(account_type))


@dataclass(frozen=True)
class TrialBalanceRow:
    """One account of a trial balance: its net balance in the debit or the credit column."""

    account: str
    debit_fen: int
    credit_fen: int


@dataclass(frozen=True)
class TrialBalance:
    """Net balances of every account in one currency, cumulative up to `as_of` inclusive."""

    as_of: date
    currency: str
    rows: tuple[TrialBalanceRow, ...]
    total_debit_fen: int
    total_credit_fen: int


def trial_balance(
    entries: Iterable[Entry],
    as_of: date,
    currency: str = DEFAULT_CURRENCY,
    accounts: Iterable[str] = (),
) -> TrialBalance:
    """The trial balance of `entries` dated on or before `as_of`, in one currency.

    `accounts` adds rows (0/0) for accounts without entries, e.g. every open account. Rows are
    sorted by account code. Unequal totals raise `LedgerInvariantError`: journals are balanced,
    so a difference means stored data is broken.
    """
    turnovers: dict[str, tuple[int, int]] = dict.fromkeys(accounts, (0, 0))
    for entry in entries:
        if entry.business_date > as_of or entry.currency != currency:
            continue
        debit_fen, credit_fen = turnovers.get(entry.account, (0, 0))
        turnovers[entry.account] = (debit_fen + entry.debit_fen, credit_fen + entry.credit_fen)
    return trial_balance_of_turnovers(turnovers, as_of, currency)


def trial_balance_of_turnovers(
    turnovers: Mapping[str, tuple[int, int]], as_of: date, currency: str = DEFAULT_CURRENCY
) -> TrialBalance:
    """The trial balance from ``{account: (debit turnover, credit turnover)}`` up to `as_of`.

    For ledgers that keep turnovers (the SQL balance rows) instead of folding every entry.
    """
    rows = tuple(
        TrialBalanceRow(code, *Balance(*turnovers[code]).columns_fen())
        for code in sorted(turnovers)
    )
    total_debit_fen = sum(row.debit_fen for row in rows)
    total_credit_fen = sum(row.credit_fen for row in rows)
    if total_debit_fen != total_credit_fen:
        raise LedgerInvariantError(
            f"trial balance {as_of} {currency}: debits {total_debit_fen} != "
            f"credits {total_credit_fen}"
        )
    return TrialBalance(as_of, currency, rows, total_debit_fen, total_credit_fen)


def order_statement(journals: Iterable[Journal], order_id: str) -> tuple[Entry, ...]:
    """Every line of every journal that touches the order's deposits account, in input order.

    Both sides are included (Dr clearing / Cr deposits), so finance sees where money came from
    and went to.
    """
    code = deposits_account(order_id)
    return tuple(
        entry for journal in journals if code in journal.accounts for entry in entries_of(journal)
    )


@dataclass(frozen=True)
class OrderSummary:
    """What happened to an order's money, from its deposits account (all in fen, one currency).

    - `paid_fen`: credited to deposits by payments, wires, claims and loan disbursements;
    - `refunded_fen`: debited by refunds (to a channel's clearing or to refunds payable);
    - `recognised_fen`: debited into revenue at delivery (or service completion);
    - `reversed_fen`: the net effect of reversing journals (negative when they took money out);
    - `held_fen`: the deposits balance still held for the customer.

    ``held_fen == paid_fen - refunded_fen - recognised_fen + reversed_fen`` always.
    """

    order_id: str
    paid_fen: int
    refunded_fen: int
    recognised_fen: int
    reversed_fen: int
    held_fen: int


def order_summary(journals: Iterable[Journal], order_id: str) -> OrderSummary:
    """Classify every leg on ``deposits:<order_id>`` of `journals` (see `OrderSummary`)."""
    code = deposits_account(order_id)
    paid_fen = refunded_fen = recognised_fen = reversed_fen = held_fen = 0
    for journal in journals:
        to_revenue = any(is_revenue_account(leg.account) for leg in journal.legs)
        for leg in journal.legs:
            if leg.account != code:
                continue
            held_fen += leg.credit_fen - leg.debit_fen
            if journal.is_reversal:
                reversed_fen += leg.credit_fen - leg.debit_fen
            elif leg.credit_fen:
                paid_fen += leg.credit_fen
            elif to_revenue:
                recognised_fen += leg.debit_fen
            else:
                refunded_fen += leg.debit_fen
    if held_fen != paid_fen - refunded_fen - recognised_fen + reversed_fen:
        raise LedgerInvariantError(f"order {order_id}: statement summary does not add up")
    return OrderSummary(order_id, paid_fen, refunded_fen, recognised_fen, reversed_fen, held_fen)
