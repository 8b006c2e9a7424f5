"""Loading a statement file: hash it, parse it (streaming, in a worker thread, batch by batch),
COPY its lines into the staging table, write the statement row and StatementLoaded — all in
one transaction, so a refused file leaves nothing behind. The same content of the same source
(and day) loads once: a second upload answers with the first statement."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import islice
from typing import BinaryIO, Final, TypeVar

from otd_shared.errors import DomainError
from otd_shared.events import StatementLoaded
from recon_service.adapters.statement_repo import SameKeyWatch, StatementRecord
from recon_service.adapters.statements import (
    BulkBlock,
    ParseContext,
    bulk_parser,
    parse_statement,
)
from recon_service.domain.errors import (
    StatementDateMissing,
    StatementEmpty,
    StatementFormatError,
    StatementTooLarge,
)
from recon_service.domain.statement import (
    LineKind,
    Source,
    StatementLimits,
    StatementLine,
    statement_source,
)
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

HASH_CHUNK_BYTES: Final = 1024 * 1024
FILENAME_MAX_CHARS: Final = 255
MESSAGE_MAX_CHARS: Final = 1000
# What refuses an upload as a whole (kept as an exception at upload).
REFUSALS: Final = (StatementFormatError, StatementTooLarge, StatementDateMissing)
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class StatementUpload:
    """A statement file to load; ``stream`` is seekable (an upload spooled to disk)."""

    source: Source
    stream: BinaryIO
    filename: str | None
    statement_date: date | None
    loaded_by: str


@dataclass(frozen=True)
class LoadedStatement:
    """The statement and whether this call created it (False: the same file was loaded)."""

    statement: StatementRecord
    created: bool


@dataclass
class _Tally:
    lines: int = 0
    payments: int = 0
    refunds: int = 0
    payment_total_fen: int = 0
    refund_total_fen: int = 0
    fee_total_fen: int = 0
    same_keys: SameKeyWatch = field(default_factory=SameKeyWatch)

    def add_block(self, block: BulkBlock) -> None:
        self.lines += block.lines
        self.payments += block.payments
        self.refunds += block.refunds
        self.payment_total_fen += block.payment_total_fen
        self.refund_total_fen += block.refund_total_fen
        self.fee_total_fen += block.fee_total_fen

    def add(self, line: StatementLine) -> None:
        self.lines += 1
        self.fee_total_fen += line.fee_fen
        if line.kind is LineKind.REFUND:
            self.refunds += 1
            self.refund_total_fen += line.amount_fen
        else:
            self.payments += 1
            self.payment_total_fen += line.amount_fen


async def load_statement(
    uow: ReconUnitOfWork, upload: StatementUpload, limits: StatementLimits, *, batch_lines: int
) -> LoadedStatement:
    """Load one statement file (see the module docstring); a refused file is recorded as an
    exception at upload (and nothing else of it is stored) before the error goes up; a
    channel without statements is UnknownSource (422)."""
    statement_source(upload.source.value)
    sha256: str | None = None
    try:
        size_bytes, digest = await asyncio.to_thread(
            content_digest, upload.stream, limits.max_file_bytes
        )
        sha256 = digest
        return await _load(uow, upload, limits, batch_lines, size_bytes, digest)
    except REFUSALS as exc:
        await _record_refusal(uow, upload, sha256, exc)
        raise


async def _load(
    uow: ReconUnitOfWork,
    upload: StatementUpload,
    limits: StatementLimits,
    batch_lines: int,
    size_bytes: int,
    sha256: str,
) -> LoadedStatement:
    async with uow:
        found = await uow.statements.find_same(upload.source, sha256, upload.statement_date)
        if found is not None:
            return LoadedStatement(found, created=False)
        statement_id = uuid.uuid4()
        ctx, tally = await _copy_lines(uow, upload, limits, size_bytes, statement_id, batch_lines)
        if tally.lines == 0:
            raise StatementEmpty()
        statement_date = ctx.required_date("the file has no line that names its day")
        stored = await uow.statements.insert(
            _record(statement_id, upload, statement_date, sha256, size_bytes, tally)
        )
        if stored is not None:
            if tally.same_keys.maybe:  # else no two lines can be alike: nothing to ask
                await uow.upload_exceptions.record_duplicates(stored)
            await uow.emit(_loaded_event(stored))
            await uow.commit()
            return LoadedStatement(stored, created=True)
    # The same content was loaded concurrently and committed first (our copy rolled back).
    async with uow:
        found = await uow.statements.find_same(upload.source, sha256, statement_date)
    assert found is not None, "the conflicting statement is committed"
    return LoadedStatement(found, created=False)


async def _copy_lines(  # noqa: PLR0913  (one load's parts)
    uow: ReconUnitOfWork,
    upload: StatementUpload,
    limits: StatementLimits,
    size_bytes: int,
    statement_id: uuid.UUID,
    batch_lines: int,
) -> tuple[ParseContext, _Tally]:
    """COPY the file's lines: by the source's bulk path when it has one and takes the file,
    else (or then) line by line. Both parses share one work budget (the first deadline)."""
    ctx = ParseContext(
        upload.source,
        limits,
        filename=upload.filename,
        given_date=upload.statement_date,
        packed_bytes=size_bytes,
    )
    bulk = bulk_parser(upload.source)
    if bulk is not None:
        tally = _Tally()
        parsed = bulk(upload.stream, statement_id, ctx)
        # Closed before the stream is read again: no parse is left running in a thread.
        async with contextlib.aclosing(_bulk_blocks(parsed, tally)) as blocks:
            if await uow.statements.copy_bulk(blocks):
                return ctx, tally
        upload.stream.seek(0)
        ctx = replace(ctx, statement_date=upload.statement_date, deadline=ctx.deadline)
    tally = _Tally()
    lines = parse_statement(upload.stream, ctx)
    async with contextlib.aclosing(_batches(lines, batch_lines, tally)) as batches:
        await uow.statements.copy_lines(statement_id, batches)
    return ctx, tally


async def _bulk_blocks(blocks: Iterator[BulkBlock], tally: _Tally) -> AsyncGenerator[bytes, None]:
    """The bulk parser's COPY text, block by block (parsed ahead, see ``pulled_ahead``)."""

    def pull() -> BulkBlock | None:
        block = next(blocks, None)
        if block is not None:
            tally.same_keys.add(block.key_hashes)
        return block

    # Closed with this generator (not when collected): no pull is left running after it.
    async with contextlib.aclosing(pulled_ahead(pull)) as ahead:
        async for block in ahead:
            tally.add_block(block)
            yield block.text


