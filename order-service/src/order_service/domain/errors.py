"""Errors of the order-service domain. Each carries its HTTP status and a stable code.

    otd_shared.errors.DomainError
    ├── NotFound                         404
    │   └── OrderNotFound                    no vehicle or service order with that id
    ├── Conflict                         409
    │   ├── IllegalTransition                names the entity and its from/to states
    │   │   └── GateClosed                   a legal move whose business gate is shut
    │   │                                    (``gate``: firm_billing_paid, final_billing_paid, ...)
    │   └── ConfigurationFrozen              configuration or price change after lock
    └── InvalidInput                     422
        ├── InvalidField                     names the field (blank id, naive timestamp, ...)
        └── InvalidAmount                    names the money field (``*_fen``)

IllegalTransition, InvalidField and InvalidAmount are otd_shared's (billing-service raises
the same classes); they are re-exported here. The shared app turns any of them into
``{"detail", "code", "field"?}`` with its status.
"""

from __future__ import annotations

from otd_shared.errors import Conflict, IllegalTransition, InvalidAmount, InvalidField, NotFound

__all__ = [
    "ConfigurationFrozen",
    "GateClosed",
    "IllegalTransition",
    "InvalidAmount",
    "InvalidField",
    "OrderNotFound",
]


class OrderNotFound(NotFound):
    """No order with this id (raised by repositories and handlers, named here)."""

    code = "order_not_found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} not found")
        self.order_id = order_id


class GateClosed(IllegalTransition):
    """A move the state machine allows but a business gate shuts, e.g. production cannot be
    scheduled before the firm deposit is paid. ``gate`` names the condition."""

    code = "gate_closed"

    def __init__(
        self,
        entity: str,
        entity_id: str,
        from_state: str,
        to_state: str,
        *,
        gate: str,
        because: str,
    ) -> None:
        super().__init__(entity, entity_id, from_state, to_state, because)
        self.gate = gate


class ConfigurationFrozen(Conflict):
    """The configuration (model, options, price) may change only before the lock."""

    code = "configuration_frozen"

    def __init__(self, order_id: str, status: str) -> None:
        super().__init__(
            f"order {order_id} is {status}: the configuration can change only before the lock"
        )
        self.order_id = order_id
        self.status = status
