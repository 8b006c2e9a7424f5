"""Probes, metrics, schedules, and `python -m channel_sandbox` as the launcher starts it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from channel_sandbox.registry import REGISTRY
from channel_sandbox.schedules import retry_delays_s
from otd_shared.infra import free_port

PROCESS_START_TIMEOUT_S = 60.0  # generous: CI machines may be busy


async def test_probes_and_metrics(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).status_code == 200
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["channels"] == ["alipay", "allinpay", "lakala", "unionpay", "wechatpay"]
    metrics = (await http.get("/metrics")).text
    assert "sandbox_notification_attempts_total" in metrics
    assert "http_requests_total" in metrics


def test_documented_schedules() -> None:
    assert sum(REGISTRY.channel("wechatpay").retry_intervals_s) == 24 * 3600 + 4 * 60
    assert len(REGISTRY.channel("alipay").retry_intervals_s) == 7  # 8 notifications in total
    assert len(REGISTRY.channel("unionpay").retry_intervals_s) == 4  # 5 sends in total
    allinpay = REGISTRY.channel("allinpay")
    assert retry_delays_s(allinpay, 0.01) == pytest.approx((0.15, 0.15, 3.0, 6.0, 9.0))


@pytest.mark.parametrize(
    ("channel", "status", "body", "accepted"),
    [
        ("wechatpay", 204, b"", True),
        ("wechatpay", 500, b"", False),
        ("alipay", 200, b"success", True),
        ("alipay", 200, b"success\n", False),
        ("alipay", 200, b"SUCCESS", False),
        ("lakala", 200, '{"code":"SUCCESS","message":"执行成功"}'.encode(), True),
        ("lakala", 200, b'{"code":"FAIL"}', False),
        ("lakala", 200, b"SUCCESS", False),
        ("unionpay", 200, b"", True),
        ("unionpay", 500, b"ok", False),
        ("allinpay", 200, b"success", True),
        ("allinpay", 200, b"fail", False),
    ],
)
def test_success_answers(channel: str, status: int, body: bytes, accepted: bool) -> None:
    assert REGISTRY.channel(channel).delivered_when(status, body) is accepted


async def test_python_m_channel_sandbox_serves_readyz(keys_dir: Path, key_sets: object) -> None:
    del key_sets  # the keys exist: the process must load, not regenerate them
    port = free_port()
    env = {**os.environ, "PORT": str(port), "KEYS_DIR": str(keys_dir), "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(  # noqa: ASYNC220, S603  (our own module, short-lived)
        [sys.executable, "-m", "channel_sandbox"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            for _ in range(int(PROCESS_START_TIMEOUT_S / 0.1)):
                assert process.poll() is None, "the sandbox process exited"
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/readyz")
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
                    continue
                assert response.status_code == 200
                break
            else:
                pytest.fail("the sandbox process did not become ready")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_sandbox_never_loads_the_gateway(keys_dir: Path, key_sets: object) -> None:
    """Independence: importing and building the whole app loads no gateway module."""
    del key_sets  # generated already: the probe only loads them
    probe = (
        "import sys, pathlib\n"
        "from channel_sandbox.app import create_app\n"
        "from channel_sandbox.config import SandboxSettings\n"
        "import channel_sandbox.testing\n"
        f"create_app(SandboxSettings(keys_dir=pathlib.Path({str(keys_dir)!r})))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'payment' + '_gateway'))\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=PROCESS_START_TIMEOUT_S * 3,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_no_source_file_names_the_gateway_package() -> None:
    root = Path(__file__).resolve().parents[1]
    needle = "payment" + "_gateway"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".md", ".toml", ".txt"}
        and needle in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []
