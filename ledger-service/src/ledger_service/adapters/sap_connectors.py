"""Connectors to SAP: one Protocol, a file drop and an HTTP client.

Both send the same document layout (``otd-ledger-sap-document/1``, see docs/ledger.md):

    {"layout", "reference", "company_code", "posting_date", "document_date", "currency",
     "document_type": "SA", "header_text", "journal_count", "total_debit_fen",
     "total_credit_fen", "lines": [{"line_no", "posting_key", "gl_account", "side",
     "amount_fen", "amount"}]}

``reference`` is stable (see `domain.sap.document_reference`): SAP's duplicate check on it
makes a re-send harmless, so any delivery may be repeated.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import httpx

from ledger_service.adapters.sap_repo import SapDocumentRecord
from otd_shared.http_clients import pooled_limits
from otd_shared.money import fen_to_yuan

LAYOUT = "otd-ledger-sap-document/1"
DOCUMENT_TYPE = "SA"  # SAP FI: G/L account document
CSV_COLUMNS = (
    "reference",
    "company_code",
    "posting_date",
    "currency",
    "line_no",
    "posting_key",
    "gl_account",
    "side",
    "amount_fen",
    "amount",
)
MAX_REASON_CHARS = 500
MAX_ACK_FILE_BYTES = 65_536


@dataclass(frozen=True)
class SapOutcome:
    """What SAP (or the drop) said: sent (awaiting an answer), acknowledged or rejected."""

    status: Literal["sent", "acknowledged", "rejected"]
    sap_document_number: str | None = None
    reason: str | None = None


class SapDeliveryError(Exception):
    """The document could not be delivered (network, disk, SAP unavailable): try again later."""


class SapConnector(Protocol):
    """Delivers accounting documents to SAP."""

    name: str

    async def send(self, document: SapDocumentRecord) -> SapOutcome:
        """Deliver one document; raises `SapDeliveryError` when delivery failed."""
        ...

    async def poll(self, reference: str) -> SapOutcome | None:
        """SAP's answer for a sent document, or None while there is none yet."""
        ...

    async def aclose(self) -> None:
        """Release connections (called after each job run)."""
        ...


def document_body(document: SapDocumentRecord) -> dict[str, object]:
    """The JSON layout of a document."""
    return {
        "layout": LAYOUT,
        "reference": document.reference,
        "company_code": document.company_code,
        "posting_date": document.posting_date.isoformat(),
        "document_date": document.posting_date.isoformat(),
        "currency": document.currency,
        "document_type": DOCUMENT_TYPE,
        "header_text": f"OTD ledger {document.posting_date.isoformat()}",
        "journal_count": document.journal_count,
        "total_debit_fen": document.total_debit_fen,
        "total_credit_fen": document.total_credit_fen,
        "lines": _line_items(document),
    }


