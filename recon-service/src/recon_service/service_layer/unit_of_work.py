"""The unit of work of recon-service: the session, its repositories, the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.uow import SqlUnitOfWork
from recon_service.adapters.run_repo import RunRepository
from recon_service.adapters.statement_repo import StatementRepository, UploadExceptionRepository


class ReconUnitOfWork(SqlUnitOfWork):
    """One transaction over statements, runs and the outbox."""

    statements: StatementRepository
    runs: RunRepository
    upload_exceptions: UploadExceptionRepository

    def _open(self, session: AsyncSession) -> None:
        self.statements = StatementRepository(session)
        self.runs = RunRepository(session)
        self.upload_exceptions = UploadExceptionRepository(session)
