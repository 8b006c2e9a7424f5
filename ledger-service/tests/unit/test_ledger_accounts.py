"""Accounts, account codes and the chart of accounts."""

from __future__ import annotations

import pytest

from ledger_service.domain.accounts import (
    MAX_ACCOUNT_CODE_CHARS,
    Account,
    AccountType,
    Side,
    join_account_code,
    normal_side,
    split_account_code,
)
from ledger_service.domain.chart import (
    CLEARING_CHANNELS,
    DEFAULT_CHART,
    Channel,
    ChartRow,
    OwnerKind,
    account_for,
    bank_account,
    channel_accounts,
    chart_row,
    check_against_chart,
    clearing_account,
    deposits_account,
    fixed_accounts,
    parse_channel_code,
    receiving_account,
)
from ledger_service.domain.errors import InvalidAccount, InvalidEvent


@pytest.mark.parametrize(
    ("account_type", "side"),
    [
        (AccountType.ASSET, Side.DEBIT),
        (AccountType.EXPENSE, Side.DEBIT),
        (AccountType.LIABILITY, Side.CREDIT),
        (AccountType.EQUITY, Side.CREDIT),
        (AccountType.REVENUE, Side.CREDIT),
    ],
)
def test_normal_side_follows_type(account_type: AccountType, side: Side) -> None:
    assert normal_side(account_type) is side
    assert Account("x", account_type).normal_side is side


def test_side_opposite() -> None:
    assert Side.DEBIT.opposite is Side.CREDIT
    assert Side.CREDIT.opposite is Side.DEBIT


def test_account_type_parse_is_case_insensitive_and_rejects_unknown() -> None:
    assert AccountType.parse(" Liability ") is AccountType.LIABILITY
    with pytest.raises(InvalidAccount) as caught:
        AccountType.parse("assets")
    assert caught.value.http_status == 422
    assert caught.value.field == "type"


def test_account_defaults_currency_and_derives_owner() -> None:
    account = Account("deposits:ORD-1", AccountType.LIABILITY)
    assert account.currency == "CNY"
    assert account.owner == "ORD-1"
    assert account.family == "deposits"
    assert Account("revenue", AccountType.REVENUE).owner is None
    assert Account("cash:S1", AccountType.ASSET, owner="store S1").owner == "store S1"


@pytest.mark.parametrize(
    "code",
    [
        "",
        " revenue",
        "deposits:",
        ":x",
        "a:b:c",
        "deposits:ORD 1",
        "x" * (MAX_ACCOUNT_CODE_CHARS + 1),
    ],
)
def test_malformed_codes_are_rejected(code: str) -> None:
    with pytest.raises(InvalidAccount) as caught:
        Account(code, AccountType.ASSET)
    assert caught.value.http_status == 422


@pytest.mark.parametrize("currency", ["cny", "CN", "CNYY", "", "元"])
def test_bad_currency_is_rejected(currency: str) -> None:
    with pytest.raises(InvalidAccount, match="currency"):
        Account("bank:X", AccountType.ASSET, currency)


def test_split_and_join_codes() -> None:
    assert split_account_code("bank:ICBC-001") == ("bank", "ICBC-001")
    assert split_account_code("suspense") == ("suspense", None)
    assert join_account_code("cash", "store-SH01") == "cash:store-SH01"
    assert join_account_code("revenue") == "revenue"


def test_default_chart_families_are_unique_and_complete() -> None:
    families = [row.family for row in DEFAULT_CHART]
    assert len(families) == len(set(families))
    assert set(families) == {
        "clearing",
        "bank",
        "cash",
        "deposits",
        "service_revenue",
        "loan_receivable",
        "revenue",
        "fees",
        "suspense",
        "refunds_payable",
        "recon_differences",
        "marketing_expense",
    }
    assert all(type(family) is str for family in families)


