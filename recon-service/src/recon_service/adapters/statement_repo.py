"""SQL of statements: the statement rows, the COPY of their lines into the staging table,
and the read queries. All SQL of statements lives here."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from recon_service.adapters.statements.bulk import Fallback
from recon_service.adapters.tables import (
    DUPLICATE_KEY_COLUMNS,
    SCHEMA,
    STATEMENT_LINE_COLUMNS,
    statement_lines,
    statements,
    upload_exceptions,
)
from recon_service.domain.statement import StatementLine

BULK_SAVEPOINT: Final = "bulk_lines"
# The duplicate search groups every line of the statement: in memory for a million lines.
DUPLICATES_WORK_MEM: Final = "256MB"
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class StatementRecord:
    """A loaded statement as stored (totals over its lines, in fen)."""

    statement_id: uuid.UUID
    source: str
    statement_date: date
    content_sha256: str
    filename: str | None
    size_bytes: int
    line_count: int
    payment_count: int
    refund_count: int
    payment_total_fen: int
    refund_total_fen: int
    fee_total_fen: int
    loaded_by: str
    loaded_at: datetime | None = None
    version: int = 0  # given by the insert


@dataclass(frozen=True, kw_only=True)
class LineRecord:
    """One staged statement line as stored."""

    line_no: int
    kind: str
    out_trade_no: str | None
    channel_txn_id: str | None
    out_refund_no: str | None
    amount_fen: int
    fee_fen: int
    status: str
    occurred_at: datetime
    refs: dict[str, str]


def line_row(statement_id: uuid.UUID, line: StatementLine) -> tuple[Any, ...]:
    """The COPY record of a line, in ``STATEMENT_LINE_COLUMNS`` order."""
    return (
        statement_id,
        line.line_no,
        line.source.value,
        line.statement_date,
        line.kind.value,
        line.out_trade_no,
        line.channel_txn_id,
        line.out_refund_no,
        line.amount_fen,
        line.fee_fen,
        line.status.value,
        line.occurred_at,
        json.dumps(line.refs_dict(), ensure_ascii=False),
    )


class StatementRepository:
    """Statements and their staged lines, inside one session (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_same(
        self, source: str, content_sha256: str, statement_date: date | None
    ) -> StatementRecord | None:
        """The statement already loaded from the same content (and day, when given)."""
        query = sa.select(statements).where(
            statements.c.source == source, statements.c.content_sha256 == content_sha256
        )
        if statement_date is not None:
            query = query.where(statements.c.statement_date == statement_date)
        row = (await self._session.execute(query.order_by(statements.c.loaded_at))).first()
        return None if row is None else StatementRecord(**row._mapping)

    async def copy_lines(
        self, statement_id: uuid.UUID, batches: AsyncIterable[Sequence[StatementLine]]
    ) -> None:
        """COPY the lines into the staging table inside the session's transaction."""
        driver = await self._driver()
        await driver.copy_records_to_table(
            statement_lines.name,
            schema_name=SCHEMA,
            columns=list(STATEMENT_LINE_COLUMNS),
            records=_rows(statement_id, batches),
        )

    async def copy_bulk(self, blocks: AsyncIterable[bytes]) -> bool:
        """COPY text blocks of lines (the bulk path) inside the session's transaction;
        False, with nothing of them kept, when the bulk path gives up (``Fallback``) or the
        server refuses a value: the caller then loads the file line by line."""
        driver = await self._driver()
        await driver.execute(f"SAVEPOINT {BULK_SAVEPOINT}")
        try:
            await driver.copy_to_table(
                statement_lines.name,
                schema_name=SCHEMA,
                columns=list(STATEMENT_LINE_COLUMNS),
                source=blocks,
                format="text",
            )
        except (Fallback, asyncpg.DataError) as exc:
            await driver.execute(f"ROLLBACK TO SAVEPOINT {BULK_SAVEPOINT}")
            log.info("statement lines: the bulk path gave up (%s); line by line", exc)
            return False
        await driver.execute(f"RELEASE SAVEPOINT {BULK_SAVEPOINT}")
        return True

    async def _driver(self) -> asyncpg.Connection:
        connection = await self._session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        # The session has already run a statement, so asyncpg is inside its transaction: the
        # COPY commits or rolls back with the statement row and the outbox.
        assert driver.is_in_transaction(), "COPY must run inside the unit of work"
        return driver

    async def insert(self, record: StatementRecord) -> StatementRecord | None:
        """Write the statement row as the day's next version; None when the same source, day
        and content won a race. Loads of one source and day are serialised from here to the
        commit, so versions are dense and in load order."""
        key = sa.func.hashtext(f"recon-statement:{record.source}:{record.statement_date}")
        await self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        values = {k: v for k, v in record.__dict__.items() if k not in ("loaded_at", "version")}
        t = statements
        next_version = (
            sa.select(sa.func.coalesce(sa.func.max(t.c.version), 0) + 1)
            .where(t.c.source == record.source, t.c.statement_date == record.statement_date)
            .scalar_subquery()
        )
        query = (
            pg_insert(statements)
            .values(**values, version=next_version)
            .on_conflict_do_nothing(constraint="uq_statements_source_day_content")
            .returning(statements)
        )
        row = (await self._session.execute(query)).first()
        return None if row is None else StatementRecord(**row._mapping)

    async def get(self, statement_id: uuid.UUID) -> StatementRecord | None:
        """One statement."""
        query = sa.select(statements).where(statements.c.statement_id == statement_id)
        row = (await self._session.execute(query)).first()
        return None if row is None else StatementRecord(**row._mapping)

    async def page(
        self, *, source: str | None, statement_date: date | None, limit: int, offset: int
    ) -> tuple[list[StatementRecord], int]:
        """Statements, newest day first, then newest load first."""
        conditions = []
        if source is not None:
            conditions.append(statements.c.source == source)
        if statement_date is not None:
            conditions.append(statements.c.statement_date == statement_date)
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(statements).where(*conditions)
        )
        query = (
            sa.select(statements)
            .where(*conditions)
            .order_by(
                statements.c.statement_date.desc(),
                statements.c.loaded_at.desc(),
                statements.c.statement_id,
            )
            .limit(limit)
            .offset(offset)
        )
        rows = (await self._session.execute(query)).all()
        return [StatementRecord(**r._mapping) for r in rows], int(total or 0)

    async def lines(
        self, statement_id: uuid.UUID, *, kind: str | None, limit: int, offset: int
    ) -> tuple[list[LineRecord], int]:
        """A statement's lines in file order."""
        t = statement_lines
        conditions = [t.c.statement_id == statement_id]
        if kind is not None:
            conditions.append(t.c.kind == kind)
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(t).where(*conditions)
        )
        columns = [c for c in t.c if c.name not in ("statement_id", "source", "statement_date")]
        query = (
            sa.select(*columns).where(*conditions).order_by(t.c.line_no).limit(limit).offset(offset)
        )
        rows = (await self._session.execute(query)).all()
        return [LineRecord(**r._mapping) for r in rows], int(total or 0)


