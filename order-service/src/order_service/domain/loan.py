"""The car-loan finance order: intent_collected → submitted → approved | rejected; approved →
disbursed.

Decision: every vehicle order has its loan order (DESIGN §1: four sub-orders); with
``loan_fen == 0`` it is born ``not_applicable``, a terminal state, so a loan command on such
an order is an IllegalTransition (409) that names the state. ``cancelled`` comes only with
the vehicle order's cancellation.

Bank notices arrive at least once, so the bank-driven facts are idempotent: approving again
with the same principal, rejecting a rejected loan or disbursing again with the same bank
reference changes nothing and returns no event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from order_service.domain.errors import InvalidAmount
from order_service.domain.events import LoanApproved, LoanDisbursed, LoanRejected, LoanSubmitted
from order_service.domain.lifecycle import Lifecycle, TransitionTable
from otd_shared.checks import require_fen, require_text


class LoanStatus(StrEnum):
    INTENT_COLLECTED = "intent_collected"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISBURSED = "disbursed"
    NOT_APPLICABLE = "not_applicable"
    CANCELLED = "cancelled"


_S = LoanStatus
_SETTLED_APPROVAL: Final = frozenset({_S.APPROVED, _S.DISBURSED})
_NO_SHARE: Final = frozenset({_S.REJECTED, _S.NOT_APPLICABLE, _S.CANCELLED})
LOAN_TRANSITIONS: Final[TransitionTable[LoanStatus]] = {
    _S.INTENT_COLLECTED: frozenset({_S.SUBMITTED, _S.CANCELLED}),
    _S.SUBMITTED: frozenset({_S.APPROVED, _S.REJECTED, _S.CANCELLED}),
    _S.APPROVED: frozenset({_S.DISBURSED, _S.CANCELLED}),
}


@dataclass(kw_only=True)
class LoanOrder(Lifecycle[LoanStatus]):
    """The customer's car loan: ``requested_fen`` at order time, ``principal_fen`` once approved."""

    ENTITY = "loan_order"

    order_id: str
    requested_fen: int
    status: LoanStatus = LoanStatus.INTENT_COLLECTED
    bank_code: str | None = None
    principal_fen: int | None = None
    bank_reference: str | None = None

    def _transitions(self) -> TransitionTable[LoanStatus]:
        return LOAN_TRANSITIONS

    @classmethod
    def for_request(cls, *, loan_order_id: str, order_id: str, requested_fen: int) -> LoanOrder:
        """The loan order of a new vehicle order: not_applicable when nothing is requested."""
        status = LoanStatus.INTENT_COLLECTED if requested_fen else LoanStatus.NOT_APPLICABLE
        return cls(id=loan_order_id, order_id=order_id, requested_fen=requested_fen, status=status)

    @property
    def share_fen(self) -> int:
        """The part of the price the loan is expected to pay now (0 once rejected/cancelled)."""
        if self.status in _NO_SHARE:
            return 0
        return self.principal_fen if self.principal_fen is not None else self.requested_fen

    def submit(
        self, *, bank_code: str, actor: str, at: datetime, reason: str = "submitted to the bank"
    ) -> LoanSubmitted:
        """intent_collected → submitted."""
        self.require_can_move_to(LoanStatus.SUBMITTED)
        bank_code = require_text(bank_code, "bank_code")
        self._move(LoanStatus.SUBMITTED, actor=actor, at=at, reason=reason)
        self.bank_code = bank_code
        return LoanSubmitted(
            order_id=self.order_id,
            occurred_at=at,
            loan_order_id=self.id,
            bank_code=bank_code,
            requested_fen=self.requested_fen,
        )

    def approve(
        self, *, principal_fen: int, actor: str, at: datetime, reason: str = "approved by the bank"
    ) -> list[LoanApproved]:
        """submitted → approved with ``0 < principal_fen <= requested_fen``."""
        if self.principal_fen == principal_fen and self.status in _SETTLED_APPROVAL:
            return []
        self.require_can_move_to(LoanStatus.APPROVED)
        require_fen(principal_fen, "principal_fen")
        if principal_fen > self.requested_fen:
            raise InvalidAmount(
                "principal_fen", f"must not exceed the requested {self.requested_fen} fen"
            )
        self._move(LoanStatus.APPROVED, actor=actor, at=at, reason=reason)
        self.principal_fen = principal_fen
        return [
            LoanApproved(
                order_id=self.order_id,
                occurred_at=at,
                loan_order_id=self.id,
                principal_fen=principal_fen,
            )
        ]

    def reject(self, *, actor: str, at: datetime, reason: str) -> list[LoanRejected]:
        """submitted → rejected; the loan share becomes self-pay on the final billing."""
        if self.status is LoanStatus.REJECTED:
            return []
        reason = require_text(reason, "reason")
        self._move(LoanStatus.REJECTED, actor=actor, at=at, reason=reason)
        return [
            LoanRejected(
                order_id=self.order_id,
                occurred_at=at,
                loan_order_id=self.id,
                requested_fen=self.requested_fen,
                reason=reason,
            )
        ]

    def record_disbursed(
        self,
        *,
        amount_fen: int,
        bank_reference: str,
        actor: str,
        at: datetime,
        reason: str = "disbursed by the bank",
    ) -> list[LoanDisbursed]:
        """approved → disbursed; the amount must equal the approved principal."""
        if self.status is LoanStatus.DISBURSED and self.bank_reference == bank_reference:
            return []  # the same bank notice again
        self.require_can_move_to(LoanStatus.DISBURSED)
        bank_reference = require_text(bank_reference, "bank_reference")
        if amount_fen != self.principal_fen:
            raise InvalidAmount(
                "amount_fen", f"must equal the approved principal {self.principal_fen} fen"
            )
        self._move(LoanStatus.DISBURSED, actor=actor, at=at, reason=reason)
        self.bank_reference = bank_reference
        return [
            LoanDisbursed(
                order_id=self.order_id,
                occurred_at=at,
                loan_order_id=self.id,
                amount_fen=amount_fen,
                bank_reference=bank_reference,
            )
        ]

    @property
    def blocks_order_cancellation(self) -> bool:
        """A disbursed loan must be settled with the bank before the order can be cancelled."""
        return self.status is LoanStatus.DISBURSED

    def cancel_with_order(self, *, actor: str, at: datetime, reason: str) -> None:
        """→ cancelled with the vehicle order (rejected and not_applicable stay as they are)."""
        if self.status in _NO_SHARE:
            return
        self._move(LoanStatus.CANCELLED, actor=actor, at=at, reason=reason)
