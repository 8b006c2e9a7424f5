"""SAP export: a day's journals grouped into balanced accounting documents.

One document per (company code, posting date, currency) — SAP documents carry one currency, and
in a CNY-only cluster this is one per (company code, date). Lines are summed per G/L account and
side (posting key 40 debit, 50 credit); the ledger keeps the per-order detail.

The document reference (16 characters, SAP's BKPF-XBLNR length) hashes the company code, date,
currency and sorted journal ids: grouping the same journals again gives the same reference, so SAP
(duplicate-reference check) or our export table can refuse a re-send. The caller must group only
journals not yet exported; a late journal goes into a new document with a new reference.

Mapping rules match on whole code segments: prefix ``deposits`` matches ``deposits`` and
``deposits:ORD-1`` but not ``deposits_old``; the longest matching prefix wins, so
``clearing:wechatpay`` can override ``clearing``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from ledger_service.domain.accounts import OWNER_SEPARATOR, Side
from ledger_service.domain.errors import LedgerInvariantError, SapExportError, UnmappedAccount
from ledger_service.domain.journal import Journal, currency_totals

MAX_SAP_LINES_PER_DOCUMENT: Final = 999  # SAP FI's line item limit per document
SAP_REFERENCE_CHARS: Final = 16  # BKPF-XBLNR
POSTING_KEY_DEBIT: Final = "40"
POSTING_KEY_CREDIT: Final = "50"


@dataclass(frozen=True)
class GlRule:
    """Ledger accounts whose code starts with `prefix` (whole segments) book to `gl_account`."""

    prefix: str
    gl_account: str


@dataclass(frozen=True)
class CompanyRule:
    """Journals touching an account under `prefix` belong to `company_code`."""

    prefix: str
    company_code: str


@dataclass(frozen=True)
class SapMapping:
    """Configuration of the export: G/L rules, company rules, and the default company code."""

    default_company_code: str
    gl_rules: tuple[GlRule, ...]
    company_rules: tuple[CompanyRule, ...] = ()


# A development mapping on Chinese GAAP (CAS) account numbers; production comes from settings.
DEV_SAP_MAPPING: Final = SapMapping(
    default_company_code="1000",
    gl_rules=(
        GlRule("cash", "1001000000"),  # 库存现金
        GlRule("bank", "1002000000"),  # 银行存款
        GlRule("clearing", "1012000000"),  # 其他货币资金
        GlRule("loan_receivable", "1221000000"),  # 其他应收款
        GlRule("deposits", "2203000000"),  # 预收账款
        GlRule("refunds_payable", "2241000000"),  # 其他应付款
        GlRule("suspense", "2241990000"),  # 其他应付款-待认领
        GlRule("revenue", "6001000000"),  # 主营业务收入
        GlRule("service_revenue", "6051000000"),  # 其他业务收入
        GlRule("marketing_expense", "6601000000"),  # 销售费用 (instant discounts)
        GlRule("fees", "6603000000"),  # 财务费用
        GlRule("recon_differences", "6711000000"),  # 营业外支出
    ),
)


@dataclass(frozen=True)
class SapLine:
    """One line item: the sum of one side on one G/L account."""

    gl_account: str
    side: Side
    amount_fen: int

    @property
    def posting_key(self) -> str:
        """SAP posting key: 40 for a G/L debit, 50 for a G/L credit."""
        return POSTING_KEY_DEBIT if self.side is Side.DEBIT else POSTING_KEY_CREDIT


@dataclass(frozen=True)
class SapDocument:
    """One balanced accounting document for SAP."""

    reference: str
    company_code: str
    posting_date: date
    currency: str
    journal_ids: tuple[str, ...]
    lines: tuple[SapLine, ...]

    @property
    def total_debit_fen(self) -> int:
        """Sum of the debit lines."""
        return sum(line.amount_fen for line in self.lines if line.side is Side.DEBIT)

    @property
    def total_credit_fen(self) -> int:
        """Sum of the credit lines."""
        return sum(line.amount_fen for line in self.lines if line.side is Side.CREDIT)


def _matches(prefix: str, code: str) -> bool:
    stem = prefix.rstrip(OWNER_SEPARATOR)
    return code == stem or code.startswith(stem + OWNER_SEPARATOR)


def gl_account_for(code: str, mapping: SapMapping) -> str:
    """The G/L account of a ledger account (longest matching prefix); none raises 422."""
    hits = [rule for rule in mapping.gl_rules if _matches(rule.prefix, code)]
    if not hits:
        raise UnmappedAccount(f"no SAP G/L account mapped for ledger account {code!r}")
    return max(hits, key=lambda rule: len(rule.prefix.rstrip(OWNER_SEPARATOR))).gl_account


def company_code_for(journal: Journal, mapping: SapMapping) -> str:
    """The company code of a journal; legs resolving to different companies raise 422."""
    codes = {
        rule.company_code
        for leg in journal.legs
        for rule in mapping.company_rules
        if _matches(rule.prefix, leg.account)
    }
    if len(codes) > 1:
        raise SapExportError(f"journal {journal.journal_id} spans company codes {sorted(codes)}")
    return codes.pop() if codes else mapping.default_company_code


def document_reference(
    company_code: str, posting_date: date, currency: str, journal_ids: Iterable[str]
) -> str:
    """Stable reference of a document: the same inputs in any order give the same reference."""
    material = "\n".join([company_code, posting_date.isoformat(), currency, *sorted(journal_ids)])
    return hashlib.sha256(material.encode()).hexdigest()[:SAP_REFERENCE_CHARS].upper()


def sap_documents(journals: Iterable[Journal], mapping: SapMapping) -> tuple[SapDocument, ...]:
    """Group journals (duplicates ignored) into documents sorted by date, company, currency."""
    groups: dict[tuple[date, str, str], dict[str, Journal]] = {}
    for journal in journals:
        company_code = company_code_for(journal, mapping)
        for currency in currency_totals(journal.legs):
            key = (journal.business_date, company_code, currency)
            groups.setdefault(key, {})[journal.journal_id] = journal
    return tuple(
        _document(company_code, posting_date, currency, tuple(members.values()), mapping)
        for (posting_date, company_code, currency), members in sorted(groups.items())
    )


def _document(
    company_code: str,
    posting_date: date,
    currency: str,
    journals: tuple[Journal, ...],
    mapping: SapMapping,
) -> SapDocument:
    sums: dict[tuple[Side, str], int] = {}
    for journal in journals:
        for leg in journal.legs:
            if leg.currency == currency:
                key = (leg.side, gl_account_for(leg.account, mapping))
                sums[key] = sums.get(key, 0) + leg.amount_fen
    # Debit lines first, then credit lines, each by G/L account: a stable, readable order.
    ordered = sorted(sums.items(), key=lambda item: (item[0][0] is Side.CREDIT, item[0][1]))
    lines = tuple(SapLine(gl, side, fen) for (side, gl), fen in ordered)
    journal_ids = tuple(sorted(journal.journal_id for journal in journals))
    document = SapDocument(
        reference=document_reference(company_code, posting_date, currency, journal_ids),
        company_code=company_code,
        posting_date=posting_date,
        currency=currency,
        journal_ids=journal_ids,
        lines=lines,
    )
    if document.total_debit_fen != document.total_credit_fen:
        raise LedgerInvariantError(f"SAP document {document.reference} is unbalanced")
    if len(lines) > MAX_SAP_LINES_PER_DOCUMENT:
        raise SapExportError(f"SAP document {document.reference} has {len(lines)} lines; split it")
    return document
