"""Start the whole cluster on embedded defaults and stop it cleanly.

Order: PostgreSQL (embedded unless DATABASE_URL) → broker (Tansu unless
KAFKA_BOOTSTRAP_SERVERS) → topics → dev tokens and keys → migrations → every
service (API with its relay and consumers in-process), the sandbox and the console →
readiness → URLs. ``OTD_REPLICAS=N`` (default 1) adds N-1 consumer processes per domain
service (same consumer groups: they share the partitions) and ``OTD_API_WORKERS=M``
(default N) runs M payment-gateway API workers on one port (SO_REUSEPORT: the kernel
spreads connections). Ctrl-C or
SIGTERM stops the children (process groups), the broker and PostgreSQL; data stays under
var/. A child that dies stops the cluster, unless ``OTD_RESTART_CHILDREN=1`` (the chaos
test): then it is started again, like a pod restarted by its orchestrator. The children's
process ids are in var/children.json (rewritten on every restart).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from otd_launcher.cluster import ServiceDef, cluster_services
from otd_launcher.devsecrets import (
    ensure_console_users,
    ensure_dev_keys,
    ensure_dev_tokens,
    ensure_pos_registry,
)
from otd_launcher.processes import Child
from otd_shared.infra import (
    Broker,
    ensure_database,
    free_port,
    start_broker,
    start_embedded_postgres,
    stop_embedded_postgres,
)
from otd_shared.kafka import ensure_topics
from otd_shared.migrations import upgrade_head
from otd_shared.settings import REPO_ROOT

log = logging.getLogger("otd_launcher")

DEFAULT_BROKER_PORT = 9092
DATABASE_NAME = "otd"
READY_TIMEOUT_S = 60.0
SCALED_API = "payment-gateway"
"""The service whose API gets OTD_REPLICAS workers (the one channels call)."""


@dataclass
class Cluster:
    """Everything the launcher started, to stop it in reverse order."""

    var_dir: Path
    database_url: str = ""
    kafka: str = ""
    pg_server: object | None = None
    broker: Broker | None = None
    children: list[Child] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    probes: dict[str, str] = field(default_factory=dict)
    """Base URL of each child's /readyz (an extra API worker shares its service's)."""

    def stop(self) -> None:
        """Stop children, then the broker, then PostgreSQL."""
        for child in self.children:
            child.terminate()
        for child in self.children:
            child.wait_or_kill()
        if self.broker is not None:
            self.broker.stop()
        if self.pg_server is not None:
            stop_embedded_postgres(self.pg_server)


def start_infrastructure(cluster: Cluster) -> None:
    """PostgreSQL and the broker, embedded unless given by the environment."""
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        cluster.pg_server, server_url = start_embedded_postgres(cluster.var_dir / "pg")
        cluster.database_url = asyncio.run(ensure_database(server_url, DATABASE_NAME))
    else:
        cluster.database_url = server_url
    cluster.kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not cluster.kafka:
        port = int(os.environ.get("OTD_KAFKA_PORT", DEFAULT_BROKER_PORT))
        cluster.broker = start_broker(
            port if _port_free(port) else free_port(), cluster.var_dir / "logs" / "broker.log"
        )
        cluster.kafka = cluster.broker.bootstrap_servers
    asyncio.run(ensure_topics(cluster.kafka, os.environ.get("KAFKA_TOPIC_PREFIX", "")))


def prepare(cluster: Cluster, services: list[ServiceDef]) -> None:
    """Dev secrets and migrations."""
    ensure_dev_tokens(cluster.var_dir / "dev-tokens.json")
    ensure_console_users(cluster.var_dir / "console-users.json")
    ensure_dev_keys(cluster.var_dir / "keys")
    ensure_pos_registry(cluster.var_dir / "pos-registry.json")
    for service in services:
        if service.schema and service.migrations_dir:
            upgrade_head(service.migrations_dir, cluster.database_url, service.schema)


def start_services(
    cluster: Cluster, services: list[ServiceDef], replicas: int = 1, api_workers: int = 1
) -> None:
    """Start every available service process (and the replicas, see the module doc)."""
    for service in services:
        port = int(os.environ.get(service.port_env, service.default_port))
        args = ["-m", service.module]
        if service.schema:
            args += ["api", "--with-workers"]
        workers = api_workers if service.name == SCALED_API else 1
        if workers > 1:
            args.append("--reuse-port")
        _start(cluster, service.name, args, port)
        cluster.urls[service.name] = f"http://127.0.0.1:{port}"
        for replica in range(2, replicas + 1 if service.schema else 1):
            name = f"{service.name}-consumer-{replica}"
            _start(cluster, name, ["-m", service.module, "consumer"], free_port())
        for worker in range(2, workers + 1):
            api = ["-m", service.module, "api", "--reuse-port"]
            _start(cluster, f"{service.name}-api-{worker}", api, port, probe=False)


def _start(cluster: Cluster, name: str, args: list[str], port: int, *, probe: bool = True) -> None:
    child = Child(name, args, _child_env(cluster, port), cluster.var_dir / "logs" / f"{name}.log")
    child.start()
    cluster.children.append(child)
    if probe and name not in cluster.urls:
        cluster.probes[name] = f"http://127.0.0.1:{port}"


def _child_env(cluster: Cluster, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": cluster.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": cluster.kafka,
            "PORT": str(port),
            "AUTH_TOKENS_FILE": str(cluster.var_dir / "dev-tokens.json"),
            "KEYS_DIR": str(cluster.var_dir / "keys"),
            "DB_POOL_SIZE": env.get("DB_POOL_SIZE", "5"),
            "OTD_CLUSTER_FILE": str(cluster.var_dir / "cluster.json"),
            "CONSOLE_USERS_FILE": str(cluster.var_dir / "console-users.json"),
            "POS_REGISTRY_FILE": str(cluster.var_dir / "pos-registry.json"),
        }
    )
    # Locally the channel sandbox plays SAP for the ledger's HTTP connector.
    sandbox_port = env.get("OTD_PORT_CHANNEL_SANDBOX", "8010")
    env.setdefault("SAP_CONNECTOR", "http")
    env.setdefault("SAP_HTTP_URL", f"http://127.0.0.1:{sandbox_port}/sap")
    return env


async def wait_ready(cluster: Cluster) -> None:
    """Wait until every child answers its readiness probe."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as client:
        for child in cluster.children:
            if child.name not in cluster.probes:
                continue
            url = cluster.probes[child.name] + "/readyz"
            while True:
                if child.exited() is not None:
                    raise RuntimeError(f"{child.name} exited; see {child.log_path}")
                try:
                    if (await client.get(url)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{child.name} not ready; see {child.log_path}")
                await asyncio.sleep(0.2)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def write_cluster_file(cluster: Cluster) -> None:
    """var/cluster.json: the URLs, for scripts and tests."""
    (cluster.var_dir / "cluster.json").write_text(
        json.dumps(
            {
                "services": cluster.urls,
                "replicas": {n: u for n, u in cluster.probes.items() if n not in cluster.urls},
                "kafka_bootstrap_servers": cluster.kafka,
                "kafka_topic_prefix": os.environ.get("KAFKA_TOPIC_PREFIX", ""),
                "kafka_consumer_group_prefix": os.environ.get("KAFKA_CONSUMER_GROUP_PREFIX", ""),
                "database_url": cluster.database_url,
            },
            indent=2,
        )
        + "\n"
    )


def write_children_file(cluster: Cluster) -> None:
    """var/children.json: each child's process id (its process group), for the chaos test."""
    pids = {c.name: c.process.pid for c in cluster.children if c.process is not None}
    path = cluster.var_dir / "children.json"
    path.with_suffix(".tmp").write_text(json.dumps(pids, indent=2) + "\n")
    path.with_suffix(".tmp").replace(path)


def restart_children(cluster: Cluster, dead: list[Child]) -> None:
    """Start dead children again (``OTD_RESTART_CHILDREN``)."""
    for child in dead:
        log.warning("%s exited (code %s); restarting it", child.name, child.exited())
        child.start()
    if dead:
        write_children_file(cluster)


def main() -> None:
    """Run the cluster until a signal or a child's death."""
    var_dir = Path(os.environ.get("OTD_VAR_DIR", REPO_ROOT / "var")).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    _configure_logging(var_dir / "logs" / "launcher.log")
    cluster = Cluster(var_dir=var_dir)
    stopping = {"now": False}

    def request_stop(*_: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    services = [s for s in cluster_services(REPO_ROOT) if s.available()]
    try:
        start_infrastructure(cluster)
        prepare(cluster, services)
        replicas = int(os.environ.get("OTD_REPLICAS", "1"))
        api_workers = int(os.environ.get("OTD_API_WORKERS", str(replicas)))
        start_services(cluster, services, replicas, api_workers)
        asyncio.run(wait_ready(cluster))
        write_cluster_file(cluster)
        write_children_file(cluster)
        _print_urls(cluster)
        restart = os.environ.get("OTD_RESTART_CHILDREN", "") in ("1", "true", "yes")
        while not stopping["now"]:
            dead = [c for c in cluster.children if c.exited() is not None]
            if dead and not restart:
                log.error(
                    "%s exited (code %s); stopping the cluster", dead[0].name, dead[0].exited()
                )
                break
            restart_children(cluster, dead)
            time.sleep(0.3)
    except RuntimeError as exc:  # a child that died or never became ready: say which, where
        log.error("%s", exc)
    finally:
        log.info("stopping")
        cluster.stop()
    sys.exit(0 if stopping["now"] else 1)


def _configure_logging(log_file: Path) -> None:
    """Everything (PostgreSQL's initdb and pg_ctl output, probes) goes to the log file; the
    terminal gets warnings and errors only, plus the summary ``_print_urls`` writes."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(log_file)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.WARNING)
    to_terminal.setFormatter(logging.Formatter("launcher %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [to_file, to_terminal]
    root.setLevel(logging.INFO)
    print(f"Starting OTD Pay (details in {log_file}) …", flush=True)  # noqa: T201


def _print_urls(cluster: Cluster) -> None:
    lines = ["OTD Pay is up:"]
    for name, url in cluster.urls.items():
        extra = "" if name == "finance-console" else f"   (docs: {url}/docs)"
        lines.append(f"  {name:16} {url}{extra}")
    lines.append(f"  kafka            {cluster.kafka}")
    lines.append(f"  dev tokens       {cluster.var_dir / 'dev-tokens.json'}")
    lines.append(f"  console users    {cluster.var_dir / 'console-users.json'}")
    lines.append(f"  logs             {cluster.var_dir / 'logs'}")
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)  # noqa: T201  (the launcher's output is for a person)
