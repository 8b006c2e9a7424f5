"""Money: exact yuan↔fen conversion, no float, clear errors."""

import pytest

from otd_shared.money import Money, MoneyError, fen_to_yuan, yuan_to_fen, yuan_to_fen_rounded


@pytest.mark.parametrize(
    ("text", "fen"),
    [("0.01", 1), ("12.30", 1230), ("12.3", 1230), ("100", 10000), (" 5.00 ", 500), ("0", 0)],
)
def test_yuan_to_fen_exact(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["0.001", "abc", "", "NaN", "Infinity", "1e400", "-1.00", "1,00"])
def test_yuan_to_fen_rejects(text: str) -> None:
    with pytest.raises(MoneyError):
        yuan_to_fen(text)


def test_negative_allowed_when_asked() -> None:
    assert yuan_to_fen("-0.01", allow_negative=True) == -1


def test_fee_rounding_is_half_up() -> None:
    assert yuan_to_fen_rounded("0.00500") == 1
    assert yuan_to_fen_rounded("0.00499") == 0
    assert yuan_to_fen_rounded("-0.00600") == -1


def test_fen_to_yuan_roundtrip() -> None:
    for fen in (0, 1, 99, 100, 123456789, -5):
        assert yuan_to_fen(fen_to_yuan(fen), allow_negative=True) == fen


def test_money_refuses_float_and_mixed_currency() -> None:
    with pytest.raises(MoneyError):
        Money(1.5)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(1) + Money(1, "USD")
    assert (Money(150) - Money(50)).amount_fen == 100


def test_wire_forms_are_strict() -> None:
    from otd_shared.money import fen_text_to_fen, wire_fee_yuan_to_fen, wire_yuan_to_fen

    assert wire_yuan_to_fen("12.3") == 1230
    assert wire_yuan_to_fen("-0.01", allow_negative=True) == -1
    assert wire_fee_yuan_to_fen("-0.00500") == -1
    assert fen_text_to_fen("100") == 100
    for bad in (" 5.00", "1e2", "+1", "0.001", "５"):
        with pytest.raises(MoneyError):
            wire_yuan_to_fen(bad)
    with pytest.raises(MoneyError):
        fen_text_to_fen("-5")
