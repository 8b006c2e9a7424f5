"""The figures finance asks for first: match rate by count and by money, money at risk (the
open discrepancy amount), open discrepancies by ageing priority and older than 7 days; the
gauges ``recon_discrepancies_open{priority}`` and ``recon_money_at_risk_fen`` follow them."""

from __future__ import annotations

from datetime import date
from typing import Any

from recon_service.domain.adjustments import AgeingPolicy, Priority
from recon_service.service_layer.metrics import ReconMetrics
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

RATE_DECIMALS = 4


async def figures(
    uow: ReconUnitOfWork,
    *,
    source: str | None,
    date_from: date,
    date_to: date,
    today: date,
    ageing: AgeingPolicy,
    metrics: ReconMetrics | None = None,
) -> dict[str, Any]:
    """Figures over the days' current runs and every unresolved discrepancy."""
    async with uow:
        rates = await uow.figures.match_rates(source, date_from, date_to)
        unresolved = await uow.figures.unresolved(source)
    by_priority = dict.fromkeys((p.value for p in Priority), 0)
    at_risk = stale = count = 0
    for row in unresolved:
        n, fen = int(row["n"]), int(row["fen"])
        count += n
        at_risk += n * fen
        by_priority[ageing.priority(fen, row["recon_date"], today).value] += n
        stale += n if (today - row["recon_date"]).days > ageing.stale_age_days else 0
    if metrics is not None and source is None:
        for priority, n in by_priority.items():
            metrics.discrepancies_open.labels(priority).set(n)
        metrics.money_at_risk_fen.set(at_risk)
    return {
        "source": source,
        "date_from": date_from,
        "date_to": date_to,
        "results": rates["results"],
        "matched": rates["matched"],
        "match_rate_by_count": _rate(rates["matched"], rates["results"]),
        "amount_fen": rates["amount_fen"],
        "matched_amount_fen": rates["matched_amount_fen"],
        "match_rate_by_amount": _rate(rates["matched_amount_fen"], rates["amount_fen"]),
        "open_discrepancies": count,
        "money_at_risk_fen": at_risk,
        "open_by_priority": by_priority,
        f"open_older_than_{ageing.stale_age_days}_days": stale,
    }


def _rate(part: int, whole: int) -> float | None:
    """A ratio for display (never used for money)."""
    return None if whole == 0 else round(part / whole, RATE_DECIMALS)
