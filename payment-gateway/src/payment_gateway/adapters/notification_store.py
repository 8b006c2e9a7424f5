"""SQL of the callback hot path: one atomic statement, a read and a second one only if not.

``settle_known`` is the common case in one round trip: it locks the payment by our order number
only if it is this channel's, of this amount and currency, and in a status the target may be
reached from; then updates it, writes the PaymentCallback outbox row (the payment's fields filled
in by SQL into the envelope built by the caller) and the raw request as ``accepted``. When it
finds no such row it writes nothing and returns None; the caller then takes the slower path
below, which decides the exact rejection or duplicate.

``settle_known_grouped`` is the same under load (group commit, as the ledger does): a
notification that arrives while no group is in flight is settled at once by the single
statement (no added latency when idle); those that arrive while ``GROUP_IN_FLIGHT`` groups are
being written queue up, and the next group takes up to ``GROUP_MAX`` of them in one statement
over arrays (``_SETTLE_KNOWN_GROUP``) that does, per input row, what ``_SETTLE_KNOWN`` does and
returns which rows applied. Within a group only the first notification of an ``out_trade_no``
is tried (the others answer None and take the slower path after the group committed, which
records them as duplicates); payment rows are locked in ``payment_id`` order. Each caller gets
its answer only after its group's statement returned (committed). A group whose statement fails
is retried one notification at a time with the single statement, each caller getting its own
result or error.

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
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.callback_log import CallbackRecord, Verdict, record_row
from payment_gateway.adapters.repository import payment_from_row
from payment_gateway.adapters.tables import SCHEMA
from payment_gateway.domain.payment import Payment, PaymentStatus

log = logging.getLogger(__name__)
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
_SETTLE_KNOWN_GROUP: Final = f"""
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::bigint[], $9::timestamptz[], $10::uuid[],
                         $11::text[], $12::text[], $13::text[], $14::text[], $15::bytea[],
                         $16::int[], $17::text[], $18::text[], $19::text[])
           WITH ORDINALITY AS i(out_trade_no, channel, amount_fen, currency, sources, target,
                                channel_txn_id, fee_fen, now, event_id, event_type, topic,
                                event_body, headers, raw_body, body_bytes, notification_id,
                                raw_out_trade_no, raw_channel, idx)
), found AS (
    SELECT i.*, string_to_array(i.sources, ',') AS source_list, p.payment_id, p.status AS prior
      FROM input AS i JOIN {SCHEMA}.payments AS p
        ON p.out_trade_no = i.out_trade_no AND p.channel = i.channel
       AND p.amount_fen = i.amount_fen AND p.currency = i.currency
       AND p.status = ANY(string_to_array(i.sources, ','))
     ORDER BY p.payment_id
       FOR UPDATE OF p
), settled AS (
    UPDATE {SCHEMA}.payments AS p
       SET status = f.target, channel_txn_id = COALESCE(f.channel_txn_id, p.channel_txn_id),
           fee_fen = COALESCE(f.fee_fen, p.fee_fen), completed_at = f.now, updated_at = f.now,
           next_query_at = NULL
      FROM found AS f
     WHERE p.payment_id = f.payment_id AND p.status = ANY(f.source_list)
 RETURNING f.idx, f.prior, f.now, f.event_id, f.event_type, f.topic, f.event_body, f.headers,
           f.raw_body, f.body_bytes, f.notification_id, f.raw_out_trade_no, f.raw_channel,
           p.payment_id, p.order_id, p.billing_id, p.method, p.channel_txn_id, p.fee_fen
), event AS (
    INSERT INTO {SCHEMA}.outbox (event_id, event_type, topic, partition_key, body)
    SELECT s.event_id, s.event_type, s.topic, s.order_id::text,
           (s.event_body::jsonb || jsonb_build_object(
               'order_id', s.order_id::text,
               'payload', (s.event_body::jsonb -> 'payload') || jsonb_build_object(
                   'order_id', s.order_id::text, 'billing_id', s.billing_id::text,
                   'payment_id', s.payment_id::text, 'method', s.method,
                   'channel_txn_id', s.channel_txn_id, 'fee_fen', s.fee_fen)))::text
      FROM settled AS s
), raw AS (
    INSERT INTO {SCHEMA}.callback_requests (channel, received_at, headers, body, body_bytes,
        verdict, reason, notification_id, out_trade_no, payment_id)
    SELECT s.raw_channel, s.now, s.headers::jsonb, s.raw_body, s.body_bytes, 'accepted', NULL,
           s.notification_id, s.raw_out_trade_no, s.payment_id
      FROM settled AS s
)
SELECT idx, prior FROM settled
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
GROUP_MAX: Final = 64  # notifications settled by one grouped statement at most
GROUP_IN_FLIGHT: Final = 2  # grouped statements running at once


