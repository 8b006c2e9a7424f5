"""What every router of order-service depends on: the unit of work and the roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from order_service.config import OrderSettings
from order_service.domain import OrderAmountRules
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.auth import Principal, Role, require_roles
from otd_shared.runtime import ServiceRuntime


def unit_of_work(request: Request) -> OrderUnitOfWork:
    """A fresh unit of work on the app's runtime."""
    runtime: ServiceRuntime = request.app.state.runtime
    return OrderUnitOfWork(runtime.sessions, runtime.outbox)


def amount_rules(request: Request) -> OrderAmountRules:
    """The deposit amounts the order is checked against (the same settings as billing's)."""
    runtime: ServiceRuntime = request.app.state.runtime
    settings = runtime.settings
    assert isinstance(settings, OrderSettings)
    return settings.amount_rules()


UoW = Annotated[OrderUnitOfWork, Depends(unit_of_work)]
Rules = Annotated[OrderAmountRules, Depends(amount_rules)]
AppBackend = Annotated[Principal, Depends(require_roles(Role.APP_BACKEND))]
Reader = Annotated[Principal, Depends(require_roles(Role.APP_BACKEND, Role.FINANCE))]
Factory = Annotated[Principal, Depends(require_roles(Role.SRE))]
Installer = Annotated[Principal, Depends(require_roles(Role.INSTALLER))]
Bank = Annotated[Principal, Depends(require_roles(Role.BANK))]
