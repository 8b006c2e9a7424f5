"""JournalPosted outbox rows rendered with `json.dumps`, without a pydantic model per event.

A batch posts thousands of journals and writes one JournalPosted each; building and dumping
two models per event was a third of the batch path's Python time. The body is the shared
envelope's JSON (consumers decode it with `otd_shared.events.decode_envelope`); a unit test
decodes rendered rows and compares them with envelopes built by the shared models.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

from ledger_service.adapters.journal_repo import OutboxRow
from otd_shared.events import SCHEMA_VERSION

EVENT_TYPE = "JournalPosted"


def journal_posted_row(
    *,
    journal_id: str,
    source_id: str,
    business_date: date,
    total_debit_fen: int,
    order_id: str | None,
    producer: str,
    correlation_id: str,
    topic: str,
    sap_document_ref: str | None = None,
) -> OutboxRow:
    """The outbox row announcing one posted journal (partition key: its order, else itself)."""
    event_id = uuid.uuid4()
    body = {
        "event_id": str(event_id),
        "event_type": EVENT_TYPE,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": producer,
        "correlation_id": correlation_id,
        "order_id": order_id,
        "payload": {
            "event_type": EVENT_TYPE,
            "journal_id": journal_id,
            "source_id": source_id,
            "business_date": business_date.isoformat(),
            "total_debit_fen": total_debit_fen,
            "order_id": order_id,
            "sap_document_ref": sap_document_ref,
        },
    }
    return OutboxRow(
        event_id=event_id,
        event_type=EVENT_TYPE,
        topic=topic,
        partition_key=order_id or str(event_id),
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    )
