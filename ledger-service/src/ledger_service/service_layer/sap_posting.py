"""The SAP posting job: group a day's journals into documents, send them, record the answers.

1. Group (one transaction, serialised per date by an advisory lock): the date's journals not
   yet in any document become documents per company code, date and currency
   (`domain.sap.sap_documents`), stored as ``pending`` with their member journals. A journal
   posted late for that date goes into a new document with a new reference next run.
2. Send each ``pending`` document (its row locked while the connector runs, so two runs never
   send it at once). The connector's answer is recorded: ``sent`` (file drop, waiting for an
   answer), ``acknowledged`` or ``rejected`` with SAP's reason. A delivery failure leaves it
   ``pending`` with the error, for the next run.
3. Poll ``sent`` documents for SAP's answer.

On acknowledgement every member journal's JournalPosted is emitted again, now carrying the SAP
document reference. A rejected document is re-sent with `resend` after the fix: it is rebuilt
from its journals with the current mapping and keeps its reference (SAP refused it, so nothing
was booked under it). The reference is stable, so a repeated delivery never double-books.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ledger_service.adapters.sap_connectors import SapConnector, SapDeliveryError, SapOutcome
from ledger_service.adapters.sap_repo import SapDocumentRecord, SapStatus
from ledger_service.adapters.tables import sap_document_journals
from ledger_service.domain.errors import SapDocumentNotFound, SapStateConflict
from ledger_service.domain.sap import sap_documents
from ledger_service.service_layer.context import LedgerContext
from ledger_service.service_layer.unit_of_work import LedgerUnitOfWork
from otd_shared.db import SessionFactory
from otd_shared.events import JournalPosted

RESENDABLE: tuple[SapStatus, ...] = ("pending", "sent", "rejected")


class SapPosting:
    """The job, bound to one connector."""

    def __init__(
        self, ctx: LedgerContext, sessions: SessionFactory, connector: SapConnector
    ) -> None:
        self._ctx = ctx
        self._sessions = sessions
        self._connector = connector

    def _uow(self) -> LedgerUnitOfWork:
        return LedgerUnitOfWork(self._sessions, self._ctx.outbox)

    async def run_day(self, posting_date: date) -> list[SapDocumentRecord]:
        """Group, send and poll one business date; returns that date's documents."""
        await self.group_day(posting_date)
        for document in await self.documents(posting_date, ("pending",)):
            await self.send(document.reference, allowed=("pending",))
        for document in await self.documents(posting_date, ("sent",)):
            await self.poll(document.reference)
        return await self.documents(posting_date)

    async def group_day(self, posting_date: date) -> list[str]:
        """Store documents for the date's unexported journals; returns their references."""
        async with self._uow() as uow:
            await uow.sap.lock_day(posting_date)
            journals = await uow.journals.unexported_on(posting_date, sap_document_journals)
            documents = sap_documents(journals, self._ctx.sap_mapping)
            await uow.sap.add(documents)
            await uow.commit()
        return [document.reference for document in documents]

    async def documents(
        self, posting_date: date | None, statuses: Sequence[str] = ()
    ) -> list[SapDocumentRecord]:
        """Documents of a date (all dates when None), optionally by status."""
        async with self._uow() as uow:
            return await uow.sap.find(posting_date=posting_date, statuses=statuses)

    async def document(self, reference: str) -> SapDocumentRecord:
        """One document (404 when unknown)."""
        async with self._uow() as uow:
            found = await uow.sap.get(reference)
        if found is None:
            raise SapDocumentNotFound(f"no SAP document {reference}")
        return found

    async def send(
        self, reference: str, *, allowed: Sequence[SapStatus] = ("pending",)
    ) -> SapDocumentRecord:
        """Deliver one document if its status is in `allowed`; record the outcome."""
        async with self._uow() as uow:
            document = await uow.sap.get(reference, lock=True)
            if document is None:
                raise SapDocumentNotFound(f"no SAP document {reference}")
            if document.status not in allowed:
                return document
            name = self._connector.name
            try:
                outcome = await self._connector.send(document)
            except SapDeliveryError as exc:
                self._ctx.metrics.sap_documents.labels("failed").inc()
                await uow.sap.record(
                    reference, status=document.status, connector=name, error=str(exc)
                )
            else:
                self._ctx.metrics.sap_documents.labels(outcome.status).inc()
                await uow.sap.record(
                    reference,
                    status=outcome.status,
                    connector=name,
                    reason=outcome.reason,
                    sap_document_number=outcome.sap_document_number,
                )
                await self._announce(uow, reference, outcome)
            await uow.commit()
        return await self.document(reference)

    async def poll(self, reference: str) -> SapDocumentRecord:
        """Ask the connector for SAP's answer to a sent document and record it."""
        async with self._uow() as uow:
            document = await uow.sap.get(reference, lock=True)
            if document is None:
                raise SapDocumentNotFound(f"no SAP document {reference}")
            if document.status == "sent":
                try:
                    outcome = await self._connector.poll(reference)
                except SapDeliveryError as exc:
                    outcome = None
                    await uow.sap.record(
                        reference, status="sent", connector=self._connector.name, error=str(exc)
                    )
                if outcome is not None and outcome.status != "sent":
                    self._ctx.metrics.sap_documents.labels(outcome.status).inc()
                    await uow.sap.settle_poll(
                        reference, outcome.status, outcome.reason, outcome.sap_document_number
                    )
                    await self._announce(uow, reference, outcome)
            await uow.commit()
        return await self.document(reference)

    async def resend(self, reference: str) -> SapDocumentRecord:
        """Send a rejected (or unanswered) document again; a rejected one is rebuilt first."""
        async with self._uow() as uow:
            document = await uow.sap.get(reference, lock=True)
            if document is None:
                raise SapDocumentNotFound(f"no SAP document {reference}")
            if document.status not in RESENDABLE:
                raise SapStateConflict(
                    f"SAP document {reference} is {document.status}; it cannot be sent again",
                    field="reference",
                )
            if document.status == "rejected":
                await self._rebuild(uow, document)
            await uow.commit()
        return await self.send(reference, allowed=RESENDABLE)

    async def _rebuild(self, uow: LedgerUnitOfWork, document: SapDocumentRecord) -> None:
        journals = await uow.journals.by_ids(await uow.sap.journal_ids(document.reference))
        rebuilt = [
            d
            for d in sap_documents(journals, self._ctx.sap_mapping)
            if d.reference == document.reference
        ]
        if not rebuilt:
            raise SapStateConflict(
                f"with the current mapping the journals of {document.reference} no longer form "
                "that document (company code changed); post them under a new document",
                field="reference",
            )
        await uow.sap.replace_lines(rebuilt[0])

    async def _announce(self, uow: LedgerUnitOfWork, reference: str, outcome: SapOutcome) -> None:
        if outcome.status != "acknowledged":
            return
        summaries = await uow.sap.journal_summaries(reference)
        await uow.emit(
            *(
                JournalPosted(
                    journal_id=s.journal_id,
                    source_id=s.source_id,
                    business_date=s.business_date,
                    total_debit_fen=s.total_debit_fen,
                    order_id=s.order_id,
                    sap_document_ref=reference,
                )
                for s in summaries
            )
        )
