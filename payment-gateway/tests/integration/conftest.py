"""Fixtures for the gateway's integration tests: real PostgreSQL, dev keys in a temporary
directory, the channel sandbox on a free loopback port (in-process controls through
`channel_sandbox.testing.SandboxHandle`), and the app over ASGI."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from channel_sandbox.testing import SandboxHandle, sandbox_running
from otd_shared.migrations import upgrade_head_async
from payment_gateway.adapters.channels.keys import generate_dev_keys
from payment_gateway.adapters.tables import SCHEMA
from payment_gateway.bootstrap import ENTRY, MIGRATIONS_DIR, GatewayRuntime
from payment_gateway.config import GatewaySettings
from payment_gateway.testing.harness import TOKENS, Harness


@pytest.fixture(scope="session")
def gateway_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("gateway-keys")
    generate_dev_keys(directory)
    return directory


@pytest.fixture(scope="session")
async def gateway_db(new_database: Callable[[], Awaitable[str]]) -> str:
    url = await new_database()
    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    return url


# Nothing listens on the discard port: the sandbox's own notification deliveries to the
# notify URLs the gateway sends fail fast; the tests post notifications themselves.
UNREACHABLE_GATEWAY_URL = "http://127.0.0.1:9"


@pytest.fixture(scope="session")
async def sandbox(gateway_keys_dir: Path) -> AsyncIterator[SandboxHandle]:
    """The channel sandbox; WeChat refunds stay PROCESSING until `settle_refund`."""
    async with sandbox_running(
        gateway_keys_dir,
        gateway_url=UNREACHABLE_GATEWAY_URL,
        refund_delay_ms=600_000,
        fault_delay_ms=1_500,
    ) as handle:
        yield handle


HarnessFactory = Callable[..., contextlib.AbstractAsyncContextManager[Harness]]


@pytest.fixture(scope="session")
def make_harness(gateway_db: str, gateway_keys_dir: Path, sandbox: SandboxHandle) -> HarnessFactory:
    @contextlib.asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[Harness]:
        values: dict[str, Any] = {
            "database_url": gateway_db,
            "keys_dir": gateway_keys_dir,
            "channel_sandbox_url": sandbox.url,
            "gateway_public_url": UNREACHABLE_GATEWAY_URL,
            "auth_tokens_json": json.dumps(TOKENS),
            "active_query_delay_s": 3600.0,
            "active_query_interval_s_min": 0.05,
            # Generous: the sandbox shares this event loop and two cores with the whole
            # suite, and 0.5 s timed ordinary calls out under load (CI flakes). Tests of
            # the timeout fault set their own short read timeout.
            "channel_read_timeout_s": 5.0,
            "db_pool_size": 20,
            "log_json": False,
        }
        values.update(overrides)
        settings = GatewaySettings(**values)
        runtime = ENTRY.build_runtime(settings)
        assert isinstance(runtime, GatewayRuntime)
        app = ENTRY.create_app(runtime)
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            try:
                yield Harness(runtime, runtime.gateway(), client, sandbox)
            finally:
                await runtime.aclose_channels()
                await runtime.engine.dispose()

    return make


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> AsyncIterator[Harness]:
    async with make_harness() as h:
        yield h
