"""The home charging-pile order: requested → surveyed → installed, or → not_needed.

``not_needed`` may follow the request (the customer declines) or the survey (the site is
unsuitable or a charger exists); an order placed without a charger starts there.
``cancelled`` comes only with the vehicle order's cancellation, while nothing is settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from order_service.domain.events import (
    ChargingPileInstalled,
    ChargingPileNotNeeded,
    ChargingPileSurveyed,
)
from order_service.domain.lifecycle import Lifecycle, TransitionTable
from otd_shared.checks import require_text


class ChargingPileStatus(StrEnum):
    REQUESTED = "requested"
    SURVEYED = "surveyed"
    INSTALLED = "installed"
    NOT_NEEDED = "not_needed"
    CANCELLED = "cancelled"


_S = ChargingPileStatus
CHARGING_PILE_TRANSITIONS: Final[TransitionTable[ChargingPileStatus]] = {
    _S.REQUESTED: frozenset({_S.SURVEYED, _S.NOT_NEEDED, _S.CANCELLED}),
    _S.SURVEYED: frozenset({_S.INSTALLED, _S.NOT_NEEDED, _S.CANCELLED}),
}


@dataclass(kw_only=True)
class ChargingPileOrder(Lifecycle[ChargingPileStatus]):
    """Survey and installation of a home charger for one vehicle order."""

    ENTITY = "charging_pile_order"

    order_id: str
    status: ChargingPileStatus = ChargingPileStatus.REQUESTED

    def _transitions(self) -> TransitionTable[ChargingPileStatus]:
        return CHARGING_PILE_TRANSITIONS

    @classmethod
    def for_request(
        cls, *, charging_pile_order_id: str, order_id: str, requested: bool
    ) -> ChargingPileOrder:
        """The pile order of a new vehicle order: not_needed when no charger was asked for."""
        status = ChargingPileStatus.REQUESTED if requested else ChargingPileStatus.NOT_NEEDED
        return cls(id=charging_pile_order_id, order_id=order_id, status=status)

    def record_survey(
        self, *, actor: str, at: datetime, reason: str = "site surveyed"
    ) -> ChargingPileSurveyed:
        """requested → surveyed."""
        self._move(ChargingPileStatus.SURVEYED, actor=actor, at=at, reason=reason)
        return ChargingPileSurveyed(
            order_id=self.order_id, occurred_at=at, charging_pile_order_id=self.id
        )

    def record_installed(
        self, *, actor: str, at: datetime, reason: str = "charger installed"
    ) -> ChargingPileInstalled:
        """surveyed → installed."""
        self._move(ChargingPileStatus.INSTALLED, actor=actor, at=at, reason=reason)
        return ChargingPileInstalled(
            order_id=self.order_id, occurred_at=at, charging_pile_order_id=self.id
        )

    def mark_not_needed(self, *, actor: str, at: datetime, reason: str) -> ChargingPileNotNeeded:
        """requested or surveyed → not_needed; ``reason`` is required (it goes to the customer)."""
        reason = require_text(reason, "reason")
        self._move(ChargingPileStatus.NOT_NEEDED, actor=actor, at=at, reason=reason)
        return ChargingPileNotNeeded(
            order_id=self.order_id, occurred_at=at, charging_pile_order_id=self.id, reason=reason
        )

    def cancel_with_order(self, *, actor: str, at: datetime, reason: str) -> None:
        """→ cancelled with the vehicle order, unless already installed or not needed."""
        if self.can_move_to(ChargingPileStatus.CANCELLED):
            self._move(ChargingPileStatus.CANCELLED, actor=actor, at=at, reason=reason)
