"""The unit of work of ledger-service: one transaction over the books and the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.accounts_repo import AccountRepository
from ledger_service.adapters.balance_repo import BalanceRepository
from ledger_service.adapters.journal_repo import JournalRepository
from ledger_service.adapters.sap_repo import SapRepository
from ledger_service.adapters.unposted_repo import UnpostedRepository
from otd_shared.uow import SqlUnitOfWork


class LedgerUnitOfWork(SqlUnitOfWork):
    """Repositories on the unit of work's session."""

    accounts: AccountRepository
    journals: JournalRepository
    balances: BalanceRepository
    sap: SapRepository
    unposted: UnpostedRepository

    def _open(self, session: AsyncSession) -> None:
        self.accounts = AccountRepository(session)
        self.journals = JournalRepository(session)
        self.balances = BalanceRepository(session)
        self.sap = SapRepository(session)
        self.unposted = UnpostedRepository(session)
