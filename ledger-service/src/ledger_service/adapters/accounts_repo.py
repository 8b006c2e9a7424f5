"""SQL for the chart of accounts (one row per account; rows are never updated or deleted)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.tables import accounts
from ledger_service.domain.accounts import Account, AccountType


class AccountRepository:
    """Accounts inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_many(self, codes: Iterable[str]) -> dict[str, Account]:
        """The open accounts among `codes`, by code."""
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        rows = await self._session.execute(
            sa.select(
                accounts.c.code, accounts.c.type, accounts.c.currency, accounts.c.owner
            ).where(accounts.c.code.in_(wanted))
        )
        return {row.code: _account(row._mapping) for row in rows}

    async def insert_missing(self, new: Sequence[Account]) -> set[str]:
        """Insert accounts whose code is free; returns the codes this call inserted."""
        if not new:
            return set()
        rows = await self._session.execute(  # rows as parameters: compiled once for any size
            pg_insert(accounts)
            .on_conflict_do_nothing(index_elements=[accounts.c.code])
            .returning(accounts.c.code),
            [_row(account) for account in sorted(new, key=lambda a: a.code)],
        )
        return {row[0] for row in rows}

    async def page(
        self,
        *,
        family: str | None,
        currency: str | None,
        after_code: str,
        limit: int | None,
    ) -> list[Account]:
        """Accounts sorted by code, after `after_code`, optionally of one family or currency."""
        stmt = sa.select(
            accounts.c.code, accounts.c.type, accounts.c.currency, accounts.c.owner
        ).where(accounts.c.code > after_code)
        if family is not None:
            stmt = stmt.where(accounts.c.family == family)
        if currency is not None:
            stmt = stmt.where(accounts.c.currency == currency)
        stmt = stmt.order_by(accounts.c.code)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_account(row._mapping) for row in await self._session.execute(stmt)]


def _row(account: Account) -> dict[str, object]:
    return {
        "code": account.code,
        "family": account.family,
        "owner": account.owner,
        "type": account.type.value,
        "currency": account.currency,
    }


def _account(m: sa.RowMapping) -> Account:
    return Account(
        code=m["code"], type=AccountType(m["type"]), currency=m["currency"], owner=m["owner"]
    )
