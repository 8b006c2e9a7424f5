"""The cluster as the CLI sees it: service URLs, tokens, HTTP calls with exit codes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from otd_shared.settings import REPO_ROOT

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
TIMEOUT_S = 60.0
SERVICES = (
    "order-service",
    "billing-service",
    "payment-gateway",
    "ledger-service",
    "recon-service",
)


class CliFailure(Exception):
    """A command that cannot finish: its message and exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.body = body


@dataclass(frozen=True)
class Cluster:
    """URLs and tokens of one running cluster."""

    urls: dict[str, str]
    tokens: dict[str, str]
    info: dict[str, Any]

    def url(self, service: str) -> str:
        """The base URL of a service, or a usage failure naming the known ones."""
        if service not in self.urls:
            known = ", ".join(self.urls) or "none (is the cluster running?)"
            raise CliFailure(f"unknown service {service!r}; known: {known}", EXIT_USAGE)
        return self.urls[service]

    def headers(self, role: str) -> dict[str, str]:
        """The Authorization header of a role."""
        token = self.tokens.get(role)
        if token is None:
            raise CliFailure(f"no token for role {role!r} in the tokens file", EXIT_USAGE)
        return {"Authorization": f"Bearer {token}"}

    def request(self, method: str, service: str, path: str, role: str = "sre", **kw: Any) -> Any:
        """One call; the JSON answer, or CliFailure (4xx/5xx: 1, unreachable: 3)."""
        try:
            with httpx.Client(timeout=TIMEOUT_S) as client:
                response = client.request(
                    method, self.url(service) + path, headers=self.headers(role), **kw
                )
        except httpx.HTTPError as exc:
            raise CliFailure(f"{service} is unreachable: {exc}", EXIT_UNREACHABLE) from exc
        return answer(service, response)


def answer(service: str, response: httpx.Response) -> Any:
    """The JSON body of a 2xx, or CliFailure with the service's detail."""
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = response.text
    if response.status_code >= 400:
        detail = body.get("detail", body) if isinstance(body, dict) else body
        raise CliFailure(f"{service} answered {response.status_code}: {detail}", body=body)
    return body


def var_dir() -> Path:
    """The local run's var/ directory."""
    return Path(os.environ.get("OTD_VAR_DIR", REPO_ROOT / "var"))


def load_cluster() -> Cluster:
    """The cluster from OTD_CLUSTER_FILE / AUTH_TOKENS_FILE, else var/."""
    cluster_file = Path(os.environ.get("OTD_CLUSTER_FILE", var_dir() / "cluster.json"))
    tokens_file = Path(os.environ.get("AUTH_TOKENS_FILE", var_dir() / "dev-tokens.json"))
    info: dict[str, Any] = json.loads(cluster_file.read_text()) if cluster_file.is_file() else {}
    tokens = json.loads(tokens_file.read_text()) if tokens_file.is_file() else {}
    urls = {str(k): str(v) for k, v in info.get("services", {}).items()}
    if not urls:
        raise CliFailure(
            f"no cluster file at {cluster_file}: start the cluster (make run) or set "
            "OTD_CLUSTER_FILE",
            EXIT_UNREACHABLE,
        )
    return Cluster(urls=urls, tokens={str(k): str(v) for k, v in tokens.items()}, info=info)


def ready(url: str) -> str:
    """A service's /readyz verdict: ready, not ready or unreachable."""
    try:
        response = httpx.get(url + "/readyz", timeout=2.0)
    except httpx.HTTPError:
        return "unreachable"
    return "ready" if response.status_code == 200 else "not ready"


def metric_values(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one metric in a Prometheus text exposition."""
    found: list[tuple[dict[str, str], float]] = []
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, labels = head.partition("{")
        if metric != name:
            continue
        pairs = [p.split("=", 1) for p in labels.rstrip("}").split(",") if "=" in p]
        found.append(({k: v.strip('"') for k, v in pairs}, float(value)))
    return found
