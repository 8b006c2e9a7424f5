"""The shared body limit refuses oversized bodies, declared or streamed (chunked)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from order_service.bootstrap import ENTRY
from otd_shared.body_limit import too_large_body
from otd_shared.settings import ServiceSettings

LIMIT_BYTES = 2048


def _app():  # type: ignore[no-untyped-def]
    settings = ServiceSettings(
        service_name="order-service",
        max_request_body_bytes=LIMIT_BYTES,
        auth_tokens_json=json.dumps({"app-backend": "tok"}),  # type: ignore[arg-type]
    )
    return ENTRY.create_app(ENTRY.build_runtime(settings))


async def _chunks(total_bytes: int) -> AsyncIterator[bytes]:
    for _ in range(total_bytes // 512):
        yield b" " * 512


async def test_declared_and_streamed_oversized_bodies_get_413() -> None:
    transport = httpx.ASGITransport(_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"Authorization": "Bearer tok", "Content-Type": "application/json"}
        declared = await client.post(
            "/v1/orders", headers=headers, content=b" " * (LIMIT_BYTES + 1)
        )
        streamed = await client.post(
            "/v1/orders", headers=headers, content=_chunks(LIMIT_BYTES * 4)
        )
        small = await client.post("/v1/orders", headers=headers, content=b"{bad")
    assert declared.status_code == 413
    assert "content-length" not in streamed.request.headers  # really chunked
    assert streamed.status_code == 413
    assert streamed.json() == too_large_body(LIMIT_BYTES)
    assert small.status_code == 422  # under the limit: parsed and refused as bad JSON