@pytest.mark.parametrize(
    ("code", "account_type", "owner"),
    [
        ("clearing:wechatpay", AccountType.ASSET, "wechatpay"),
        ("bank:ICBC-001", AccountType.ASSET, "ICBC-001"),
        ("cash:store-SH01", AccountType.ASSET, "store-SH01"),
        ("deposits:ORD-42", AccountType.LIABILITY, "ORD-42"),
        ("loan_receivable", AccountType.ASSET, None),
        ("revenue", AccountType.REVENUE, None),
        ("fees:alipay", AccountType.EXPENSE, "alipay"),
        ("suspense", AccountType.LIABILITY, None),
        ("refunds_payable", AccountType.LIABILITY, None),
        ("recon_differences", AccountType.EXPENSE, None),
    ],
)
def test_account_for_takes_type_from_chart(
    code: str, account_type: AccountType, owner: str | None
) -> None:
    account = account_for(code)
    assert (account.code, account.type, account.currency, account.owner) == (
        code,
        account_type,
        "CNY",
        owner,
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("deposits", "needs a order"),
        ("revenue:ORD-1", "takes no owner"),
        ("clearing:paypal", "unknown channel"),
        ("goodwill", "not in the chart"),
    ],
)
def test_account_for_rejects_codes_the_chart_does_not_allow(code: str, message: str) -> None:
    with pytest.raises(InvalidAccount, match=message):
        account_for(code)


def test_chart_is_data_a_custom_chart_changes_types() -> None:
    chart = (ChartRow("deposits", AccountType.EQUITY, OwnerKind.ORDER, "odd but allowed"),)
    assert account_for("deposits:ORD-1", chart=chart).type is AccountType.EQUITY
    with pytest.raises(InvalidAccount):
        chart_row("revenue", chart)


def test_check_against_chart() -> None:
    ok = Account("deposits:ORD-1", AccountType.LIABILITY)
    assert check_against_chart(ok) is ok
    manual = Account("misc-expense", AccountType.EXPENSE)
    assert check_against_chart(manual) is manual
    with pytest.raises(InvalidAccount, match="is liability, not asset"):
        check_against_chart(Account("deposits:ORD-1", AccountType.ASSET))
    with pytest.raises(InvalidAccount, match="takes no owner"):
        check_against_chart(Account("revenue:x", AccountType.REVENUE))


def test_fixed_accounts_are_the_ownerless_rows() -> None:
    codes = {a.code: a.type for a in fixed_accounts()}
    assert codes == {
        "loan_receivable": AccountType.ASSET,
        "refunds_payable": AccountType.LIABILITY,
        "suspense": AccountType.LIABILITY,
        "revenue": AccountType.REVENUE,
        "recon_differences": AccountType.EXPENSE,
        "marketing_expense": AccountType.EXPENSE,
    }


def test_instant_discounts_are_marketing_expense_against_the_deposit() -> None:
    assert receiving_account(Channel.DISCOUNT) == "marketing_expense"


def test_channel_parse() -> None:
    assert parse_channel_code("lakala") is Channel.LAKALA
    with pytest.raises(InvalidEvent, match="unknown channel"):
        parse_channel_code("WeChat")


@pytest.mark.parametrize("channel", sorted(CLEARING_CHANNELS))
def test_receiving_account_for_clearing_channels(channel: Channel) -> None:
    assert receiving_account(channel) == f"clearing:{channel.value}"
    clearing, fees = channel_accounts(channel)
    assert (clearing.code, clearing.type) == (f"clearing:{channel.value}", AccountType.ASSET)
    assert (fees.code, fees.type) == (f"fees:{channel.value}", AccountType.EXPENSE)


def test_receiving_account_for_offline_channels() -> None:
    assert receiving_account(Channel.CASH, store_id="S1") == "cash:S1"
    assert receiving_account(Channel.WIRE, bank_account_id="ICBC-001") == "bank:ICBC-001"
    assert receiving_account(Channel.LOAN) == "loan_receivable"
    with pytest.raises(InvalidEvent, match="store id"):
        receiving_account(Channel.CASH)
    with pytest.raises(InvalidEvent, match="bank account"):
        receiving_account(Channel.WIRE)
    with pytest.raises(InvalidEvent, match="no clearing account"):
        clearing_account(Channel.CASH)


def test_derived_codes_reject_bad_owners_as_bad_events() -> None:
    assert deposits_account("ORD-1") == "deposits:ORD-1"
    assert bank_account("ICBC-001") == "bank:ICBC-001"
    with pytest.raises(InvalidEvent, match="order id"):
        deposits_account("ORD 1")
