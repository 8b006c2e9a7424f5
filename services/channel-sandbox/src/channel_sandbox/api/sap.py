"""`POST /sap/documents` and `GET /sap/documents`: SAP as the ledger's HTTP connector sees it.

`POST` body: a JSON object with a `reference` (1–128 characters) plus any document fields.
200 `{"status":"acknowledged","sap_document_no","reference","duplicate"}` or
422 `{"status":"rejected","reason","reference"}`; 400 `{"status":"error","reason"}` for a body
that is not a JSON object with a reference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from channel_sandbox.api.common import sandbox_of
from channel_sandbox.sap import SapBook, SapDocument
from otd_shared.channel_wire import WireFormatError, parse_json_object

SAP_BODY_MAX_BYTES: Final = 1024 * 1024
REFERENCE_LEN_MAX: Final = 128
router = APIRouter(tags=["SAP (accounting documents)"])


def book_of(request: Request) -> SapBook:
    book = request.app.state.sap
    assert isinstance(book, SapBook)
    return book


@router.post("/sap/documents", summary="Post an accounting document (idempotent by reference)")
async def post_document(request: Request) -> JSONResponse:
    body = await request.body()
    if len(body) > SAP_BODY_MAX_BYTES:
        return JSONResponse({"status": "error", "reason": "document too large"}, status_code=413)
    try:
        document = parse_json_object(body, "document")
    except WireFormatError:
        return JSONResponse({"status": "error", "reason": "body is not a JSON object"}, 400)
    reference = document.get("reference")
    if not isinstance(reference, str) or not 0 < len(reference) <= REFERENCE_LEN_MAX:
        return JSONResponse({"status": "error", "reason": "reference is required"}, 400)
    outcome = book_of(request).post(reference, document)
    metrics = sandbox_of(request).metrics.sap_documents
    if outcome.status == "rejected":
        metrics.labels("rejected").inc()
        return JSONResponse(
            {"status": "rejected", "reason": outcome.reason, "reference": reference}, 422
        )
    metrics.labels("duplicate" if outcome.duplicate else "acknowledged").inc()
    return JSONResponse(
        {
            "status": "acknowledged",
            "sap_document_no": outcome.sap_document_no,
            "reference": reference,
            "duplicate": outcome.duplicate,
        }
    )


@router.get("/sap/documents", summary="Booked documents and recent rejections")
async def list_documents(request: Request) -> dict[str, object]:
    book = book_of(request)
    return {
        "documents": [_document_view(doc) for doc in book.documents.values()],
        "rejections": [
            {"reference": r.reference, "reason": r.reason, "at": _iso(r.at_s)}
            for r in book.rejections
        ],
    }


@router.get("/sap/documents/{reference}", summary="One booked document")
async def get_document(request: Request, reference: str) -> JSONResponse:
    document = book_of(request).documents.get(reference)
    if document is None:
        return JSONResponse({"status": "error", "reason": "no such document"}, 404)
    return JSONResponse(_document_view(document))


def _document_view(document: SapDocument) -> dict[str, object]:
    return {
        "reference": document.reference,
        "sap_document_no": document.sap_document_no,
        "status": "acknowledged",
        "received_at": _iso(document.received_at_s),
        "received_count": document.received_count,
        "document": document.document,
    }


def _iso(at_s: float) -> str:
    return datetime.fromtimestamp(at_s, UTC).isoformat()
