"""The console's pure pieces for the offline-money and discount pages: yuan typed into forms
becomes exact fen, a wire's age, and the discount report's running budget."""

from __future__ import annotations

from datetime import date

import pytest

from finance_console.domain.amounts import AMOUNT_FEN_MAX, AmountError, age_days, yuan_to_fen
from finance_console.domain.discount_report import chart_series, report_days
from finance_console.entrypoints.web import shanghai


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1", 100),
        ("1234.5", 123_450),
        ("1,234.56", 123_456),
        (" 0.01 ", 1),
        ("10000000000", 10**12),
        ("19.99", 1_999),
    ],
)
def test_yuan_text_is_exact_fen(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    "text",
    ["", "0", "0.00", "-5", "1.234", "1e3", "12,34", "¥12", "nan", "1.", ".5", "10000000000.01"],
)
def test_anything_else_is_refused_with_the_field(text: str) -> None:
    with pytest.raises(AmountError, match="row 2 amount"):
        yuan_to_fen(text, "row 2 amount")


def test_the_largest_amount_is_the_gateways_limit() -> None:
    assert yuan_to_fen(f"{AMOUNT_FEN_MAX // 100}") == AMOUNT_FEN_MAX


def test_a_wire_ages_from_its_value_date() -> None:
    assert age_days(date(2026, 3, 1), date(2026, 3, 1)) == 0
    assert age_days(date(2026, 2, 20), date(2026, 3, 1)) == 9
    assert age_days(date(2026, 3, 2), date(2026, 3, 1)) == 0  # value-dated tomorrow


def _day(day: str, **figures: int) -> dict[str, object]:
    base = {
        "drawn": 0,
        "drawn_fen": 0,
        "confirmed": 0,
        "confirmed_fen": 0,
        "returned": 0,
        "returned_fen": 0,
        "reversed": 0,
        "reversed_fen": 0,
    }
    return {"day": day, **base, **figures}


REPORT = {
    "budget_fen": 10_000,
    "days": [
        _day(
            "2026-05-02",
            drawn=2,
            drawn_fen=700,
            confirmed=1,
            confirmed_fen=300,
            reversed=1,
            reversed_fen=400,
        ),
        _day(
            "2026-05-01",
            drawn=3,
            drawn_fen=900,
            confirmed=2,
            confirmed_fen=600,
            returned=1,
            returned_fen=300,
        ),
    ],
}


def test_the_budget_spent_and_left_run_day_by_day() -> None:
    days = report_days(REPORT, refund_returns_to_budget=False)
    assert [d.day for d in days] == ["2026-05-01", "2026-05-02"]
    assert [(d.spent_fen, d.left_fen) for d in days] == [(600, 9_400), (900, 9_100)]


def test_refunds_give_the_discount_back_when_the_activity_says_so() -> None:
    days = report_days(REPORT, refund_returns_to_budget=True)
    assert [(d.spent_fen, d.left_fen) for d in days] == [(600, 9_400), (500, 9_500)]
    series = chart_series(days)
    assert series["days"] == ["2026-05-01", "2026-05-02"]
    assert series["confirmed"] == [2, 1]
    assert series["returned"] == [1, 0]
    assert series["left_fen"] == [9_400, 9_500]


def test_an_activity_without_draws_has_no_day() -> None:
    assert report_days({"budget_fen": 5, "days": []}, refund_returns_to_budget=True) == []
    assert chart_series([])["days"] == []


def test_service_timestamps_show_in_asia_shanghai() -> None:
    assert shanghai("2026-05-01T16:30:00+00:00") == "2026-05-02 00:30"
    assert shanghai("2026-05-01T16:30:00Z") == "2026-05-02 00:30"
    assert shanghai(None) == "—"
    assert shanghai("not a time") == "not a time"
