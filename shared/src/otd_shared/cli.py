"""The command line every service shares: ``python -m <service> <command>``.

Commands: ``api`` (HTTP; ``--with-workers`` also runs relay and consumers in-process),
``relay`` (outbox relay), ``consumer`` (Kafka consumers), ``worker`` (both),
``migrate`` (Alembic upgrade head of the service schema), ``retention`` (delete old
inbox, published outbox and resolved dead-letter rows, see ``otd_shared.retention``;
``--dry-run`` only counts), plus a service's own ``ExtraCommand``s (daily jobs such as
``sap-post``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from otd_shared.app import create_ops_app
from otd_shared.gc_pauses import startup_objects_frozen
from otd_shared.migrations import upgrade_head
from otd_shared.observability import configure_logging
from otd_shared.retention import RetentionPolicy, RetentionResult, purge
from otd_shared.runtime import ServiceRuntime, run_workers
from otd_shared.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceEntry:
    """How to build and run one service."""

    load_settings: Callable[[], ServiceSettings]
    build_runtime: Callable[[ServiceSettings], ServiceRuntime]
    create_app: Callable[[ServiceRuntime], FastAPI]
    migrations_dir: Path
    schema: str


@dataclass(frozen=True)
class ExtraCommand:
    """A service-specific command (e.g. a daily job): its help line and its runner."""

    help: str
    run: Callable[[list[str]], int]


def main(
    entry: ServiceEntry,
    argv: list[str] | None = None,
    extra_commands: Mapping[str, ExtraCommand] | None = None,
) -> None:
    """Parse the command and run it; extra commands get the rest of the arguments."""
    args_in = sys.argv[1:] if argv is None else argv
    extras = dict(extra_commands or {})
    if args_in[:1] and args_in[0] in extras:
        sys.exit(extras[args_in[0]].run(args_in[1:]))
    parser = argparse.ArgumentParser(prog=entry.schema)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in extras.items():
        sub.add_parser(name, help=command.help)
    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--with-workers", action="store_true", help="also run relay and consumers")
    api.add_argument(
        "--reuse-port",
        action="store_true",
        help="bind with SO_REUSEPORT, so several API processes share HOST:PORT",
    )
    sub.add_parser("relay", help="publish the outbox to Kafka")
    sub.add_parser("consumer", help="consume Kafka events")
    sub.add_parser("worker", help="relay and consumers in one process")
    sub.add_parser("migrate", help="upgrade the database schema")
    retention = sub.add_parser("retention", help="delete expired messaging rows")
    retention.add_argument("--dry-run", action="store_true", help="only count them")
    args = parser.parse_args(args_in)
    settings = entry.load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    if args.command == "migrate":
        upgrade_head(entry.migrations_dir, settings.database_url.get_secret_value(), entry.schema)
    elif args.command == "retention":
        result = asyncio.run(_retention(entry.build_runtime(settings), dry_run=args.dry_run))
        print(json.dumps(result.as_dict()))  # noqa: T201  (the command's output)
    elif args.command == "api":
        if args.with_workers:
            settings = settings.model_copy(update={"run_workers": True})
        app = entry.create_app(entry.build_runtime(settings))
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        if args.reuse_port:
            asyncio.run(uvicorn.Server(config).serve(sockets=[_shared_socket(settings)]))
        else:
            uvicorn.Server(config).run()
    else:
        runtime = entry.build_runtime(settings)
        asyncio.run(_run_workers_until_signal(runtime, args.command))


def _shared_socket(settings: ServiceSettings) -> socket.socket:
    """A listening address other processes may bind too (the kernel spreads connections)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    return sock


async def _retention(runtime: ServiceRuntime, *, dry_run: bool) -> RetentionResult:
    try:
        return await purge(
            runtime.engine,
            runtime.tables,
            RetentionPolicy.from_settings(runtime.settings),
            now=datetime.now(UTC),
            dry_run=dry_run,
        )
    finally:
        await runtime.engine.dispose()


class _OpsServer(uvicorn.Server):
    """uvicorn without its own signal handling: the worker loop owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _run_workers_until_signal(runtime: ServiceRuntime, command: str) -> None:
    """Run relay and/or consumers, and serve /healthz, /readyz, /metrics on HOST:PORT."""
    stop = asyncio.Event()
    settings = runtime.settings
    ops = _OpsServer(
        uvicorn.Config(
            create_ops_app(runtime, title=f"{settings.service_name} {command}"),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ops_task = asyncio.create_task(ops.serve())
    try:
        with startup_objects_frozen():
            await run_workers(
                runtime,
                stop,
                relay=command in ("relay", "worker"),
                consumers=command in ("consumer", "worker"),
            )
    finally:
        ops.should_exit = True
        await ops_task
        await runtime.engine.dispose()
