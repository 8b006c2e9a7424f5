"""SQL of settlements posted per (channel, statement day, statement version)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.tables import settlements
from ledger_service.domain.settlements import SettlementDelta, SettlementVersion


class SettlementRepository:
    """Settlement versions inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_day(self, reported: SettlementVersion) -> None:
        """Serialise versions of one channel's day (the difference reads the latest)."""
        day = reported.statement_date.isoformat()
        key = sa.func.hashtext(f"settlement:{reported.channel}:{day}")
        await self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    async def latest(self, reported: SettlementVersion) -> SettlementVersion | None:
        """The highest version of the same channel and day posted so far."""
        t = settlements
        row = (
            await self._session.execute(
                sa.select(t)
                .where(
                    t.c.channel == reported.channel,
                    t.c.statement_date == reported.statement_date,
                )
                .order_by(t.c.statement_version.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        return SettlementVersion(
            channel=row.channel,
            statement_date=row.statement_date,
            version=row.statement_version,
            gross_fen=row.gross_fen,
            fee_fen=row.fee_fen,
            statement_id=row.statement_id,
        )

    async def record(self, reported: SettlementVersion, delta: SettlementDelta) -> None:
        """Record the version with what its journal posts (called once per newer version)."""
        await self._session.execute(
            sa.insert(settlements).values(
                channel=reported.channel,
                statement_date=reported.statement_date,
                statement_version=reported.version,
                statement_id=reported.statement_id,
                gross_fen=reported.gross_fen,
                fee_fen=reported.fee_fen,
                delta_gross_fen=delta.gross_fen,
                delta_fee_fen=delta.fee_fen,
                journal_source_id=reported.source_id,
            )
        )
