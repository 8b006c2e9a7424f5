"""What the cluster is made of: services, ports, modules (README.md)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceDef:
    """One process of the cluster."""

    name: str
    module: str
    default_port: int
    schema: str | None  # None: no database schema (sandbox, console)
    migrations_dir: Path | None

    @property
    def port_env(self) -> str:
        """Environment variable that overrides the port, e.g. ``OTD_PORT_ORDER_SERVICE``."""
        return "OTD_PORT_" + self.name.upper().replace("-", "_")

    def available(self) -> bool:
        """True when the module (with a ``__main__``) is present in this checkout."""
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False


def _service(root: Path, name: str, module: str, port: int, schema: str) -> ServiceDef:
    return ServiceDef(name, module, port, schema, root / name / "migrations")


def cluster_services(root: Path) -> list[ServiceDef]:
    """Every process the local run starts, in start order."""
    return [
        _service(root, "order-service", "order_service", 8001, "order_svc"),
        _service(root, "billing-service", "billing_service", 8002, "billing"),
        _service(root, "payment-gateway", "payment_gateway", 8003, "payment"),
        _service(root, "ledger-service", "ledger_service", 8004, "ledger"),
        _service(root, "recon-service", "recon_service", 8005, "recon"),
        ServiceDef("channel-sandbox", "channel_sandbox", 8010, None, None),
        ServiceDef("finance-console", "finance_console", 8080, None, None),
    ]
