"""The SAP side of the ledger's HTTP connector: accounting documents, idempotent by reference.

A document is booked at most once: re-sending a booked reference returns the first
`sap_document_no` and books nothing. Rejections (by reference prefix from settings or runtime,
or "reject the next one") book nothing either, so a corrected re-send can still be booked.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

SAP_DOCUMENTS_MAX: Final = 200_000
SAP_REJECTIONS_KEPT: Final = 1000
SAP_DOCUMENT_NO_BASE: Final = 5_100_000_000  # 10-digit document numbers starting 51


@dataclass
class SapDocument:
    reference: str
    sap_document_no: str
    received_at_s: float
    document: dict[str, object]
    received_count: int = 1


@dataclass(frozen=True)
class SapRejection:
    reference: str
    reason: str
    at_s: float


@dataclass(frozen=True)
class SapOutcome:
    status: Literal["acknowledged", "rejected"]
    reference: str
    sap_document_no: str | None = None
    reason: str | None = None
    duplicate: bool = False


@dataclass
class SapBook:
    """Booked documents, pending forced rejections and prefix rules."""

    reject_prefixes: dict[str, str] = field(default_factory=dict)
    documents: OrderedDict[str, SapDocument] = field(default_factory=OrderedDict)
    rejections: deque[SapRejection] = field(
        default_factory=lambda: deque(maxlen=SAP_REJECTIONS_KEPT)
    )
    reject_next_reasons: deque[str] = field(default_factory=deque)
    _next_no: int = field(default_factory=lambda: SAP_DOCUMENT_NO_BASE + secrets.randbelow(10**8))

    def post(self, reference: str, document: Mapping[str, object]) -> SapOutcome:
        """Book `document` once per reference, or reject it."""
        booked = self.documents.get(reference)
        if booked is not None:
            booked.received_count += 1
            return SapOutcome("acknowledged", reference, booked.sap_document_no, duplicate=True)
        reason = self._rejection_reason(reference)
        if reason is not None:
            self.rejections.append(SapRejection(reference, reason, time.time()))
            return SapOutcome("rejected", reference, reason=reason)
        number = str(self._next_no)
        self._next_no += 1
        self.documents[reference] = SapDocument(reference, number, time.time(), dict(document))
        if len(self.documents) > SAP_DOCUMENTS_MAX:
            self.documents.popitem(last=False)
        return SapOutcome("acknowledged", reference, number)

    def _rejection_reason(self, reference: str) -> str | None:
        if self.reject_next_reasons:
            return self.reject_next_reasons.popleft()
        for prefix, reason in self.reject_prefixes.items():
            if reference.startswith(prefix):
                return reason
        return None
