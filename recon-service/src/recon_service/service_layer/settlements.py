"""Statement management and the settlement query: per source and day the statement's settled
payments, refunds and fees and the NET the channel owes our bank (payments − refunds − fees),
matched against what the bank statement (source ``wire``) shows arriving from the channel's
payer name ``settlement_lag_days`` after the statement day (T+1 by default)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from recon_service.service_layer.unit_of_work import ReconUnitOfWork


async def settlements(
    uow: ReconUnitOfWork,
    *,
    source: str | None,
    date_from: date,
    date_to: date,
    payer_names: Mapping[str, str],
    lag_days: int,
) -> list[dict[str, Any]]:
    """One row per source and day, with ``bank_status`` matched | short | over | missing |
    not_applicable (no payer name configured for the source)."""
    lag = timedelta(days=lag_days)
    async with uow:
        days = await uow.settlements.per_day(source, date_from, date_to)
        credits = await uow.settlements.bank_credits(
            sorted(set(payer_names.values())), date_from + lag, date_to + lag
        )
    received = {(c["payer_name"], c["value_date"]): int(c["received_fen"]) for c in credits}
    for row in days:
        net = int(row["payment_fen"]) - int(row["refund_fen"]) - int(row["fee_fen"])
        payer = payer_names.get(row["source"])
        bank_day = row["statement_date"] + lag
        got = received.get((payer, bank_day)) if payer else None
        row.update(
            gross_fen=int(row["payment_fen"]) - int(row["refund_fen"]),
            net_fen=net,
            bank_value_date=bank_day if payer else None,
            bank_received_fen=got,
            bank_difference_fen=None if got is None else got - net,
            bank_status=_bank_status(payer, got, net),
        )
    return days


def _bank_status(payer: str | None, got: int | None, net: int) -> str:
    if payer is None:
        return "not_applicable"
    if got is None:
        return "missing"
    if got == net:
        return "matched"
    return "short" if got < net else "over"
