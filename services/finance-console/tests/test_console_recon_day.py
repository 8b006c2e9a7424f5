"""The dashboard's arithmetic: arrival, match rates, money at risk, ageing (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from finance_console.domain.recon_day import (
    SOURCES,
    age_bucket,
    money_at_risk_fen,
    source_days,
    statement_due_at,
    thirty_day_series,
)

DAY = date(2026, 3, 2)
DUE = statement_due_at(DAY)


def _statement(source: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "source": source,
        "statement_date": DAY.isoformat(),
        "lines": 4,
        "payment_count": 3,
        "refund_count": 1,
        "payment_total_fen": 30_000,
        "refund_total_fen": 10_000,
        "fee_total_fen": 120,
        "loaded_at": "2026-03-03T01:00:00+00:00",
    }
    return {**base, **kw}


def _disc(outcome: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "source": "wechatpay",
        "recon_date": DAY.isoformat(),
        "outcome": outcome,
        "line_no": 2,
        "line_amount_fen": 10_000,
        "record_amount_fen": None,
        "line_fee_fen": 60,
        "record_fee_fen": 60,
        "created_at": (DUE + timedelta(hours=1)).isoformat(),
    }
    return {**base, **kw}


def test_the_statement_is_due_the_next_day_at_the_cut_in_shanghai() -> None:
    assert datetime(2026, 3, 3, 6, 30, tzinfo=UTC) == DUE


def test_sources_keep_the_fixed_order_and_arrival_follows_the_cut() -> None:
    before = source_days(DAY, [_statement("alipay")], [], DUE - timedelta(seconds=1))
    after = source_days(DAY, [_statement("alipay")], [], DUE)
    assert [r.source for r in before] == list(SOURCES)
    assert [r.arrival for r in before][:2] == ["expected", "arrived"]
    assert [r.arrival for r in after][:2] == ["late", "arrived"]


RUN = {"source": "wechatpay", "date": DAY.isoformat()}


def test_no_match_rate_before_a_run() -> None:
    rows = source_days(DAY, [_statement("wechatpay")], [], DUE)
    assert not rows[0].reconciled
    assert rows[0].match_rate_count is None
    assert rows[0].match_rate_money is None


def test_match_rates_count_lines_without_an_open_discrepancy() -> None:
    rows = source_days(DAY, [_statement("wechatpay")], [_disc("channel_only")], DUE, [RUN])
    wechat = rows[0]
    assert wechat.matched_lines == 3
    assert wechat.match_rate_count == 0.75
    assert wechat.matched_fen == 30_000  # gross 40_000 − the open line's 10_000
    assert wechat.match_rate_money == 0.75
    assert wechat.settled_fen == 30_000 - 10_000 - 120
    assert rows[1].match_rate_count is None


def test_money_at_risk_per_outcome() -> None:
    assert money_at_risk_fen(_disc("channel_only")) == 10_000
    assert money_at_risk_fen(_disc("internal_only", line_no=None, line_amount_fen=None,
                                   record_amount_fen=7_000)) == 7_000  # fmt: skip
    assert money_at_risk_fen(_disc("amount_mismatch", record_amount_fen=9_500)) == 500
    assert money_at_risk_fen(_disc("fee_mismatch", record_fee_fen=10)) == 50
    assert money_at_risk_fen(_disc("status_mismatch", record_amount_fen=12_000)) == 12_000


def test_age_buckets() -> None:
    now = datetime(2026, 3, 20, tzinfo=UTC)
    assert age_bucket(now - timedelta(hours=2), now) == "< 1 d"
    assert age_bucket(now - timedelta(days=2), now) == "1–3 d"
    assert age_bucket(now - timedelta(days=6), now) == "3–7 d"
    assert age_bucket(now - timedelta(days=30), now) == "≥ 7 d"


def test_discrepancies_of_other_days_do_not_count() -> None:
    other = _disc("channel_only", recon_date=(DAY - timedelta(days=1)).isoformat())
    rows = source_days(DAY, [_statement("wechatpay")], [other], DUE)
    assert rows[0].open_count == 0
    assert rows[0].at_risk_fen == 0


def test_the_latest_statement_of_a_source_wins() -> None:
    old = _statement("wechatpay", lines=1, loaded_at="2026-03-03T01:00:00+00:00")
    new = _statement("wechatpay", lines=9, loaded_at="2026-03-03T02:00:00+00:00")
    assert source_days(DAY, [new, old], [], DUE)[0].lines == 9


def test_thirty_day_series_has_one_value_per_day_and_source() -> None:
    days = [DAY - timedelta(days=n) for n in range(29, -1, -1)]
    series = thirty_day_series(days, [_statement("wechatpay")], [_disc("channel_only")], DUE, [RUN])
    assert len(series.days) == 30
    assert series.days[-1] == DAY.isoformat()
    assert series.matched_fen["wechatpay"][-1] == 30_000
    assert series.discrepancy_count["wechatpay"][-1] == 1
    assert series.discrepancy_fen["wechatpay"][-1] == 10_000
    assert sum(series.matched_fen["alipay"]) == 0
    assert series.fee_fen[-1] == 120