SAME_KEYS_CAP: Final = 2_000_000
"""Lines whose keys a load remembers (about 60 bytes each) to tell that no two are alike;
past it the server's exact check decides."""


class SameKeyWatch:
    """Whether two lines of a load may share kind, ids and amount (what a duplicate line
    needs: ``_SAME_KEY_SQL``), told as they are parsed, from the hashes of their keys:
    equal keys hash alike, and unequal ones that collide only send the statement to the
    server's exact check, as more than ``cap`` lines do. Almost no statement has two such
    lines, and then the server's check (a grouping of every line: 1.3-1.8 s for a million)
    is not run."""

    def __init__(self, cap: int = SAME_KEYS_CAP) -> None:
        self._hashes: set[int] = set()
        self._added = 0
        self._cap = cap
        self.maybe = False

    def add(self, key_hashes: Sequence[int]) -> None:
        """The hashes of some lines' keys (``CopyRows.key_hashes`` of the bulk path)."""
        if self.maybe:
            return
        self._added += len(key_hashes)
        self._hashes.update(key_hashes)
        if len(self._hashes) < self._added or self._added > self._cap:
            self.maybe = True
            self._hashes = set()

    def add_lines(self, lines: Sequence[StatementLine]) -> None:
        """The keys of parsed lines."""
        self.add([hash(_key(line)) for line in lines])


