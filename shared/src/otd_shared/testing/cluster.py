"""The running cluster for e2e tests (``running_cluster``, registered by the plugin).

The launcher runs on free ports with its own database, topic prefix and var/
directory, so it never meets ``make run`` or another test run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from otd_shared.http_clients import pooled_limits
from otd_shared.infra import free_port

CLUSTER_START_TIMEOUT_S = 120.0
E2E_REPLICAS = 2
"""Every e2e test runs on a scaled-out cluster: two consumers per group (one gateway API
worker: some tests read its /metrics; the benchmark runs two)."""
E2E_APPROVAL_THRESHOLD_FEN = 500
SERVICE_NAMES = (
    "order-service",
    "billing-service",
    "payment-gateway",
    "ledger-service",
    "recon-service",
    "channel-sandbox",
    "finance-console",
)


@dataclass(frozen=True)
class RunningCluster:
    """URLs and dev secrets of the cluster under test."""

    urls: dict[str, str]
    tokens: dict[str, str]
    var_dir: Path
    topic_prefix: str = ""
    """The cluster's KAFKA_TOPIC_PREFIX (for tests that publish or read events directly)."""
    kafka_bootstrap: str = ""
    """Bootstrap servers of the cluster's broker."""
    replicas: dict[str, str] = field(default_factory=dict)
    """URLs of the extra consumer processes (``<service>-consumer-2``: /metrics, /readyz)."""

    def auth(self, role: str) -> dict[str, str]:
        """Authorization header for a role."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="session")
async def cluster_database(new_database: Callable[[], Awaitable[str]]) -> str:
    return await new_database()


@pytest.fixture(scope="session")
def running_cluster(
    cluster_database: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCluster]:
    var_dir = tmp_path_factory.mktemp("cluster-var")
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": cluster_database,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_TOPIC_PREFIX": f"e2e{uuid.uuid4().hex[:8]}.",
            "KAFKA_CONSUMER_GROUP_PREFIX": f"e2e{uuid.uuid4().hex[:8]}.",
            "OTD_VAR_DIR": str(var_dir),
            "LOG_LEVEL": "INFO",
            "OTD_REPLICAS": str(E2E_REPLICAS),
            "OTD_API_WORKERS": "1",  # tests read one gateway process's /metrics
            # A second approver above 5.00 CNY: small adjustments exercise the approval too.
            "ADJUSTMENT_APPROVAL_THRESHOLD_FEN": str(E2E_APPROVAL_THRESHOLD_FEN),
        }
    )
    for name in SERVICE_NAMES:
        env["OTD_PORT_" + name.upper().replace("-", "_")] = str(free_port())
    log = (var_dir / "launcher.log").open("wb")
    process = subprocess.Popen(  # noqa: S603  (our own launcher)
        [sys.executable, "-m", "otd_launcher"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        cluster_file = _wait_for_cluster_file(process, var_dir)
        info = json.loads(cluster_file.read_text())
        tokens = json.loads((var_dir / "dev-tokens.json").read_text())
        yield RunningCluster(
            urls=info["services"],
            tokens=tokens,
            var_dir=var_dir,
            topic_prefix=env["KAFKA_TOPIC_PREFIX"],
            kafka_bootstrap=kafka_bootstrap,
            replicas=info.get("replicas", {}),
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _wait_for_cluster_file(process: subprocess.Popen[bytes], var_dir: Path) -> Path:
    cluster_file = var_dir / "cluster.json"
    deadline = time.monotonic() + CLUSTER_START_TIMEOUT_S
    while not cluster_file.exists():
        if process.poll() is not None:
            log = (var_dir / "launcher.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"launcher exited with {process.returncode}:\n{log}")
        if time.monotonic() > deadline:
            raise RuntimeError("cluster did not become ready in time")
        time.sleep(0.2)
    return cluster_file


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # otd_shared.http_clients: a request after a pause never lands on a closing connection
    async with httpx.AsyncClient(timeout=10.0, limits=pooled_limits()) as client:
        yield client


async def eventually(
    probe: Callable[[], Awaitable[object]], *, timeout_s: float = 20.0, interval_s: float = 0.2
) -> object:
    """Poll ``probe`` until it returns a truthy value; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await _sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s; last value: {last!r}")


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def order_with_intent_billing(
    http: httpx.AsyncClient,
    cluster: RunningCluster,
    *,
    price_fen: int = 25_000_000,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Create a vehicle order (no loan) and wait until the gateway accepts payments for its
    intent billing; returns that payable billing (``billing_id``, ``order_id``,
    ``outstanding_fen``, ...)."""
    app = cluster.auth("app-backend")
    created = await http.post(
        cluster.urls["order-service"] + "/v1/orders",
        headers=app,
        json={
            "customer_id": f"cust-{uuid.uuid4().hex[:8]}",
            "vehicle_model": "OTD-S",
            "price_fen": price_fen,
            "loan_fen": 0,
            "charging_pile": False,
        },
    )
    assert created.status_code == 201, created.text
    order_id = created.json()["order_id"]
    url = cluster.urls["payment-gateway"] + f"/v1/orders/{order_id}/payable-billings"

    async def payable() -> dict[str, Any] | None:
        response = await http.get(url, headers=app)
        rows = response.json() if response.status_code == 200 else []
        return next((b for b in rows if b["stage"] == "intent"), None)

    billing = await eventually(payable, timeout_s=timeout_s)
    assert isinstance(billing, dict)
    return billing


async def pay_with_wechat(
    http: httpx.AsyncClient, cluster: RunningCluster, billing: dict[str, Any]
) -> dict[str, Any]:
    """Start a WeChat payment of the billing's outstanding amount and have the sandbox pay
    it (it posts the signed notification); returns the payment as started."""
    started = await http.post(
        cluster.urls["payment-gateway"] + "/v1/payments",
        headers={**cluster.auth("app-backend"), "Idempotency-Key": uuid.uuid4().hex},
        json={
            "billing_id": billing["billing_id"],
            "channel": "wechatpay",
            "amount_fen": billing["outstanding_fen"],
        },
    )
    assert started.status_code == 201, started.text
    payment: dict[str, Any] = started.json()
    action = await http.post(
        cluster.urls["channel-sandbox"] + "/sandbox/actions",
        json={"channel": "wechatpay", "out_trade_no": payment["out_trade_no"], "action": "pay"},
    )
    assert action.status_code in (200, 201, 202, 204), action.text
    return payment
