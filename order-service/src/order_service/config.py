"""Settings of order-service (environment variables, see README)."""

from otd_shared.settings import ServiceSettings


class OrderSettings(ServiceSettings):
    """order-service settings."""

    service_name: str = "order-service"
    port: int = 8001
