"""Read-side queries of recon-service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from recon_service.adapters.statement_repo import LineRecord, StatementRecord
from recon_service.domain.errors import StatementNotFound
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the total number of matches."""

    items: list[T]
    total: int
    limit: int
    offset: int


async def statements(
    uow: ReconUnitOfWork,
    *,
    source: str | None,
    statement_date: date | None,
    limit: int,
    offset: int,
) -> Page[StatementRecord]:
    """Loaded statements, newest day first."""
    async with uow:
        items, total = await uow.statements.page(
            source=source, statement_date=statement_date, limit=limit, offset=offset
        )
    return Page(items, total, limit, offset)


async def statement(uow: ReconUnitOfWork, statement_id: uuid.UUID) -> StatementRecord:
    """One statement, or StatementNotFound (404)."""
    async with uow:
        found = await uow.statements.get(statement_id)
    if found is None:
        raise StatementNotFound(f"statement {statement_id} not found")
    return found


async def statement_lines(
    uow: ReconUnitOfWork, statement_id: uuid.UUID, *, kind: str | None, limit: int, offset: int
) -> Page[LineRecord]:
    """A statement's lines in file order, or StatementNotFound (404)."""
    async with uow:
        if await uow.statements.get(statement_id) is None:
            raise StatementNotFound(f"statement {statement_id} not found")
        items, total = await uow.statements.lines(
            statement_id, kind=kind, limit=limit, offset=offset
        )
    return Page(items, total, limit, offset)


async def upload_exceptions(
    uow: ReconUnitOfWork,
    *,
    source: str | None,
    statement_date: date | None,
    statement_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> Page[dict[str, object]]:
    """Exceptions at upload (refused files, duplicate lines), newest first."""
    async with uow:
        items, total = await uow.upload_exceptions.page(
            source=source,
            statement_date=statement_date,
            statement_id=statement_id,
            limit=limit,
            offset=offset,
        )
    return Page(items, total, limit, offset)
