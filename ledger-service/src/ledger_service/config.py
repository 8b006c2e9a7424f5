"""Settings of ledger-service (environment variables, see README)."""

from otd_shared.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    """ledger-service settings."""

    service_name: str = "ledger-service"
    port: int = 8004
