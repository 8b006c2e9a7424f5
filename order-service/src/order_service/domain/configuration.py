"""What the customer ordered (model and options) and the amount rules of an order."""

from __future__ import annotations

from dataclasses import dataclass

from order_service.domain.errors import InvalidAmount
from otd_shared.checks import require_fen, require_text

DEFAULT_INTENT_FEN = 500_000  # 5,000 CNY
DEFAULT_FIRM_FEN = 5_000_000  # 50,000 CNY


@dataclass(frozen=True)
class VehicleConfiguration:
    """A vehicle model and its option codes; options are kept sorted and unique so two
    equal configurations compare equal whatever order the options came in."""

    vehicle_model: str
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_text(self.vehicle_model, "vehicle_model")
        for option in self.options:
            require_text(option, "options")
        object.__setattr__(self, "options", tuple(sorted(set(self.options))))


@dataclass(frozen=True)
class OrderAmountRules:
    """The amount rules order-service checks before billing-service ever sees the order.

    They mirror billing-service's DepositPolicy and must be built from the same settings:
    the final billing (price − intent − firm) stays positive and covers the loan share.
    """

    intent_fen: int = DEFAULT_INTENT_FEN
    firm_fen: int = DEFAULT_FIRM_FEN

    def __post_init__(self) -> None:
        require_fen(self.intent_fen, "intent_fen")
        require_fen(self.firm_fen, "firm_fen")

    @property
    def deposits_fen(self) -> int:
        return self.intent_fen + self.firm_fen

    def check(self, *, price_fen: int, loan_fen: int) -> None:
        """Raise InvalidAmount (422, naming the field) unless price and loan fit together."""
        require_fen(price_fen, "price_fen")
        require_fen(loan_fen, "loan_fen", minimum_fen=0)
        if price_fen <= self.deposits_fen:
            raise InvalidAmount(
                "price_fen", f"must exceed the intent and firm deposits ({self.deposits_fen} fen)"
            )
        if loan_fen > price_fen - self.deposits_fen:
            raise InvalidAmount(
                "loan_fen",
                f"must not exceed the price minus the deposits ({price_fen - self.deposits_fen}"
                " fen)",
            )


DEFAULT_AMOUNT_RULES = OrderAmountRules()
