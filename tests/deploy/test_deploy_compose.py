"""docker-compose.yml, offline (no Docker engine here): its structure, start order,
Kafka in KRaft mode, no host paths, and one-shot helpers that call code that exists.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from otd_launcher.cluster import cluster_services
from otd_shared.auth import Role

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = "deploy/docker/Dockerfile"
CLUSTER = cluster_services(REPO_ROOT)
DOMAIN = [s for s in CLUSTER if s.schema]
PORTS = {s.name: s.default_port for s in CLUSTER}
ROLES = ("api", "relay", "consumer")
CONDITIONS = {"service_healthy", "service_completed_successfully"}
KEYS_VOLUME = "channel-keys"

Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    with COMPOSE_FILE.open() as f:
        document = yaml.safe_load(f)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    return dict(compose["services"])


def _is_one_shot(service: Service) -> bool:
    return service.get("restart") == "no"


def _depends_on(service: Service) -> dict[str, dict[str, str]]:
    depends = service.get("depends_on", {})
    assert isinstance(depends, dict), "depends_on must use the long form with a condition"
    return depends


def test_every_service_has_a_healthcheck_or_is_a_one_shot(services: dict[str, Service]) -> None:
    for name, service in services.items():
        if _is_one_shot(service):
            assert "healthcheck" not in service, f"{name}: a one-shot needs no healthcheck"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name}: long-running without a healthcheck"
        assert test[0] in {"CMD", "CMD-SHELL"}, name
        assert service.get("restart") == "unless-stopped", name


def test_depends_on_waits_for_the_right_condition(services: dict[str, Service]) -> None:
    for name, service in services.items():
        for target, spec in _depends_on(service).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = spec.get("condition")
            assert condition in CONDITIONS, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} -> {target}"
            else:
                assert _is_one_shot(services[target]), f"{name} -> {target} never completes"


def test_start_order_has_no_cycle(services: dict[str, Service]) -> None:
    done: set[str] = set()
    remaining = dict(services)
    while remaining:
        ready = [n for n, s in remaining.items() if set(_depends_on(s)) <= done]
        assert ready, f"dependency cycle among {sorted(remaining)}"
        done.update(ready)
        for name in ready:
            del remaining[name]


@pytest.mark.parametrize("service", [s.name for s in DOMAIN])
def test_each_domain_service_migrates_then_runs_three_processes(
    services: dict[str, Service], service: str
) -> None:
    migrate = services[f"{service}-migrate"]
    assert migrate["command"] == ["migrate"]
    assert _is_one_shot(migrate)
    assert _depends_on(migrate)["postgres"]["condition"] == "service_healthy"
    for role in ROLES:
        process = services[f"{service}-{role}"]
        assert process["command"] == [role], f"{service}-{role}"
        depends = _depends_on(process)
        assert depends[f"{service}-migrate"]["condition"] == "service_completed_successfully"
        assert depends["kafka-topics"]["condition"] == "service_completed_successfully"
        env = process["environment"]
        assert env["PORT"] == str(PORTS[service])
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
        assert env["HOST"] == "0.0.0.0"
        assert process["healthcheck"]["test"] == ["CMD", "otd-healthcheck", "/readyz"]
    api_ports = services[f"{service}-api"]["ports"]
    assert api_ports == [f"127.0.0.1:{PORTS[service]}:{PORTS[service]}"]
    for role in ("relay", "consumer"):
        assert "ports" not in services[f"{service}-{role}"], "only the api is published"


def test_sandbox_and_console_are_published_on_their_ports(services: dict[str, Service]) -> None:
    for name in ("channel-sandbox", "finance-console"):
        port = PORTS[name]
        assert services[name]["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert services[name]["environment"]["PORT"] == str(port)


def test_kafka_runs_single_node_kraft(services: dict[str, Service]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert not [k for k in env if "ZOOKEEPER" in k]
    assert not [n for n in services if "zookeeper" in n]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert f"{controller}://" in env["KAFKA_LISTENERS"]
    assert f"{controller}:" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["CLUSTER_ID"]


def test_postgres_is_version_15(services: dict[str, Service]) -> None:
    assert re.fullmatch(r"postgres:15(\.\d+)?(-[a-z0-9]+)?", services["postgres"]["image"])
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]


def test_images_are_pinned_and_name_no_registry(services: dict[str, Service]) -> None:
    for name, service in services.items():
        image = service["image"]
        if "/" in image:
            first = image.split("/", 1)[0]
            assert "." not in first, f"{name}: registry host in {image}"
            assert ":" not in first, f"{name}: registry host in {image}"
            assert first != "localhost", f"{name}: registry host in {image}"
        _, colon, tag = image.rpartition(":")
        assert colon, f"{name}: untagged image (means :latest)"
        assert "/" not in tag, f"{name}: untagged image (means :latest)"
        assert tag != "latest", f"{name}: {image}"


def test_own_images_build_from_the_one_dockerfile(services: dict[str, Service]) -> None:
    assert (REPO_ROOT / DOCKERFILE).is_file()
    for name, service in services.items():
        if not service["image"].startswith("otd-pay/"):
            assert "build" not in service, name
            continue
        build = service["build"]
        assert build["context"] == "."
        assert build["dockerfile"] == DOCKERFILE
        image_service = service["image"].removeprefix("otd-pay/").split(":")[0]
        assert build["args"]["SERVICE"] == image_service, name
        assert image_service in PORTS, f"{name}: unknown service {image_service}"


def test_no_host_paths(compose: dict[str, Any], services: dict[str, Service]) -> None:
    named = set(compose.get("volumes", {}))
    for name, service in services.items():
        assert "env_file" not in service, name
        assert service.get("network_mode") != "host", name
        assert not service.get("privileged"), name
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                assert volume.get("type", "volume") == "volume", f"{name}: {volume}"
                source = volume.get("source", "")
            else:
                source = volume.split(":", 1)[0]
            assert source in named, f"{name}: {source!r} is not a named volume"
    for section in ("configs", "secrets"):
        for item, spec in compose.get(section, {}).items():
            assert "file" not in spec, f"{section}.{item} reads a host file"


def test_own_containers_are_hardened(services: dict[str, Service]) -> None:
    for name, service in services.items():
        if service["image"].startswith("otd-pay/"):
            assert service.get("read_only") is True, name
            assert service.get("cap_drop") == ["ALL"], name
            # A path inside the container, not a temporary file of this test.
            assert "/tmp" in service.get("tmpfs", []), name  # noqa: S108
            assert "no-new-privileges:true" in service.get("security_opt", []), name


def test_channel_keys_are_generated_once_and_mounted_read_only(
    services: dict[str, Service],
) -> None:
    generator = services["channel-keys"]
    assert _is_one_shot(generator)
    keys_dir = generator["environment"]["KEYS_DIR"]
    assert generator["volumes"] == [f"{KEYS_VOLUME}:{keys_dir}"]
    readers = {
        "payment-gateway-api",
        "payment-gateway-consumer",
        "payment-gateway-relay",
        "channel-sandbox",
    }
    for name, service in services.items():
        mounts = [v for v in service.get("volumes", []) if v.startswith(f"{KEYS_VOLUME}:")]
        if name in readers:
            assert mounts == [f"{KEYS_VOLUME}:{keys_dir}:ro"], name
            assert service["environment"]["KEYS_DIR"] == keys_dir, name
            condition = _depends_on(service)["channel-keys"]["condition"]
            assert condition == "service_completed_successfully", name
        elif name != "channel-keys":
            assert not mounts, f"{name} has no use for the channel keys"


def _python_snippet(service: Service) -> str:
    entrypoint = service["entrypoint"]
    assert entrypoint[:2] == ["python", "-c"]
    return str(entrypoint[2])


@pytest.mark.parametrize("name", ["kafka-topics", "channel-keys"])
def test_one_shot_snippets_call_code_that_exists(services: dict[str, Service], name: str) -> None:
    service = services[name]
    assert _is_one_shot(service)
    assert service["command"] == []
    tree = ast.parse(_python_snippet(service))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert imports, name
    for node in imports:
        assert node.module is not None
        module = importlib.import_module(node.module)
        for alias in node.names:
            assert callable(getattr(module, alias.name, None)), f"{node.module}.{alias.name}"


def test_dev_tokens_cover_every_role(compose: dict[str, Any]) -> None:
    tokens = json.loads(compose["configs"]["dev-tokens"]["content"])
    assert set(tokens) == {role.value for role in Role}
    assert len(set(tokens.values())) == len(tokens), "tokens must differ per role"


def test_cluster_file_points_at_the_api_containers(
    compose: dict[str, Any], services: dict[str, Service]
) -> None:
    cluster = json.loads(compose["configs"]["cluster"]["content"])
    assert set(cluster["services"]) == set(PORTS)
    for name, url in cluster["services"].items():
        host, port = url.removeprefix("http://").split(":")
        assert host in services, f"{name}: {host} is not a compose service"
        assert int(port) == PORTS[name], name
    for name, service in services.items():
        env = service.get("environment", {})
        if "OTD_CLUSTER_FILE" in env:
            targets = [c["target"] for c in service.get("configs", [])]
            assert env["OTD_CLUSTER_FILE"] in targets, name
            assert env["AUTH_TOKENS_FILE"] in targets, name
