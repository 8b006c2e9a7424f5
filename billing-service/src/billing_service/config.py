"""Settings of billing-service (environment variables, see README)."""

from pydantic import Field

from otd_shared.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    """billing-service settings; deposit amounts are configuration, in fen."""

    service_name: str = "billing-service"
    port: int = 8002
    intent_deposit_fen: int = Field(default=500_000, gt=0)
    firm_deposit_fen: int = Field(default=5_000_000, gt=0)
