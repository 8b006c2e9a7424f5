"""Dependencies shared by the routers: roles, the commands, the queries, the SAP job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from ledger_service.service_layer.commands import LedgerCommands
from ledger_service.service_layer.queries import LedgerQueries
from ledger_service.service_layer.sap_posting import SapPosting
from otd_shared.auth import Principal, Role, require_roles

Finance = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.FINANCE_APPROVER))]


# Dependencies are async: FastAPI runs plain functions in a thread pool, a costly hop per call.
async def _commands(request: Request) -> LedgerCommands:
    commands: LedgerCommands = request.app.state.ledger_commands
    return commands


async def _queries(request: Request) -> LedgerQueries:
    queries: LedgerQueries = request.app.state.ledger_queries
    return queries


async def _sap(request: Request) -> AsyncIterator[SapPosting]:
    commands: LedgerCommands = request.app.state.ledger_commands
    ctx = commands.context
    connector = ctx.connector_factory()
    try:
        yield SapPosting(ctx, commands.sessions, connector)
    finally:
        await connector.aclose()


Commands = Annotated[LedgerCommands, Depends(_commands)]
Queries = Annotated[LedgerQueries, Depends(_queries)]
Sap = Annotated[SapPosting, Depends(_sap)]
