"""SQL for Idempotency-Key records.

``claim`` runs inside the request's transaction: ``INSERT … ON CONFLICT DO NOTHING`` then
``SELECT … FOR UPDATE``. A concurrent request with the same key blocks on the first one's
uncommitted row until it commits (with its response) and then reads that response, so the
request executes once. A crash before the commit leaves no row: the key is free again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment_gateway.adapters.tables import idempotency_keys

KEY_LEN_MAX = 255


@dataclass(frozen=True)
class StoredKey:
    """What the key holds: the request hash and, once completed, the response."""

    request_hash: str
    response_status: int | None
    response_body: Any


class IdempotencyRepository:
    """Claims keys and stores responses."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, scope: str, key: str, request_hash: str, *, now: datetime) -> StoredKey:
        """Insert the key if new, then lock it; returns what it holds (response None = ours)."""
        t = idempotency_keys
        await self._session.execute(
            pg_insert(t)
            .values(scope=scope, key=key, request_hash=request_hash, created_at=now)
            .on_conflict_do_nothing(index_elements=[t.c.scope, t.c.key])
        )
        row = (
            await self._session.execute(
                sa.select(t.c.request_hash, t.c.response_status, t.c.response_body)
                .where(t.c.scope == scope, t.c.key == key)
                .with_for_update()
            )
        ).one()
        return StoredKey(row.request_hash, row.response_status, row.response_body)

    async def complete(
        self, scope: str, key: str, *, status: int, body: Any, now: datetime
    ) -> None:
        """Store the response of the claimed key."""
        t = idempotency_keys
        await self._session.execute(
            sa.update(t)
            .where(t.c.scope == scope, t.c.key == key)
            .values(response_status=status, response_body=body, completed_at=now)
        )
