"""Operations API every service serves: its dead letters (role sre).

``GET /v1/ops/dead-letters`` lists them; ``POST /v1/ops/dead-letters/{id}/redrive``
applies one through its consumer's handler; ``POST /v1/ops/dead-letters/redrive``
with ``consumer`` and ``order_id`` redrives an order's parked events oldest first;
``POST /v1/ops/dead-letters/{id}/discard`` resolves one without applying it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from otd_shared.auth import Principal, Role, require_roles
from otd_shared.dead_letters import (
    PAGE_SIZE_MAX,
    DeadLetterStore,
    HandlersByConsumer,
    RedriveOutcome,
)
from otd_shared.runtime import ServiceRuntime

Sre = Annotated[Principal, Depends(require_roles(Role.SRE))]


class DeadLetterOut(BaseModel):
    """A parked event."""

    id: int
    consumer: str
    topic: str
    kafka_partition: int
    kafka_offset: int
    event_id: str | None
    event_type: str | None
    order_id: str | None
    error: str
    attempts: int
    parked_at: datetime
    resolved_at: datetime | None


class DeadLetterPage(BaseModel):
    """A page of dead letters."""

    items: list[DeadLetterOut]
    total: int
    limit: int
    offset: int


class RedriveOut(BaseModel):
    """Result of redriving one dead letter."""

    id: int
    result: str
    error: str | None = None


class RedriveOrderBody(BaseModel):
    """Which order's parked events to redrive."""

    consumer: str = Field(min_length=1, max_length=200)
    order_id: str = Field(min_length=1, max_length=200)


class DiscardBody(BaseModel):
    """Why a dead letter is dropped without applying it."""

    reason: str = Field(min_length=3, max_length=500)


def dead_letter_router(runtime: ServiceRuntime) -> APIRouter:
    """The dead-letter endpoints bound to one service's runtime."""
    router = APIRouter(prefix="/v1/ops/dead-letters", tags=["operations"])
    store = DeadLetterStore(runtime.sessions, runtime.tables)

    def handlers() -> HandlersByConsumer:
        return runtime.consumer_handlers()

    @router.get("", response_model=DeadLetterPage, summary="Parked events, oldest first")
    async def list_dead_letters(
        _: Sre,
        consumer: str | None = None,
        order_id: str | None = None,
        include_resolved: bool = False,
        limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> DeadLetterPage:
        items, total = await store.page(
            consumer=consumer,
            order_id=order_id,
            include_resolved=include_resolved,
            limit=limit,
            offset=offset,
        )
        return DeadLetterPage(
            items=[DeadLetterOut(**vars(i)) for i in items], total=total, limit=limit, offset=offset
        )

    @router.post("/{dead_letter_id}/redrive", response_model=RedriveOut)
    async def redrive(dead_letter_id: int, _: Sre) -> RedriveOut:
        return _out(await store.redrive(dead_letter_id, handlers()))

    @router.post(
        "/redrive",
        response_model=list[RedriveOut],
        summary="Redrive an order's parked events oldest first",
    )
    async def redrive_order(body: RedriveOrderBody, _: Sre) -> list[RedriveOut]:
        outcomes = await store.redrive_order(body.consumer, body.order_id, handlers())
        return [_out(o) for o in outcomes]

    @router.post("/{dead_letter_id}/discard", status_code=204)
    async def discard(dead_letter_id: int, body: DiscardBody, _: Sre) -> None:
        await store.discard(dead_letter_id, body.reason)

    return router


def _out(outcome: RedriveOutcome) -> RedriveOut:
    return RedriveOut(id=outcome.id, result=outcome.result, error=outcome.error)
