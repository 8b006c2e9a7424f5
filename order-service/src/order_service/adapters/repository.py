"""SQL for vehicle orders, sub-orders, service orders and their history.

All of order-service's SQL lives here. Aggregates are loaded without their history (the
history table is append-only), so after a change every entry in an aggregate's history is
new and is inserted as it is. ``get(..., for_update=True)`` takes the order row lock: every
change of one order is serialised, whether it comes from the API or from the consumer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.adapters.tables import (
    SCHEMA,
    order_history,
    service_orders,
    sub_orders,
    vehicle_orders,
)
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
from otd_shared.set_sql import arrays, insert_rows

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
        self._options: dict[str, list[str]] = {}
        self._staged: dict[str, _Staged] = {}
        self._staged_ids: set[int] = set()
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

    async def get_many_for_update(self, order_ids: Iterable[str]) -> dict[str, VehicleOrder]:
        """The orders found (under their row locks, taken in id order) with their
        sub-orders: two statements for any number of orders. Starts a batch: changes
        staged before (a batch rolled back) are forgotten."""
        self._staged.clear()
        self._staged_ids.clear()
        keys = sorted({k for k in map(as_uuid, order_ids) if k is not None})
        if not keys:
            return {}
        rows = (
            await self._session.execute(
                sa.select(vehicle_orders)
                .where(vehicle_orders.c.order_id.in_(keys))
                .order_by(vehicle_orders.c.order_id)
                .with_for_update()
            )
        ).mappings()
        found = {str(r["order_id"]): r for r in rows}
        subs: dict[str, dict[str, sa.RowMapping]] = {o: {} for o in found}
        for sub in (
            await self._session.execute(
                sa.select(sub_orders).where(
                    sub_orders.c.order_id.in_([uuid.UUID(o) for o in found])
                )
            )
        ).mappings():
            subs[str(sub["order_id"])][sub["kind"]] = sub
        orders = {}
        for order_id, row in found.items():
            self._versions[order_id] = row["version"]
            order = orders[order_id] = _vehicle_order(row, subs[order_id])
            self._remember_subs(order)
        return orders

    def stage(self, order: VehicleOrder) -> None:
        """Record one change of a loaded order inside a batch as ``save`` would write it
        now (its version goes up once per change, changed sub-orders get this change's
        time, history in this order); ``save_staged`` writes every staged change."""
        new = [e for e in order.all_history() if id(e) not in self._staged_ids]
        if not new:
            return
        self._staged_ids.update(id(e) for e in new)
        at = max(e.at for e in order.all_history())
        staged = self._staged.setdefault(order.id, _Staged(order))
        staged.saves += 1
        staged.at = at
        staged.history += new
        for row in _sub_order_rows(order, at):
            stored = _without_time({k: v for k, v in row.items() if k != "sub_order_id"})
            if self._stored_subs.get(row["sub_order_id"]) != stored:
                self._stored_subs[row["sub_order_id"]] = stored
                staged.subs[row["sub_order_id"]] = row

    async def save_staged(self) -> None:
        """Write the staged changes, one statement per table: the orders (version checked,
        every row or a Conflict), the changed sub-orders (one per set of columns), the
        history."""
        staged, self._staged = list(self._staged.values()), {}
        self._staged_ids.clear()
        if not staged:
            return
        await self._update_orders(staged)
        await self._update_sub_orders([row for s in staged for row in s.subs.values()])
        await self._insert_history([(s.order.id, e) for s in staged for e in s.history])
        for each in staged:
            self._versions[each.order.id] += each.saves
            _clear_history(each.order)

    async def _update_orders(self, staged: list[_Staged]) -> None:
        orders = [s.order for s in staged]
        updated = await self._session.execute(
            sa.text(_UPDATE_ORDERS),
            {
                "ids": [uuid.UUID(o.id) for o in orders],
                "versions": [self._versions[o.id] for o in orders],
                "saves": [s.saves for s in staged],
                "models": [o.configuration.vehicle_model for o in orders],
                "prices": [o.price_fen for o in orders],
                "statuses": [o.status.value for o in orders],
                "firms": [o.firm_billing_paid for o in orders],
                "ats": [s.at for s in staged],
            },
        )
        done = {str(r[0]) for r in updated}
        stale = [o.id for o in orders if o.id not in done]
        if stale:
            raise Conflict(f"orders {', '.join(stale)} were changed concurrently; retry")
        for order in orders:  # a paid billing never changes the options; kept right anyway
            if list(order.configuration.options) != self._options[order.id]:
                await self._session.execute(
                    sa.update(vehicle_orders)
                    .where(vehicle_orders.c.order_id == uuid.UUID(order.id))
                    .values(options=list(order.configuration.options))
                )

    async def _update_sub_orders(self, rows: list[dict[str, object]]) -> None:
        by_columns: dict[tuple[str, ...], list[dict[str, object]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(sorted(row)), []).append(row)
        for columns, same in by_columns.items():
            values: dict[str, object] = {
                c: sa.bindparam(f"v_{c}") for c in columns if c != "sub_order_id"
            }
            await self._session.execute(
                sa.update(sub_orders)
                .where(sub_orders.c.sub_order_id == sa.bindparam("v_sub_order_id"))
                .values(**values),
                [{f"v_{k}": v for k, v in row.items()} for row in same],
            )

    def _remember_subs(self, order: VehicleOrder) -> None:
        self._options[order.id] = list(order.configuration.options)
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
        _clear_history(order)

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
        await self._insert_history([(order_id, e) for e in entries])

    async def _insert_history(self, entries: Iterable[tuple[str, HistoryEntry]]) -> None:
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
            for order_id, e in entries
        ]
        if rows:  # in their order (history is read by id), one execution for all
            await self._session.execute(_INSERT_HISTORY, arrays(rows, _HISTORY_COLUMNS))


_HISTORY_COLUMNS: Final = (
    "order_id", "sub_order_id", "kind", "entity", "entity_id", "from_status", "to_status",
    "actor", "reason", "at",
)  # fmt: skip
_INSERT_HISTORY: Final = insert_rows(order_history, _HISTORY_COLUMNS)


@dataclass
class _Staged:
    """The changes of one order staged in a batch (``OrderRepository.stage``)."""

    order: VehicleOrder
    saves: int = 0
    at: datetime | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    subs: dict[object, dict[str, object]] = field(default_factory=dict)


_UPDATE_ORDERS = f"""
UPDATE "{SCHEMA}".vehicle_orders AS v
SET vehicle_model = u.vehicle_model, price_fen = u.price_fen, status = u.status,
    firm_billing_paid = u.firm_billing_paid, version = u.version + u.saves,
    updated_at = u.updated_at
FROM unnest(CAST(:ids AS uuid[]), CAST(:versions AS integer[]), CAST(:saves AS integer[]),
            CAST(:models AS text[]), CAST(:prices AS bigint[]), CAST(:statuses AS text[]),
            CAST(:firms AS boolean[]), CAST(:ats AS timestamptz[]))
     AS u(order_id, version, saves, vehicle_model, price_fen, status, firm_billing_paid,
          updated_at)
WHERE v.order_id = u.order_id AND v.version = u.version
RETURNING v.order_id
"""  # noqa: S608  (only the fixed schema name is formatted in)
"""Several orders' rows in one statement, each under its version check."""


def _clear_history(order: VehicleOrder) -> None:
    order.history.clear()
    for sub in (order.production, order.charging_pile, order.loan):
        sub.history.clear()


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
