"""Handlers of the events ledger-service consumes: every money movement becomes a journal.

Each gets the consumer's ``LedgerUnitOfWork`` (the consumer's transaction, with the inbox
row; the consumer commits), so a journal, its JournalPosted outbox row and the inbox entry
commit together. The journal's source id is the
event id, so even a replay with an empty inbox (a new consumer group) posts nothing twice.

An event whose content breaks a posting rule (a cash payment without a store, a negative
deposit at delivery…) is recorded in ``unposted_events`` with the reason and skipped: retrying
cannot fix it and parking it would hold back every later event of the order. Database and
other unexpected errors propagate (the consumer retries, then parks).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.settlement_repo import SettlementRepository
from ledger_service.domain import events as rule
from ledger_service.domain.chart import deposits_account
from ledger_service.domain.rules import propose
from ledger_service.domain.settlements import settlement_delta
from ledger_service.service_layer.books import Books, Proposed
from ledger_service.service_layer.context import LedgerContext
from ledger_service.service_layer.event_mapping import (
    MAPPERS,
    settlement_version,
    to_ledger_event,
)
from ledger_service.service_layer.unit_of_work import LedgerUnitOfWork
from otd_shared.consumer import BatchEventHandler, EventHandler
from otd_shared.errors import DomainError
from otd_shared.events import (
    EventEnvelope,
    OrderDelivered,
    ReconCompleted,
    ServiceOrderCompleted,
)

log = logging.getLogger(__name__)

# OrderDelivered and ServiceOrderCompleted recognise a balance read from the books.
CONSUMED_EVENT_TYPES = (
    *(payload.__name__ for payload in MAPPERS),
    OrderDelivered.__name__,
    ServiceOrderCompleted.__name__,
)
# Posted a run at a time: their journals come from the event alone (no balance read, no
# settlement version to lock), so a run's journals can be posted together.
BATCHED_EVENT_TYPES = tuple(
    payload.__name__ for payload in MAPPERS if payload is not ReconCompleted
)
UNKNOWN_SERVICE_KIND = "service"


class LedgerEventHandlers:
    """Posts consumed events through the posting rules (built in bootstrap)."""

    def __init__(self, ctx: LedgerContext) -> None:
        self._ctx = ctx

    def handlers(self) -> dict[str, EventHandler]:
        """The handler map of the consumer: every consumed type goes through `handle`."""
        return dict.fromkeys(CONSUMED_EVENT_TYPES, self.handle)

    def batch_handlers(self) -> dict[str, BatchEventHandler]:
        """The types whose journals need nothing from the books go through `handle_run`."""
        return dict.fromkeys(BATCHED_EVENT_TYPES, self.handle_run)

    async def handle_run(self, uow: LedgerUnitOfWork, envelopes: Sequence[EventEnvelope]) -> None:
        """A consumer's run of events: each one's proposal as `handle` makes it (one breaking
        a rule is recorded unposted), then all their journals posted together
        (`Books.post_proposals`: a few statements for the run instead of three per event)."""
        proposed: list[Proposed] = []
        for envelope in envelopes:
            try:
                event = to_ledger_event(envelope, self._ctx.settings)
                proposal = None if event is None else propose(event, self._ctx.chart)
            except DomainError as exc:
                if exc.http_status >= 500:
                    raise
                await self._unposted(uow, envelope, exc)
                continue
            if proposal is not None:
                proposed.append(Proposed(proposal, envelope.event_type, envelope.correlation_id))
        if proposed:
            await Books(uow.session, self._ctx, cache_reads=False).post_proposals(proposed)

    async def handle(self, uow: LedgerUnitOfWork, envelope: EventEnvelope) -> None:
        """Post the journal the event's rule proposes (nothing for no money movement)."""
        try:
            event = await self._ledger_event(uow, envelope)
            proposal = None if event is None else propose(event, self._ctx.chart)
            if proposal is None:
                return
            books = Books(uow.session, self._ctx, cache_reads=False)
            await books.post_proposal(proposal, kind=envelope.event_type)
        except DomainError as exc:
            if exc.http_status >= 500:
                raise
            await self._unposted(uow, envelope, exc)

    async def _ledger_event(
        self, uow: LedgerUnitOfWork, envelope: EventEnvelope
    ) -> rule.LedgerEvent | None:
        payload = envelope.payload
        if isinstance(payload, OrderDelivered):
            return rule.OrderDelivered(
                event_id=str(envelope.event_id),
                order_id=payload.order_id,
                occurred_at=payload.delivered_at,
                deposit_balance_fen=await _deposit_balance_fen(uow, payload.order_id),
            )
        if isinstance(payload, ServiceOrderCompleted):
            return rule.ServiceCompleted(
                event_id=str(envelope.event_id),
                order_id=payload.order_id,
                service_kind=payload.service_kind or UNKNOWN_SERVICE_KIND,
                occurred_at=envelope.occurred_at,
                deposit_balance_fen=await _deposit_balance_fen(uow, payload.order_id),
            )
        event = to_ledger_event(envelope, self._ctx.settings)
        if isinstance(payload, ReconCompleted) and isinstance(event, rule.SettlementReported):
            return await settlement_difference(uow.session, event, payload)
        return event

    async def _unposted(
        self, uow: LedgerUnitOfWork, envelope: EventEnvelope, exc: DomainError
    ) -> None:
        log.error(
            "event not posted",
            extra={"event_id": str(envelope.event_id), "code": exc.code, "err": exc.message},
        )
        self._ctx.metrics.unposted.labels(envelope.event_type).inc()
        await uow.unposted.add(
            envelope.event_id,
            envelope.event_type,
            envelope.order_id,
            exc.code,
            exc.message,
            envelope.model_dump_json(),
        )


async def settlement_difference(
    session: AsyncSession, event: rule.SettlementReported, payload: ReconCompleted
) -> rule.SettlementReported | None:
    """A versioned settlement posts the difference to the version posted before it; a
    version that is not newer (a re-run of the same statement) posts nothing."""
    version = settlement_version(payload)
    if version is None:
        return event
    repo = SettlementRepository(session)
    await repo.lock_day(version)
    delta = settlement_delta(version, await repo.latest(version))
    if delta is None:
        return None
    await repo.record(version, delta)
    return replace(event, gross_fen=delta.gross_fen, fee_fen=delta.fee_fen)


async def _deposit_balance_fen(uow: LedgerUnitOfWork, order_id: str) -> int:
    """The credit balance of the order's deposits account (what the customer has paid in)."""
    balance = await uow.balances.balance(deposits_account(order_id))
    return balance.credit_fen - balance.debit_fen