def document_csv(document: SapDocumentRecord) -> str:
    """The CSV layout of a document: a header row, then one row per line item."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    head = [
        document.reference,
        document.company_code,
        document.posting_date.isoformat(),
        document.currency,
    ]
    for item in _line_items(document):
        writer.writerow(head + [item[column] for column in CSV_COLUMNS[4:]])
    return out.getvalue()


def _line_items(document: SapDocumentRecord) -> list[dict[str, object]]:
    return [
        {
            "line_no": line_no,
            "posting_key": line.posting_key,
            "gl_account": line.gl_account,
            "side": line.side.value,
            "amount_fen": line.amount_fen,
            "amount": fen_to_yuan(line.amount_fen),
        }
        for line_no, line in enumerate(document.lines, start=1)
    ]


class FileDropConnector:
    """Writes ``<dir>/<posting date>/<company>_<reference>.json|csv`` atomically.

    SAP's inbound job picks the files up; its answer, when it writes one, is
    ``<dir>/acks/<reference>.json`` with ``{"status": "acknowledged"|"rejected",
    "sap_document_number", "reason"}``.
    """

    name = "file"

    def __init__(self, directory: Path, file_format: Literal["json", "csv"] = "json") -> None:
        self._dir = directory
        self._format = file_format

    def path_for(self, document: SapDocumentRecord) -> Path:
        """Where the document's file goes."""
        day = document.posting_date.isoformat()
        return self._dir / day / f"{document.company_code}_{document.reference}.{self._format}"

    async def send(self, document: SapDocumentRecord) -> SapOutcome:
        """Write the file (replacing an identical earlier drop); status 'sent'."""
        if self._format == "json":
            text = json.dumps(document_body(document), ensure_ascii=False, indent=2)
        else:
            text = document_csv(document)
        try:
            await asyncio.to_thread(_write_atomically, self.path_for(document), text)
        except OSError as exc:
            raise SapDeliveryError(f"cannot write the document file: {exc.strerror}") from exc
        return SapOutcome("sent")

    async def poll(self, reference: str) -> SapOutcome | None:
        """Read SAP's answer file, if it has written one."""
        path = self._dir / "acks" / f"{reference}.json"
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        if len(raw) > MAX_ACK_FILE_BYTES:
            raise SapDeliveryError(f"answer file for {reference} is larger than expected")
        try:
            return _outcome(json.loads(raw))
        except ValueError as exc:
            raise SapDeliveryError(f"answer file for {reference} is not JSON") from exc

    async def aclose(self) -> None:
        """Nothing to release."""


class HttpSapConnector:
    """POSTs the JSON layout to ``<url>/documents``; the answer is SAP's verdict.

    200/201 ``{"status": "acknowledged", "sap_document_number" (or "sap_document_no")}``, also
    for a duplicate reference (SAP books a reference once); 409 counts as acknowledged too;
    400/422 ``{"status": "rejected", "reason"}``; anything else is a delivery failure to retry.
    ``GET <url>/documents/<reference>`` polls a sent document (404: no verdict yet). The
    channel sandbox plays this side at ``<sandbox>/sap``.
    """

    name = "http"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        timeout_ms: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_ms / 1000,
            transport=transport,
            limits=pooled_limits(),
        )

    async def send(self, document: SapDocumentRecord) -> SapOutcome:
        """POST the document; map SAP's answer."""
        try:
            response = await self._client.post(
                "/documents",
                json=document_body(document),
                headers={"Idempotency-Key": document.reference},
            )
        except httpx.HTTPError as exc:
            raise SapDeliveryError(f"SAP endpoint unreachable: {type(exc).__name__}") from exc
        return _http_outcome(response)

    async def poll(self, reference: str) -> SapOutcome | None:
        """GET the document's status; None while SAP has no verdict."""
        try:
            response = await self._client.get(f"/documents/{reference}")
        except httpx.HTTPError as exc:
            raise SapDeliveryError(f"SAP endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        outcome = _http_outcome(response)
        return None if outcome.status == "sent" else outcome

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _http_outcome(response: httpx.Response) -> SapOutcome:
    code = response.status_code
    if code in (200, 201, 202, 409, 400, 422):
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if code == 409:
            body = {**body, "status": "acknowledged", "reason": "duplicate reference"}
        if code in (400, 422):
            body = {**body, "status": "rejected"}
        return _outcome(body)
    raise SapDeliveryError(f"SAP endpoint answered HTTP {code}")


def _outcome(body: object) -> SapOutcome:
    if not isinstance(body, dict):
        raise SapDeliveryError("SAP answer is not a JSON object")
    status = body.get("status")
    number = body.get("sap_document_number", body.get("sap_document_no"))
    reason = body.get("reason")
    number_text = None if number is None else str(number)[:MAX_REASON_CHARS]
    reason_text = None if reason is None else str(reason)[:MAX_REASON_CHARS]
    if status == "acknowledged":
        return SapOutcome("acknowledged", number_text, reason_text)
    if status == "rejected":
        return SapOutcome("rejected", None, reason_text or "rejected without a reason")
    if status in ("sent", "received", "pending"):
        return SapOutcome("sent")
    raise SapDeliveryError(f"unknown SAP status {status!r}")


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
