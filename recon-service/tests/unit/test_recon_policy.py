"""The run window of a business day and the counted outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from recon_service.domain.recon import (
    COUNTED,
    DISCREPANCIES,
    Outcome,
    ReconPolicy,
    RunWindow,
    counts_of,
)


def test_the_window_reaches_back_three_days_and_an_hour_past_midnight() -> None:
    window = RunWindow.of(date(2024, 3, 1), ReconPolicy())

    assert window.first_day == date(2024, 2, 27)
    assert window.next_day_start == datetime(2024, 3, 1, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai
    assert window.late_until == datetime(2024, 3, 1, 17, 0, tzinfo=UTC)


def test_a_policy_is_bounded() -> None:
    with pytest.raises(AssertionError):
        ReconPolicy(carry_over_days=-1)
    with pytest.raises(AssertionError):
        ReconPolicy(cut_grace=timedelta(days=1))


def test_counts_name_the_six_outcomes_and_carried_over() -> None:
    counts = counts_of({"matched": 3, "internal_only": 1, "carried_over": 2, "unsettled": 9})

    assert counts == {
        "matched": 3, "amount_mismatch": 0, "status_mismatch": 0, "fee_mismatch": 0,
        "channel_only": 0, "internal_only": 1, "carried_over": 2,
    }  # fmt: skip
    assert Outcome.MATCHED not in DISCREPANCIES
    assert len(COUNTED) == 6
