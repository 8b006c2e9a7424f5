"""The chart of accounts as data, and the pure functions that derive account codes from it.

Fixed accounts (``revenue``, ``suspense`` …) are opened once at start-up from `fixed_accounts`.
Owned accounts (``deposits:<order_id>``, ``clearing:<channel>``, ``cash:<store_id>``,
``bank:<bank_account_id>``, ``fees:<channel>``) are opened on demand: every posting proposal lists
the accounts its legs touch, with their type (see `rules.PostingProposal`).

Which asset account receives a payment depends on the channel (`receiving_account`):
online and POS channels → ``clearing:<channel>`` until the channel settles into the bank;
cash → ``cash:<store_id>`` until the store deposits it; wire → ``bank:<bank_account_id>``
directly; loan → ``loan_receivable`` until the lender's money shows on the bank statement;
discount (an instant discount paid by the marketing budget) → ``marketing_expense``, so the
customer's deposit shows the full billing amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ledger_service.domain.accounts import (
    Account,
    AccountType,
    join_account_code,
    split_account_code,
)
from ledger_service.domain.errors import InvalidAccount, InvalidEvent
from ledger_service.domain.money import DEFAULT_CURRENCY
from otd_shared.channels import CATALOGUE, Catalogue, ChannelCode, clearing_channels

# The cluster's one list of channel codes (otd_shared.channels); the ledger keeps its old name.
Channel = ChannelCode


def parse_channel_code(code: str) -> Channel:
    """Parse a channel code; unknown codes raise `InvalidEvent` (422)."""
    try:
        return ChannelCode(code)
    except ValueError:
        raise InvalidEvent(f"unknown channel code {code!r}") from None


# Channels whose money sits with a third party (acquirer/wallet) until settlement: each has a
# clearing and a fee account, opened at start-up from the catalogue (`channel_accounts`).
CLEARING_CHANNELS: Final = frozenset(clearing_channels())


class Family(StrEnum):
    """Account families (the code before ':') that the posting rules use."""

    CLEARING = "clearing"
    BANK = "bank"
    CASH = "cash"
    DEPOSITS = "deposits"
    LOAN_RECEIVABLE = "loan_receivable"
    REVENUE = "revenue"
    SERVICE_REVENUE = "service_revenue"
    FEES = "fees"
    SUSPENSE = "suspense"
    REFUNDS_PAYABLE = "refunds_payable"
    RECON_DIFFERENCES = "recon_differences"
    MARKETING_EXPENSE = "marketing_expense"


class OwnerKind(StrEnum):
    """What the owner segment of an account code identifies."""

    NONE = "none"
    CHANNEL = "channel"
    ORDER = "order"
    STORE = "store"
    BANK_ACCOUNT = "bank_account"
    SERVICE_KIND = "service_kind"


@dataclass(frozen=True)
class ChartRow:
    """One family of accounts: its type, what owns each account, and what it holds."""

    family: str
    type: AccountType
    owner_kind: OwnerKind
    description: str

    def __post_init__(self) -> None:
        # Store plain str so codes built from a row never carry the Family enum type.
        object.__setattr__(self, "family", str(self.family))


Chart = tuple[ChartRow, ...]

DEFAULT_CHART: Final[Chart] = (
    ChartRow(Family.CLEARING, AccountType.ASSET, OwnerKind.CHANNEL,
             "money captured by a channel and not yet settled into our bank"),
    ChartRow(Family.BANK, AccountType.ASSET, OwnerKind.BANK_ACCOUNT,
             "our bank accounts, one per account id"),
    ChartRow(Family.CASH, AccountType.ASSET, OwnerKind.STORE,
             "cash on hand in a store until deposited"),
    ChartRow(Family.LOAN_RECEIVABLE, AccountType.ASSET, OwnerKind.NONE,
             "loan principal disbursed by lenders, not yet on our bank statement"),
    ChartRow(Family.DEPOSITS, AccountType.LIABILITY, OwnerKind.ORDER,
             "customer money received for one vehicle order, until delivery or refund"),
    ChartRow(Family.REFUNDS_PAYABLE, AccountType.LIABILITY, OwnerKind.NONE,
             "refunds owed to customers and not yet paid out"),
    ChartRow(Family.SUSPENSE, AccountType.LIABILITY, OwnerKind.NONE,
             "wires received but not yet identified"),
    ChartRow(Family.REVENUE, AccountType.REVENUE, OwnerKind.NONE,
             "vehicle revenue, recognised at delivery"),
    ChartRow(Family.SERVICE_REVENUE, AccountType.REVENUE, OwnerKind.SERVICE_KIND,
             "post-delivery service revenue (window film, maintenance, leasing), one account"
             " per service kind, recognised when the service order is completed"),
    ChartRow(Family.FEES, AccountType.EXPENSE, OwnerKind.CHANNEL,
             "channel fees, from settlement statements"),
    ChartRow(Family.RECON_DIFFERENCES, AccountType.EXPENSE, OwnerKind.NONE,
             "reconciliation adjustments; a credit balance is a net gain"),
    ChartRow(Family.MARKETING_EXPENSE, AccountType.EXPENSE, OwnerKind.NONE,
             "instant discounts paid by the marketing budget on customers' behalf"),
)  # fmt: skip

LOAN_RECEIVABLE_ACCOUNT: Final = str(Family.LOAN_RECEIVABLE)
REVENUE_ACCOUNT: Final = str(Family.REVENUE)
SUSPENSE_ACCOUNT: Final = str(Family.SUSPENSE)
REFUNDS_PAYABLE_ACCOUNT: Final = str(Family.REFUNDS_PAYABLE)
RECON_DIFFERENCES_ACCOUNT: Final = str(Family.RECON_DIFFERENCES)
MARKETING_EXPENSE_ACCOUNT: Final = str(Family.MARKETING_EXPENSE)


def chart_row(family: str, chart: Chart = DEFAULT_CHART) -> ChartRow:
    """The chart row of `family`; a family missing from the chart raises `InvalidAccount`."""
    for row in chart:
        if row.family == family:
            return row
    raise InvalidAccount(f"account family {family!r} is not in the chart of accounts")


def account_for(
    code: str, currency: str = DEFAULT_CURRENCY, chart: Chart = DEFAULT_CHART
) -> Account:
    """The account a chart-derived code stands for, with its type taken from the chart."""
    family, owner = split_account_code(code)
    row = chart_row(family, chart)
    _check_owner(row, code, owner)
    return Account(code=code, type=row.type, currency=currency, owner=owner)


def check_against_chart(account: Account, chart: Chart = DEFAULT_CHART) -> Account:
    """Return `account` unless its family is in the chart with another type or owner shape.

    Families outside the chart are free-form (manual accounts opened by finance).
    """
    family, owner = split_account_code(account.code)
    row = next((r for r in chart if r.family == family), None)
    if row is None:
        return account
    if account.type is not row.type:
        raise InvalidAccount(
            f"account {account.code}: family {family!r} is {row.type.value}, "
            f"not {account.type.value}"
        )
    _check_owner(row, account.code, owner)
    return account


def fixed_accounts(
    chart: Chart = DEFAULT_CHART, currency: str = DEFAULT_CURRENCY
) -> tuple[Account, ...]:
    """The owner-less accounts of the chart, to open at start-up."""
    return tuple(
        Account(code=row.family, type=row.type, currency=currency)
        for row in chart
        if row.owner_kind is OwnerKind.NONE
    )


def _check_owner(row: ChartRow, code: str, owner: str | None) -> None:
    if row.owner_kind is OwnerKind.NONE:
        if owner is not None:
            raise InvalidAccount(f"account {code}: family {row.family!r} takes no owner")
        return
    if owner is None:
        raise InvalidAccount(
            f"account {code}: family {row.family!r} needs a {row.owner_kind.value}"
        )
    if row.owner_kind is OwnerKind.CHANNEL and owner not in set(Channel):
        raise InvalidAccount(f"account {code}: unknown channel {owner!r}")


def clearing_account(channel: Channel) -> str:
    """``clearing:<channel>`` for a channel that settles into the bank later."""
    if channel not in CLEARING_CHANNELS:
        raise InvalidEvent(f"channel {channel.value} has no clearing account")
    return join_account_code(Family.CLEARING, channel.value)


def fees_account(channel: Channel) -> str:
    """``fees:<channel>``: the expense account for the channel's fees."""
    return join_account_code(Family.FEES, channel.value)


