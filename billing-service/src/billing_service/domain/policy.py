"""The configurable rules of a fund order: deposit amounts, refundability, reminders.

Build them from settings in bootstrap; the domain only receives them. The policy an order
was opened under is kept with its fund order (it is the contract with the customer), so a
later settings change does not alter the terms of orders already placed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from billing_service.domain.errors import InvalidField
from otd_shared.checks import require_fen, require_text

DEFAULT_INTENT_FEN = 500_000  # 5,000 CNY
DEFAULT_FIRM_FEN = 5_000_000  # 50,000 CNY


@dataclass(frozen=True, kw_only=True)
class DepositPolicy:
    """Deposit amounts and what happens to paid deposits when the order is cancelled.

    Before the lock every deposit is refundable. After it, the intent and firm deposits are
    kept unless the matching ``*_refundable_after_lock`` flag says otherwise. Final-payment
    money and overpayments are always refunded.
    """

    name: str = "standard"
    intent_fen: int = DEFAULT_INTENT_FEN
    firm_fen: int = DEFAULT_FIRM_FEN
    intent_refundable_after_lock: bool = False
    firm_refundable_after_lock: bool = False

    def __post_init__(self) -> None:
        require_text(self.name, "name")
        require_fen(self.intent_fen, "intent_fen")
        require_fen(self.firm_fen, "firm_fen")

    @property
    def deposits_fen(self) -> int:
        return self.intent_fen + self.firm_fen


DEFAULT_DEPOSIT_POLICY = DepositPolicy()


@dataclass(frozen=True)
class ReminderSchedule:
    """A named list of offsets after ``due_at`` at which an unpaid billing is reminded."""

    name: str
    offsets: tuple[timedelta, ...]

    def __post_init__(self) -> None:
        require_text(self.name, "name")
        if not self.offsets:
            raise InvalidField("offsets", "must not be empty")
        if any(offset <= timedelta(0) for offset in self.offsets):
            raise InvalidField("offsets", "must all be positive")
        if list(self.offsets) != sorted(set(self.offsets)):
            raise InvalidField("offsets", "must be strictly increasing")


STANDARD_REMINDERS = ReminderSchedule(
    "standard", (timedelta(days=1), timedelta(days=3), timedelta(days=7))
)
