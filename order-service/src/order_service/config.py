"""Settings of order-service (environment variables, see README)."""

from pydantic import Field

from order_service.domain import OrderAmountRules
from otd_shared.settings import ServiceSettings


class OrderSettings(ServiceSettings):
    """order-service settings.

    The deposit amounts are read from the same variables as billing-service's
    (INTENT_DEPOSIT_FEN, FIRM_DEPOSIT_FEN), so an order accepted here always fits the
    fund order billing opens for it.
    """

    service_name: str = "order-service"
    port: int = 8001
    intent_deposit_fen: int = Field(default=500_000, gt=0)
    firm_deposit_fen: int = Field(default=5_000_000, gt=0)

    def amount_rules(self) -> OrderAmountRules:
        """The amount rules of new orders and repricings."""
        return OrderAmountRules(intent_fen=self.intent_deposit_fen, firm_fen=self.firm_deposit_fen)
