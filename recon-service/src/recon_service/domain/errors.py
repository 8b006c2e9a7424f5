"""The exception tree of recon-service (the shared roots are in ``otd_shared.errors``).

    DomainError
    ├── NotFound 404
    │   ├── StatementNotFound          -- no statement with this id
    │   └── RunNotFound                -- no reconciliation run with this id
    ├── NotFound 404 (also DiscrepancyNotFound, AdjustmentNotFound)
    ├── Conflict 409
    │   ├── StatementMissing           -- a run of a source and day with no statement loaded
    │   ├── DiscrepancyNotOpen, AdjustmentNotPending
    │   ├── DayClosed, DayNotClosed, DayHasOpenDiscrepancies
    ├── ApproverIsRequester 403        -- the second approver is the requester
    ├── LinkedRefMissing 422           -- ``link`` without ``linked_ref``
    ├── InvalidInput 422
    │   ├── StatementFormatError       -- the file breaks its format; carries ``line_no``
    │   │   ├── StatementEmpty         -- no statement line (empty, header only)
    │   │   ├── UnsafeArchive          -- zip bomb, unsafe path, encrypted or unknown method
    │   │   ├── StatementCharset       -- not the encoding the layout is in (names the one found)
    │   │   └── WorkBudgetExceeded     -- the parse took more than its seconds or unpack ratio
    │   └── InvalidField
    │       ├── UnknownSource          -- ``source`` is not one of the seven
    │       └── StatementDateMissing   -- the file does not state its day and none was given
    └── StatementTooLarge 413          -- the upload exceeds the named size limit

Parsers raise only ``StatementFormatError``; nothing of a refused file is stored.
"""

from __future__ import annotations

from otd_shared.errors import Conflict, DomainError, InvalidField, InvalidInput, NotFound


class StatementFormatError(InvalidInput):
    """A statement file that breaks its format, at ``line_no`` (None: the file as a whole)."""

    code = "statement_format"

    def __init__(self, line_no: int | None, message: str) -> None:
        where = "file" if line_no is None else f"line {line_no}"
        super().__init__(f"{where}: {message}")
        self.line_no = line_no
        self.reason = message


class StatementEmpty(StatementFormatError):
    """The file has no statement line: empty, header only, or only comments."""

    code = "statement_empty"

    def __init__(self) -> None:
        super().__init__(None, "the file has no statement lines (empty or header only)")


class UnsafeArchive(StatementFormatError):
    """A zip or gzip the service refuses to unpack (bomb, path, encryption, method)."""

    code = "statement_archive"


class StatementCharset(StatementFormatError):
    """Text that is not in the layout's encoding."""

    code = "statement_charset"


class WorkBudgetExceeded(StatementFormatError):
    """The upload would cost more work than its named budget."""

    code = "statement_budget"


class StatementTooLarge(DomainError):
    """The uploaded statement exceeds the size limit."""

    http_status = 413
    code = "statement_too_large"


class UnknownSource(InvalidField):
    """Not one of the seven statement sources."""

    code = "unknown_source"

    def __init__(self, source: str, known: list[str]) -> None:
        super().__init__("source", f"{source[:32]!r} is not one of {', '.join(known)}")


class StatementDateMissing(InvalidField):
    """The statement's business day is neither in the file nor given."""

    code = "statement_date_missing"

    def __init__(self, why: str) -> None:
        super().__init__("statement_date", f"is required: {why}")


class StatementNotFound(NotFound):
    """No statement with this id."""

    code = "statement_not_found"


class RunNotFound(NotFound):
    """No reconciliation run with this id."""

    code = "run_not_found"


class StatementMissing(Conflict):
    """A reconciliation run was asked for a source and day with no statement loaded."""

    code = "statement_missing"


class DiscrepancyNotFound(NotFound):
    """No discrepancy with this id."""

    code = "discrepancy_not_found"


class AdjustmentNotFound(NotFound):
    """No adjustment with this id."""

    code = "adjustment_not_found"


class DiscrepancyNotOpen(Conflict):
    """The discrepancy is already resolved, cleared or waiting for approval."""

    code = "discrepancy_not_open"


class AdjustmentNotPending(Conflict):
    """The adjustment was already approved or rejected."""

    code = "adjustment_not_pending"


class ApproverIsRequester(DomainError):
    """The second approver must be another person than the requester."""

    http_status = 403
    code = "approver_is_requester"


class DayClosed(Conflict):
    """The source-day is closed: reopen it first."""

    code = "day_closed"


class DayNotClosed(Conflict):
    """The source-day is not closed."""

    code = "day_not_closed"


class DayHasOpenDiscrepancies(Conflict):
    """A source-day closes only when nothing is open."""

    code = "day_has_open_discrepancies"


class LinkedRefMissing(InvalidField):
    """``link`` needs the record it links to."""

    code = "linked_ref_missing"


class NoPaymentToCorrect(Conflict):
    """accept_channel for a line of no payment of ours: parked (stays open), never applied
    to a guessed billing."""

    code = "no_payment_to_correct"


class NoRefundToCorrect(Conflict):
    """accept_channel for a refund line of no refund of ours (none with the line's refund
    number at the gateway): parked (stays open), nothing applied."""

    code = "no_refund_to_correct"


class RefundCorrectedToZero(Conflict):
    """accept_channel for a refund line of 0 fen: no refund to correct ours to."""

    code = "refund_corrected_to_zero"


class CorrectionRefused(DomainError):
    """The gateway refused the payment correction (its code and status are kept)."""

    code = "correction_refused"

    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(f"payment-gateway refused the correction ({code}): {message}")
        self.http_status = http_status if http_status in (404, 409, 422) else 409
        self.gateway_code = code


class GatewayUnavailable(DomainError):
    """The gateway did not answer the correction: nothing changed, retry later."""

    http_status = 503
    code = "gateway_unavailable"
