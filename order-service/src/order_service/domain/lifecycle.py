"""State-machine plumbing shared by every order-service entity.

An entity is a dataclass with an ``id``, a ``status`` (a StrEnum) and a ``history``. Its
transition table maps each state to the states it may move to; ``_move`` refuses anything
else with IllegalTransition (409) and appends a HistoryEntry for everything it allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Generic, TypeVar

from order_service.domain.errors import IllegalTransition
from order_service.domain.events import OrderEvent
from otd_shared.checks import require_text, require_utc

StatusT = TypeVar("StatusT", bound=StrEnum)
TransitionTable = Mapping[StatusT, frozenset[StatusT]]


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One audited change of an entity. ``from_state == to_state`` for a recorded fact
    that does not change the state (e.g. a configuration change, the firm deposit paid)."""

    entity: str
    entity_id: str
    from_state: str
    to_state: str
    actor: str
    at: datetime
    reason: str


@dataclass(kw_only=True)
class Lifecycle(Generic[StatusT]):
    """Base of every stateful entity: guarded moves and an append-only history."""

    ENTITY: ClassVar[str] = "entity"

    id: str
    status: StatusT
    history: list[HistoryEntry] = field(default_factory=list)

    def _transitions(self) -> TransitionTable[StatusT]:
        raise NotImplementedError

    def can_move_to(self, to_state: StatusT) -> bool:
        """Whether the state machine allows moving from the current state to ``to_state``."""
        return to_state in self._transitions().get(self.status, frozenset())

    def require_can_move_to(self, to_state: StatusT) -> None:
        """Raise IllegalTransition (409) unless the move to ``to_state`` is allowed."""
        if not self.can_move_to(to_state):
            raise IllegalTransition(self.ENTITY, self.id, self.status, to_state)

    def _move(self, to_state: StatusT, *, actor: str, at: datetime, reason: str) -> None:
        self.require_can_move_to(to_state)
        self._record(to_state, actor=actor, at=at, reason=reason)

    def _note(self, *, actor: str, at: datetime, reason: str) -> None:
        """Record a fact in the history without changing the state."""
        self._record(self.status, actor=actor, at=at, reason=reason)

    def _record(self, to_state: StatusT, *, actor: str, at: datetime, reason: str) -> None:
        entry = HistoryEntry(
            entity=self.ENTITY,
            entity_id=self.id,
            from_state=str(self.status),
            to_state=str(to_state),
            actor=require_text(actor, "actor"),
            at=require_utc(at),
            reason=reason,
        )
        self.status = to_state
        self.history.append(entry)


@dataclass(kw_only=True)
class AggregateRoot(Lifecycle[StatusT]):
    """A lifecycle that records the events its changes produce, for the unit of work."""

    pending_events: list[OrderEvent] = field(default_factory=list, compare=False, repr=False)

    def pull_events(self) -> list[OrderEvent]:
        """Hand the recorded events to the unit of work (for its outbox) and forget them."""
        events, self.pending_events = self.pending_events, []
        return events

    def _emit(self, *events: OrderEvent) -> list[OrderEvent]:
        self.pending_events.extend(events)
        return list(events)