def deposits_account(order_id: str) -> str:
    """``deposits:<order_id>``: customer money held for one vehicle or service order."""
    return _owned(Family.DEPOSITS, order_id, "order id")


def service_revenue_account(service_kind: str) -> str:
    """``service_revenue:<kind>``: revenue of one kind of post-delivery service."""
    return _owned(Family.SERVICE_REVENUE, service_kind, "service kind")


def cash_account(store_id: str) -> str:
    """``cash:<store_id>``: cash on hand in one store."""
    return _owned(Family.CASH, store_id, "store id")


def bank_account(bank_account_id: str) -> str:
    """``bank:<bank_account_id>``: one of our bank accounts, e.g. ``bank:ICBC-001``."""
    return _owned(Family.BANK, bank_account_id, "bank account id")


def _owned(family: Family, owner: str, what: str) -> str:
    try:
        return join_account_code(family, owner)
    except InvalidAccount as exc:
        raise InvalidEvent(f"bad {what} {owner!r}: {exc}") from None


def is_revenue_account(code: str) -> bool:
    """Whether `code` is vehicle revenue or one of the service revenue accounts."""
    family, _ = split_account_code(code)
    return family in (Family.REVENUE, Family.SERVICE_REVENUE)


def receiving_account(
    channel: Channel, *, store_id: str | None = None, bank_account_id: str | None = None
) -> str:
    """The asset account that holds money paid on `channel` until it reaches the bank.

    Cash needs the store, wire needs the receiving bank account; both missing raise `InvalidEvent`.
    """
    match channel:
        case Channel.CASH:
            if store_id is None:
                raise InvalidEvent("a cash movement needs the store id")
            return cash_account(store_id)
        case Channel.WIRE:
            if bank_account_id is None:
                raise InvalidEvent("a wire movement needs the receiving bank account id")
            return bank_account(bank_account_id)
        case Channel.LOAN:
            return LOAN_RECEIVABLE_ACCOUNT
        case Channel.DISCOUNT:
            return MARKETING_EXPENSE_ACCOUNT
        case _:
            return clearing_account(channel)


def channel_accounts(channel: Channel, currency: str = DEFAULT_CURRENCY) -> tuple[Account, ...]:
    """The clearing and fee accounts of a clearing channel, to open when it is enabled."""
    return (
        account_for(clearing_account(channel), currency),
        account_for(fees_account(channel), currency),
    )


def catalogue_accounts(
    catalogue: Catalogue = CATALOGUE, currency: str = DEFAULT_CURRENCY
) -> tuple[Account, ...]:
    """The clearing and fee accounts of every clearing channel in the channel catalogue.

    Opened on every ``migrate`` (adapters/reference_data.py), so a channel added to the
    catalogue gets its accounts without a revision of its own.
    """
    return tuple(
        Account(
            code=join_account_code(family, str(code)),
            type=chart_row(family).type,
            currency=currency,
            owner=str(code),
        )
        for code in clearing_channels(catalogue)
        for family in (Family.CLEARING, Family.FEES)
    )
