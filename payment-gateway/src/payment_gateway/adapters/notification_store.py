"""SQL of the callback hot path: one atomic statement, a read and a second one only if not.

``settle_known`` is the common case in one round trip: it locks the payment by our order number
only if it is this channel's, of this amount and currency, and in a status the target may be
reached from; then updates it, writes the PaymentCallback outbox row (the payment's fields filled
in by SQL into the envelope built by the caller) and the raw request as ``accepted``. When it
finds no such row it writes nothing and returns None; the caller then takes the slower path
below, which decides the exact rejection or duplicate.

``settle`` is a single statement (so, in autocommit, its own transaction): the guarded UPDATE
of the payment, the PaymentCallback outbox row only when that UPDATE changed the row, and the
raw request with its verdict (``accepted`` when it did, ``duplicate`` when the guard did not
match). Concurrent deliveries of one notification serialise on the payment's row lock; the
later ones re-check the guard after the first commits and find nothing to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]

from payment_gateway.adapters.callback_log import CallbackRecord, Verdict, record_row
from payment_gateway.adapters.repository import payment_from_row
from payment_gateway.adapters.tables import SCHEMA
from payment_gateway.domain.payment import Payment, PaymentStatus

_PAYMENT_BY_OUT_TRADE_NO: Final = f"SELECT * FROM {SCHEMA}.payments WHERE out_trade_no = $1"  # noqa: S608
_SETTLE_KNOWN: Final = f"""
WITH found AS (
    SELECT payment_id, status FROM {SCHEMA}.payments
     WHERE out_trade_no = $1 AND channel = $2 AND amount_fen = $3 AND currency = $4
       AND status = ANY($5::text[])
       FOR UPDATE
), settled AS (
    UPDATE {SCHEMA}.payments AS p
       SET status = $6, channel_txn_id = COALESCE($7, p.channel_txn_id),
           fee_fen = COALESCE($8, p.fee_fen), completed_at = $9, updated_at = $9,
           next_query_at = NULL
      FROM found
     WHERE p.payment_id = found.payment_id AND p.status = ANY($5::text[])
 RETURNING p.payment_id, p.order_id, p.billing_id, p.method, p.channel_txn_id, p.fee_fen,
           found.status AS prior
), event AS (
    INSERT INTO {SCHEMA}.outbox (event_id, event_type, topic, partition_key, body)
    SELECT $10, $11, $12, s.order_id::text,
           ($13::jsonb || jsonb_build_object(
               'order_id', s.order_id::text,
               'payload', ($13::jsonb -> 'payload') || jsonb_build_object(
                   'order_id', s.order_id::text, 'billing_id', s.billing_id::text,
                   'payment_id', s.payment_id::text, 'method', s.method,
                   'channel_txn_id', s.channel_txn_id, 'fee_fen', s.fee_fen)))::text
      FROM settled AS s
), raw AS (
    INSERT INTO {SCHEMA}.callback_requests (channel, received_at, headers, body, body_bytes,
        verdict, reason, notification_id, out_trade_no, payment_id)
    SELECT $19, $9, $14::jsonb, $15, $16, 'accepted', NULL, $17, $18, s.payment_id
      FROM settled AS s
)
SELECT prior FROM settled
"""  # noqa: S608  (constant schema name)
_SETTLE: Final = f"""
WITH settled AS (
    UPDATE {SCHEMA}.payments
       SET status = $2, channel_txn_id = COALESCE($3, channel_txn_id),
           fee_fen = COALESCE($4, fee_fen), completed_at = $5, updated_at = $5,
           next_query_at = NULL
     WHERE payment_id = $1 AND status = ANY($6::text[])
 RETURNING payment_id
), event AS (
    INSERT INTO {SCHEMA}.outbox (event_id, event_type, topic, partition_key, body)
    SELECT $7, $8, $9, $10, $11 FROM settled
)
INSERT INTO {SCHEMA}.callback_requests (channel, received_at, headers, body, body_bytes,
    verdict, reason, notification_id, out_trade_no, payment_id)
