"""Settings of payment-gateway (environment variables, see README)."""

from pathlib import Path

from otd_shared.settings import REPO_ROOT, ServiceSettings


class GatewaySettings(ServiceSettings):
    """payment-gateway settings."""

    service_name: str = "payment-gateway"
    port: int = 8003
    keys_dir: Path = REPO_ROOT / "var" / "keys"