@dataclass(frozen=True, slots=True)
class KnownSettlement:
    """What ``settle_known`` needs of one notification (see there)."""

    out_trade_no: str
    channel: ChannelCode
    amount_fen: int
    currency: str
    target: PaymentStatus
    sources: tuple[PaymentStatus, ...]
    channel_txn_id: str | None
    fee_fen: int | None
    now: datetime
    event_row: dict[str, object]
    record: CallbackRecord

    def args(self) -> tuple[Any, ...]:
        """The 19 parameters of ``_SETTLE_KNOWN`` (one row of ``_SETTLE_KNOWN_GROUP``)."""
        raw = record_row(self.record)
        return (
            self.out_trade_no,
            self.channel,
            self.amount_fen,
            self.currency,
            [s.value for s in self.sources],
            self.target.value,
            self.channel_txn_id or None,
            self.fee_fen,
            self.now,
            self.event_row["event_id"],
            self.event_row["event_type"],
            self.event_row["topic"],
            self.event_row["body"],
            json.dumps(raw["headers"]),
            raw["body"],
            raw["body_bytes"],
            raw["notification_id"],
            raw["out_trade_no"],
            raw["channel"],
        )


_Pending = tuple[KnownSettlement, "asyncio.Future[PaymentStatus | None]"]


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
        self._pending: deque[_Pending] = deque()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()  # strong references while they run

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

    async def settle_known(self, conn: Any, known: KnownSettlement) -> PaymentStatus | None:
        """Settle a known payment this notification matches, with its event and raw request, in
        one statement; its status before, or None (nothing written) when no payment matched."""
        prior: str | None = await conn.fetchval(_SETTLE_KNOWN, *known.args())
        return PaymentStatus(prior) if prior is not None else None

    async def settle_known_grouped(self, known: KnownSettlement) -> PaymentStatus | None:
        """``settle_known``, possibly in one statement with concurrent callers' notifications
        (module docstring); answered after that statement committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PaymentStatus | None] = loop.create_future()
        self._pending.append((known, future))
        if self._in_flight < GROUP_IN_FLIGHT:
            self._in_flight += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                group: list[_Pending] = []
                while self._pending and len(group) < GROUP_MAX:
                    item = self._pending.popleft()
                    if not item[1].done():  # skip a caller that went away (cancelled)
                        group.append(item)
                if group:
                    await self._write(group)
        finally:
            self._in_flight -= 1

    async def _write(self, group: list[_Pending]) -> None:
        if len(group) == 1:
            await self._write_alone(group[0])
            return
        tried: list[_Pending] = []
        seen: set[str] = set()
        for item in group:
            if item[0].out_trade_no in seen:
                continue  # a second delivery in this group: the slower path, after the commit
            seen.add(item[0].out_trade_no)
            tried.append(item)
        try:
            async with self.connection() as conn:
                rows = await conn.fetch(_SETTLE_KNOWN_GROUP, *_columns([k for k, _ in tried]))
        except Exception:  # noqa: BLE001  (each notification is retried alone)
            log.warning("grouped settlement failed; settling one by one", exc_info=True)
            for item in group:
                await self._write_alone(item)
            return
        applied = {int(row["idx"]) - 1: PaymentStatus(row["prior"]) for row in rows}
        for index, (_, future) in enumerate(tried):
            _answer(future, applied.get(index))
        for _, future in group:
            _answer(future, None)  # duplicates within the group (no-op for those answered)

    async def _write_alone(self, item: _Pending) -> None:
        known, future = item
        try:
            async with self.connection() as conn:
                prior = await self.settle_known(conn, known)
        except Exception as exc:  # noqa: BLE001  (handed to the caller, never swallowed)
            _answer(future, exc)
            return
        _answer(future, prior)

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


def _columns(group: Sequence[KnownSettlement]) -> list[list[Any]]:
    """The 19 array parameters of ``_SETTLE_KNOWN_GROUP`` (a row per notification)."""
    columns: list[list[Any]] = [[] for _ in range(19)]
    for known in group:
        for column, value in zip(columns, known.args(), strict=True):
            column.append(value)
    columns[4] = [",".join(sources) for sources in columns[4]]  # a text[] per row: as CSV
    return columns


def _answer(future: asyncio.Future[PaymentStatus | None], outcome: object) -> None:
    if future.done():  # already answered, or the caller went away (request cancelled)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        assert outcome is None or isinstance(outcome, PaymentStatus)
        future.set_result(outcome)