SELECT $12, $13, $14::jsonb, $15, $16,
       CASE WHEN EXISTS (SELECT 1 FROM settled) THEN 'accepted' ELSE 'duplicate' END,
       CASE WHEN EXISTS (SELECT 1 FROM settled) THEN NULL ELSE $17 END, $18, $19, $1
RETURNING verdict
"""  # noqa: S608  (constant schema name)


STATEMENT_CACHE_SIZE: Final = 16


async def _no_reset(_: Any) -> None:
    """Nothing to reset: see the class docstring."""


class NotificationStore:
    """The two statements of an accepted or duplicate payment notification, on a small asyncpg
    pool of its own: no SQLAlchemy checkout (greenlet hops, pre-ping) and no reset query on
    release (the hot path never leaves session state behind: no transactions, no SET)."""

    def __init__(self, database_url: str, *, pool_size: int) -> None:
        self._dsn = database_url
        self._pool_size = pool_size
        self._pool: Any = None
        self._opening = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A pooled asyncpg connection outside any transaction (each statement commits)."""
        pool = self._pool or await self._open()
        async with pool.acquire() as conn:
            yield conn

    async def _open(self) -> Any:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    reset=_no_reset,
                    statement_cache_size=STATEMENT_CACHE_SIZE,
                )
        return self._pool

    async def close(self) -> None:
        """Close the pool (at shutdown)."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def payment(self, conn: Any, out_trade_no: str) -> Payment | None:
        """The payment with our merchant order number."""
        row = await conn.fetchrow(_PAYMENT_BY_OUT_TRADE_NO, out_trade_no)
        return payment_from_row(row) if row is not None else None

    async def settle_known(
        self,
        conn: Any,
        *,
        out_trade_no: str,
        channel: str,
        amount_fen: int,
        currency: str,
        target: PaymentStatus,
        sources: Iterable[PaymentStatus],
        channel_txn_id: str | None,
        fee_fen: int | None,
        now: datetime,
        event_row: dict[str, object],
        record: CallbackRecord,
    ) -> PaymentStatus | None:
        """Settle a known payment this notification matches, with its event and raw request, in
        one statement; its status before, or None (nothing written) when no payment matched."""
        raw = record_row(record)
        prior: str | None = await conn.fetchval(
            _SETTLE_KNOWN,
            out_trade_no,
            channel,
            amount_fen,
            currency,
            [s.value for s in sources],
            target.value,
            channel_txn_id or None,
            fee_fen,
            now,
            event_row["event_id"],
            event_row["event_type"],
            event_row["topic"],
            event_row["body"],
            json.dumps(raw["headers"]),
            raw["body"],
            raw["body_bytes"],
            raw["notification_id"],
            raw["out_trade_no"],
            raw["channel"],
        )
        return PaymentStatus(prior) if prior is not None else None

    async def settle(
        self,
        conn: Any,
        *,
        payment_id: uuid.UUID,
        target: PaymentStatus,
        sources: Iterable[PaymentStatus],
        channel_txn_id: str | None,
        fee_fen: int | None,
        now: datetime,
        event_row: dict[str, object],
        record: CallbackRecord,
        duplicate_reason: str,
    ) -> Verdict:
        """Settle, record the event and the raw request atomically; the verdict."""
        raw = record_row(record)
        verdict: Verdict = await conn.fetchval(
            _SETTLE,
            payment_id,
            target.value,
            channel_txn_id or None,
            fee_fen,
            now,
            [s.value for s in sources],
            event_row["event_id"],
            event_row["event_type"],
            event_row["topic"],
            event_row["partition_key"],
            event_row["body"],
            raw["channel"],
            raw["received_at"],
            json.dumps(raw["headers"]),
            raw["body"],
            raw["body_bytes"],
            duplicate_reason,
            raw["notification_id"],
            raw["out_trade_no"],
        )
        return verdict
