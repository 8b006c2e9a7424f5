"""The unit of work of recon-service: the session, its repositories, the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.uow import SqlUnitOfWork
from recon_service.adapters.adjustment_repo import AdjustmentRepository, FiguresRepository
from recon_service.adapters.fetch_repo import FetchRepository
from recon_service.adapters.projection_repo import ProjectionRepository
from recon_service.adapters.run_repo import RunRepository
from recon_service.adapters.settlement_repo import SettlementRepository
from recon_service.adapters.statement_repo import StatementRepository, UploadExceptionRepository


class ReconUnitOfWork(SqlUnitOfWork):
    """One transaction over statements, runs and the outbox."""

    statements: StatementRepository
    runs: RunRepository
    upload_exceptions: UploadExceptionRepository
    fetches: FetchRepository
    adjustments: AdjustmentRepository
    figures: FiguresRepository
    settlements: SettlementRepository
    projection: ProjectionRepository

    def _open(self, session: AsyncSession) -> None:
        self.projection = ProjectionRepository(session)
        self.statements = StatementRepository(session)
        self.runs = RunRepository(session)
        self.upload_exceptions = UploadExceptionRepository(session)
        self.fetches = FetchRepository(session)
        self.adjustments = AdjustmentRepository(session)
        self.figures = FiguresRepository(session)
        self.settlements = SettlementRepository(session)
