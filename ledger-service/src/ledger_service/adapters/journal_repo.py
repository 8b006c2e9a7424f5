"""SQL for journals and their lines: the posting statement and the journal reads.

Posting is ONE statement for any number of journals (arrays bound with ``unnest``): insert
the journals with ``ON CONFLICT (source_id) DO NOTHING``; only for those really inserted,
insert their lines, add their turnovers to the balance rows of this transaction's shard (in
account order, so concurrent postings lock rows in one global order and cannot deadlock),
and write their JournalPosted outbox rows. A replayed source id therefore changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.tables import journal_lines, journals
from ledger_service.domain.journal import Journal, Leg
from otd_shared.events import SCHEMA_VERSION

_POST = sa.text(
    """
WITH j AS (
    INSERT INTO ledger.journals
        (journal_id, source_id, business_date, description, reverses_journal_id,
         source_kind, order_id)
    SELECT * FROM unnest(
        CAST(:j_id AS uuid[]), CAST(:j_source AS text[]), CAST(:j_date AS date[]),
        CAST(:j_description AS text[]), CAST(:j_reverses AS uuid[]), CAST(:j_kind AS text[]),
        CAST(:j_order AS text[])
    ) AS t ORDER BY 2
    ON CONFLICT (source_id) DO NOTHING
    RETURNING journal_id, source_id, business_date, order_id
), l AS (
    INSERT INTO ledger.journal_lines
        (journal_id, line_no, account, business_date, debit_fen, credit_fen, currency)
    SELECT t.* FROM unnest(
        CAST(:l_journal AS uuid[]), CAST(:l_no AS smallint[]), CAST(:l_account AS text[]),
        CAST(:l_date AS date[]), CAST(:l_debit AS bigint[]), CAST(:l_credit AS bigint[]),
        CAST(:l_currency AS text[])
    ) AS t(journal_id, line_no, account, business_date, debit_fen, credit_fen, currency)
    WHERE t.journal_id IN (SELECT journal_id FROM j)
    RETURNING journal_id, account, business_date, currency, debit_fen, credit_fen
), b AS (
    INSERT INTO ledger.account_balances
        (account, business_date, shard, currency, debit_fen, credit_fen)
    SELECT account, business_date, CAST(:shard AS smallint), currency,
           CAST(sum(debit_fen) AS bigint), CAST(sum(credit_fen) AS bigint)
    FROM l GROUP BY account, business_date, currency ORDER BY account, business_date
    ON CONFLICT (account, business_date, shard) DO UPDATE SET
        debit_fen = account_balances.debit_fen + excluded.debit_fen,
        credit_fen = account_balances.credit_fen + excluded.credit_fen
), e AS (
    SELECT j.*, gen_random_uuid() AS event_id, t.total_debit_fen, c.correlation_id
    FROM j JOIN (
        SELECT journal_id, CAST(sum(debit_fen) AS bigint) AS total_debit_fen
        FROM l GROUP BY journal_id
    ) t USING (journal_id)
    JOIN unnest(CAST(:j_id AS uuid[]), CAST(:j_correlation AS text[]))
        AS c(journal_id, correlation_id) USING (journal_id)
), o AS (
    INSERT INTO ledger.outbox (event_id, event_type, topic, partition_key, body)
    SELECT event_id, 'JournalPosted', CAST(:topic AS text),
           coalesce(order_id, event_id::text),
           json_build_object(
               'event_id', event_id,
               'event_type', 'JournalPosted',
               'schema_version', CAST(:schema_version AS integer),
               'occurred_at', to_char(
                   clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'producer', CAST(:producer AS text),
               'correlation_id', coalesce(correlation_id, CAST(:correlation_id AS text)),
               'order_id', order_id,
               'payload', json_build_object(
                   'event_type', 'JournalPosted',
                   'journal_id', journal_id,
                   'source_id', source_id,
                   'business_date', business_date,
                   'total_debit_fen', total_debit_fen,
                   'order_id', order_id,
                   'sap_document_ref', NULL
               )
           )::text
    FROM e
)
SELECT journal_id FROM j
"""
)


@dataclass(frozen=True)
class Announcement:
    """Who announces the posted journals: JournalPosted rows go to `topic` (written by the
    posting statement itself, one per journal it inserts, in the shared envelope's JSON),
    with `correlation_id` unless a journal brings its own (`JournalInsert.correlation_id`)."""

    topic: str
    producer: str
    correlation_id: str


@dataclass(frozen=True)
class JournalInsert:
    """A journal to insert, with what the books keep beside it."""

    journal: Journal
    source_kind: str
    order_id: str | None
    correlation_id: str | None = None
    """The correlation id of its JournalPosted (the event it was posted from), when it is
    not the transaction's: a consumer's batch posts the journals of many events at once."""


@dataclass(frozen=True)
class StoredJournal:
    """A journal as stored: the domain journal plus its posting order and metadata."""

    journal: Journal
    seq: int
    source_kind: str
    order_id: str | None
    posted_at: datetime


@dataclass(frozen=True)
class JournalFilter:
    """Which journals to list; every field narrows the selection."""

    source_id: str | None = None
    account: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    after_seq: int = 0


class JournalRepository:
    """Journals and lines inside the caller's session (its transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert(
        self, batch: Sequence[JournalInsert], shard: int, announce: Announcement
    ) -> set[str]:
        """Insert journals whose source id is new, with their JournalPosted outbox rows;
        returns the ids of those inserted.

        The batch must not repeat a source id (the caller keeps the first of duplicates).
        """
        if not batch:
            return set()
        params = _post_params(batch, shard)
        params |= {
            "topic": announce.topic,
            "producer": announce.producer,
            "correlation_id": announce.correlation_id,
            "schema_version": SCHEMA_VERSION,
        }
        rows = await self._session.execute(_POST, params)
        return {str(row[0]) for row in rows}

    async def by_source(self, source_id: str) -> StoredJournal | None:
        """The journal posted for a source id, if any."""
        found = await self._select(journals.c.source_id == source_id, limit=1)
        return found[0] if found else None

    async def by_sources(self, source_ids: Iterable[str]) -> dict[str, Journal]:
        """The journals posted for these source ids, by source id."""
        wanted = list(dict.fromkeys(source_ids))
        if not wanted:
            return {}
        found = await self._select(journals.c.source_id.in_(wanted), limit=None)
        return {stored.journal.source_id: stored.journal for stored in found}

    async def get(self, journal_id: str) -> StoredJournal | None:
        """The journal with this id, if any."""
        found = await self._select(journals.c.journal_id == _uuid(journal_id), limit=1)
        return found[0] if found else None

    async def reversal_of(self, journal_id: str) -> StoredJournal | None:
        """The journal reversing `journal_id`, if any."""
        cond = journals.c.reverses_journal_id == _uuid(journal_id)
        found = await self._select(cond, limit=1)
        return found[0] if found else None

    async def reversal_ids(self, journal_ids: Iterable[str]) -> dict[str, str]:
        """``{journal id: id of the journal reversing it}`` for those that are reversed."""
        ids = [_uuid(j) for j in journal_ids]
        if not ids:
            return {}
        rows = await self._session.execute(
            sa.select(journals.c.reverses_journal_id, journals.c.journal_id).where(
                journals.c.reverses_journal_id.in_(ids)
            )
        )
        return {str(target): str(reversal) for target, reversal in rows}

    async def page(self, where: JournalFilter, limit: int | None) -> list[StoredJournal]:
        """Journals in posting order after `where.after_seq`, at most `limit`."""
        return await self._select(*_conditions(where), limit=limit)

    async def for_account(self, account: str, limit: int | None = None) -> list[StoredJournal]:
        """Every journal with a line on `account`, in posting order."""
        touching = sa.select(journal_lines.c.journal_id).where(journal_lines.c.account == account)
        return await self._select(journals.c.journal_id.in_(touching), limit=limit)

    async def unexported_on(self, business_date: date, exported: sa.Table) -> list[Journal]:
        """Journals of a business date not yet in any SAP document, in posting order."""
        cond = sa.and_(
            journals.c.business_date == business_date,
            ~sa.exists().where(exported.c.journal_id == journals.c.journal_id),
        )
        return [stored.journal for stored in await self._select(cond, limit=None)]

    async def by_ids(self, journal_ids: Iterable[str]) -> list[Journal]:
        """The journals with these ids, in posting order."""
        ids = [_uuid(j) for j in journal_ids]
        found = await self._select(journals.c.journal_id.in_(ids), limit=None)
        return [stored.journal for stored in found]

    async def stream_lines(
        self, where: JournalFilter, chunk_rows: int
    ) -> AsyncIterator[list[tuple[object, ...]]]:
        """Lines with their journal header, in posting order, a chunk at a time (a cursor)."""
        j, line = journals, journal_lines
        stmt = (
            sa.select(
                j.c.journal_id,
                j.c.source_id,
                j.c.business_date,
                j.c.source_kind,
                j.c.description,
                line.c.line_no,
                line.c.account,
                line.c.debit_fen,
                line.c.credit_fen,
                line.c.currency,
            )
            .join(line, line.c.journal_id == j.c.journal_id)
            .where(*_conditions(where))
            .order_by(j.c.seq, line.c.line_no)
            .execution_options(yield_per=chunk_rows)
        )
        result = await self._session.stream(stmt)
        async for chunk in result.partitions(chunk_rows):
            yield [tuple(row) for row in chunk]

    async def _select(
        self, *conds: sa.ColumnElement[bool], limit: int | None
    ) -> list[StoredJournal]:
        page = sa.select(journals).where(*conds).order_by(journals.c.seq)
        if limit is not None:
            page = page.limit(limit)
        head = page.subquery()
        lines = journal_lines
        stmt = (
            sa.select(head, lines.c.line_no, lines.c.account, lines.c.debit_fen)
            .add_columns(lines.c.credit_fen, lines.c.currency)
            .join(lines, lines.c.journal_id == head.c.journal_id)
            .order_by(head.c.seq, lines.c.line_no)
        )
        return _assemble(await self._session.execute(stmt))


def _conditions(where: JournalFilter) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = [journals.c.seq > where.after_seq]
    if where.source_id is not None:
        conds.append(journals.c.source_id == where.source_id)
    if where.date_from is not None:
        conds.append(journals.c.business_date >= where.date_from)
    if where.date_to is not None:
        conds.append(journals.c.business_date <= where.date_to)
    if where.account is not None:
        touching = sa.select(journal_lines.c.journal_id).where(
            journal_lines.c.account == where.account
        )
        if where.date_from is not None:
            touching = touching.where(journal_lines.c.business_date >= where.date_from)
        if where.date_to is not None:
            touching = touching.where(journal_lines.c.business_date <= where.date_to)
        conds.append(journals.c.journal_id.in_(touching))
    return conds


def _assemble(rows: sa.Result[Any]) -> list[StoredJournal]:
    heads: dict[uuid.UUID, sa.RowMapping] = {}
    legs: dict[uuid.UUID, list[Leg]] = {}
    for m in rows.mappings():
        key = m["journal_id"]
        if key not in heads:
            heads[key] = m
            legs[key] = []
        legs[key].append(Leg(m["account"], m["debit_fen"], m["credit_fen"], m["currency"]))
    stored = []
    for key, m in heads.items():
        reverses = m["reverses_journal_id"]
        journal = Journal(
            journal_id=str(key),
            source_id=m["source_id"],
            business_date=m["business_date"],
            description=m["description"],
            legs=tuple(legs[key]),
            reverses_journal_id=None if reverses is None else str(reverses),
        )
        stored.append(
            StoredJournal(journal, m["seq"], m["source_kind"], m["order_id"], m["posted_at"])
        )
    return stored


def _post_params(batch: Sequence[JournalInsert], shard: int) -> dict[str, object]:
    params: dict[str, list[object]] = {
        name: []
        for name in [
            "j_id",
            "j_source",
            "j_date",
            "j_description",
            "j_reverses",
            "j_kind",
            "j_order",
            "j_correlation",
            "l_journal",
            "l_no",
            "l_account",
            "l_date",
            "l_debit",
            "l_credit",
            "l_currency",
        ]
    }
    for item in batch:
        journal = item.journal
        journal_id = _uuid(journal.journal_id)
        reverses = journal.reverses_journal_id
        params["j_id"].append(journal_id)
        params["j_source"].append(journal.source_id)
        params["j_date"].append(journal.business_date)
        params["j_description"].append(journal.description)
        params["j_reverses"].append(None if reverses is None else _uuid(reverses))
        params["j_kind"].append(item.source_kind)
        params["j_order"].append(item.order_id)
        params["j_correlation"].append(item.correlation_id)
        for line_no, leg in enumerate(journal.legs, start=1):
            params["l_journal"].append(journal_id)
            params["l_no"].append(line_no)
            params["l_account"].append(leg.account)
            params["l_date"].append(journal.business_date)
            params["l_debit"].append(leg.debit_fen)
            params["l_credit"].append(leg.credit_fen)
            params["l_currency"].append(leg.currency)
    return {**params, "shard": shard}


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
