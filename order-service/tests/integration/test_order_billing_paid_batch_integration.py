"""order-service's BillingPaid batch handler on real PostgreSQL: a mixed run ends exactly as
the same events applied one by one (orders, sub-orders, history, outbox), in a fixed number
of statements whatever the run's size; an unknown order makes the run raise."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from order_service.adapters.tables import order_history, sub_orders, vehicle_orders
from order_service.domain.errors import OrderNotFound
from order_service.service_layer.event_handlers import OrderEventHandlers
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.events import BillingPaid, EventEnvelope, new_envelope
from otd_shared.observability import set_correlation_id

if TYPE_CHECKING:
    from conftest import OrderHarness

pytestmark = pytest.mark.integration


def _paid(order_id: str, stage: str) -> EventEnvelope:
    return new_envelope(
        BillingPaid(
            order_id=order_id,
            billing_id=str(uuid.uuid4()),
            stage=stage,  # type: ignore[arg-type]  # valid stages
            amount_fen=100,
            paid_fen=100,
        ),
        producer="billing-service",
        correlation_id=f"corr-{order_id}-{stage}",
    )


async def _orders_to_pay(orders: OrderHarness) -> list[str]:
    """Four orders: open, intent paid and locked (twice), cancelled."""
    ids = [(await orders.create())["order_id"] for _ in range(4)]
    for oid in ids[1:3]:
        await orders.billing_paid(oid, "intent")
        assert (await orders.post(f"/v1/orders/{oid}/lock", "app-backend")).status_code == 200
    cancel = await orders.post(f"/v1/orders/{ids[3]}/cancel", "app-backend", {"reason": "r"})
    assert cancel.status_code == 200
    return ids


def _run(ids: list[str]) -> list[EventEnvelope]:
    """Intent paid on the open order, firm on the locked ones (production scheduled), intent
    on the cancelled one (changes nothing), intent again on the open one."""
    a, b, c, d = ids
    stages = [(a, "intent"), (b, "firm"), (d, "intent"), (c, "firm"), (a, "intent")]
    return [_paid(oid, stage) for oid, stage in stages]


async def _state(orders: OrderHarness, ids: list[str], run: list[EventEnvelope]) -> list[Any]:
    """Everything the events change, per order in the given order (ids left out; a time is
    the index of the run's event it is the time of, or "before")."""
    index = {e.occurred_at: n for n, e in enumerate(run)}

    def when(at: Any) -> Any:
        return index.get(at, "before")

    def corr(value: str) -> str:
        return value if value.startswith("corr-") else "api"

    keys = [uuid.UUID(i) for i in ids]
    out = orders.runtime.tables.outbox
    async with orders.runtime.sessions() as session:
        rows = {
            str(r.order_id): (r.status, r.firm_billing_paid, r.version, when(r.updated_at))
            for r in await session.execute(
                sa.select(vehicle_orders).where(vehicle_orders.c.order_id.in_(keys))
            )
        }
        subs: dict[str, list[Any]] = {i: [] for i in ids}
        for r in await session.execute(
            sa.select(sub_orders).where(sub_orders.c.order_id.in_(keys)).order_by(sub_orders.c.kind)
        ):
            subs[str(r.order_id)].append((r.kind, r.status, when(r.updated_at)))
        history: dict[str, list[Any]] = {i: [] for i in ids}
        for r in await session.execute(
            sa.select(order_history)
            .where(order_history.c.order_id.in_(keys))
            .order_by(order_history.c.id)
        ):
            history[str(r.order_id)].append(
                (r.entity, r.from_status, r.to_status, r.reason, when(r.at))
            )
        events: dict[str, list[Any]] = {i: [] for i in ids}
        for r in await session.execute(
            sa.select(out.c.partition_key, out.c.event_type, out.c.body)
            .where(out.c.partition_key.in_(ids))
            .order_by(out.c.id)
        ):
            body = json.loads(r.body)
            events[r.partition_key].append(
                (
                    r.event_type,
                    corr(body["correlation_id"]),
                    _without_ids(body["payload"], r.partition_key),
                )
            )
    return [(rows[i], subs[i], history[i], events[i]) for i in ids]


def _without_ids(payload: dict[str, Any], order_id: str) -> dict[str, Any]:
    return {
        k: v
        for k, v in payload.items()
        if v != order_id and not k.endswith("_id") and not k.endswith("_at")
    }


def _same_shape(state: list[Any], ids: list[str], other_ids: list[str]) -> str:
    text = json.dumps(state, default=str)
    for mine, theirs in zip(ids, other_ids, strict=True):
        text = text.replace(mine, theirs)
    return text


@contextmanager
def _statements(orders: OrderHarness) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2])[:60])

    engine = orders.runtime.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


async def test_a_mixed_run_ends_exactly_as_one_by_one(orders: OrderHarness) -> None:
    handlers = OrderEventHandlers()
    one_ids, batch_ids = await _orders_to_pay(orders), await _orders_to_pay(orders)
    one_run, batch_run = _run(one_ids), _run(batch_ids)
    for envelope in one_run:
        async with OrderUnitOfWork(orders.runtime.sessions, orders.runtime.outbox) as uow:
            set_correlation_id(envelope.correlation_id)  # as the consumer does
            await handlers.on_billing_paid(uow, envelope)
            await uow.commit()
    # the same envelope times, so history times and updated_at compare equal
    batch_run = [
        mine.model_copy(update={"occurred_at": theirs.occurred_at})
        for mine, theirs in zip(batch_run, one_run, strict=True)
    ]
    async with OrderUnitOfWork(orders.runtime.sessions, orders.runtime.outbox) as uow:
        await handlers.on_billing_paid_batch(uow, batch_run)
        await uow.commit()

    one = await _state(orders, one_ids, one_run)
    batch = await _state(orders, batch_ids, batch_run)
    assert _same_shape(batch, batch_ids, one_ids) == _same_shape(one, one_ids, one_ids)
    a_state, b_state = batch[0], batch[1]
    assert a_state[0][2] == 2, "created 1, intent paid 2 (the second paid intent is a no-op)"
    assert ("production", "scheduled") in [(k, s) for k, s, _ in b_state[1]]
    assert f"corr-{batch_ids[1]}-firm" in [e[1] for e in b_state[3]], (
        "each event's outbox rows under its own correlation id"
    )


async def test_the_statements_of_a_run_do_not_grow_with_its_orders(orders: OrderHarness) -> None:
    handlers = OrderEventHandlers()
    counts = []
    for size in (3, 12):
        ids = [(await orders.create())["order_id"] for _ in range(size)]
        async with OrderUnitOfWork(orders.runtime.sessions, orders.runtime.outbox) as uow:
            with _statements(orders) as seen:
                await handlers.on_billing_paid_batch(uow, [_paid(i, "intent") for i in ids])
            await uow.commit()
        counts.append(len(seen))
    assert counts[0] == counts[1] <= 6, counts


async def test_an_unknown_order_makes_the_run_raise(orders: OrderHarness) -> None:
    known = (await orders.create())["order_id"]
    run = [_paid(known, "intent"), _paid(str(uuid.uuid4()), "intent")]
    async with OrderUnitOfWork(orders.runtime.sessions, orders.runtime.outbox) as uow:
        with pytest.raises(OrderNotFound):
            await OrderEventHandlers().on_billing_paid_batch(uow, run)
