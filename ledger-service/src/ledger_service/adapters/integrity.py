"""Invariant checks over the stored books, in SQL (tests run them after every test).

- every journal balances per currency, and so do all lines together;
- every journal has a source id and at least two lines; every line has its journal;
- every line's account is open, in the line's currency;
- every balance row set equals the fold of the lines (per account and business date);
- every reversal points at an existing journal that is not itself a reversal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

CHECK_SAMPLE_ROWS = 20

_CHECKS: dict[str, str] = {
    "unbalanced_journals": """
        SELECT journal_id::text || ' ' || currency FROM ledger.journal_lines
        GROUP BY journal_id, currency HAVING sum(debit_fen) <> sum(credit_fen)""",
    "unbalanced_currencies": """
        SELECT currency FROM ledger.journal_lines
        GROUP BY currency HAVING sum(debit_fen) <> sum(credit_fen)""",
    "journals_without_source": """
        SELECT journal_id::text FROM ledger.journals
        WHERE source_id IS NULL OR btrim(source_id) = ''""",
    "journals_with_fewer_than_two_lines": """
        SELECT j.journal_id::text FROM ledger.journals j
        LEFT JOIN ledger.journal_lines l ON l.journal_id = j.journal_id
        GROUP BY j.journal_id HAVING count(l.line_no) < 2""",
    "lines_without_journal": """
        SELECT l.journal_id::text FROM ledger.journal_lines l
        WHERE NOT EXISTS (SELECT 1 FROM ledger.journals j WHERE j.journal_id = l.journal_id)""",
    "lines_on_unknown_or_mismatched_accounts": """
        SELECT l.journal_id::text || ' ' || l.account FROM ledger.journal_lines l
        LEFT JOIN ledger.accounts a ON a.code = l.account
        WHERE a.code IS NULL OR a.currency <> l.currency""",
    "balances_differing_from_lines": """
        SELECT coalesce(b.account, l.account) || ' ' || coalesce(b.business_date, l.business_date)
        FROM (SELECT account, business_date, sum(debit_fen) AS d, sum(credit_fen) AS c
              FROM ledger.account_balances GROUP BY account, business_date) b
        FULL JOIN (SELECT account, business_date, sum(debit_fen) AS d, sum(credit_fen) AS c
                   FROM ledger.journal_lines GROUP BY account, business_date) l
          ON l.account = b.account AND l.business_date = b.business_date
        WHERE b.d IS DISTINCT FROM l.d OR b.c IS DISTINCT FROM l.c""",
    "bad_reversals": """
        SELECT r.journal_id::text FROM ledger.journals r
        LEFT JOIN ledger.journals t ON t.journal_id = r.reverses_journal_id
        WHERE r.reverses_journal_id IS NOT NULL
          AND (t.journal_id IS NULL OR t.reverses_journal_id IS NOT NULL)""",
}


@dataclass(frozen=True)
class IntegrityReport:
    """Per check, a sample of the offending rows (empty when the check holds)."""

    violations: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every check holds."""
        return not any(self.violations.values())


async def check_books(session: AsyncSession) -> IntegrityReport:
    """Run every check (read-only) and report the violations."""
    violations: dict[str, list[str]] = {}
    for name, sql in _CHECKS.items():
        rows = await session.execute(sa.text(f"{sql} LIMIT {CHECK_SAMPLE_ROWS}"))
        violations[name] = [str(row[0]) for row in rows]
    return IntegrityReport(violations)
