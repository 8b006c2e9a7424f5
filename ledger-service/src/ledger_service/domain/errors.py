"""Errors of the ledger domain, rooted in `otd_shared.errors` so the shared app renders them.

    DomainError (otd_shared)               status  code
    ├── InvalidInput (otd_shared)          422
    │   ├── InvalidAccount                 422  invalid_account     bad code, type, currency, family
    │   ├── UnknownAccount                 422  unknown_account     a leg names an unopened account
    │   ├── InvalidLeg                     422  invalid_leg         not one positive integer amount
    │   ├── InvalidJournal                 422  invalid_journal     header or leg count
    │   │   └── UnbalancedJournal          422  unbalanced_journal  debits != credits in a currency
    │   ├── CurrencyMismatch               422  currency_mismatch   leg vs account currency
    │   ├── InvalidEvent                   422  invalid_event       nonsensical posting-rule input
    │   └── SapExportError                 422  sap_export_invalid  mixed companies, too many lines
    │       └── UnmappedAccount            422  unmapped_account    no G/L account for an account
    ├── NotFound (otd_shared)              404
    │   ├── JournalNotFound                404  journal_not_found
    │   ├── AccountNotFound                404  account_not_found   (a read, not a posting leg)
    │   └── SapDocumentNotFound            404  sap_document_not_found
    ├── Conflict (otd_shared)              409
    │   ├── AccountConflict                409  account_conflict    open with other type/currency
    │   ├── SourceConflict                 409  source_conflict     source id taken elsewhere
    │   ├── AlreadyReversed                409  already_reversed    the journal has a reversal
    │   ├── ReversalOfReversal             409  reversal_of_reversal
    │   └── SapStateConflict               409  sap_state_conflict  e.g. re-send an acknowledged doc
    ├── LedgerInvariantError               500  invariant_violated  a bug, never the caller's fault
    └── LedgerBusy                         503  ledger_busy         lock-conflict retries ran out

Messages name accounts, amounts and ids only, so they are safe to return to finance users.
"""

from __future__ import annotations

from otd_shared.errors import Conflict, DomainError, InvalidInput, NotFound


class InvalidAccount(InvalidInput):
    """An account code, type or currency is malformed or contradicts the chart."""

    code = "invalid_account"


class UnknownAccount(InvalidInput):
    """A journal leg names an account that has not been opened."""

    code = "unknown_account"


class InvalidLeg(InvalidInput):
    """A leg is not exactly one positive integer amount within the limits."""

    code = "invalid_leg"


class InvalidJournal(InvalidInput):
    """A journal's header or leg count is invalid."""

    code = "invalid_journal"


class UnbalancedJournal(InvalidJournal):
    """Debits and credits of a journal differ in at least one currency."""

    code = "unbalanced_journal"


class CurrencyMismatch(InvalidInput):
    """A leg's currency differs from the currency of its account."""

    code = "currency_mismatch"


class InvalidEvent(InvalidInput):
    """A posting-rule input is inconsistent (e.g. a cash payment without a store)."""

    code = "invalid_event"


class SapExportError(InvalidInput):
    """Journals cannot be turned into SAP documents with the configured mapping."""

    code = "sap_export_invalid"


class UnmappedAccount(SapExportError):
    """The SAP mapping has no G/L account for a ledger account."""

    code = "unmapped_account"


class JournalNotFound(NotFound):
    """No journal has the requested id."""

    code = "journal_not_found"


class AccountNotFound(NotFound):
    """A read addresses an account that is not open (a posting leg gets `UnknownAccount`)."""

    code = "account_not_found"


class SapDocumentNotFound(NotFound):
    """No SAP accounting document has the requested reference."""

    code = "sap_document_not_found"


class AccountConflict(Conflict):
    """The account code is already open with a different type or currency."""

    code = "account_conflict"


class SourceConflict(Conflict):
    """The source id is already used by a journal that is not the requested one."""

    code = "source_conflict"


class AlreadyReversed(Conflict):
    """The journal already has a reversing journal."""

    code = "already_reversed"


class ReversalOfReversal(Conflict):
    """A reversing journal cannot be reversed; post a new journal instead."""

    code = "reversal_of_reversal"


class SapStateConflict(Conflict):
    """The SAP document is not in a state that allows the request (e.g. already acknowledged)."""

    code = "sap_state_conflict"


class LedgerInvariantError(DomainError):
    """Recorded data breaks a ledger invariant: a bug, never the caller's fault."""

    http_status = 500
    code = "invariant_violated"


class LedgerBusy(DomainError):
    """Concurrent postings kept conflicting (deadlock, serialization) after bounded retries.

    Never the caller's fault and safe to retry: nothing was recorded.
    """

    http_status = 503
    code = "ledger_busy"
