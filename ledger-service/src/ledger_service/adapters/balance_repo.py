"""SQL for balances: sums of the per-(account, day, shard) turnover rows, and lines.

A balance "as of" a date is cumulative: every turnover with a business date on or before it.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.tables import account_balances, accounts, journal_lines, journals
from ledger_service.domain.balances import Balance
from ledger_service.domain.journal import Entry


class BalanceRepository:
    """Balances and entries inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def balance(self, account: str, as_of: date | None = None) -> Balance:
        """Debit and credit turnovers of one account up to `as_of` (everything when None)."""
        b = account_balances
        stmt = sa.select(
            sa.func.coalesce(sa.func.sum(b.c.debit_fen), 0),
            sa.func.coalesce(sa.func.sum(b.c.credit_fen), 0),
        ).where(b.c.account == account)
        if as_of is not None:
            stmt = stmt.where(b.c.business_date <= as_of)
        debit_fen, credit_fen = (await self._session.execute(stmt)).one()
        return Balance(int(debit_fen), int(credit_fen))

    async def all_balances(self, as_of: date | None = None) -> dict[str, Balance]:
        """Every open account's balance up to `as_of` (everything when None)."""
        b = account_balances
        sums = sa.select(
            b.c.account,
            sa.func.sum(b.c.debit_fen).label("debit_fen"),
            sa.func.sum(b.c.credit_fen).label("credit_fen"),
        ).group_by(b.c.account)
        if as_of is not None:
            sums = sums.where(b.c.business_date <= as_of)
        totals = sums.subquery()
        stmt = sa.select(
            accounts.c.code,
            sa.func.coalesce(totals.c.debit_fen, 0),
            sa.func.coalesce(totals.c.credit_fen, 0),
        ).outerjoin(totals, totals.c.account == accounts.c.code)
        rows = await self._session.execute(stmt)
        return {code: Balance(int(debit), int(credit)) for code, debit, credit in rows}

    async def turnovers(self, as_of: date, currency: str) -> dict[str, tuple[int, int]]:
        """``{account: (debit, credit)}`` up to `as_of` for EVERY open account in `currency`."""
        b = account_balances
        sums = (
            sa.select(
                b.c.account,
                sa.func.sum(b.c.debit_fen).label("debit_fen"),
                sa.func.sum(b.c.credit_fen).label("credit_fen"),
            )
            .where(b.c.business_date <= as_of)
            .group_by(b.c.account)
            .subquery()
        )
        stmt = (
            sa.select(
                accounts.c.code,
                sa.func.coalesce(sums.c.debit_fen, 0),
                sa.func.coalesce(sums.c.credit_fen, 0),
            )
            .outerjoin(sums, sums.c.account == accounts.c.code)
            .where(accounts.c.currency == currency)
            .order_by(accounts.c.code)
        )
        rows = await self._session.execute(stmt)
        return {code: (int(debit), int(credit)) for code, debit, credit in rows}

    async def entries(self, account: str | None, as_of: date | None = None) -> list[Entry]:
        """Lines of one account (or all), dated on or before `as_of`, in posting order."""
        j, line = journals, journal_lines
        stmt = (
            sa.select(
                j.c.journal_id,
                j.c.source_id,
                line.c.business_date,
                line.c.line_no,
                line.c.account,
                line.c.debit_fen,
                line.c.credit_fen,
                line.c.currency,
            )
            .join(j, j.c.journal_id == line.c.journal_id)
            .order_by(j.c.seq, line.c.line_no)
        )
        if account is not None:
            stmt = stmt.where(line.c.account == account)
        if as_of is not None:
            stmt = stmt.where(line.c.business_date <= as_of)
        return [_entry(row._mapping) for row in await self._session.execute(stmt)]


def _entry(m: sa.RowMapping) -> Entry:
    return Entry(
        journal_id=str(m["journal_id"]),
        source_id=m["source_id"],
        business_date=m["business_date"],
        line_no=m["line_no"],
        account=m["account"],
        debit_fen=m["debit_fen"],
        credit_fen=m["credit_fen"],
        currency=m["currency"],
    )
