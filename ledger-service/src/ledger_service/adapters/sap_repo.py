"""SQL for SAP accounting documents: their content, status, and member journals."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.tables import (
    journal_lines,
    journals,
    sap_document_journals,
    sap_documents,
)
from ledger_service.domain.accounts import Side
from ledger_service.domain.sap import SapDocument, SapLine

SapStatus = Literal["pending", "sent", "acknowledged", "rejected"]
# Arrays, not a VALUES list: a day's document may hold more journals than bind parameters.
_ADD_MEMBERS = sa.text(
    """
    INSERT INTO ledger.sap_document_journals (journal_id, reference)
    SELECT unnest(CAST(:ids AS uuid[])), CAST(:reference AS text)
    ON CONFLICT (journal_id, reference) DO NOTHING
    """
)


@dataclass(frozen=True)
class SapDocumentRecord:
    """A stored accounting document and where it stands with SAP."""

    reference: str
    company_code: str
    posting_date: date
    currency: str
    status: SapStatus
    lines: tuple[SapLine, ...]
    journal_count: int
    total_debit_fen: int
    total_credit_fen: int
    connector: str | None
    attempts: int
    reason: str | None
    last_error: str | None
    sap_document_number: str | None
    created_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    rejected_at: datetime | None


@dataclass(frozen=True)
class JournalSummary:
    """What JournalPosted says about one journal of a document."""

    journal_id: str
    source_id: str
    business_date: date
    order_id: str | None
    total_debit_fen: int


class SapRepository:
    """SAP documents inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_day(self, posting_date: date) -> None:
        """Serialise grouping of one business date (transaction-scoped advisory lock)."""
        key = zlib.crc32(f"ledger-sap:{posting_date.isoformat()}".encode())
        await self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    async def add(self, documents: Sequence[SapDocument]) -> None:
        """Store new documents as pending, with their member journals."""
        for document in documents:
            await self._session.execute(
                pg_insert(sap_documents)
                .values(
                    reference=document.reference,
                    company_code=document.company_code,
                    posting_date=document.posting_date,
                    currency=document.currency,
                    status="pending",
                    lines=_lines_json(document.lines),
                    journal_count=len(document.journal_ids),
                    total_debit_fen=document.total_debit_fen,
                    total_credit_fen=document.total_credit_fen,
                )
                .on_conflict_do_nothing(index_elements=[sap_documents.c.reference])
            )
            await self._session.execute(
                _ADD_MEMBERS,
                {
                    "ids": [uuid.UUID(j) for j in document.journal_ids],
                    "reference": document.reference,
                },
            )

    async def get(self, reference: str, *, lock: bool = False) -> SapDocumentRecord | None:
        """One document; `lock` holds its row until the transaction ends."""
        stmt = sa.select(sap_documents).where(sap_documents.c.reference == reference)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).first()
        return None if row is None else _record(row._mapping)

    async def find(
        self,
        *,
        posting_date: date | None,
        statuses: Sequence[str] = (),
        after_reference: str = "",
        limit: int | None = None,
    ) -> list[SapDocumentRecord]:
        """Documents by posting date and reference, optionally filtered."""
        d = sap_documents
        stmt = sa.select(d).where(d.c.reference > after_reference)
        if posting_date is not None:
            stmt = stmt.where(d.c.posting_date == posting_date)
        if statuses:
            stmt = stmt.where(d.c.status.in_(list(statuses)))
        stmt = stmt.order_by(d.c.posting_date, d.c.reference)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_record(row._mapping) for row in await self._session.execute(stmt)]

    async def journal_ids(self, reference: str) -> list[str]:
        """Ids of the journals grouped into a document."""
        rows = await self._session.execute(
            sa.select(sap_document_journals.c.journal_id).where(
                sap_document_journals.c.reference == reference
            )
        )
        return sorted(str(row[0]) for row in rows)

    async def journal_summaries(self, reference: str) -> list[JournalSummary]:
        """Per member journal: source, date, order and total debits."""
        j, line, member = journals, journal_lines, sap_document_journals
        stmt = (
            sa.select(
                j.c.journal_id,
                j.c.source_id,
                j.c.business_date,
                j.c.order_id,
                sa.func.sum(line.c.debit_fen),
            )
            .join(j, j.c.journal_id == member.c.journal_id)
            .join(line, line.c.journal_id == j.c.journal_id)
            .where(member.c.reference == reference)
            .group_by(j.c.journal_id)
            .order_by(j.c.seq)
        )
        return [
            JournalSummary(str(jid), source, day, order, int(total))
            for jid, source, day, order, total in await self._session.execute(stmt)
        ]

    async def record(
        self,
        reference: str,
        *,
        status: SapStatus,
        connector: str,
        reason: str | None = None,
        error: str | None = None,
        sap_document_number: str | None = None,
    ) -> None:
        """Record an attempt and its outcome (`status` unchanged on a delivery error)."""
        now = sa.func.now()
        values: dict[str, object] = {
            "status": status,
            "connector": connector,
            "attempts": sap_documents.c.attempts + 1,
            "last_error": error,
            "updated_at": now,
        }
        if error is None:
            values["reason"] = reason
            values["sent_at"] = now
        if status == "acknowledged":
            values["acknowledged_at"] = now
            values["sap_document_number"] = sap_document_number
        if status == "rejected":
            values["rejected_at"] = now
        await self._session.execute(
            sa.update(sap_documents).where(sap_documents.c.reference == reference).values(values)
        )

    async def settle_poll(
        self, reference: str, status: SapStatus, reason: str | None, number: str | None
    ) -> None:
        """Record an acknowledgement or rejection that arrived after the document was sent."""
        now = sa.func.now()
        values: dict[str, object] = {"status": status, "reason": reason, "updated_at": now}
        if status == "acknowledged":
            values |= {"acknowledged_at": now, "sap_document_number": number}
        elif status == "rejected":
            values["rejected_at"] = now
        await self._session.execute(
            sa.update(sap_documents).where(sap_documents.c.reference == reference).values(values)
        )

    async def replace_lines(self, document: SapDocument) -> None:
        """New content for a rejected document rebuilt after a fix (same reference)."""
        await self._session.execute(
            sa.update(sap_documents)
            .where(sap_documents.c.reference == document.reference)
            .values(
                lines=_lines_json(document.lines),
                total_debit_fen=document.total_debit_fen,
                total_credit_fen=document.total_credit_fen,
                status="pending",
                reason=None,
                updated_at=sa.func.now(),
            )
        )


def _lines_json(lines: Sequence[SapLine]) -> list[dict[str, object]]:
    return [
        {"gl_account": line.gl_account, "side": line.side.value, "amount_fen": line.amount_fen}
        for line in lines
    ]


def _record(m: sa.RowMapping) -> SapDocumentRecord:
    lines = tuple(
        SapLine(str(item["gl_account"]), Side(item["side"]), int(item["amount_fen"]))
        for item in m["lines"]
    )
    return SapDocumentRecord(
        reference=m["reference"],
        company_code=m["company_code"],
        posting_date=m["posting_date"],
        currency=m["currency"],
        status=m["status"],
        lines=lines,
        journal_count=m["journal_count"],
        total_debit_fen=m["total_debit_fen"],
        total_credit_fen=m["total_credit_fen"],
        connector=m["connector"],
        attempts=m["attempts"],
        reason=m["reason"],
        last_error=m["last_error"],
        sap_document_number=m["sap_document_number"],
        created_at=m["created_at"],
        sent_at=m["sent_at"],
        acknowledged_at=m["acknowledged_at"],
        rejected_at=m["rejected_at"],
    )
