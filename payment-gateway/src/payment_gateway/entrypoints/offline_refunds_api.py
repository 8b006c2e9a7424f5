"""HTTP API of the offline refunds queue: list and read (finance, finance-approver, cashier),
assign (finance), complete (finance for bank transfers, cashier or finance for cash at the
till), approve or reject above the threshold (finance-approver). Thin: validate → handler."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from otd_shared.auth import Principal, Role, require_roles
from payment_gateway.adapters.offline_refund_repo import OfflineRefundSearch
from payment_gateway.domain.offline_refund import (
    OWNER_CHARS_MAX,
    REFERENCE_CHARS_MAX,
    OfflineRefund,
    OfflineRefundStatus,
    PayoutMethod,
)
from payment_gateway.domain.outcomes import RefundOutcome
from payment_gateway.entrypoints.api import Gw
from payment_gateway.service_layer import offline_refunds

router = APIRouter(prefix="/v1", tags=["offline refunds"])
Reader = Annotated[
    Principal, Depends(require_roles(Role.FINANCE, Role.FINANCE_APPROVER, Role.CASHIER))
]
Assigner = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.FINANCE_APPROVER))]
Payer = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.CASHIER))]
Approver = Annotated[Principal, Depends(require_roles(Role.FINANCE_APPROVER))]
_Reference = Annotated[
    str, Field(min_length=1, max_length=REFERENCE_CHARS_MAX, pattern=r"^[A-Za-z0-9_\-./:]+$")
]
_Responses: dict[int | str, dict[str, object]] = {403: {}, 404: {}, 409: {}, 422: {}}


class OfflineRefundOut(BaseModel):
    """One queued refund: what is owed, who owns it, how and by whom it was paid back."""

    offline_refund_id: uuid.UUID
    refund_id: uuid.UUID
    refund_request_id: str | None
    order_id: uuid.UUID
    billing_id: uuid.UUID
    payment_id: uuid.UUID | None
    payment_ref: str | None
    channel: str
    amount_fen: int
    reason: str
    status: OfflineRefundStatus
    owner: str
    payout_method: PayoutMethod
    store_id: str | None
    reference: str | None
    submitted_by: str | None
    submitted_at: datetime | None
    approved_by: str | None
    rejected_by: str | None
    reject_reason: str | None
    completed_by: str | None
    completed_at: datetime | None
    closed_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, item: OfflineRefund) -> OfflineRefundOut:
        return cls(**{f: getattr(item, f) for f in cls.model_fields})


class OfflineRefundPage(BaseModel):
    items: list[OfflineRefundOut]
    total: int
    limit: int
    offset: int


class CompleteBody(BaseModel):
    """The payout: ``bank_transfer`` with the bank's reference, or ``cash`` with the voucher
    of the till it was paid from."""

    model_config = ConfigDict(extra="forbid")
    method: PayoutMethod
    reference: _Reference


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: Annotated[str, Field(min_length=1, max_length=OWNER_CHARS_MAX)]


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ChannelCheckOut(BaseModel):
    """The channel's answer about the refund (``succeeded``: it refunded, the item is closed
    as settled by the channel) and the item afterwards."""

    channel_outcome: RefundOutcome
    channel_status: str
    item: OfflineRefundOut


@router.get("/offline-refunds", response_model=OfflineRefundPage)
async def list_offline_refunds(
    gw: Gw,
    _: Reader,
    status: OfflineRefundStatus | None = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    owner: Annotated[str | None, Query(max_length=OWNER_CHARS_MAX)] = None,
    store_id: Annotated[str | None, Query(max_length=32)] = None,
    order_id: uuid.UUID | None = None,
    billing_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> OfflineRefundPage:
    """The queue (every refund owed on an offline payment or no channel can send), oldest
    first, by status, channel, owner, store, order or billing."""
    filters = OfflineRefundSearch(
        status=status,
        channel=channel,
        owner=owner,
        store_id=store_id,
        order_id=order_id,
        billing_id=billing_id,
        limit=limit,
        offset=offset,
    )
    items, total = await offline_refunds.search(gw, filters)
    return OfflineRefundPage(
        items=[OfflineRefundOut.of(i) for i in items], total=total, limit=limit, offset=offset
    )


@router.get(
    "/offline-refunds/{offline_refund_id}", response_model=OfflineRefundOut, responses=_Responses
)
async def get_offline_refund(offline_refund_id: uuid.UUID, gw: Gw, _: Reader) -> OfflineRefundOut:
    """One queued refund."""
    return OfflineRefundOut.of(await offline_refunds.get(gw, offline_refund_id))


@router.post(
    "/offline-refunds/{offline_refund_id}/assign",
    response_model=OfflineRefundOut,
    responses=_Responses,
)
async def assign_offline_refund(
    offline_refund_id: uuid.UUID, body: AssignBody, gw: Gw, _: Assigner
) -> OfflineRefundOut:
    """Give an open (or waiting) refund to a named owner."""
    return OfflineRefundOut.of(await offline_refunds.assign(gw, offline_refund_id, body.owner))


@router.post(
    "/offline-refunds/{offline_refund_id}/complete",
    response_model=OfflineRefundOut,
    responses=_Responses,
)
async def complete_offline_refund(
    offline_refund_id: uuid.UUID, body: CompleteBody, gw: Gw, principal: Payer
) -> OfflineRefundOut:
    """The money was paid back: ``completed`` (the refund succeeds, billing and the ledger
    follow), or ``pending_approval`` above the threshold. The same payout again answers the
    item as it is; a reference that pays another refund is 409 ``reference_taken``."""
    command = offline_refunds.CompletePayout(
        item_id=offline_refund_id,
        method=body.method,
        reference=body.reference,
        actor=principal.subject,
        role=principal.role,
    )
    return OfflineRefundOut.of(await offline_refunds.complete(gw, command))


@router.post(
    "/offline-refunds/{offline_refund_id}/approve",
    response_model=OfflineRefundOut,
    responses=_Responses,
)
async def approve_offline_refund(
    offline_refund_id: uuid.UUID, gw: Gw, principal: Approver
) -> OfflineRefundOut:
    """Second approver (not who recorded the payout): the refund is completed."""
    return OfflineRefundOut.of(
        await offline_refunds.approve(gw, offline_refund_id, principal.subject)
    )


@router.post(
    "/offline-refunds/{offline_refund_id}/reject",
    response_model=OfflineRefundOut,
    responses=_Responses,
)
async def reject_offline_refund(
    offline_refund_id: uuid.UUID, body: RejectBody, gw: Gw, principal: Approver
) -> OfflineRefundOut:
    """Second approver refuses the recorded payout: open again, the reference cleared."""
    return OfflineRefundOut.of(
        await offline_refunds.reject(gw, offline_refund_id, principal.subject, body.reason)
    )


@router.post(
    "/offline-refunds/{offline_refund_id}/channel-check",
    response_model=ChannelCheckOut,
    responses={**_Responses, 503: {}},
)
async def check_offline_refund_with_channel(
    offline_refund_id: uuid.UUID, gw: Gw, _: Assigner
) -> ChannelCheckOut:
    """Before paying out: ask the payment's channel whether it refunded after all. Refunded →
    the refund succeeds once and the item is closed as settled by the channel (a later
    payout is 409 ``settled_by_channel``); 409 ``no_channel_query`` when no channel can say."""
    check = await offline_refunds.check_with_channel(gw, offline_refund_id)
    return ChannelCheckOut(
        channel_outcome=check.outcome,
        channel_status=check.channel_status,
        item=OfflineRefundOut.of(check.item),
    )
