"""HTTP API of ledger-service: SAP posting runs and documents (finance)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ledger_service.entrypoints.deps import Finance, Sap
from ledger_service.entrypoints.schemas import SapDocumentOut, SapRunIn, SapRunOut

router = APIRouter(prefix="/v1/sap", tags=["ledger SAP"])
Status = Literal["pending", "sent", "acknowledged", "rejected"]


@router.post("/runs", response_model=SapRunOut)
async def run_day(body: SapRunIn, sap: Sap, _: Finance) -> SapRunOut:
    """Post one business date on demand (the daily job does the same): group the date's
    unexported journals into documents, send them, collect answers. Safe to repeat."""
    documents = await sap.run_day(body.date)
    return SapRunOut(date=body.date, documents=[SapDocumentOut.of(d) for d in documents])


@router.get("/documents", response_model=list[SapDocumentOut])
async def list_documents(
    sap: Sap,
    _: Finance,
    date_: Annotated[date | None, Query(alias="date")] = None,
    status: Annotated[list[Status] | None, Query()] = None,
) -> list[SapDocumentOut]:
    """Documents with their posting status, by date and reference."""
    return [SapDocumentOut.of(d) for d in await sap.documents(date_, status or ())]


@router.get("/documents/{reference}", response_model=SapDocumentOut)
async def get_document(reference: str, sap: Sap, _: Finance) -> SapDocumentOut:
    """One document with its lines and status."""
    return SapDocumentOut.of(await sap.document(reference))


@router.post("/documents/{reference}/resend", response_model=SapDocumentOut)
async def resend_document(reference: str, sap: Sap, _: Finance) -> SapDocumentOut:
    """Send a rejected (rebuilt with the current mapping) or unanswered document again under
    the same reference; 409 when it is already acknowledged."""
    return SapDocumentOut.of(await sap.resend(reference))
