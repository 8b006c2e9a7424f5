"""Saving an order writes only the sub-orders that changed (real PostgreSQL): a paid
intent changes none of the four, a paid firm deposit schedules production alone."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from order_service.adapters.tables import sub_orders

if TYPE_CHECKING:
    from conftest import OrderHarness

pytestmark = pytest.mark.integration


async def _sub_orders(orders: OrderHarness, order_id: str) -> dict[str, tuple[str, datetime]]:
    async with orders.runtime.sessions() as session:
        rows = await session.execute(
            sa.select(sub_orders.c.kind, sub_orders.c.status, sub_orders.c.updated_at).where(
                sub_orders.c.order_id == uuid.UUID(order_id)
            )
        )
        return {r.kind: (r.status, r.updated_at) for r in rows}


async def test_a_save_writes_only_the_changed_sub_orders(orders: OrderHarness) -> None:
    oid = (await orders.create())["order_id"]
    created = await _sub_orders(orders, oid)

    await orders.billing_paid(oid, "intent")
    assert await _sub_orders(orders, oid) == created
    assert await orders.http.post(f"/v1/orders/{oid}/lock", headers=orders.auth("app-backend"))
    locked = await _sub_orders(orders, oid)
    await orders.billing_paid(oid, "firm")

    after = await _sub_orders(orders, oid)
    assert after["production"][0] == "scheduled"
    assert after["production"][1] > locked["production"][1]
    assert {k: v for k, v in after.items() if k != "production"} == {
        k: v for k, v in locked.items() if k != "production"
    }
