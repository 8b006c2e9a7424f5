"""SQL for vehicle orders, sub-orders, service orders and their history.

All of order-service's SQL lives here. Aggregates are loaded without their history (the
history table is append-only), so after a change every entry in an aggregate's history is
new and is inserted as it is. ``get(..., for_update=True)`` takes the order row lock: every
change of one order is serialised, whether it comes from the API or from the consumer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.adapters.tables import order_history, service_orders, sub_orders, vehicle_orders
from order_service.domain import (
    ChargingPileOrder,
    ChargingPileStatus,
    HistoryEntry,
    LoanOrder,
    LoanStatus,
    ProductionOrder,
    ProductionStatus,
    ServiceKind,
    ServiceOrder,
    ServiceOrderStatus,
    VehicleConfiguration,
    VehicleOrder,
    VehicleOrderStatus,
)
from otd_shared.errors import Conflict

SUB_ORDER_ENTITY = {
    "production": ProductionOrder.ENTITY,
    "charging_pile": ChargingPileOrder.ENTITY,
    "loan": LoanOrder.ENTITY,
}


def as_uuid(value: str) -> uuid.UUID | None:
    """The id as a UUID, or None when it cannot be one (then nothing has that id)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class OrderRepository:
    """Reads and writes vehicle and service orders inside the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._versions: dict[str, int] = {}
        self._stored_subs: dict[object, dict[str, object]] = {}
        """Each loaded or written sub-order row as stored (``updated_at`` aside): ``save``
        skips the unchanged ones (a paid billing changes one sub-order of four, or none)."""

    # --- vehicle orders ---------------------------------------------------------------

    async def add(self, order: VehicleOrder) -> None:
        """Insert a new order, its four sub-orders and their first history entries."""
        at = order.created_at
        await self._session.execute(
            sa.insert(vehicle_orders).values(
                order_id=uuid.UUID(order.id),
                customer_id=order.customer_id,
                vehicle_model=order.configuration.vehicle_model,
                options=list(order.configuration.options),
                price_fen=order.price_fen,
                loan_fen=order.loan_fen,
                charging_pile=order.charging_pile.status is not ChargingPileStatus.NOT_NEEDED,
                status=order.status.value,
                firm_billing_paid=order.firm_billing_paid,
                version=1,
                created_at=at,
                updated_at=at,
            )
        )
        await self._session.execute(
            sa.insert(sub_orders),
            [
                {**row, "order_id": uuid.UUID(order.id), "created_at": at}
                for row in _sub_order_rows(order, at)
            ],
        )
        await self._add_history(order.id, order.all_history())
        self._versions[order.id] = 1
        self._remember_subs(order)

    async def get(self, order_id: str, *, for_update: bool = False) -> VehicleOrder | None:
        """The order with its sub-orders (history not loaded), or None."""
        key = as_uuid(order_id)
        if key is None:
            return None
        query = sa.select(vehicle_orders).where(vehicle_orders.c.order_id == key)
        row = (
            (await self._session.execute(query.with_for_update() if for_update else query))
            .mappings()
            .first()
        )
        if row is None:
            return None
        subs = {
            s["kind"]: s
            for s in (
                await self._session.execute(
                    sa.select(sub_orders).where(sub_orders.c.order_id == key)
                )
            ).mappings()
        }
        self._versions[order_id] = row["version"]
        order = _vehicle_order(row, subs)
        self._remember_subs(order)
        return order

    def _remember_subs(self, order: VehicleOrder) -> None:
        for sub in _sub_order_rows(order, order.created_at):
            sub_id = sub.pop("sub_order_id")
            self._stored_subs[sub_id] = _without_time(sub)

    async def save(self, order: VehicleOrder) -> None:
        """Write the changed order, its sub-orders and its new history entries.

        Every change of the domain records history, so an order without new entries is
        unchanged and nothing is written."""
        entries = order.all_history()
        if not entries:
            return
        version = self._versions[order.id]
        at = max(e.at for e in entries)
        updated = await self._session.execute(
            sa.update(vehicle_orders)
            .where(
                vehicle_orders.c.order_id == uuid.UUID(order.id),
                vehicle_orders.c.version == version,
            )
            .values(
                vehicle_model=order.configuration.vehicle_model,
                options=list(order.configuration.options),
                price_fen=order.price_fen,
                status=order.status.value,
                firm_billing_paid=order.firm_billing_paid,
                version=version + 1,
                updated_at=at,
            )
        )
        if updated.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
            raise Conflict(f"order {order.id} was changed concurrently; retry")
        self._versions[order.id] = version + 1
        for row in _sub_order_rows(order, at):
            sub_id = row.pop("sub_order_id")
            stored = _without_time(row)
            if self._stored_subs.get(sub_id) == stored:
                continue
            await self._session.execute(
                sa.update(sub_orders).where(sub_orders.c.sub_order_id == sub_id).values(**row)
            )
            self._stored_subs[sub_id] = stored
        await self._add_history(order.id, order.all_history())
        order.history.clear()
        for sub in (order.production, order.charging_pile, order.loan):
            sub.history.clear()

    # --- service orders ---------------------------------------------------------------

    async def add_service_order(self, order: ServiceOrder) -> None:
        """Insert a new service order and its first history entry."""
        await self._session.execute(
            sa.insert(service_orders).values(
                service_order_id=uuid.UUID(order.id),
                parent_order_id=uuid.UUID(order.parent_order_id),
                customer_id=order.customer_id,
                kind=order.kind.value,
                description=order.description,
                price_fen=order.price_fen,
                status=order.status.value,
                version=1,
                created_at=order.created_at,
                updated_at=order.created_at,
            )
        )
        await self._add_history(order.id, order.history)
        order.history.clear()
        self._versions[order.id] = 1

    async def get_service_order(
        self, order_id: str, *, for_update: bool = False
    ) -> ServiceOrder | None:
        """The service order, or None."""
        key = as_uuid(order_id)
        if key is None:
            return None
        query = sa.select(service_orders).where(service_orders.c.service_order_id == key)
        row = (
            (await self._session.execute(query.with_for_update() if for_update else query))
            .mappings()
            .first()
        )
        if row is None:
            return None
        self._versions[order_id] = row["version"]
        return ServiceOrder(
            id=str(row["service_order_id"]),
            parent_order_id=str(row["parent_order_id"]),
            customer_id=row["customer_id"],
            kind=ServiceKind(row["kind"]),
            description=row["description"],
            price_fen=row["price_fen"],
            created_at=row["created_at"],
            status=ServiceOrderStatus(row["status"]),
        )

    async def save_service_order(self, order: ServiceOrder) -> None:
        """Write the changed service order and its new history entries (none: unchanged)."""
        if not order.history:
            return
        version = self._versions[order.id]
        updated = await self._session.execute(
            sa.update(service_orders)
            .where(
                service_orders.c.service_order_id == uuid.UUID(order.id),
                service_orders.c.version == version,
            )
            .values(
                status=order.status.value,
                version=version + 1,
                updated_at=max(e.at for e in order.history),
            )
        )
        if updated.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
            raise Conflict(f"service order {order.id} was changed concurrently; retry")
        self._versions[order.id] = version + 1
        await self._add_history(order.id, order.history)
        order.history.clear()

    async def service_orders_of(self, parent_order_id: str) -> list[ServiceOrder]:
        """The service orders of one vehicle order, oldest first."""
        key = as_uuid(parent_order_id)
        if key is None:
            return []
        ids = await self._session.scalars(
            sa.select(service_orders.c.service_order_id)
            .where(service_orders.c.parent_order_id == key)
            .order_by(service_orders.c.created_at)
        )
        found = [await self.get_service_order(str(i)) for i in ids]
        return [order for order in found if order is not None]

    # --- history ----------------------------------------------------------------------

    async def history(self, order_id: str) -> list[HistoryEntry]:
        """Every audited change of the order and its sub-orders, oldest first."""
        key = as_uuid(order_id)
        if key is None:
            return []
        rows = await self._session.execute(
            sa.select(order_history)
            .where(order_history.c.order_id == key)
            .order_by(order_history.c.id)
        )
        return [
            HistoryEntry(
                entity=r.entity or r.kind,
                entity_id=r.entity_id or str(r.sub_order_id or r.order_id),
                from_state=r.from_status or "",
                to_state=r.to_status,
                actor=r.actor,
                at=r.at,
                reason=r.reason or "",
            )
            for r in rows
        ]

    async def _add_history(self, order_id: str, entries: Iterable[HistoryEntry]) -> None:
        rows = [
            {
                "order_id": uuid.UUID(order_id),
                "sub_order_id": None if e.entity_id == order_id else as_uuid(e.entity_id),
                "kind": e.entity,
                "entity": e.entity,
                "entity_id": e.entity_id,
                "from_status": e.from_state,
                "to_status": e.to_state,
                "actor": e.actor,
                "reason": e.reason,
                "at": e.at,
            }
            for e in entries
        ]
        if rows:
            await self._session.execute(sa.insert(order_history), rows)


def _without_time(row: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in row.items() if k != "updated_at"}


def _sub_order_rows(order: VehicleOrder, at: datetime) -> list[dict[str, object]]:
    production, pile, loan = order.production, order.charging_pile, order.loan
    return [
        {"sub_order_id": uuid.UUID(order.fund_order_id), "kind": "fund",
         "status": order.fund_status, "updated_at": at},
        {"sub_order_id": uuid.UUID(production.id), "kind": "production",
         "status": production.status.value, "vin": production.vin,
         "delivery_centre": production.delivery_centre, "updated_at": at},
        {"sub_order_id": uuid.UUID(pile.id), "kind": "charging_pile",
         "status": pile.status.value, "updated_at": at},
        {"sub_order_id": uuid.UUID(loan.id), "kind": "loan", "status": loan.status.value,
         "bank_code": loan.bank_code, "principal_fen": loan.principal_fen,
         "bank_reference": loan.bank_reference, "updated_at": at},
    ]  # fmt: skip


def _vehicle_order(row: sa.RowMapping, subs: dict[str, sa.RowMapping]) -> VehicleOrder:
    order_id = str(row["order_id"])
    production, pile, loan = subs["production"], subs["charging_pile"], subs["loan"]
    return VehicleOrder(
        id=order_id,
        customer_id=row["customer_id"],
        configuration=VehicleConfiguration(row["vehicle_model"], tuple(row["options"])),
        price_fen=row["price_fen"],
        loan_fen=row["loan_fen"],
        created_at=row["created_at"],
        fund_order_id=str(subs["fund"]["sub_order_id"]),
        production=ProductionOrder(
            id=str(production["sub_order_id"]),
            order_id=order_id,
            status=ProductionStatus(production["status"]),
            vin=production["vin"],
            delivery_centre=production["delivery_centre"],
        ),
        charging_pile=ChargingPileOrder(
            id=str(pile["sub_order_id"]),
            order_id=order_id,
            status=ChargingPileStatus(pile["status"]),
        ),
        loan=LoanOrder(
            id=str(loan["sub_order_id"]),
            order_id=order_id,
            requested_fen=row["loan_fen"],
            status=LoanStatus(loan["status"]),
            bank_code=loan["bank_code"],
            principal_fen=loan["principal_fen"],
            bank_reference=loan["bank_reference"],
        ),
        status=VehicleOrderStatus(row["status"]),
        firm_billing_paid=row["firm_billing_paid"],
    )