_key = attrgetter(*DUPLICATE_KEY_COLUMNS)  # a parsed line's duplicate key
_KEY_OF_LINE: Final = ", ".join(f"l.{name}" for name in DUPLICATE_KEY_COLUMNS)
_SAME_KEY_SQL: Final = f"""
    SELECT {_KEY_OF_LINE}
    FROM {SCHEMA}.statement_lines l WHERE l.statement_id = :statement_id
    GROUP BY {_KEY_OF_LINE}
    HAVING count(*) > 1
"""  # noqa: S608  (only the fixed schema name is formatted in)
# Lines sharing kind, ids and amount: the only ones that can be equal. Almost no statement
# has any, and then the INSERT below is not run: its plan sorts every line of the statement
# (measured on a million lines: 3.5 s, against 1.3 s for this check alone).
ANY_SAME_KEY_SQL: Final = f"SELECT EXISTS ({_SAME_KEY_SQL})"
DUPLICATES_SQL: Final = f"""
WITH same_key AS ({_SAME_KEY_SQL})
INSERT INTO {SCHEMA}.upload_exceptions (
    exception_id, source, statement_date, statement_id, filename, content_sha256, line_no,
    code, message, recorded_by)
SELECT gen_random_uuid(), d.source, d.statement_date, d.statement_id, :filename, :sha256,
       d.line_no, 'duplicate_line', 'the same line as line ' || d.first_no, :recorded_by
FROM (SELECT l.source, l.statement_date, l.statement_id, l.line_no,
             min(l.line_no) OVER (PARTITION BY l.kind, l.out_trade_no, l.channel_txn_id,
                                  l.out_refund_no, l.amount_fen, l.fee_fen, l.status,
                                  l.occurred_at, CAST(l.refs AS text)) AS first_no
      FROM {SCHEMA}.statement_lines l
      JOIN same_key k
        ON k.kind = l.kind AND k.amount_fen = l.amount_fen
       AND k.out_trade_no IS NOT DISTINCT FROM l.out_trade_no
       AND k.channel_txn_id IS NOT DISTINCT FROM l.channel_txn_id
       AND k.out_refund_no IS NOT DISTINCT FROM l.out_refund_no
      WHERE l.statement_id = :statement_id) d
WHERE d.line_no <> d.first_no
"""  # noqa: S608  (only the fixed schema name is formatted in)


class UploadExceptionRepository:
    """Exceptions at upload: refused files and duplicate lines."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_duplicates(self, statement: StatementRecord) -> int:
        """Every line identical to an earlier one of the statement; returns how many."""
        await self._session.execute(sa.text(f"SET LOCAL work_mem = '{DUPLICATES_WORK_MEM}'"))
        wanted = {"statement_id": statement.statement_id}
        if not await self._session.scalar(sa.text(ANY_SAME_KEY_SQL), wanted):
            return 0
        result = await self._session.execute(
            sa.text(DUPLICATES_SQL),
            {
                "statement_id": statement.statement_id,
                "filename": statement.filename,
                "sha256": statement.content_sha256,
                "recorded_by": statement.loaded_by,
            },
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def record_refusal(self, values: dict[str, Any]) -> None:
        """A refused upload (nothing of it is stored but this row)."""
        await self._session.execute(
            sa.insert(upload_exceptions).values(exception_id=uuid.uuid4(), **values)
        )

    async def page(
        self,
        *,
        source: str | None,
        statement_date: date | None,
        statement_id: uuid.UUID | None,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """Exceptions, newest first."""
        t = upload_exceptions
        conditions = [
            column == value
            for column, value in (
                (t.c.source, source),
                (t.c.statement_date, statement_date),
                (t.c.statement_id, statement_id),
            )
            if value is not None
        ]
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(t).where(*conditions)
        )
        rows = await self._session.execute(
            sa.select(t)
            .where(*conditions)
            .order_by(t.c.recorded_at.desc(), t.c.line_no, t.c.exception_id)
            .limit(limit)
            .offset(offset)
        )
        return [dict(r._mapping) for r in rows], int(total or 0)


async def _rows(
    statement_id: uuid.UUID, batches: AsyncIterable[Sequence[StatementLine]]
) -> AsyncIterator[tuple[Any, ...]]:
    async for batch in batches:
        for line in batch:
            yield line_row(statement_id, line)
