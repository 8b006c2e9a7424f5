"""SQL of the settlement query: per source and day (the latest statement), counts and sums
of settled payments, refunds and fees; and what reached our bank from each channel (the
wire/bank statement's credits from the channel's payer name)."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from recon_service.adapters.tables import SCHEMA

_S: Final = SCHEMA
SETTLEMENT_SQL: Final = f"""
WITH latest AS (
    SELECT DISTINCT ON (s.source, s.statement_date) s.statement_id, s.source,
           s.statement_date, s.version
    FROM {_S}.statements s
    WHERE s.statement_date BETWEEN :date_from AND :date_to AND s.source <> 'wire'
      AND (CAST(:source AS text) IS NULL OR s.source = :source)
    ORDER BY s.source, s.statement_date, s.version DESC
)
SELECT s.source, s.statement_date, s.version, s.statement_id,
       count(l.line_no) FILTER (WHERE l.kind = 'payment') AS payment_count,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind = 'payment'), 0) AS payment_fen,
       count(l.line_no) FILTER (WHERE l.kind = 'refund') AS refund_count,
       coalesce(sum(l.amount_fen) FILTER (WHERE l.kind = 'refund'), 0) AS refund_fen,
       coalesce(sum(l.fee_fen), 0) AS fee_fen
FROM latest s
LEFT JOIN {_S}.statement_lines l
  ON l.statement_id = s.statement_id AND l.status = 'succeeded'
GROUP BY s.source, s.statement_date, s.version, s.statement_id
ORDER BY s.statement_date DESC, s.source
"""  # noqa: S608  (only the fixed schema name is formatted in)
BANK_SQL: Final = f"""
WITH latest AS (
    SELECT DISTINCT ON (s.statement_date) s.statement_id
    FROM {_S}.statements s
    WHERE s.source = 'wire' AND s.statement_date BETWEEN :bank_from AND :bank_to
    ORDER BY s.statement_date, s.version DESC
)
SELECT l.refs ->> 'payer_name' AS payer_name, l.statement_date AS value_date,
       sum(l.amount_fen) AS received_fen, count(*) AS credits
FROM latest s
JOIN {_S}.statement_lines l ON l.statement_id = s.statement_id
WHERE l.kind = 'payment' AND l.status = 'succeeded'
  AND l.refs ->> 'payer_name' = ANY(CAST(:payers AS text[]))
GROUP BY l.refs ->> 'payer_name', l.statement_date
"""  # noqa: S608  (only the fixed schema name is formatted in)


class SettlementRepository:
    """Settlement figures inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def per_day(
        self, source: str | None, date_from: date, date_to: date
    ) -> list[dict[str, Any]]:
        """One row per source and statement day (the latest version)."""
        rows = await self._session.execute(
            sa.text(SETTLEMENT_SQL),
            {"source": source, "date_from": date_from, "date_to": date_to},
        )
        return [dict(r._mapping) for r in rows]

    async def bank_credits(
        self, payers: list[str], bank_from: date, bank_to: date
    ) -> list[dict[str, Any]]:
        """Credits on the bank statement from the channels' payer names, per value day."""
        rows = await self._session.execute(
            sa.text(BANK_SQL), {"payers": payers, "bank_from": bank_from, "bank_to": bank_to}
        )
        return [dict(r._mapping) for r in rows]
