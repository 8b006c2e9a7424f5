"""SQL of statement fetches (one row per source and day, the last outcome)."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from recon_service.adapters.tables import statement_fetches


class FetchRepository:
    """Statement fetches inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, source: str, day: date) -> dict[str, Any] | None:
        """The last fetch of a source and day."""
        t = statement_fetches
        row = (
            await self._session.execute(
                sa.select(t).where(t.c.source == source, t.c.statement_date == day)
            )
        ).first()
        return None if row is None else dict(row._mapping)

    async def record(self, values: dict[str, Any]) -> None:
        """Upsert the outcome (attempts add up across runs of the job)."""
        t = statement_fetches
        insert = pg_insert(t).values(**values)
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[t.c.source, t.c.statement_date],
                set_={
                    "status": insert.excluded.status,
                    "attempts": t.c.attempts + insert.excluded.attempts,
                    **{
                        name: sa.func.coalesce(insert.excluded[name], t.c[name])
                        for name in ("statement_id", "content_sha256", "archive_path")
                    },
                    "detail": insert.excluded.detail,
                    "updated_at": sa.func.now(),
                },
            )
        )

    async def page(self, *, day: date | None, limit: int) -> list[dict[str, Any]]:
        """Fetches, newest day first."""
        t = statement_fetches
        query = sa.select(t).order_by(t.c.statement_date.desc(), t.c.source).limit(limit)
        if day is not None:
            query = query.where(t.c.statement_date == day)
        return [dict(r._mapping) for r in await self._session.execute(query)]
