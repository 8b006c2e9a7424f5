"""Yuan/fen conversion at the channel edge (money_edge; docs/channel-formats.md App. B 6, §2.2)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_gateway.adapters.channels.money_edge import (
    fee_yuan_to_fen,
    fen_text_to_fen,
    fen_to_yuan,
    yuan_to_fen,
)
from payment_gateway.errors import MoneyFormatError


@pytest.mark.parametrize(
    ("text", "fen"),
    [("0.01", 1), ("12", 1200), ("12.3", 1230), ("0", 0), ("0.00", 0), ("49999.99", 4_999_999)],
)
def test_yuan_to_fen_is_exact(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        "1.234",
        "1e2",
        " 1.00",
        "1.00 ",
        "+1",
        "１.00",
        "NaN",
        "Infinity",
        "",
        ".5",
        "5.",
        "1,000",
        "0x1",
    ],
)
def test_yuan_to_fen_rejects_inexact_or_foreign_forms(text: str) -> None:
    with pytest.raises(MoneyFormatError):
        yuan_to_fen(text)


def test_negative_yuan_only_when_allowed() -> None:
    with pytest.raises(MoneyFormatError):
        yuan_to_fen("-0.01")
    assert yuan_to_fen("-0.01", allow_negative=True) == -1
    assert yuan_to_fen("-12.50", allow_negative=True) == -1250


@pytest.mark.parametrize("value", [1.5, Decimal("1.50"), 150, None])
def test_yuan_to_fen_takes_only_strings(value: object) -> None:
    with pytest.raises(MoneyFormatError):
        yuan_to_fen(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("0.01000", 1),
        ("0.00500", 1),
        ("0.00499", 0),
        ("-0.00600", -1),
        ("-0.00500", -1),
        ("-0.00499", 0),
        ("45.0", 4500),
        ("12", 1200),
    ],
)
def test_fee_rounds_half_up_to_fen(text: str, fen: int) -> None:
    assert fee_yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["0.60%", "0.123456", "", "1e-3", "--1"])
def test_fee_rejects_non_amounts(text: str) -> None:
    with pytest.raises(MoneyFormatError):
        fee_yuan_to_fen(text)


def test_fen_text() -> None:
    assert fen_text_to_fen("100") == 100
    assert fen_text_to_fen("-5", allow_negative=True) == -5
    for bad in ("-5", "1.0", "", "1 ", "１"):
        with pytest.raises(MoneyFormatError):
            fen_text_to_fen(bad)


@pytest.mark.parametrize(
    ("fen", "text"), [(1, "0.01"), (0, "0.00"), (-150, "-1.50"), (123456, "1234.56"), (100, "1.00")]
)
def test_fen_to_yuan(fen: int, text: str) -> None:
    assert fen_to_yuan(fen) == text


def test_fen_to_yuan_rejects_bool() -> None:
    with pytest.raises(MoneyFormatError):
        fen_to_yuan(True)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_yuan_round_trip(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen), allow_negative=True) == fen


@given(
    st.decimals(
        min_value=Decimal("-99999.99999"),
        max_value=Decimal("99999.99999"),
        places=5,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_fee_matches_decimal_reference(amount: Decimal) -> None:
    text = f"{amount:.5f}"
    reference = int((Decimal(text) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert fee_yuan_to_fen(text) == reference