async def pulled_ahead(pull: Callable[[], T | None]) -> AsyncGenerator[T, None]:
    """What ``pull`` answers until None, each pulled in a worker thread; the next one is
    pulled while the caller handles this one, so parsing the next block runs beside the
    server's COPY of this one (two cores, two processes). Closing the iterator waits for
    the pull in flight: nothing reads the upload after it."""
    pending = asyncio.ensure_future(asyncio.to_thread(pull))
    try:
        while (item := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(pull))
            yield item
    finally:
        if not pending.done():
            await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # retrieved: a parse error after the COPY ended says nothing


async def _record_refusal(
    uow: ReconUnitOfWork, upload: StatementUpload, sha256: str | None, exc: DomainError
) -> None:
    async with uow:
        await uow.upload_exceptions.record_refusal(
            {
                "source": upload.source.value,
                "statement_date": upload.statement_date,
                "filename": upload.filename[:FILENAME_MAX_CHARS] if upload.filename else None,
                "content_sha256": sha256,
                "line_no": getattr(exc, "line_no", None),
                "code": exc.code,
                "message": exc.message[:MESSAGE_MAX_CHARS],
                "recorded_by": upload.loaded_by,
            }
        )
        await uow.commit()


def content_digest(stream: BinaryIO, max_bytes: int) -> tuple[int, str]:
    """Size and SHA-256 of the whole upload (refused above ``max_bytes``); rewinds it."""
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(HASH_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise StatementTooLarge(f"the statement exceeds {max_bytes} bytes")
        digest.update(chunk)
    stream.seek(0)
    return size, digest.hexdigest()


async def _batches(
    lines: Iterator[StatementLine], size: int, tally: _Tally
) -> AsyncGenerator[list[StatementLine], None]:
    """The per-line parser's lines, batch by batch (parsed ahead, see ``pulled_ahead``)."""

    def pull() -> list[StatementLine] | None:
        batch = list(islice(lines, size))
        tally.same_keys.add_lines(batch)
        return batch or None

    async with contextlib.aclosing(pulled_ahead(pull)) as ahead:
        async for batch in ahead:
            for line in batch:
                tally.add(line)
            yield batch


def _record(
    statement_id: uuid.UUID,
    upload: StatementUpload,
    statement_date: date,
    sha256: str,
    size_bytes: int,
    tally: _Tally,
) -> StatementRecord:
    return StatementRecord(
        statement_id=statement_id,
        source=upload.source.value,
        statement_date=statement_date,
        content_sha256=sha256,
        filename=upload.filename[:FILENAME_MAX_CHARS] if upload.filename else None,
        size_bytes=size_bytes,
        line_count=tally.lines,
        payment_count=tally.payments,
        refund_count=tally.refunds,
        payment_total_fen=tally.payment_total_fen,
        refund_total_fen=tally.refund_total_fen,
        fee_total_fen=tally.fee_total_fen,
        loaded_by=upload.loaded_by,
    )


def _loaded_event(statement: StatementRecord) -> StatementLoaded:
    return StatementLoaded(
        statement_id=str(statement.statement_id),
        source=statement.source,
        statement_date=statement.statement_date,
        lines=statement.line_count,
        total_amount_fen=statement.payment_total_fen - statement.refund_total_fen,
        total_fee_fen=statement.fee_total_fen,
    )
