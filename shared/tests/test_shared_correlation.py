"""The correlation id travels HTTP request → outbox envelope → consumer → next event."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import sqlalchemy as sa

from order_service.adapters.tables import SCHEMA
from order_service.bootstrap import ENTRY, MIGRATIONS_DIR
from otd_shared.events import OrderLocked
from otd_shared.migrations import upgrade_head_async
from otd_shared.observability import current_correlation_id, set_correlation_id
from otd_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def test_http_correlation_id_reaches_the_outbox(
    new_database: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await new_database()  # type: ignore[operator]
    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("AUTH_TOKENS_JSON", json.dumps({"app-backend": "tok-app"}))
    runtime = ENTRY.build_runtime(ENTRY.load_settings())
    app = ENTRY.create_app(runtime)
    correlation = f"corr-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        created = await c.post(
            "/v1/orders",
            headers={"Authorization": "Bearer tok-app", "X-Correlation-ID": correlation},
            json={"customer_id": "c", "vehicle_model": "m", "price_fen": 20_000_000},
        )
    assert created.status_code == 201
    assert created.headers["X-Correlation-ID"] == correlation
    async with runtime.sessions() as session:
        body = await session.scalar(sa.select(runtime.tables.outbox.c.body))
    await runtime.engine.dispose()
    assert json.loads(body)["correlation_id"] == correlation


def test_outbox_writer_uses_the_bound_correlation_id() -> None:
    settings = ServiceSettings(service_name="x")
    runtime = ENTRY.build_runtime(settings)
    set_correlation_id("from-the-consumed-event")
    try:
        envelope = runtime.outbox.envelope(OrderLocked(order_id="o", locked_at=_now()))
        assert envelope.correlation_id == "from-the-consumed-event"
    finally:
        set_correlation_id(None)
    assert current_correlation_id() != "from-the-consumed-event"


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
